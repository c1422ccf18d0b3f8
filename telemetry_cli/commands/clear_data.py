"""``clear-data``: delete the sessions, journals and crash reports; the choice is kept."""

from __future__ import annotations

from pathlib import Path

import click

from otel_local_exporter import clear_data, data_usage, telemetry_home

from .. import console, render
from ._shared import CONTEXT, plural, yes_option


@click.command("clear-data", context_settings=CONTEXT)
@yes_option
def command(yes: bool) -> None:
    """Delete the collected sessions, unfinished-run journals and crash reports.

    Your choice (telemetry_config.json) is kept; use 'disable' to turn telemetry off.
    """
    home = telemetry_home()
    files, size = data_usage(home)
    if not files:
        click.echo(f"There is no collected data to delete in {home}.")
        return
    question = f"Delete {plural(files, 'file')} ({render.human_bytes(size)}) in {home}?"
    if not console.confirm(question, yes=yes, command="clear-data"):
        click.echo("Nothing deleted.")
        return
    clear(home)


def clear(home: Path) -> None:
    """Delete, then say how much went and whether anything could not be deleted."""
    before, _ = data_usage(home)
    count, size = clear_data(home)
    click.echo(f"Deleted {plural(count, 'file')} ({render.human_bytes(size)}).")
    left = before - count
    if left > 0:
        console.warn(f"{plural(left, 'file')} could not be deleted; see {home}")
