"""``disable``: all three switches off, with the time of opting out; optionally clear the data."""

from __future__ import annotations

import click

from otel_local_exporter import TelemetryConfig, data_usage, telemetry_home

from .. import console, render
from ._shared import CONTEXT, plural, yes_option
from .clear_data import clear
from .enable import save


@click.command("disable", context_settings=CONTEXT)
@yes_option
@click.option("--clear-data", is_flag=True, help="Also delete the data collected so far.")
def command(yes: bool, clear_data: bool) -> None:
    """Turn telemetry off: all three switches off, with the time you opted out.

    The anonymous ids stay in the config (they identify nothing); the collected data stays too
    unless you add --clear-data.
    """
    console.require_answer_possible(yes=yes, command="disable")
    home = telemetry_home()
    config = TelemetryConfig.load(home)
    if config.problem:
        console.warn(f"{config.problem}; it will be replaced (and kept)")
    question = "Turn telemetry off?"
    if clear_data:
        files, size = data_usage(home)
        question = (
            f"Turn telemetry off and delete {plural(files, 'file')} "
            f"({render.human_bytes(size)}) of collected data?"
        )
    if not console.confirm(question, yes=yes, command="disable"):
        click.echo("Nothing changed.")
        return
    config.disable()
    save(config)
    click.echo(f"{console.caution('Telemetry is off.')} Saved to {config.path}.")
    if clear_data:
        clear(home)
