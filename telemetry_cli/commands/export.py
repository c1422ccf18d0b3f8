"""``export``: the collected data as one sanitized bundle or OTLP/JSON lines, written privately."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from otel_local_exporter import TelemetryConfig, load_crashes, load_sessions, telemetry_home

from .. import bundle, console, render
from ..console import PROG
from ..sessions import NoMatch, find_one
from ._shared import CONTEXT, plural, settled, version


@click.command("export", context_settings=CONTEXT)
@click.argument("file", metavar="FILE")
@click.option("--force", is_flag=True, help="Replace FILE if it exists.")
@click.option(
    "--session",
    "session_prefix",
    metavar="PREFIX",
    help="Export only the session whose id starts with PREFIX (and its crash reports).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["json", "otlp"]),
    default="json",
    show_default=True,
    help="json: one bundle with the config, sessions and crash reports. otlp: "
    "OTLP/JSON lines (one TracesData per session) for an OpenTelemetry Collector.",
)
def command(file: str, force: bool, session_prefix: str | None, fmt: str) -> None:
    """Write the collected data to FILE ('-' for standard output), sanitized once more.

    The bundle holds the config (with its anonymous ids, nothing else from this machine), every
    session and crash report. Everything passes the sanitizer again before it is written; a
    summary of what was replaced goes to stderr. FILE is written atomically and readable only by
    you; an existing FILE is kept unless you pass --force.
    """
    home = telemetry_home()
    target = None if file == "-" else Path(file).expanduser()
    if target is not None:
        bundle.check_target(target, force)
    sessions, crashes = settled(load_sessions(home)), settled(load_crashes(home))
    session_files, crash_files = sessions.files, crashes.files
    if session_prefix is not None:
        try:
            chosen = find_one(session_files, session_prefix)
        except NoMatch as exc:
            raise click.ClickException(str(exc)) from None
        session_files = [chosen]
        crash_files = [c for c in crash_files if c.data.get("session_id") == chosen.id]
    invalid = sessions.invalid + crashes.invalid
    if fmt == "otlp":
        result = bundle.build_otlp_lines(
            sessions=session_files, crashes=crash_files, invalid=invalid, home=home
        )
    else:
        config = TelemetryConfig.load(home)
        result = bundle.build_json_bundle(
            config=None if config.problem else config.export_view(),
            config_problem=config.problem,
            sessions=session_files,
            crashes=crash_files,
            invalid=invalid,
            home=home,
            exported_by=f"{PROG} {version()}",
        )
    if target is None:
        bundle.write_stdout(result.payload)
    else:
        try:
            bundle.write_private_file(target, result.payload, force=force)
        except bundle.TargetExistsError:
            raise click.ClickException(f"{file} exists; pass --force to replace it") from None
        except OSError as exc:
            raise click.ClickException(f"cannot write {file}: {exc.strerror or exc}") from None
    _export_summary(result, file, fmt)


def _export_summary(result: Any, file: str, fmt: str) -> None:
    where = "standard output" if file == "-" else file
    what = f"{plural(result.sessions, 'session')}"
    if fmt == "json":
        what += f" and {plural(result.crash_reports, 'crash report')}"
    click.echo(
        f"Exported {what} to {where} ({render.human_bytes(len(result.payload))}, {fmt}).", err=True
    )
    if result.redactions:
        parts = ", ".join(f"{kind} {n}" for kind, n in sorted(result.redactions.items()))
        click.echo(
            f"Redaction summary: replaced {sum(result.redactions.values())} value(s): {parts}.",
            err=True,
        )
    else:
        click.echo(
            "Redaction summary: nothing needed replacing (the data was sanitized when it "
            "was recorded).",
            err=True,
        )
    for name, reason in result.skipped:
        console.warn(f"skipped {name}: {reason}")
    for note in result.notes:
        console.warn(note)
