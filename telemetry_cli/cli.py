"""``dinoair-telemetry``: see, export, clear, enable and disable DinoAir's local telemetry.

The commands read and change data only through ``otel_local_exporter``. Imports that cost time
(the OpenTelemetry SDK, the sanitizer, the OTLP encoder) happen inside the commands that need
them, so ``status`` answers quickly. Expected failures (an unknown session id, an unwritable
export path, no terminal to ask on) end as one line on stderr with exit code 1, never a traceback.
"""

from __future__ import annotations

import gc
import json
import sys
from pathlib import Path
from typing import Any

import click

from otel_local_exporter.config import TelemetryConfig, kill_switch
from otel_local_exporter.home import telemetry_home

from . import console, render
from .console import PROG

_CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}

_GROUP_HELP = f"""Manage DinoAir's local telemetry: see what was recorded, export it, clear it,
turn it on or off.

Nothing is sent anywhere. Telemetry is off until you turn it on; with your consent the installer
keeps one sanitized JSON file per run on this computer, in the telemetry home: ~/.dinoair
(%USERPROFILE%\\.dinoair on Windows), or the folder named by DINOAIR_HOME if it is set.

\b
  telemetry_config.json   your choice and two random, anonymous ids
  telemetry/              one session file per installer run
  crashes/                crash reports (only with error reporting on)

Setting DINOAIR_DISABLE_TELEMETRY=1, DO_NOT_TRACK=1 or OTEL_SDK_DISABLED=true in the environment
turns telemetry off whatever the saved choice says, and then nothing under the home is changed.

\b
Start with:  {PROG} status
"""


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("dinoair-installer")
    except PackageNotFoundError:
        return "unknown"


def _print_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        click.echo(f"{PROG} {_version()}")
        ctx.exit()


def _echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


def _yes_option(func: Any) -> Any:
    return click.option(
        "-y",
        "--yes",
        is_flag=True,
        help="Do not ask; needed when there is no terminal (scripts, CI).",
    )(func)


def _json_option(func: Any) -> Any:
    return click.option(
        "--json",
        "as_json",
        is_flag=True,
        help="Print one JSON object instead of text (for scripts).",
    )(func)


@click.group(name=PROG, help=_GROUP_HELP, context_settings=_CONTEXT)
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_print_version,
    help="Show the version and exit.",
)
@click.pass_context
def cli(ctx: click.Context) -> None:
    ctx.color = console.color_setting()


# -- status ------------------------------------------------------------------------------------


@cli.command(context_settings=_CONTEXT, short_help="Is telemetry on, and why; ids; stored data.")
@_json_option
def status(as_json: bool) -> None:
    """Show whether telemetry is on and why, the saved switches, the ids and the stored data.

    Reads only: it creates nothing, not even the telemetry home.
    """
    from .state import gather_status

    info = gather_status(telemetry_home())
    if as_json:
        _echo_json(info)
        return
    for line in _status_lines(info):
        click.echo(line)


def _status_lines(info: dict[str, Any]) -> list[str]:
    state = console.good("ON") if info["enabled"] else console.caution("OFF")
    lines = [f"{console.heading('Telemetry is')} {state}: {info['reason']}."]
    config = info["config"] or {}
    if info["kill_switch"]:
        saved = info["config_state"]
        lines.append(
            f"  The environment variable overrides the saved choice ({saved}); unset "
            f"{info['kill_switch']} to let the saved choice apply."
        )
    elif info["source"] == "config-invalid":
        lines.append(
            f"  Telemetry stays off. '{PROG} enable' or '{PROG} disable' rewrites the "
            "file and keeps the bad one beside it."
        )
    elif info["source"] == "undecided":
        lines.append(f"  Turn it on with '{PROG} enable', or record a 'no' with '{PROG} disable'.")
    lines.append("")

    def switch(value: Any) -> str:
        if info["config_problem"]:
            return "-"
        shown = {True: "on", False: "off", None: "not chosen"}.get(value, str(value))
        return shown if info["config_exists"] or value is None else f"{shown} (default)"

    ks = info["kill_switch"]
    data = info["data"]
    folder = data["home"] + ("" if data["home_exists"] else "  (does not exist yet)")
    counts = (
        f"{_plural(data['sessions'], 'session file')}, "
        f"{_plural(data['crash_reports'], 'crash report file')}"
    )
    if data["journals"]:
        counts += f", {_plural(data['journals'], 'unfinished run')}"
    rows = [
        ("Telemetry", switch(config.get("telemetry_enabled"))),
        ("Error reporting", switch(config.get("error_reporting_enabled"))),
        ("Usage analytics", switch(config.get("usage_analytics_enabled"))),
        ("Kill switch", f"{ks} is set" if ks else "none set"),
        ("User id", config.get("user_id") or "-"),
        ("Install id", config.get("install_id") or "-"),
        ("Consent given", config.get("consent_timestamp") or "-"),
        ("Opted out", config.get("opt_out_timestamp") or "-"),
        ("Config file", info["config_path"] + ("" if info["config_exists"] else "  (none yet)")),
        ("Data folder", folder),
        ("Data", f"{counts}, {render.human_bytes(data['bytes'])}"),
    ]
    width = max(len(label) for label, _ in rows)
    lines.extend(f"  {label.ljust(width)}  {value}" for label, value in rows)
    return lines


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


# -- enable / disable ----------------------------------------------------------------------------


def _collection_notice(home: Path, error_reporting: bool, usage_analytics: bool) -> list[str]:
    def mark(on: bool, flag: str) -> str:
        return "" if on else console.dim(f"  (off: {flag})")

    return [
        console.heading("With telemetry on, the installer keeps on this computer only:"),
        "  - each run's steps: name, result (completed, skipped, failed), duration, skip reason",
        "  - OS type and version, Python version, installer version",
        "  - error details: category and type, sanitized message and stack trace, and a crash",
        "    report for unexpected failures" + mark(error_reporting, "--no-error-reporting"),
        "  - usage: the installer options you chose and a coarse hardware profile (CPU count,",
        "    memory, architecture)" + mark(usage_analytics, "--no-usage-analytics"),
        "Paths, user and host names, URLs, e-mail and IP addresses and secrets are replaced",
        "before anything is written. Nothing is sent anywhere.",
        f"Data folder: {home}",
        f"See it with '{PROG} show-data', delete it with '{PROG} clear-data'.",
    ]


def _save(config: TelemetryConfig) -> None:
    try:
        kept = config.save()
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise click.ClickException(f"could not save {config.path}: {reason}") from None
    if kept is not None:
        console.warn(f"the old {config.path.name} was not valid; it was kept as {kept}")


def _warn_kill_switch(action: str) -> None:
    switch = kill_switch()
    if switch:
        console.warn(
            f"{switch} is set in the environment: it overrides the saved choice, so "
            f"telemetry stays off until it is unset ({action} was saved)."
        )


@cli.command(context_settings=_CONTEXT, short_help="Turn telemetry on (asks first).")
@_yes_option
@click.option(
    "--no-error-reporting", is_flag=True, help="Keep error details and crash reports off."
)
@click.option(
    "--no-usage-analytics",
    is_flag=True,
    help="Keep installer options and the hardware profile off.",
)
def enable(yes: bool, no_error_reporting: bool, no_usage_analytics: bool) -> None:
    """Turn telemetry on (after saying what is collected and asking [y/N]).

    Records the time of consent and creates a random, anonymous user id if there is none. A
    config file that is not valid is kept beside the new one as
    telemetry_config.json.invalid-<time>.
    """
    console.require_answer_possible(yes=yes, command="enable")
    home = telemetry_home()
    config = TelemetryConfig.load(home)
    if config.problem:
        console.warn(f"{config.problem}; it will be replaced (and kept)")
    for line in _collection_notice(home, not no_error_reporting, not no_usage_analytics):
        click.echo(line)
    if not console.confirm("Turn telemetry on?", yes=yes, command="enable"):
        click.echo("Nothing changed.")
        return
    config.enable(error_reporting=not no_error_reporting, usage_analytics=not no_usage_analytics)
    _save(config)
    click.echo(f"{console.good('Telemetry is on.')} Saved to {config.path}.")
    _warn_kill_switch("your choice")


@cli.command(context_settings=_CONTEXT, short_help="Turn telemetry off (asks first).")
@_yes_option
@click.option("--clear-data", is_flag=True, help="Also delete the data collected so far.")
def disable(yes: bool, clear_data: bool) -> None:
    """Turn telemetry off: all three switches off, with the time you opted out.

    The anonymous ids stay in the config (they identify nothing); the collected data stays too
    unless you add --clear-data.
    """
    from otel_local_exporter.home import data_usage

    console.require_answer_possible(yes=yes, command="disable")
    home = telemetry_home()
    config = TelemetryConfig.load(home)
    if config.problem:
        console.warn(f"{config.problem}; it will be replaced (and kept)")
    question = "Turn telemetry off?"
    if clear_data:
        files, size = data_usage(home)
        question = (
            f"Turn telemetry off and delete {_plural(files, 'file')} "
            f"({render.human_bytes(size)}) of collected data?"
        )
    if not console.confirm(question, yes=yes, command="disable"):
        click.echo("Nothing changed.")
        return
    config.disable()
    _save(config)
    click.echo(f"{console.caution('Telemetry is off.')} Saved to {config.path}.")
    if clear_data:
        _clear(home)


# -- clear-data ----------------------------------------------------------------------------------


def _clear(home: Path) -> None:
    from otel_local_exporter.home import clear_data, data_usage

    before, _ = data_usage(home)
    count, size = clear_data(home)
    click.echo(f"Deleted {_plural(count, 'file')} ({render.human_bytes(size)}).")
    left = before - count
    if left > 0:
        console.warn(f"{_plural(left, 'file')} could not be deleted; see {home}")


@cli.command(
    "clear-data",
    context_settings=_CONTEXT,
    short_help="Delete the collected data (keeps your choice).",
)
@_yes_option
def clear_data_command(yes: bool) -> None:
    """Delete the collected sessions, unfinished-run journals and crash reports.

    Your choice (telemetry_config.json) is kept; use 'disable' to turn telemetry off.
    """
    from otel_local_exporter.home import data_usage

    home = telemetry_home()
    files, size = data_usage(home)
    if not files:
        click.echo(f"There is no collected data to delete in {home}.")
        return
    question = f"Delete {_plural(files, 'file')} ({render.human_bytes(size)}) in {home}?"
    if not console.confirm(question, yes=yes, command="clear-data"):
        click.echo("Nothing deleted.")
        return
    _clear(home)


# -- show-data -----------------------------------------------------------------------------------


def _invalid_lines(invalid: list[Any], home: Path) -> list[str]:
    from .bundle import relative_name

    if not invalid:
        return []
    width = max(len(relative_name(f.path, home)) for f in invalid)
    lines = [
        "",
        console.caution(
            f"Skipped {_plural(len(invalid), 'file')} that could not be read (left untouched):"
        ),
    ]
    lines.extend(f"  {relative_name(f.path, home).ljust(width)}  {f.reason}" for f in invalid)
    return lines


def _invalid_json(invalid: list[Any], home: Path) -> list[dict[str, str]]:
    from .bundle import relative_name

    return [{"file": relative_name(f.path, home), "reason": f.reason} for f in invalid]


_RESULT_STYLE = {
    "success": console.good,
    "failed": console.bad,
    "cancelled": console.caution,
    "incomplete": console.caution,
}


@cli.command(
    "show-data", context_settings=_CONTEXT, short_help="List sessions, or draw one as a waterfall."
)
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
@_json_option
def show_data(
    session_prefix: str | None, latest: bool, crashes: bool, limit: int, as_json: bool
) -> None:
    """List recorded sessions, newest first, or draw one session's spans as a waterfall.

    Give the first characters of a session id (from the list), or --latest, to see that run's
    steps as a tree with a timeline bar per span, their status, durations, skip reasons and
    errors. Files that cannot be read are listed as skipped and left untouched.
    """
    from otel_local_exporter.store import load_crashes, load_sessions

    home = telemetry_home()
    if session_prefix is not None and latest:
        raise click.UsageError("give a session id prefix or --latest, not both")
    if crashes:
        _show_crashes(load_crashes(home), home, session_prefix, latest, limit, as_json)
        return
    scan = _settled(load_sessions(home))
    if session_prefix is not None or latest:
        _show_session(scan, home, session_prefix, as_json)
        return
    from .sessions import summarize

    summaries = [summarize(s) for s in scan.files]
    shown = summaries[:limit] if limit else summaries
    if as_json:
        _echo_json(
            {
                "sessions": [s.to_dict() for s in shown],
                "total": len(summaries),
                "invalid": _invalid_json(scan.invalid, home),
            }
        )
        return
    if not summaries:
        click.echo(f"No sessions recorded in {home}.")
        if kill_switch() is None and TelemetryConfig.load(home).state != "enabled":
            click.echo(f"Telemetry is off; '{PROG} enable' turns it on.")
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
                    str(s.steps["completed"]),
                    str(s.steps["skipped"]),
                    str(s.steps["failed"] + s.steps["cancelled"]),
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
                    console.bad if s.steps["failed"] else None,
                    None,
                    console.dim,
                ]
            )
        for line in render.table(columns, rows, styles):
            click.echo(line)
        more = f" (showing the newest {len(shown)})" if len(shown) < len(summaries) else ""
        click.echo(
            f"\n{_plural(len(summaries), 'session')}{more}. "
            f"Details: {PROG} show-data <session> or --latest."
        )
    for line in _invalid_lines(scan.invalid, home):
        click.echo(line)


def _show_session(scan: Any, home: Path, prefix: str | None, as_json: bool) -> None:
    from .sessions import NoMatch, find_one, summarize
    from .waterfall import render_waterfall

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
        _echo_json(stored.data)
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
    from .sessions import dicts

    for line in render_waterfall(dicts(stored.data.get("spans"))):
        click.echo(line)


def _show_crashes(
    scan: Any, home: Path, prefix: str | None, latest: bool, limit: int, as_json: bool
) -> None:
    from .sessions import NoMatch, find_one, text

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
            _echo_json(stored.data)
            return
        _crash_detail(stored)
        return
    files = scan.files[:limit] if limit else scan.files
    if as_json:
        _echo_json(
            {
                "crash_reports": [{"file": f.path.name, **f.data} for f in files],
                "total": len(scan.files),
                "invalid": _invalid_json(scan.invalid, home),
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
            f"\n{_plural(len(scan.files), 'crash report')}. "
            f"Details: {PROG} show-data --crashes <crash or session id>."
        )
    for line in _invalid_lines(scan.invalid, home):
        click.echo(line)


def _crash_detail(stored: Any) -> None:
    from .sessions import text

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


# -- report --------------------------------------------------------------------------------------


@cli.command(
    context_settings=_CONTEXT, short_help="Success rates, durations and errors across sessions."
)
@_json_option
def report(as_json: bool) -> None:
    """Summarize all local sessions: success rate and duration per step, failures, errors.

    Success rate counts completed / (completed + failed + cancelled), leaving skipped runs out;
    durations (median, 95th percentile) are over the runs that ran.
    """
    from otel_local_exporter.store import load_sessions

    from .report import build_report

    home = telemetry_home()
    scan = _settled(load_sessions(home))
    data = build_report(scan.files)
    if as_json:
        _echo_json({**data, "invalid": _invalid_json(scan.invalid, home)})
        return
    if not scan.files:
        click.echo(f"No sessions recorded in {home}: nothing to report.")
    else:
        _report_text(data)
    for line in _invalid_lines(scan.invalid, home):
        click.echo(line)


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def _report_text(data: dict[str, Any]) -> None:
    results = ", ".join(f"{n} {k}" for k, n in data["results"].items())
    click.echo(
        f"{console.heading('Sessions:')} {data['sessions']} ({results}); "
        f"success rate {_percent(data['success_rate'])}"
    )
    click.echo("")
    click.echo(console.heading("Steps"))
    columns = [
        render.Column("step"),
        render.Column("runs", right=True),
        render.Column("success", right=True),
        render.Column("completed", right=True),
        render.Column("skipped", right=True),
        render.Column("failed", right=True),
        render.Column("cancelled", right=True),
        render.Column("median", right=True),
        render.Column("p95", right=True),
    ]
    rows = [
        [
            s["step"],
            str(s["runs"]),
            _percent(s["success_rate"]),
            str(s["completed"]),
            str(s["skipped"]),
            str(s["failed"]),
            str(s["cancelled"]),
            render.human_duration(s["median_ms"]),
            render.human_duration(s["p95_ms"]),
        ]
        for s in data["steps"]
    ]
    for line in render.table(columns, rows, indent="  "):
        click.echo(line)
    click.echo("")
    click.echo(console.heading("Failures by category"))
    if data["failures_by_category"]:
        cat_rows = [[k, str(n)] for k, n in data["failures_by_category"].items()]
        for line in render.table(
            [render.Column("category"), render.Column("count", right=True)], cat_rows, indent="  "
        ):
            click.echo(line)
    else:
        click.echo("  none")
    click.echo("")
    click.echo(console.heading("Most frequent errors"))
    if data["top_errors"]:
        err_rows = [
            [e["error_type"], e["error_category"], str(e["count"]), ", ".join(e["steps"])]
            for e in data["top_errors"]
        ]
        err_cols = [
            render.Column("error type", max_width=48),
            render.Column("category"),
            render.Column("count", right=True),
            render.Column("steps"),
        ]
        for line in render.table(err_cols, err_rows, indent="  "):
            click.echo(line)
    elif data["failures_by_category"]:
        click.echo("  no error details recorded (error reporting was off)")
    else:
        click.echo("  none")


# -- export --------------------------------------------------------------------------------------


@cli.command(
    context_settings=_CONTEXT, short_help="Write a sanitized bundle (or OTLP/JSON) to FILE."
)
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
def export(file: str, force: bool, session_prefix: str | None, fmt: str) -> None:
    """Write the collected data to FILE ('-' for standard output), sanitized once more.

    The bundle holds the config (with its anonymous ids, nothing else from this machine), every
    session and crash report. Everything passes the sanitizer again before it is written; a
    summary of what was replaced goes to stderr. FILE is written atomically and readable only by
    you; an existing FILE is kept unless you pass --force.
    """
    from otel_local_exporter.store import load_crashes, load_sessions

    from . import bundle
    from .sessions import NoMatch, find_one

    home = telemetry_home()
    target = None if file == "-" else Path(file).expanduser()
    if target is not None:
        _check_target(target, force)
    sessions, crashes = _settled(load_sessions(home)), _settled(load_crashes(home))
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
            config=None if config.problem else config.to_dict(),
            config_problem=config.problem,
            sessions=session_files,
            crashes=crash_files,
            invalid=invalid,
            home=home,
            exported_by=f"{PROG} {_version()}",
        )
    if target is None:
        _write_stdout(result.payload)
    else:
        try:
            bundle.write_private_file(target, result.payload, force=force)
        except bundle.TargetExistsError:
            raise click.ClickException(f"{file} exists; pass --force to replace it") from None
        except OSError as exc:
            raise click.ClickException(f"cannot write {file}: {exc.strerror or exc}") from None
    _export_summary(result, file, fmt)


def _write_stdout(payload: bytes) -> None:
    sys.stdout.flush()
    binary = getattr(sys.stdout, "buffer", None)
    if binary is None:
        sys.stdout.write(payload.decode("utf-8"))
    else:
        binary.write(payload)
        binary.flush()


def _check_target(target: Path, force: bool) -> None:
    if target.is_dir():
        raise click.ClickException(f"{target} is a folder; give a file name")
    if not target.parent.is_dir():
        raise click.ClickException(
            f"cannot write {target}: the folder {target.parent} does not exist"
        )
    if target.exists() and not force:
        raise click.ClickException(f"{target} exists; pass --force to replace it")


def _export_summary(result: Any, file: str, fmt: str) -> None:
    where = "standard output" if file == "-" else file
    what = f"{_plural(result.sessions, 'session')}"
    if fmt == "json":
        what += f" and {_plural(result.crash_reports, 'crash report')}"
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


def _settled(scan: Any) -> Any:
    """The parsed files live until the command exits: ``gc.freeze`` takes them out of the cyclic
    collector's sight, so rendering 10,000 sessions costs what 1,000 do, per session."""
    gc.freeze()
    return scan


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point (``dinoair-telemetry``)."""
    cli.main(args=argv, prog_name=PROG)


if __name__ == "__main__":
    main(sys.argv[1:])
