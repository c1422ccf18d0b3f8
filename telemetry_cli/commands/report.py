"""``report``: success rates, durations and errors across the local sessions, or (``--from``)
across many users' exported bundles: the maintainers' view (``telemetry_cli.fleet``)."""

from __future__ import annotations

import csv
import sys
from typing import Any

import click

from otel_local_exporter import (
    STEP_CANCELLED,
    STEP_COMPLETED,
    STEP_FAILED,
    load_sessions,
    telemetry_home,
)

from .. import console, render
from ..report import build_report
from ._shared import (
    CONTEXT,
    echo_json,
    invalid_json,
    invalid_lines,
    json_option,
    percent,
    plural,
    settled,
)


@click.command("report", context_settings=CONTEXT)
@click.option(
    "--from",
    "sources",
    multiple=True,
    metavar="PATH",
    help="Read exported bundles instead of the local sessions: files, folders or globs "
    "(JSON bundles and OTLP lines). Repeat it, or list more paths after it.",
)
@click.argument("more", nargs=-1, metavar="[PATH]...")
@json_option
@click.option("--csv", "as_csv", is_flag=True, help="With --from: print CSV rows (for a sheet).")
@click.option(
    "--top",
    type=click.IntRange(min=1),
    default=20,
    show_default=True,
    help="With --from: how many error signatures to list.",
)
@click.option(
    "--min-group",
    type=click.IntRange(min=1),
    default=5,
    show_default=True,
    metavar="K",
    help="With --from: fold every group (version, OS, accelerator) of fewer than K distinct "
    "installs into 'other', so that no row describes a handful of people.",
)
def command(
    sources: tuple[str, ...],
    more: tuple[str, ...],
    as_json: bool,
    as_csv: bool,
    top: int,
    min_group: int,
) -> None:
    """Summarize all local sessions: success rate and duration per step, failures, errors.

    Success rate counts completed / (completed + failed + cancelled), leaving skipped runs out;
    durations (median, 95th percentile) are over the runs that ran.

    With --from, the maintainers' view over many users' exported bundles: sessions counted once
    by id, success rates per step, installer version, OS and accelerator kind, duration
    percentiles per step, failures by category and the most frequent error signatures
    (messages with numbers, paths, ids, hex and quoted values folded). Files that are not
    bundles are skipped with one line each. Nothing is written or sent.
    """
    if more and not sources:
        raise click.UsageError("paths are read only with --from: report --from PATH...")
    if as_json and as_csv:
        raise click.UsageError("give --json or --csv, not both")
    if sources:
        _fleet(sources + more, as_json=as_json, as_csv=as_csv, top=top, min_group=min_group)
        return
    if as_csv:
        raise click.UsageError("--csv goes with --from")
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


def _releases_text(releases: list[dict[str, Any]]) -> None:
    """Updates and rollbacks per release, when any session updated or recovered (else nothing
    is printed): rolled back in the run, rolled back or completed by the next run's recovery
    after a killed update."""
    if not releases:
        return
    click.echo("")
    click.echo(console.heading("Updates by release"))
    columns = [
        render.Column("release"),
        render.Column("updates", right=True),
        render.Column("rolled back", right=True),
        render.Column("rolled back by recovery", right=True),
        render.Column("completed by recovery", right=True),
        render.Column("recovery failed", right=True),
        render.Column("rollback rate", right=True),
    ]
    rows = [
        [
            r["release"],
            str(r["updates"]),
            str(r["rollbacks"]),
            str(r["recovery_rollbacks"]),
            str(r["recovery_completed"]),
            str(r["recovery_failed"]),
            percent(r["rollback_rate"]),
        ]
        for r in releases
    ]
    for line in render.table(columns, rows, indent="  "):
        click.echo(line)
    click.echo(
        console.dim(
            "  rollback rate = (rolled back + rolled back by recovery) / updates; recovery is "
            "the next run finishing an update that was killed"
        )
    )


# What each kind a repair fixes is, in words (the repair span's ``<kind>_fixed`` counts).
_REPAIR_KINDS = {
    "checkout_fixed": "checkout replaced",
    "packages_fixed": "packages installed again",
    "nodes_disabled": "custom nodes disabled",
    "models_fixed": "model files fetched again",
    "scripts_fixed": "launch scripts rewritten",
}


def _repairs_text(repairs: dict[str, Any] | None) -> None:
    """The --repair runs and what they fixed, when any session repaired (else nothing)."""
    if not repairs or not repairs["runs"]:
        return
    click.echo("")
    click.echo(console.heading("Repairs"))
    results = ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in repairs["results"].items())
    click.echo(f"  {plural(repairs['runs'], 'run')} with --repair ({results})")
    if not repairs["fixed"]:
        click.echo("  nothing was fixed")
        return
    columns = [
        render.Column("fixed"),
        render.Column("runs", right=True),
        render.Column("items", right=True),
    ]
    rows = [
        [_REPAIR_KINDS.get(f["kind"], f["kind"]), str(f["runs"]), str(f["items"])]
        for f in repairs["fixed"]
    ]
    for line in render.table(columns, rows, indent="  "):
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
    _components_text(data)
    _by_accelerator_text(data)
    _releases_text(data.get("releases") or [])
    _repairs_text(data.get("repairs"))
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


def _components_text(data: dict[str, Any]) -> None:
    """Per component: how the installs left it, and the share that ended with it working."""
    click.echo("")
    click.echo(console.heading("Components"))
    names = ("installed", "present", "skipped", "failed")
    columns = [
        render.Column("component"),
        render.Column("runs", right=True),
        render.Column("success", right=True),
        *(render.Column(n, right=True) for n in names),
    ]
    rows = [
        [c["component"], str(c["runs"]), percent(c["success_rate"]), *(str(c[n]) for n in names)]
        for c in data.get("components", [])
        if c["runs"]
    ]
    if not rows:
        click.echo("  none recorded")
        return
    for line in render.table(columns, rows, indent="  "):
        click.echo(line)


def _by_accelerator_text(data: dict[str, Any]) -> None:
    """Step success per accelerator kind: one column per kind, each cell "rate (completed/ran)"."""
    groups = data["by_accelerator"]
    click.echo("")
    click.echo(console.heading("Step success by accelerator"))
    click.echo("  sessions: " + ", ".join(f"{g['accelerator']} {g['sessions']}" for g in groups))
    columns = [render.Column("step")]
    columns += [render.Column(g["accelerator"], right=True) for g in groups]
    rows = []
    for step in data["steps"]:
        row = [step["step"]]
        for group in groups:
            cell = next((s for s in group["steps"] if s["step"] == step["step"]), None)
            ran = cell and cell[STEP_COMPLETED] + cell[STEP_FAILED] + cell[STEP_CANCELLED]
            row.append(
                f"{percent(cell['success_rate'])} ({cell[STEP_COMPLETED]}/{ran})"
                if cell and ran
                else "-"
            )
        rows.append(row)
    for line in render.table(columns, rows, indent="  "):
        click.echo(line)


# -- report --from -------------------------------------------------------------------------------


def _fleet(
    paths: tuple[str, ...], *, as_json: bool, as_csv: bool, top: int, min_group: int
) -> None:
    from otel_local_exporter import Sanitizer

    from ..fleet import build

    fleet = build(paths)
    data = fleet.to_dict(top=top, sanitizer=Sanitizer(), min_group=min_group)
    for item in data["skipped"]:
        console.warn(f"skipped {item['file']}: {item['reason']}")
    for name, count in data["bad_lines"].items():
        console.warn(f"{name}: skipped {plural(count, 'line')} that were not OTLP TracesData")
    if as_json:
        echo_json(data)
    elif as_csv:
        _fleet_csv(data)
    elif not data["sessions"]:
        raise click.ClickException(f"no sessions found in {plural(data['files'], 'file')}")
    else:
        _fleet_text(data)


def _fleet_text(data: dict[str, Any]) -> None:
    results = ", ".join(f"{n} {k}" for k, n in data["results"].items())
    click.echo(
        f"{console.heading('Sessions:')} {data['sessions']} from {plural(data['files'], 'file')}"
        f" ({results}); success rate {percent(data['success_rate'])}"
        + (
            f"; {plural(data['duplicates'], 'duplicate')} counted once"
            if data["duplicates"]
            else ""
        )
    )
    click.echo("")
    click.echo(console.heading("Steps"))
    cols = [
        render.Column("step"),
        render.Column("runs", right=True),
        render.Column("success", right=True),
    ]
    cols += [
        render.Column(n, right=True)
        for n in ("failed", "cancelled", "skipped", "p50", "p90", "p95", "p99")
    ]
    rows = [
        [
            s["step"],
            str(s["runs"]),
            percent(s["success_rate"]),
            str(s["failed"]),
            str(s["cancelled"]),
            str(s["skipped"]),
            *(render.human_duration(s[f"p{q}_ms"]) for q in (50, 90, 95, 99)),
        ]
        for s in data["steps"]
    ]
    for line in render.table(cols, rows, indent="  "):
        click.echo(line)
    for title, key in (
        ("By installer version", "by_version"),
        ("By OS", "by_os"),
        ("By accelerator", "by_accelerator"),
        ("By GPU compute capability", "by_compute_capability"),
    ):
        click.echo("")
        click.echo(console.heading(title))
        group_cols = [
            render.Column(n, right=n != "name")
            for n in ("name", "sessions", "success", "failed", "cancelled", "other")
        ]
        group_cols.append(render.Column("rate", right=True))
        group_rows = [
            [
                g["name"],
                str(g["sessions"]),
                str(g["success"]),
                str(g["failed"]),
                str(g["cancelled"]),
                str(g["other"]),
                percent(g["success_rate"]),
            ]
            for g in data[key]
        ]
        for line in render.table(group_cols, group_rows, indent="  "):
            click.echo(line)
        if data["suppressed"][key]:
            folded = plural(data["suppressed"][key], "group")
            click.echo(
                console.dim(
                    f"  {folded} of fewer than {data['min_group']} installs folded into "
                    f"'other' (--min-group)"
                )
            )
    _releases_text(data.get("releases") or [])
    if data["suppressed"].get("releases"):
        folded = plural(data["suppressed"]["releases"], "release")
        click.echo(
            console.dim(
                f"  {folded} of fewer than {data['min_group']} installs folded into 'other' "
                "(--min-group)"
            )
        )
    _repairs_text(data.get("repairs"))
    click.echo("")
    click.echo(console.heading("Failures by category"))
    cats = [[k, str(n)] for k, n in data["failures_by_category"].items()] or [["none", "0"]]
    for line in render.table(
        [render.Column("category"), render.Column("count", right=True)], cats, indent="  "
    ):
        click.echo(line)
    click.echo("")
    click.echo(console.heading("Most frequent error signatures"))
    if not data["signatures"]:
        click.echo("  none")
    for sig in data["signatures"]:
        steps = ", ".join(sig["steps"])
        click.echo(f"  {sig['count']:>6}  {sig['error_category']}  {sig['error_type']}  in {steps}")
        click.echo(f"          {sig['signature']}")
        if sig["example"] != sig["signature"]:
            click.echo(console.dim(f"          e.g. {sig['example']}"))


CSV_FIELDS = ("section", "name", "metric", "value")


def _fleet_csv(data: dict[str, Any]) -> None:
    """Long rows (section, name, metric, value): one shape for every table, easy to pivot."""
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(CSV_FIELDS)
    writer.writerow(("total", "", "sessions", data["sessions"]))
    writer.writerow(("total", "", "duplicates", data["duplicates"]))
    writer.writerow(("total", "", "success_rate", _csv(data["success_rate"])))
    for result, count in data["results"].items():
        writer.writerow(("result", result, "sessions", count))
    for step in data["steps"]:
        for metric, value in step.items():
            if metric != "step":
                writer.writerow(("step", step["step"], metric, _csv(value)))
    for section in ("by_version", "by_os", "by_accelerator", "by_compute_capability"):
        for group in data[section]:
            for metric, value in group.items():
                if metric != "name":
                    writer.writerow(
                        (section.removeprefix("by_"), group["name"], metric, _csv(value))
                    )
    for row in data.get("releases") or []:
        for metric, value in row.items():
            if metric != "release":
                writer.writerow(("release", row["release"], metric, _csv(value)))
    repairs = data.get("repairs") or {}
    if repairs.get("runs"):
        writer.writerow(("repair", "", "runs", repairs["runs"]))
        for result, count in repairs["results"].items():
            writer.writerow(("repair", result, "runs", count))
        for fixed in repairs["fixed"]:
            writer.writerow(("repair_fixed", fixed["kind"], "runs", fixed["runs"]))
            writer.writerow(("repair_fixed", fixed["kind"], "items", fixed["items"]))
    writer.writerow(("total", "", "min_group", data["min_group"]))
    for category, count in data["failures_by_category"].items():
        writer.writerow(("failure_category", category, "count", count))
    for sig in data["signatures"]:
        name = f"{sig['error_category']} {sig['error_type']}: {sig['signature']}"
        writer.writerow(("signature", name, "count", sig["count"]))
        writer.writerow(("signature", name, "example", sig["example"]))


def _csv(value: Any) -> Any:
    return "" if value is None else value
