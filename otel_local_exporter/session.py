"""The session document's writer: sanitized spans plus the events derived from them.

The one place that makes a session file (DESIGN section 6): a span becomes a record
(:func:`span_to_dict`, appended to the run's journal), the records become the document
(:func:`build_session`), the document gets its file name (:func:`session_path`) and is written
atomically (:func:`write_session`), and the oldest files beyond the limit go (:func:`prune`).
Spans are the source of truth; ``events`` is a readable digest derived from them through
:class:`~.schema.SpanView`, so the two can never disagree. The document's shape and version
live in :mod:`.schema`.
"""

from __future__ import annotations

import contextlib
import fnmatch
import json
import os
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from . import schema
from ._fileio import atomic_write
from ._time import file_stamp, iso_z, iso_z_ns, parse_iso_z, utc_now
from .schema import SCHEMA_VERSION, SpanView

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import ReadableSpan

    from .sanitize import Sanitizer

__all__ = [
    "RESOURCE_ALLOW_LIST",
    "SCHEMA_VERSION",
    "Policy",
    "build_session",
    "derive_events",
    "prune",
    "resource_to_dict",
    "session_path",
    "span_to_dict",
    "write_session",
]

# The only resource keys that may be stored (DESIGN section 3): never host.name, process.owner...
RESOURCE_ALLOW_LIST = (
    "service.name",
    "service.version",
    "os.type",
    "os.version",
    "host.arch",
    "process.runtime.name",
    "process.runtime.version",
)
_HARDWARE_RESOURCE_KEYS = frozenset({"host.arch"})
_EXCEPTION_DETAIL_KEYS = frozenset(
    {
        "exception.type",
        "exception.message",
        "exception.stacktrace",
        "exception.escaped",
        schema.ERROR_TYPE,
        schema.ERROR_SIGNATURE,  # computed from the message and frames: an error detail too
    }
)


@dataclass(frozen=True)
class Policy:
    """What the user's granular switches allow into a session."""

    error_reporting: bool = True
    usage_analytics: bool = True
    # What the consent notice the user agreed to did not name (``catalogue.withheld``).
    withheld_keys: frozenset[str] = frozenset()
    withheld_prefixes: tuple[str, ...] = ()
    withheld_events: frozenset[str] = frozenset()
    # Events about the machine (catalogue.usage_events), kept only with usage analytics on.
    usage_events: frozenset[str] = frozenset()

    def keep_attribute(self, key: str) -> bool:
        if not self.usage_analytics and key.startswith((schema.ARG_PREFIX, schema.SYSTEM_PREFIX)):
            return False
        if key in self.withheld_keys or (
            self.withheld_prefixes and key.startswith(self.withheld_prefixes)
        ):
            return False
        return self.error_reporting or key not in _EXCEPTION_DETAIL_KEYS

    def keep_event(self, name: str) -> bool:
        if name in self.withheld_events or (not self.usage_analytics and name in self.usage_events):
            return False
        return self.error_reporting or name != schema.EXCEPTION_EVENT


def span_to_dict(span: ReadableSpan, sanitizer: Sanitizer, policy: Policy) -> schema.SpanRecord:
    """A sanitized, JSON-ready copy of an ended span (the span itself is immutable)."""
    ctx = span.get_span_context()
    if ctx is None:  # the SDK's spans always have one; the type allows None
        raise ValueError("a span without a context")
    parent = span.parent
    start, end = span.start_time or 0, span.end_time or span.start_time or 0
    events: list[schema.SpanEventRecord] = [
        {
            "name": sanitizer.text(event.name),
            "timestamp": iso_z_ns(event.timestamp),
            "attributes": _clean_attributes(event.attributes, sanitizer, policy),
        }
        for event in span.events
        if policy.keep_event(event.name)
    ]
    description = span.status.description if policy.error_reporting else None
    return {
        "trace_id": f"{ctx.trace_id:032x}",
        "span_id": f"{ctx.span_id:016x}",
        "parent_span_id": f"{parent.span_id:016x}" if parent and not parent.is_remote else None,
        "name": sanitizer.text(span.name),
        "kind": span.kind.name,
        "start_time": iso_z_ns(start),
        "end_time": iso_z_ns(end),
        "duration_ms": round((end - start) / 1e6, 3),
        "status": {
            "code": span.status.status_code.name,
            "description": sanitizer.text(description) if description else None,
        },
        "attributes": _clean_attributes(span.attributes, sanitizer, policy),
        "events": events,
    }


def resource_to_dict(
    resource_attributes: Mapping[str, Any], sanitizer: Sanitizer, policy: Policy
) -> dict[str, Any]:
    """The allow-listed resource, sanitized; hardware keys only with usage analytics."""
    keys = [
        k for k in RESOURCE_ALLOW_LIST if policy.usage_analytics or k not in _HARDWARE_RESOURCE_KEYS
    ]
    return {k: sanitizer.value(resource_attributes[k]) for k in keys if k in resource_attributes}


def _clean_attributes(
    attributes: Mapping[str, Any] | None, sanitizer: Sanitizer, policy: Policy
) -> dict[str, Any]:
    if not attributes:
        return {}
    kept = {
        k: (list(v) if isinstance(v, tuple) else v)
        for k, v in attributes.items()
        if policy.keep_attribute(k)
    }
    return sanitizer.value(kept)


def build_session(
    session_id: str,
    spans: Sequence[Mapping[str, Any]],
    resource: dict[str, Any],
    *,
    complete: bool,
    created_at: str | None = None,
) -> schema.SessionDocument:
    """The whole session document for one run."""
    # Records made by span_to_dict, or read back from a journal and checked by span_problem.
    records = cast("list[schema.SpanRecord]", sorted(spans, key=lambda s: s["start_time"]))
    return {
        "session_id": session_id,
        "events": derive_events(records),
        "spans": records,
        "resource": resource,
        "metadata": {
            "created_at": created_at or iso_z(utc_now()),
            "version": SCHEMA_VERSION,
            "complete": complete,
        },
    }


def derive_events(spans: Iterable[Mapping[str, Any]]) -> list[schema.Event]:
    """The documented event list (installation_start, _step, error, _complete) from spans."""
    views = [SpanView(s) for s in spans]
    root = next((v for v in views if v.is_root), None)
    events: list[schema.Event] = []
    if root is not None:
        events.append(
            {
                "event_type": schema.EVENT_START,
                "timestamp": root.start_time or "",
                "system_info": root.prefixed(schema.SYSTEM_PREFIX),
                "installation_args": root.prefixed(schema.ARG_PREFIX),
            }
        )
    statuses: Counter[str] = Counter()
    for view in views:
        step, status = view.step, view.step_status
        if step is not None and status is not None:
            statuses[status] += 1
            event: schema.StepEvent = {
                "event_type": schema.EVENT_STEP,
                "timestamp": view.end_time or "",
                "step_name": step,
                "status": status,
                "duration_ms": round(view.duration_ms or 0),
            }
            if view.skip_reason is not None:
                event["reason"] = view.skip_reason
            events.append(event)
        events.extend(_error_events(view))
    if root is not None:  # a span is exported only once it has ended
        result = root.result
        events.append(
            {
                "event_type": schema.EVENT_COMPLETE,
                "timestamp": root.end_time or "",
                "success": result == schema.RESULT_SUCCESS,
                "duration_seconds": round((root.duration_ms or 0) / 1000, 3),
                "summary": {"result": result, **{s: statuses[s] for s in schema.STEP_STATUSES}},
            }
        )
    events.sort(key=lambda e: e["timestamp"])
    return events


def _error_events(view: SpanView) -> Iterable[schema.ErrorEvent]:
    for error in view.errors:
        if error.recorded:
            yield {
                "event_type": schema.EVENT_ERROR,
                "timestamp": error.timestamp or "",
                "step_name": view.step,
                "error_category": error.category or "unexpected",
                "error_type": error.type,
                "error_message": error.message,
                "stack_trace": error.stack_trace,
            }
        elif error.category is not None and view.step is not None:
            # Error reporting is off (details stripped) or the step failed without an exception.
            # (A root span's category only repeats its failing step's: one event per failure.)
            yield {
                "event_type": schema.EVENT_ERROR,
                "timestamp": error.timestamp or "",
                "step_name": view.step,
                "error_category": error.category,
            }


# -- the file -----------------------------------------------------------------------------------


def session_path(folder: Path, session_id: str, started: str) -> Path:
    """``session_<yyyymmddTHHMMSSZ>_<id>.json``; refuses anything but a 32-hex id and a real
    time, so a hostile journal cannot steer the name (``../``) out of the folder."""
    if not schema.TRACE_ID_PATTERN.fullmatch(session_id):
        raise ValueError("a session id is 32 hex digits")
    return folder / f"session_{file_stamp(parse_iso_z(started))}_{session_id}.json"


def write_session(folder: Path, doc: schema.SessionDocument) -> Path:
    """Write ``doc`` atomically under its own name in ``folder``; returns the path."""
    started = doc["spans"][0]["start_time"] if doc["spans"] else doc["metadata"]["created_at"]
    path = session_path(folder, doc["session_id"], started)
    # Compact: ``indent`` would force the pure-Python encoder (show-data is the reader for eyes).
    atomic_write(path, json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode())
    return path


def prune(folder: Path, pattern: str, keep: int) -> int:
    """Retention: delete the oldest files matching ``pattern`` beyond ``keep``; how many went.

    Called after every session (and crash report) write, so it is cheap: names carry a sortable
    UTC stamp, so one directory listing and a sort by name are enough (no stat per file).
    """
    try:
        names = [e.name for e in os.scandir(folder) if fnmatch.fnmatchcase(e.name, pattern)]
    except OSError:
        return 0
    if len(names) <= keep:
        return 0
    names.sort(reverse=True)
    removed = 0
    for name in names[keep:]:
        with contextlib.suppress(OSError):
            os.unlink(folder / name)
            removed += 1
    return removed
