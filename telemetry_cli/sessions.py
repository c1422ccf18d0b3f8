"""One line of facts per stored session, and finding a session by the start of its id.

Session files are read through ``otel_local_exporter``; a file can be valid JSON of the right shape
and still hold odd values (a hand-edited or damaged file), so every field is read defensively:
a value of the wrong type counts as missing, never as a crash.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from otel_local_exporter.attributes import ERROR_CATEGORY, RUN_RESULT, STEP_STATUSES
from otel_local_exporter.home import parse_iso_z
from otel_local_exporter.store import StoredFile


class NoMatch(LookupError):
    """No stored item, or more than one, starts with the given id prefix."""


@dataclass(frozen=True)
class SessionSummary:
    session_id: str
    file: str
    started: str | None
    result: str
    duration_ms: float | None
    steps: Counter[str] = field(default_factory=Counter)
    error_category: str | None = None
    complete: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {
            "session_id": self.session_id,
            "started": self.started,
            "result": self.result,
            "duration_ms": self.duration_ms,
            "steps": {status: self.steps.get(status, 0) for status in STEP_STATUSES},
            "error_category": self.error_category,
            "complete": self.complete,
            "file": self.file,
        }


def text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if value == value and abs(value) != float("inf") else None


def mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def dicts(value: Any) -> list[Mapping[str, Any]]:
    return [v for v in value if isinstance(v, Mapping)] if isinstance(value, list) else []


def parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = parse_iso_z(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def events_of(doc: Mapping[str, Any], event_type: str) -> list[Mapping[str, Any]]:
    return [e for e in dicts(doc.get("events")) if e.get("event_type") == event_type]


def summarize(stored: StoredFile) -> SessionSummary:
    """The facts of one session, from its documented ``events`` (spans as a fallback)."""
    doc = stored.data
    spans = dicts(doc.get("spans"))
    metadata = mapping(doc.get("metadata"))
    complete = metadata.get("complete") is not False
    steps: Counter[str] = Counter()
    for event in events_of(doc, "installation_step"):
        steps[text(event.get("status")) or "unknown"] += 1
    errors = events_of(doc, "error")
    category = next((c for c in (text(e.get("error_category")) for e in errors) if c), None)
    root = next((s for s in spans if s.get("parent_span_id") is None), None)
    root_attrs = mapping(root.get("attributes")) if root else {}
    category = category or text(root_attrs.get(ERROR_CATEGORY))
    finish = next(iter(events_of(doc, "installation_complete")), None)
    result, duration = _result_and_duration(finish, root_attrs, root, spans, complete)
    return SessionSummary(
        session_id=text(doc.get("session_id")) or "",
        file=stored.path.name,
        started=_started(doc, spans, metadata),
        result=result,
        duration_ms=duration,
        steps=steps,
        error_category=category,
        complete=complete,
    )


def _result_and_duration(
    finish: Mapping[str, Any] | None,
    root_attrs: Mapping[str, Any],
    root: Mapping[str, Any] | None,
    spans: Sequence[Mapping[str, Any]],
    complete: bool,
) -> tuple[str, float | None]:
    duration = None
    result = None
    if finish is not None:
        result = text(mapping(finish.get("summary")).get("result"))
        if result is None and isinstance(finish.get("success"), bool):
            result = "success" if finish["success"] else "failed"
        seconds = number(finish.get("duration_seconds"))
        duration = seconds * 1000 if seconds is not None else None
    result = result or text(root_attrs.get(RUN_RESULT))
    if duration is None and root is not None:
        duration = number(root.get("duration_ms"))
    if duration is None:
        duration = extent_ms(spans)
    if result is None:
        result = "incomplete" if not complete or root is None else "unknown"
    return result, duration


def extent_ms(spans: Iterable[Mapping[str, Any]]) -> float | None:
    """Milliseconds from the first span's start to the last span's end."""
    starts = [t for t in (parse_time(s.get("start_time")) for s in spans) if t]
    ends = [t for t in (parse_time(s.get("end_time")) for s in spans) if t]
    if not starts or not ends:
        return None
    return max(0.0, (max(ends) - min(starts)).total_seconds() * 1000)


def _started(
    doc: Mapping[str, Any], spans: Sequence[Mapping[str, Any]], metadata: Mapping[str, Any]
) -> str | None:
    starts = [s for s in (text(span.get("start_time")) for span in spans) if s]
    if starts:
        return min(starts)
    stamps = [s for s in (text(e.get("timestamp")) for e in dicts(doc.get("events"))) if s]
    return min(stamps) if stamps else text(metadata.get("created_at"))


def find_one(
    items: Sequence[StoredFile],
    prefix: str,
    *,
    what: str = "session",
    keys: Sequence[str] = ("session_id",),
) -> StoredFile:
    """The single item whose id (any of ``keys``) starts with ``prefix`` (case-insensitive)."""
    wanted = prefix.strip().lower()
    if not wanted:
        raise NoMatch(f"give at least one character of a {what} id")
    matches = [
        item
        for item in items
        if any(str(item.data.get(k) or "").lower().startswith(wanted) for k in keys)
    ]
    if not matches:
        raise NoMatch(f"no {what} id starts with {prefix!r}")
    if len(matches) > 1:
        ids = sorted({str(item.data.get(keys[0]) or item.path.name)[:12] for item in matches})
        shown = ", ".join(ids[:4]) + (", ..." if len(ids) > 4 else "")
        raise NoMatch(f"{prefix!r} matches {len(matches)} {what}s ({shown}): give more characters")
    return matches[0]
