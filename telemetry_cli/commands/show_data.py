"""``show-data``: the list of sessions, one session as a waterfall, or the crash reports."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from otel_local_exporter import (
    RESULT_CANCELLED,
    RESULT_FAILED,
    RESULT_INCOMPLETE,
    RESULT_SUCCESS,
    RESULT_UNKNOWN,
    STEP_CANCELLED,
    STEP_COMPLETED,
    STEP_FAILED,
    STEP_SKIPPED,
    SessionView,
    TelemetryConfig,
    kill_switch,
    load_crashes,
    load_sessions,
    telemetry_home,
)

from .. import console, render
from ..console import spelled
from ..sessions import NoMatch, find_one, summarize, text
from ..waterfall import render_waterfall
from ._shared import CONTEXT, echo_json, invalid_json, invalid_lines, json_option, plural, settled

_RESULT_STYLE = {
    RESULT_SUCCESS: console.good,
    RESULT_FAILED: console.bad,
    RESULT_CANCELLED: console.caution,
    RESULT_INCOMPLETE: console.caution,
    RESULT_UNKNOWN: console.caution,
}


@click.command("show-data", context_settings=CONTEXT)
@click.argument("session_prefix", metavar="[SESSION_ID_PREFIX]", required=False)
@click.option("--latest", is_flag=True, help="Draw the newest session's spans.")
@click.option(
    "--crashes",
    is_flag=True,
    help="List crash reports instead (with an id prefix: show that report).",
)
@click.option(
    "-n",
    "--limit",
    type=click.IntRange(min=0),
    default=0,
    show_default=False,
    help="Show at most N rows (newest first); 0 means all.",
)
@json_option
def command(
    session_prefix: str | None, latest: bool, crashes: bool, limit: int, as_json: bool
) -> None:
    """List recorded sessions, newest first, or draw one session's spans as a waterfall.

    Give the first characters of a session id (from the list), or --latest, to see that run's
    steps as a tree with a timeline bar per span, their status, durations, skip reasons and
    errors. Files that cannot be read are listed as skipped and left untouched.
    """
    home = telemetry_home()
    if session_prefix is not None and latest:
        raise click.UsageError("give a session id prefix or --latest, not both")
    if crashes:
        _show_crashes(load_crashes(home), home, session_prefix, latest, limit, as_json)
        return
    scan = settled(load_sessions(home))
    if session_prefix is not None or latest:
        _show_session(scan, home, session_prefix, as_json)
        return
    summaries = [summarize(s) for s in scan.files]
    shown = summaries[:limit] if limit else summaries
    if as_json:
        echo_json(
            {
                "sessions": [s.to_dict() for s in shown],
                "total": len(summaries),
                "invalid": invalid_json(scan.invalid, home),
            }
        )
        return
    if not summaries:
        click.echo(f"No sessions recorded in {home}.")
        if kill_switch() is None and TelemetryConfig.load(home).state != "enabled":
            click.echo(f"Telemetry is off; '{spelled('enable')}' turns it on.")
    else:
        columns = [
            render.Column("started (UTC)"),
            render.Column("session"),
            render.Column("result"),
            render.Column("duration", right=True),
            render.Column("completed", right=True),
            render.Column("skipped", right=True),
            render.Column("failed", right=True),
            render.Column("error"),
            render.Column("file"),
        ]
        rows, styles = [], []
        for s in shown:
            rows.append(
                [
                    render.short_time(s.started),
                    s.session_id[:12] or "?",
                    s.result,
                    render.human_duration(s.duration_ms),
                    str(s.steps[STEP_COMPLETED]),
                    str(s.steps[STEP_SKIPPED]),
                    str(s.steps[STEP_FAILED] + s.steps[STEP_CANCELLED]),
                    s.error_category or "-",
                    s.file,
                ]
            )
            styles.append(
                [
                    None,
                    None,
                    _RESULT_STYLE.get(s.result),
                    None,
                    None,
                    None,
                    console.bad if s.steps[STEP_FAILED] else None,
                    None,
                    console.dim,
                ]
            )
        for line in render.table(columns, rows, styles):
            click.echo(line)
        more = f" (showing the newest {len(shown)})" if len(shown) < len(summaries) else ""
        click.echo(
            f"\n{plural(len(summaries), 'session')}{more}. "
            f"Details: {spelled('show-data')} <session> or --latest."
        )
    for line in invalid_lines(scan.invalid, home):
        click.echo(line)


def _show_session(scan: Any, home: Path, prefix: str | None, as_json: bool) -> None:
    if prefix is None:
        if not scan.files:
            raise click.ClickException(f"no sessions recorded in {home}")
        stored = scan.files[0]
    else:
        try:
            stored = find_one(scan.files, prefix)
        except NoMatch as exc:
            raise click.ClickException(str(exc)) from None
    if as_json:
        echo_json(stored.data)
        return
    s = summarize(stored)
    style = _RESULT_STYLE.get(s.result)
    steps = ", ".join(f"{n} {k}" for k, n in s.steps.items() if n) or "no steps"
    resource = stored.data.get("resource")
    click.echo(f"{console.heading('Session ' + s.session_id)}  {console.dim(s.file)}")
    click.echo(
        f"Started {render.short_time(s.started)}  result "
        f"{style(s.result) if style else s.result}  "
        f"{render.human_duration(s.duration_ms)}  {steps}"
        + ("" if s.complete else "  (the run ended before its session was finished)")
    )
    if isinstance(resource, dict) and resource:
        parts = [
            str(resource[k])
            for k in (
                "service.name",
                "service.version",
                "os.type",
                "os.version",
                "process.runtime.name",
                "process.runtime.version",
            )
            if k in resource
        ]
        click.echo(console.dim("On " + " ".join(parts)))
    click.echo("")
    for line in render_waterfall(SessionView(stored.data).spans):
        click.echo(line)


def _show_crashes(
    scan: Any, home: Path, prefix: str | None, latest: bool, limit: int, as_json: bool
) -> None:
    if prefix is not None or latest:
        if latest and not scan.files:
            raise click.ClickException(f"no crash reports in {home}")
        try:
            stored = (
                scan.files[0]
                if latest
                else find_one(
                    scan.files, prefix or "", what="crash report", keys=("crash_id", "session_id")
                )
            )
        except NoMatch as exc:
            raise click.ClickException(str(exc)) from None
        if as_json:
            echo_json(stored.data)
            return
        _crash_detail(stored)
        return
    files = scan.files[:limit] if limit else scan.files
    if as_json:
        echo_json(
            {
                "crash_reports": [{"file": f.path.name, **f.data} for f in files],
                "total": len(scan.files),
                "invalid": invalid_json(scan.invalid, home),
            }
        )
        return
    if not scan.files:
        click.echo(f"No crash reports in {home}.")
    else:
        columns = [
            render.Column("time (UTC)"),
            render.Column("crash"),
            render.Column("category"),
            render.Column("error", max_width=40),
            render.Column("step"),
            render.Column("session"),
            render.Column("file"),
        ]
        rows = [
            [
                render.short_time(text(f.data.get("timestamp"))),
                (text(f.data.get("crash_id")) or "?")[:12],
                text(f.data.get("error_category")) or "-",
                text(f.data.get("error_type")) or "-",
                text(f.data.get("failing_step")) or "-",
                (text(f.data.get("session_id")) or "-")[:12],
                f.path.name,
            ]
            for f in files
        ]
        for line in render.table(columns, rows):
            click.echo(line)
        click.echo(
            f"\n{plural(len(scan.files), 'crash report')}. "
            f"Details: {spelled('show-data --crashes')} <crash or session id>."
        )
    for line in invalid_lines(scan.invalid, home):
        click.echo(line)


def _crash_detail(stored: Any) -> None:
    data = stored.data
    crash_id = text(data.get("crash_id")) or "?"
    click.echo(f"{console.heading('Crash report ' + crash_id)}  {console.dim(stored.path.name)}")
    fields = [
        ("time", "timestamp"),
        ("category", "error_category"),
        ("error", "error_type"),
        ("message", "error_message"),
        ("step", "failing_step"),
        ("session", "session_id"),
        ("span", "span_id"),
        ("installer", "installer_version"),
    ]
    width = max(len(label) for label, _ in fields)
    for label, key in fields:
        value = data.get(key)
        if value is not None:
            click.echo(f"  {label.ljust(width)}  {value}")
    system = data.get("system")
    if isinstance(system, dict):
        click.echo(
            f"  {'system'.ljust(width)}  " + ", ".join(f"{k}={v}" for k, v in system.items())
        )
    stack = text(data.get("stack_trace"))
    if stack:
        click.echo("")
        click.echo(console.heading("Stack trace (sanitized):"))
        click.echo(stack.rstrip())
