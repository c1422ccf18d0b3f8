"""The session document: sanitized spans plus the events derived from them (DESIGN section 6).

Spans are the source of truth; ``events`` is a readable digest derived from them, so the two can
never disagree. Everything here works on plain dicts, which is what the journal stores and what a
recovered run is rebuilt from.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from . import attributes as attr
from .home import iso_z, iso_z_ns, utc_now

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import ReadableSpan

    from .sanitize import Sanitizer

SCHEMA_VERSION = "1.1.0"

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
        attr.ERROR_TYPE,
    }
)


@dataclass(frozen=True)
class Policy:
    """What the user's granular switches allow into a session."""

    error_reporting: bool = True
    usage_analytics: bool = True

    def keep_attribute(self, key: str) -> bool:
        if not self.usage_analytics and key.startswith((attr.ARG_PREFIX, attr.SYSTEM_PREFIX)):
            return False
        return self.error_reporting or key not in _EXCEPTION_DETAIL_KEYS


def span_to_dict(span: ReadableSpan, sanitizer: Sanitizer, policy: Policy) -> dict[str, Any]:
    """A sanitized, JSON-ready copy of an ended span (the span itself is immutable)."""
    ctx = span.get_span_context()
    parent = span.parent
    start, end = span.start_time or 0, span.end_time or span.start_time or 0
    events = [
        {
            "name": sanitizer.text(event.name),
            "timestamp": iso_z_ns(event.timestamp),
            "attributes": _clean_attributes(event.attributes, sanitizer, policy),
        }
        for event in span.events
        if policy.error_reporting or event.name != "exception"
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
    spans: list[dict[str, Any]],
    resource: dict[str, Any],
    *,
    complete: bool,
    created_at: str | None = None,
) -> dict[str, Any]:
    """The whole session document for one run."""
    spans = sorted(spans, key=lambda s: s["start_time"])
    return {
        "session_id": session_id,
        "events": derive_events(spans),
        "spans": spans,
        "resource": resource,
        "metadata": {
            "created_at": created_at or iso_z(utc_now()),
            "version": SCHEMA_VERSION,
            "complete": complete,
        },
    }


def derive_events(spans: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The documented event list (installation_start, _step, error, _complete) from spans."""
    root = next((s for s in spans if s["parent_span_id"] is None), None)
    events: list[dict[str, Any]] = []
    if root is not None:
        events.append(
            {
                "event_type": "installation_start",
                "timestamp": root["start_time"],
                "system_info": _prefixed(root["attributes"], attr.SYSTEM_PREFIX),
                "installation_args": _prefixed(root["attributes"], attr.ARG_PREFIX),
            }
        )
    statuses: Counter[str] = Counter()
    for span in spans:
        attrs = span["attributes"]
        step = attrs.get(attr.STEP_NAME)
        if step is not None:
            status = attrs.get(attr.STEP_STATUS, "failed" if _is_error(span) else "completed")
            statuses[status] += 1
            event = {
                "event_type": "installation_step",
                "timestamp": span["end_time"],
                "step_name": step,
                "status": status,
                "duration_ms": round(span["duration_ms"]),
            }
            if attr.STEP_SKIP_REASON in attrs:
                event["reason"] = attrs[attr.STEP_SKIP_REASON]
            events.append(event)
        events.extend(_error_events(span, step))
    if root is not None:  # a span is exported only once it has ended
        result = root["attributes"].get(attr.RUN_RESULT)
        events.append(
            {
                "event_type": "installation_complete",
                "timestamp": root["end_time"],
                "success": result == "success",
                "duration_seconds": round(root["duration_ms"] / 1000, 3),
                "summary": {"result": result, **{s: statuses[s] for s in attr.STEP_STATUSES}},
            }
        )
    events.sort(key=lambda e: e["timestamp"])
    return events


def _error_events(span: dict[str, Any], step: str | None) -> Iterable[dict[str, Any]]:
    attrs = span["attributes"]
    category = attrs.get(attr.ERROR_CATEGORY)
    exceptions = [e for e in span["events"] if e["name"] == "exception"]
    for exc in exceptions:
        details = exc["attributes"]
        yield {
            "event_type": "error",
            "timestamp": exc["timestamp"],
            "step_name": step,
            "error_category": category or "unexpected",
            "error_type": details.get("exception.type"),
            "error_message": details.get("exception.message"),
            "stack_trace": details.get("exception.stacktrace"),
        }
    if not exceptions and category is not None and step is not None:
        # Error reporting is off (details stripped) or the step failed without an exception.
        # (A root span's category only repeats its failing step's: one event per failure.)
        yield {
            "event_type": "error",
            "timestamp": span["end_time"],
            "step_name": step,
            "error_category": category,
        }


def _is_error(span: dict[str, Any]) -> bool:
    return span["status"]["code"] == "ERROR"


def _prefixed(attributes: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    return {k[len(prefix) :]: v for k, v in attributes.items() if k.startswith(prefix)}
