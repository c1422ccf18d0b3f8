"""One session's spans as a tree with a timeline bar per span (a waterfall).

Spans are linked by ``parent_span_id``; a span whose parent is missing (a run that was killed
before its root span ended) is drawn as a root of its own, and a loop in a damaged file is cut
rather than followed forever. Under each span go the details a person needs to act: the skip
reason, and the error category, type and (sanitized) message.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import click

from otel_local_exporter.attributes import (
    ERROR_CATEGORY,
    RUN_RESULT,
    STEP_NAME,
    STEP_SKIP_REASON,
    STEP_STATUS,
)

from . import render
from .sessions import dicts, mapping, number, parse_time, text

BAR_WIDTH = 40
NAME_WIDTH = 44

_STATUS_STYLE = {
    "completed": "green",
    "success": "green",
    "ok": "green",
    "failed": "red",
    "error": "red",
    "skipped": "yellow",
    "cancelled": "yellow",
    "incomplete": "yellow",
}


@dataclass(frozen=True)
class Row:
    depth_prefix: str
    name: str
    status: str
    duration_ms: float | None
    start: datetime | None
    end: datetime | None
    details: tuple[str, ...]
    detail_prefix: str


def span_status(span: Mapping[str, Any]) -> str:
    """A step's own status, the run's result for the root, else the OpenTelemetry status."""
    attrs = mapping(span.get("attributes"))
    status = text(attrs.get(STEP_STATUS)) or text(attrs.get(RUN_RESULT))
    if status:
        return status
    code = text(mapping(span.get("status")).get("code")) or "UNSET"
    return {"OK": "ok", "ERROR": "error"}.get(code, "-")


def span_details(span: Mapping[str, Any]) -> list[str]:
    attrs = mapping(span.get("attributes"))
    details = []
    reason = text(attrs.get(STEP_SKIP_REASON))
    if reason:
        details.append(f"skipped: {reason}")
    category = text(attrs.get(ERROR_CATEGORY))
    exceptions = [e for e in dicts(span.get("events")) if e.get("name") == "exception"]
    for exc in exceptions:
        exc_attrs = mapping(exc.get("attributes"))
        kind = text(exc_attrs.get("exception.type")) or "error"
        message = (text(exc_attrs.get("exception.message")) or "").strip().splitlines()
        label = f"error [{category}]" if category else "error"
        details.append(f"{label} {kind}" + (f": {message[0]}" if message else ""))
    if not exceptions and (category or mapping(span.get("status")).get("code") == "ERROR"):
        description = text(mapping(span.get("status")).get("description"))
        label = f"error [{category}]" if category else "error"
        details.append(label + (f": {description}" if description else ""))
    return details


def build_rows(spans: Sequence[Mapping[str, Any]], *, fancy: bool = True) -> list[Row]:
    """Depth-first rows, children in start order, with tree prefixes."""
    ids = {text(s.get("span_id")) for s in spans} - {None}
    children: dict[str | None, list[Mapping[str, Any]]] = {}
    for span in spans:
        parent = text(span.get("parent_span_id"))
        key = parent if parent in ids and parent != text(span.get("span_id")) else None
        children.setdefault(key, []).append(span)
    for group in children.values():
        group.sort(key=lambda s: text(s.get("start_time")) or "")
    tee, elbow, pipe = ("├─ ", "└─ ", "│  ") if fancy else ("|- ", "`- ", "|  ")
    rows: list[Row] = []
    seen: set[int] = set()

    def walk(span: Mapping[str, Any], prefix: str, connector: str, child_prefix: str) -> None:
        if id(span) in seen:
            return
        seen.add(id(span))
        attrs = mapping(span.get("attributes"))
        name = text(attrs.get(STEP_NAME)) or text(span.get("name")) or "?"
        kids = children.get(text(span.get("span_id")), []) if span.get("span_id") else []
        rows.append(
            Row(
                depth_prefix=prefix + connector,
                name=name,
                status=span_status(span),
                duration_ms=number(span.get("duration_ms")),
                start=parse_time(span.get("start_time")),
                end=parse_time(span.get("end_time")),
                details=tuple(span_details(span)),
                detail_prefix=child_prefix + (pipe if kids else "   "),
            )
        )
        for i, kid in enumerate(kids):
            last = i == len(kids) - 1
            below = child_prefix + ("   " if last else pipe)
            walk(kid, child_prefix, elbow if last else tee, below)

    for root in children.get(None, []):
        walk(root, "", "", "")
    for span in spans:  # anything only reachable through a loop
        if id(span) not in seen:
            walk(span, "", "", "")
    return rows


def render_waterfall(
    spans: Sequence[Mapping[str, Any]], *, bar_width: int = BAR_WIDTH
) -> list[str]:
    fancy = render.unicode_ok()
    rows = build_rows(spans, fancy=fancy)
    if not rows:
        return ["  (this session has no spans)"]
    starts = [r.start for r in rows if r.start]
    ends = [r.end or r.start for r in rows if r.end or r.start]
    t0 = min(starts) if starts else None
    total = (max(ends) - t0).total_seconds() if t0 and ends else 0.0
    labels = [render.truncate(r.depth_prefix + r.name, NAME_WIDTH) for r in rows]
    name_w = max([render.text_width("span")] + [render.text_width(x) for x in labels])
    status_w = max([len("status")] + [len(r.status) for r in rows])
    durations = [render.human_duration(r.duration_ms) for r in rows]
    dur_w = max([len("duration")] + [len(d) for d in durations])
    full, tick = ("█", "▏") if fancy else ("#", "|")
    header = "  ".join(
        [
            render.pad("span", name_w),
            render.pad("timeline", bar_width),
            render.pad("status", status_w),
            render.pad("duration", dur_w, right=True),
        ]
    )
    lines = [click.style(header, bold=True)]
    for row, label, duration in zip(rows, labels, durations, strict=True):
        bar = _bar(row, t0, total, bar_width, full, tick)
        colour = _STATUS_STYLE.get(row.status)
        lines.append(
            "  ".join(
                [
                    render.pad(label, name_w),
                    click.style(bar, fg=colour) if colour else bar,
                    click.style(render.pad(row.status, status_w), fg=colour)
                    if colour
                    else render.pad(row.status, status_w),
                    render.pad(duration, dur_w, right=True),
                ]
            )
        )
        for detail in row.details:
            line = render.truncate(detail.replace("\n", " "), 200)
            styled = (
                click.style(line, fg="red")
                if line.startswith("error")
                else click.style(line, dim=True)
            )
            lines.append(f"{row.detail_prefix}{styled}")
    return lines


def _bar(row: Row, t0: datetime | None, total: float, width: int, full: str, tick: str) -> str:
    if t0 is None or row.start is None:
        return " " * width
    if total <= 0:
        return full * width
    offset = (row.start - t0).total_seconds() / total
    length = ((row.end or row.start) - row.start).total_seconds() / total
    first = min(width - 1, max(0, int(offset * width)))
    cells = max(0, min(width - first, round(length * width)))
    body = full * cells if cells else tick
    return (" " * first + body).ljust(width)[:width]
