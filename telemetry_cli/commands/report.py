"""``report``: success rates, durations and errors across the local sessions."""

from __future__ import annotations

from typing import Any

import click

from otel_local_exporter import load_sessions, telemetry_home

from .. import console, render
from ..report import build_report
from ._shared import CONTEXT, echo_json, invalid_json, invalid_lines, json_option, percent, settled


@click.command("report", context_settings=CONTEXT)
@json_option
def command(as_json: bool) -> None:
    """Summarize all local sessions: success rate and duration per step, failures, errors.

    Success rate counts completed / (completed + failed + cancelled), leaving skipped runs out;
    durations (median, 95th percentile) are over the runs that ran.
    """
    home = telemetry_home()
    scan = settled(load_sessions(home))
    data = build_report(scan.files)
    if as_json:
        echo_json({**data, "invalid": invalid_json(scan.invalid, home)})
        return
    if not scan.files:
        click.echo(f"No sessions recorded in {home}: nothing to report.")
    else:
        _report_text(data)
    for line in invalid_lines(scan.invalid, home):
        click.echo(line)


def _report_text(data: dict[str, Any]) -> None:
    results = ", ".join(f"{n} {k}" for k, n in data["results"].items())
    click.echo(
        f"{console.heading('Sessions:')} {data['sessions']} ({results}); "
        f"success rate {percent(data['success_rate'])}"
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
            percent(s["success_rate"]),
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
