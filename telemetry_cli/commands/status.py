"""``status``: whether telemetry is on and why, the saved switches, the ids and the stored data.

Must stay light: it imports neither the OpenTelemetry SDK nor the sanitizer.
"""

from __future__ import annotations

from typing import Any

import click

from otel_local_exporter import NOTICE_VERSION, telemetry_home

from .. import console, render
from ..console import spelled
from ..state import gather_status
from ._shared import CONTEXT, echo_json, json_option, plural
from .known_issues import fixed_line


@click.command("status", context_settings=CONTEXT)
@json_option
def command(as_json: bool) -> None:
    """Show whether telemetry is on and why, the saved switches, the ids and the stored data.

    Reads only: it creates nothing, not even the telemetry home.
    """
    info = gather_status(telemetry_home())
    if as_json:
        echo_json(info)
        return
    for line in status_lines(info):
        click.echo(line)


def status_lines(info: dict[str, Any]) -> list[str]:
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
            f"  Telemetry stays off. '{spelled('enable')}' or '{spelled('disable')}' rewrites the "
            "file and keeps the bad one beside it."
        )
    elif info["source"] == "undecided":
        lines.append(
            f"  Turn it on with '{spelled('enable')}', or record a 'no' with "
            f"'{spelled('disable')}'."
        )
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
        f"{plural(data['sessions'], 'session file')}, "
        f"{plural(data['crash_reports'], 'crash report file')}"
    )
    if data["journals"]:
        counts += f", {plural(data['journals'], 'unfinished run')}"
    rows = [
        ("Telemetry", switch(config.get("telemetry_enabled"))),
        ("Error reporting", switch(config.get("error_reporting_enabled"))),
        ("Usage analytics", switch(config.get("usage_analytics_enabled"))),
        ("Kill switch", f"{ks} is set" if ks else "none set"),
        ("User id", config.get("user_id") or "-"),
        ("Install id", config.get("install_id") or "-"),
        ("Consent given", config.get("consent_timestamp") or "-"),
        ("Opted out", config.get("opt_out_timestamp") or "-"),
        ("Notice agreed to", _notice(config)),
        ("Fix notifications", switch(config.get("fix_notifications_enabled"))),
        ("Config file", info["config_path"] + ("" if info["config_exists"] else "  (none yet)")),
        ("Data folder", folder),
        ("Data", f"{counts}, {render.human_bytes(data['bytes'])}"),
    ]
    width = max(len(label) for label, _ in rows)
    lines.extend(f"  {label.ljust(width)}  {value}" for label, value in rows)
    fixed = fixed_line(telemetry_home())
    if fixed:
        lines.append(f"  {fixed}: '{spelled('known-issues')}' shows them.")
    agreed = config.get("consent_notice_version") or 1
    if info["enabled"] and agreed < NOTICE_VERSION:
        lines.append(
            f"  The notice grew since you agreed (version {agreed}); only what that version "
            f"named is kept until you agree again (the next install on a terminal asks, or "
            f"'{spelled('enable')}')."
        )
    return lines


def _notice(config: dict[str, Any]) -> str:
    """The consent notice version agreed to (a yes saved before versions existed: 1)."""
    if not config.get("telemetry_enabled"):
        return "-"
    agreed = config.get("consent_notice_version") or 1
    return f"version {agreed}" + ("" if agreed == NOTICE_VERSION else f" (now {NOTICE_VERSION})")
