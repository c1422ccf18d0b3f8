"""One session's spans as a tree with a timeline bar per span (a waterfall).

Spans are linked by ``parent_span_id``; a span whose parent is missing (a run that was killed
before its root span ended) is drawn as a root of its own, and a loop in a damaged file is cut
rather than followed forever. Under each span go the details a person needs to act: the skip
reason, what a phase span did (:mod:`.phases`), and the error category, type and (sanitized)
message.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import click

from otel_local_exporter import SpanView

from . import render
from .phases import phase_details

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
    "unknown": "yellow",
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


def span_details(span: SpanView) -> list[str]:
    """What a person needs under a span: the skip reason, what a phase (update, rollback,
    recover, repair...) did, and each error's category, type and first line of its message (the
    status description for an error without an exception)."""
    details = []
    if span.skip_reason:
        details.append(f"skipped: {span.skip_reason}")
    details.extend(phase_details(span))
    for error in span.errors:
        label = f"error [{error.category}]" if error.category else "error"
        if error.recorded:
            message = (error.message or "").strip().splitlines()
            label += f" {error.type or 'error'}"
            details.append(label + (f": {message[0]}" if message else ""))
        else:
            details.append(label + (f": {error.message}" if error.message else ""))
    return details


def build_rows(spans: Sequence[SpanView], *, fancy: bool = True) -> list[Row]:
    """Depth-first rows, children in start order, with tree prefixes."""
    ids = {s.span_id for s in spans} - {None}
    children: dict[str | None, list[SpanView]] = {}
    for span in spans:
        parent = span.parent_id
        key = parent if parent in ids and parent != span.span_id else None
        children.setdefault(key, []).append(span)
    for group in children.values():
        group.sort(key=lambda s: s.start_time or "")
    tee, elbow, pipe = ("├─ ", "└─ ", "│  ") if fancy else ("|- ", "`- ", "|  ")
    rows: list[Row] = []
    seen: set[int] = set()

    def walk(span: SpanView, prefix: str, connector: str, child_prefix: str) -> None:
        if id(span) in seen:
            return
        seen.add(id(span))
        kids = children.get(span.span_id, []) if span.span_id else []
        rows.append(
            Row(
                depth_prefix=prefix + connector,
                name=span.label,
                status=span.status,
                duration_ms=span.duration_ms,
                start=span.start,
                end=span.end,
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


def render_waterfall(spans: Sequence[SpanView], *, bar_width: int = BAR_WIDTH) -> list[str]:
    fancy = render.unicode_ok()
    rows = build_rows(spans, fancy=fancy)
    if not rows:
        return ["  (this session has no spans)"]
    starts = [r.start for r in rows if r.start is not None]
    ends = [e for e in (r.end or r.start for r in rows) if e is not None]
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
