"""Turn stored session documents back into OTLP/JSON, the format any OpenTelemetry Collector reads.

The OpenTelemetry file-exporter specification writes one ``TracesData`` message a line, with trace
and span ids as hex. The official encoder (``opentelemetry-exporter-otlp-json-common``) encodes SDK
``ReadableSpan`` objects, so each stored span dict is rebuilt as a ``ReadableSpan`` first: ids from
hex, times from the ISO strings (microsecond precision, so nanoseconds end in ``000``), status,
attributes, events and the session's allow-listed resource, each read through
:class:`~.schema.SpanView`; only what OTLP cannot do without (ids, name, times) is required, and
its absence raises :class:`OtlpConversionError`. Nothing is added from this machine:
the resource is exactly what the session stored, never ``Resource.create()`` (which would merge
``OTEL_RESOURCE_ATTRIBUTES`` and detectors).

This module imports the OpenTelemetry SDK; import it only where OTLP output is wanted.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from opentelemetry.exporter.otlp.json.common.trace_encoder import encode_spans
from opentelemetry.proto_json.trace.v1.trace import TracesData
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags

from ._time import parse_iso_z
from .schema import SPAN_ID_PATTERN, TRACE_ID_PATTERN, SessionView, SpanView

__all__ = ["OtlpConversionError", "iso_to_unix_nano", "session_spans", "traces_data_line"]

SCOPE_NAME = "otel_local_exporter.session"

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_PRIMITIVES = (str, bool, int, float)


class OtlpConversionError(ValueError):
    """A session document that cannot be expressed as OTLP (a malformed id, time or span)."""


def iso_to_unix_nano(text: Any) -> int:
    """``2026-01-01T12:00:00.123456Z`` -> nanoseconds since the epoch, exactly (no float)."""
    if not isinstance(text, str):
        raise OtlpConversionError(f"a time must be an ISO 8601 string, not {type(text).__name__}")
    try:
        moment = parse_iso_z(text)
    except ValueError:
        raise OtlpConversionError(f"not an ISO 8601 time: {text[:40]!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000


def session_spans(doc: Mapping[str, Any]) -> list[ReadableSpan]:
    """Every stored span of one session as an SDK ``ReadableSpan`` sharing one resource."""
    resource_attrs = doc.get("resource") or {}
    if not isinstance(resource_attrs, Mapping):
        raise OtlpConversionError("the session's resource is not an object")
    resource = Resource(
        {
            k: v
            for k, v in resource_attrs.items()
            if isinstance(k, str) and isinstance(v, _PRIMITIVES)
        }
    )
    scope = InstrumentationScope(SCOPE_NAME, SessionView(doc).version)
    spans = doc.get("spans") or []
    if not isinstance(spans, list):
        raise OtlpConversionError("spans is not a list")
    return [_span(raw, index, resource, scope) for index, raw in enumerate(spans)]


def traces_data_line(doc: Mapping[str, Any]) -> str:
    """One session as one OTLP/JSON ``TracesData`` line (no trailing newline)."""
    traces = TracesData()
    traces.resource_spans = encode_spans(session_spans(doc)).resource_spans
    return traces.to_json()


def _span(raw: Any, index: int, resource: Resource, scope: InstrumentationScope) -> ReadableSpan:
    if not isinstance(raw, Mapping):
        raise OtlpConversionError(f"span {index} is not an object")
    span = SpanView(raw)
    trace_id = _hex_id(raw.get("trace_id"), TRACE_ID_PATTERN, "trace_id", index)
    span_id = _hex_id(raw.get("span_id"), SPAN_ID_PATTERN, "span_id", index)
    parent = None
    if not span.is_root:
        parent = SpanContext(
            trace_id,
            _hex_id(raw.get("parent_span_id"), SPAN_ID_PATTERN, "parent_span_id", index),
            is_remote=False,
            trace_flags=TraceFlags(TraceFlags.SAMPLED),
        )
    if span.name is None:
        raise OtlpConversionError(f"span {index} has no name")
    start = iso_to_unix_nano(raw.get("start_time"))
    end = iso_to_unix_nano(raw.get("end_time", raw.get("start_time")))
    return ReadableSpan(
        name=span.name,
        context=SpanContext(
            trace_id, span_id, is_remote=False, trace_flags=TraceFlags(TraceFlags.SAMPLED)
        ),
        parent=parent,
        resource=resource,
        attributes=_attributes(raw.get("attributes"), f"span {index}"),
        events=[_event(e, index) for e in raw.get("events") or []],
        kind=_kind(raw.get("kind")),
        status=_status(span),
        start_time=start,
        end_time=end,
        instrumentation_scope=scope,
    )


def _hex_id(value: Any, pattern: re.Pattern[str], field: str, index: int) -> int:
    if not isinstance(value, str) or not pattern.fullmatch(value.lower()) or not int(value, 16):
        raise OtlpConversionError(f"span {index} has an invalid {field}: {str(value)[:40]!r}")
    return int(value, 16)


def _attributes(value: Any, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise OtlpConversionError(f"{where}: attributes is not an object")
    return {str(k): v for k, v in value.items() if v is not None}


def _event(raw: Any, index: int) -> Event:
    if not isinstance(raw, Mapping) or not isinstance(raw.get("name"), str):
        raise OtlpConversionError(f"span {index} has an event without a name")
    return Event(
        raw["name"],
        _attributes(raw.get("attributes"), f"span {index} event"),
        iso_to_unix_nano(raw.get("timestamp")),
    )


def _kind(value: Any) -> SpanKind:
    try:
        return SpanKind[value] if isinstance(value, str) else SpanKind.INTERNAL
    except KeyError:
        return SpanKind.INTERNAL


def _status(span: SpanView) -> Status:
    try:
        code = StatusCode[span.status_code]
    except KeyError:
        code = StatusCode.UNSET
    description = span.status_description
    if code is StatusCode.ERROR and description is not None:
        return Status(code, description)  # the SDK keeps a description only on ERROR
    return Status(code)
