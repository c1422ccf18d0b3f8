"""The session document: its shape, its names, its version, and the one way to read it.

This module is the one home of the session file's format (DESIGN section 6). The writer
(:mod:`.session`) builds documents of these shapes; every reader (the events derived at write
time, the store's checks, journal recovery, OTLP conversion, ``dinoair-telemetry``) reads them
through :class:`SpanView` and :class:`SessionView`, so the writer and the readers cannot disagree
on what a field means or on what "failed" is.

Public names:

* shapes (``TypedDict``): :class:`SpanRecord`, :class:`SpanEventRecord`, :class:`SpanStatus`,
  :class:`SessionDocument`, :class:`SessionMetadata`, and the events :class:`StartEvent`,
  :class:`StepEvent`, :class:`ErrorEvent`, :class:`CompleteEvent` (:data:`Event`);
* ``SCHEMA_VERSION`` and the id patterns ``TRACE_ID_PATTERN``, ``SPAN_ID_PATTERN``;
* span attribute names an instrumented installer sets (``STEP_NAME``, ``RUN_RESULT``...);
* event types (``EVENT_START``, ``EVENT_STEP``, ``EVENT_ERROR``, ``EVENT_COMPLETE``), step
  statuses (``STEP_STATUSES``), run results (``RUN_RESULTS``, plus ``RESULT_INCOMPLETE`` and
  ``RESULT_UNKNOWN`` for runs whose result was never recorded), ``ERROR_CATEGORIES``;
* the tolerant read views :class:`SpanView`, :class:`SessionView`, :class:`SpanError`,
  :class:`StepOutcome`, and the checks :func:`span_problem`, :func:`session_problem`.

The views never raise on odd content: a hand-edited or damaged file can hold a number where a
string belongs, so a value of the wrong type reads as missing.

A new session field: add its attribute name or key here (and to the ``TypedDict``), a property
to the view that reads it, and set it in :mod:`.session` (or in the installer's runner for a span
attribute). A change that an older reader would misread raises ``SCHEMA_VERSION`` (see
``CHANGELOG.md``), and the views keep reading the files of earlier versions.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal, TypedDict

from ._time import parse_time
from .signature import failure_signature, frames_of_stack_trace

__all__ = [
    "ARG_PREFIX",
    "BUILD_RULES",
    "ERROR_CATEGORIES",
    "ERROR_CATEGORY",
    "ERROR_SIGNATURE",
    "ERROR_TYPE",
    "EVENT_COMPLETE",
    "EVENT_ERROR",
    "EVENT_START",
    "EVENT_STEP",
    "EVENT_TYPES",
    "EXCEPTION_EVENT",
    "INSTALLER_VERSION",
    "PHASE_FROM_RELEASE",
    "PHASE_NAME",
    "PHASE_PREFIX",
    "PHASE_RECOVER",
    "PHASE_REPAIR",
    "PHASE_RESULT",
    "PHASE_ROLLBACK",
    "PHASE_SPAN_PREFIX",
    "PHASE_TO_RELEASE",
    "PHASE_UPDATE",
    "RESULT_CANCELLED",
    "RESULT_FAILED",
    "RESULT_INCOMPLETE",
    "RESULT_SUCCESS",
    "RESULT_UNKNOWN",
    "RUN_RESULT",
    "RUN_RESULTS",
    "SCHEMA_VERSION",
    "SPAN_ID_PATTERN",
    "STEP_BYTES_DOWNLOADED",
    "STEP_CANCELLED",
    "STEP_CHILD_CPU_SECONDS",
    "STEP_CHILD_PEAK_RSS_MIB",
    "STEP_COMPLETED",
    "STEP_FAILED",
    "STEP_NAME",
    "STEP_SKIPPED",
    "STEP_SKIP_REASON",
    "STEP_STATUS",
    "STEP_STATUSES",
    "SYSTEM_ACCELERATOR",
    "SYSTEM_BUILD_RULE",
    "SYSTEM_COMPUTE_CAPABILITY",
    "SYSTEM_CUDA_VERSION",
    "SYSTEM_DRIVER_MAJOR",
    "SYSTEM_GPU_MODEL",
    "SYSTEM_INSTALLER_ENV",
    "SYSTEM_INSTALLER_ENV_SECONDS",
    "SYSTEM_KERNEL_TEST",
    "SYSTEM_PREFIX",
    "SYSTEM_ROCM_VERSION",
    "SYSTEM_TORCH_BUILD",
    "SYSTEM_TORCH_DEVICE",
    "SYSTEM_VRAM_GIB",
    "TRACE_ID_PATTERN",
    "CompleteEvent",
    "ErrorEvent",
    "Event",
    "SessionDocument",
    "SessionMetadata",
    "SessionView",
    "SpanError",
    "SpanEventRecord",
    "SpanRecord",
    "SpanStatus",
    "SpanView",
    "StartEvent",
    "StepEvent",
    "StepOutcome",
    "extent_ms",
    "session_problem",
    "span_problem",
    "step_of",
]

SCHEMA_VERSION = "1.1.0"
"""The version in every session's ``metadata.version`` (and every crash report's ``version``).

Raised when the format changes in a way an earlier reader would misread; readers of this
package read every earlier version (``tests/data/legacy`` holds files written by earlier code).
"""

TRACE_ID_PATTERN = re.compile(r"[0-9a-f]{32}")  # also the session id
SPAN_ID_PATTERN = re.compile(r"[0-9a-f]{16}")

# -- span attribute names (the contract between an instrumented installer and this package) ----

# Root span.
INSTALLER_VERSION = "installer.version"
RUN_RESULT = "installer.result"  # one of RUN_RESULTS
ARG_PREFIX = "installer.arg."  # one attribute per chosen argument (usage analytics)
SYSTEM_PREFIX = "installer.system."  # hardware profile: cpu count, memory GiB (usage analytics)
# Hardware and torch, under SYSTEM_PREFIX (usage analytics, coarse only: never a GPU UUID, serial,
# PCI bus id or VBIOS version).
SYSTEM_ACCELERATOR = f"{SYSTEM_PREFIX}accelerator"  # nvidia | amd | apple | cpu
SYSTEM_GPU_MODEL = f"{SYSTEM_PREFIX}gpu_model"
SYSTEM_VRAM_GIB = f"{SYSTEM_PREFIX}vram_gib"
SYSTEM_DRIVER_MAJOR = f"{SYSTEM_PREFIX}driver_major"
SYSTEM_CUDA_VERSION = f"{SYSTEM_PREFIX}cuda_version"
SYSTEM_ROCM_VERSION = f"{SYSTEM_PREFIX}rocm_version"
SYSTEM_TORCH_BUILD = f"{SYSTEM_PREFIX}torch_build"
SYSTEM_TORCH_DEVICE = f"{SYSTEM_PREFIX}torch_device"
# How ``python3 install.py`` obtained the installer's own environment: reused | created | rebuilt
# (or current: run from a venv that already had it), and the seconds that took.
SYSTEM_INSTALLER_ENV = f"{SYSTEM_PREFIX}installer_env"
SYSTEM_INSTALLER_ENV_SECONDS = f"{SYSTEM_PREFIX}installer_env_seconds"
SYSTEM_COMPUTE_CAPABILITY = f"{SYSTEM_PREFIX}compute_capability"  # "8.6" (NVIDIA) or "gfx1100"
SYSTEM_BUILD_RULE = f"{SYSTEM_PREFIX}build_rule"  # one of BUILD_RULES
SYSTEM_KERNEL_TEST = f"{SYSTEM_PREFIX}kernel_test_passed"  # bool: verify ran kernels on the GPU
BUILD_RULES = ("driver_mvc", "legacy_arch", "override", "no_build", "vendor", "cpu")

# Step spans.
STEP_NAME = "installer.step"
STEP_STATUS = "installer.step.status"  # one of STEP_STATUSES
STEP_SKIP_REASON = "installer.step.skip_reason"
STEP_BYTES_DOWNLOADED = "installer.step.bytes_downloaded"
STEP_CHILD_CPU_SECONDS = "installer.step.child_cpu_seconds"
STEP_CHILD_PEAK_RSS_MIB = "installer.step.child_peak_rss_mib"

# Phase spans: a named part of a step (update, rollback, migrate_models, ...), a child of the
# step's span named ``dinoair.phase.<name>``; its own attributes live under PHASE_PREFIX.
PHASE_NAME = "installer.phase"
PHASE_PREFIX = "installer.phase."
# The lifecycle's phases (installer.lifecycle) and what ``report`` reads from them.
PHASE_SPAN_PREFIX = "dinoair.phase."
PHASE_UPDATE = "update"  # to_release: the release updated to; result: "updated"
PHASE_ROLLBACK = "rollback"  # from_release: the release that was rolled back; result
# to_release: the release a killed run was updating to; result: rolled_back | swapped | failed
PHASE_RECOVER = "recover"
PHASE_REPAIR = "repair"  # <kind>_checked, <kind>_fixed (nodes_disabled) counts; result
PHASE_RESULT = PHASE_PREFIX + "result"
PHASE_TO_RELEASE = PHASE_PREFIX + "to_release"
PHASE_FROM_RELEASE = PHASE_PREFIX + "from_release"

# Errors (DESIGN section 8). ``error.type`` is the semantic-convention name.
ERROR_CATEGORY = "installer.error.category"
ERROR_TYPE = "error.type"
# The failure signature (``signature.failure_signature``) on a failed step span and a crash report.
ERROR_SIGNATURE = "installer.error.signature"
ERROR_CATEGORIES = ("installation", "network", "system", "configuration", "unexpected", "cancelled")
EXCEPTION_EVENT = "exception"  # the span event ``Span.record_exception`` adds

# -- statuses and results ---------------------------------------------------------------------

STEP_COMPLETED: Final = "completed"
STEP_SKIPPED: Final = "skipped"
STEP_FAILED: Final = "failed"
STEP_CANCELLED: Final = "cancelled"
STEP_STATUSES = (STEP_COMPLETED, STEP_SKIPPED, STEP_FAILED, STEP_CANCELLED)

RESULT_SUCCESS: Final = "success"
RESULT_FAILED: Final = "failed"
RESULT_CANCELLED: Final = "cancelled"
RUN_RESULTS = (RESULT_SUCCESS, RESULT_FAILED, RESULT_CANCELLED)
# What a reader says when no result was recorded: the run was killed (its session is
# ``"complete": false`` or has no root span), or its root span carries no result.
RESULT_INCOMPLETE: Final = "incomplete"
RESULT_UNKNOWN: Final = "unknown"

# -- components ----------------------------------------------------------------------------------
# The parts of the stack and the step that provides each; a step says how the install left its
# part with a span event COMPONENT_EVENT (attributes "component", "status" and "source");
# report counts them per component, and reads a step's outcome where no such event was recorded.

COMPONENT_EVENT: Final = "component"
COMPONENT_INSTALLED: Final = "installed"  # this run installed (or updated) it
COMPONENT_PRESENT: Final = "present"  # it was already there and was used as it was
COMPONENT_SKIPPED: Final = "skipped"  # not installed (no way to, or left out)
COMPONENT_FAILED: Final = "failed"  # its step failed or was cancelled
COMPONENT_STATUSES = (COMPONENT_INSTALLED, COMPONENT_PRESENT, COMPONENT_SKIPPED, COMPONENT_FAILED)
COMPONENT_STEPS = {"comfyui": "comfyui", "ollama": "ollama_models", "webgui": "webgui"}

# -- event types --------------------------------------------------------------------------------

EVENT_START: Final = "installation_start"
EVENT_STEP: Final = "installation_step"
EVENT_ERROR: Final = "error"
EVENT_COMPLETE: Final = "installation_complete"
EVENT_TYPES = (EVENT_START, EVENT_STEP, EVENT_ERROR, EVENT_COMPLETE)


# -- the document's shape -----------------------------------------------------------------------


class SpanStatus(TypedDict):
    code: str  # "UNSET", "OK" or "ERROR"
    description: str | None


class SpanEventRecord(TypedDict):
    name: str
    timestamp: str
    attributes: dict[str, Any]


class SpanRecord(TypedDict):
    """One sanitized span, as the journal appends it and the session file keeps it."""

    trace_id: str
    span_id: str
    parent_span_id: str | None  # None: the run's root span
    name: str
    kind: str
    start_time: str  # ISO 8601, UTC, ``Z``
    end_time: str
    duration_ms: float
    status: SpanStatus
    attributes: dict[str, Any]
    events: list[SpanEventRecord]


class StartEvent(TypedDict):
    event_type: Literal["installation_start"]
    timestamp: str
    system_info: dict[str, Any]
    installation_args: dict[str, Any]


class _StepEventBase(TypedDict):
    event_type: Literal["installation_step"]
    timestamp: str
    step_name: str
    status: str  # one of STEP_STATUSES
    duration_ms: int


class StepEvent(_StepEventBase, total=False):
    reason: str  # the skip reason, only for a skipped step


class _ErrorEventBase(TypedDict):
    event_type: Literal["error"]
    timestamp: str
    step_name: str | None
    error_category: str


class ErrorEvent(_ErrorEventBase, total=False):
    # Only with error reporting on and an exception recorded.
    error_type: str | None
    error_message: str | None
    stack_trace: str | None


class CompleteEvent(TypedDict):
    event_type: Literal["installation_complete"]
    timestamp: str
    success: bool
    duration_seconds: float
    summary: dict[str, Any]  # {"result": RUN_RESULT or None, <step status>: count, ...}


Event = StartEvent | StepEvent | ErrorEvent | CompleteEvent


class SessionMetadata(TypedDict):
    created_at: str
    version: str  # SCHEMA_VERSION of the writer
    complete: bool  # False: rebuilt from the journal of a killed run


class SessionDocument(TypedDict):
    """``session_<yyyymmddTHHMMSSZ>_<session_id>.json``."""

    session_id: str  # the trace id, 32 hex digits
    events: list[Event]
    spans: list[SpanRecord]
    resource: dict[str, Any]
    metadata: SessionMetadata


# -- checks -------------------------------------------------------------------------------------


def span_problem(record: Any) -> str | None:
    """Why ``record`` cannot be used as a span (journal recovery), or ``None``."""
    if not isinstance(record, Mapping):
        return "not an object"
    for key in ("span_id", "start_time", "end_time"):
        if not isinstance(record.get(key), str):
            return f"no {key}"
    if not isinstance(record.get("attributes", {}), dict):
        return "attributes is not an object"
    if not isinstance(record.get("events", []), list):
        return "events is not a list"
    return None


def session_problem(data: Any) -> str | None:
    """Why ``data`` is not a session document a reader can show, or ``None``.

    Only the frame is checked (the lists and objects a reader walks); the values inside are
    read through the views, which tolerate anything.
    """
    if not isinstance(data, dict):
        return "not a JSON object"
    if not isinstance(data.get("session_id"), str):
        return "no session_id"
    if not isinstance(data.get("events"), list):
        return "no events list"
    spans = data.get("spans", [])
    if not isinstance(spans, list):
        return "spans is not a list"
    if not all(isinstance(s, dict) for s in spans):
        return "a span is not an object"
    if not all(isinstance(e, dict) for e in data["events"]):
        return "an event is not an object"
    if not isinstance(data.get("metadata", {}), dict):
        return "metadata is not an object"
    return None


# -- tolerant values ----------------------------------------------------------------------------

_EMPTY: Mapping[str, Any] = {}


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if value == value and abs(value) != float("inf") else None


# ``type(v) is dict`` first: what JSON gives; the ABC check alone costs a Python-level call per
# value, a good part of reading 100,000 sessions (``report --from``).


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if type(value) is dict or isinstance(value, Mapping) else _EMPTY


def _mappings(value: Any) -> list[Mapping[str, Any]]:
    if not isinstance(value, list):
        return []
    return [v for v in value if type(v) is dict or isinstance(v, Mapping)]


# -- the views ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SpanError:
    """One failure recorded on a span.

    ``recorded`` is true for an exception event (type, message and stack trace are known when
    error reporting was on); false for a failure known only from the span's error category or
    ``ERROR`` status (error reporting off, or a failure without an exception).
    """

    timestamp: str | None
    category: str | None
    type: str | None
    message: str | None
    stack_trace: str | None
    recorded: bool


class SpanView:
    """A tolerant, read-only view of one stored span (a :class:`SpanRecord` or anything else).

    ``SpanView(mapping).status`` is the one definition of a span's status: a step's recorded
    status (``failed`` for an ``ERROR`` step without one, else ``completed``), the run's result
    for the root (``unknown`` without one), and ``ok``/``error``/``-`` for any other span.
    """

    __slots__ = ("_attrs", "raw")

    def __init__(self, raw: Any) -> None:
        self.raw: Mapping[str, Any] = _mapping(raw)
        self._attrs: Mapping[str, Any] | None = None

    # identity and place in the tree
    @property
    def trace_id(self) -> str | None:
        return _text(self.raw.get("trace_id"))

    @property
    def span_id(self) -> str | None:
        return _text(self.raw.get("span_id"))

    @property
    def parent_id(self) -> str | None:
        return _text(self.raw.get("parent_span_id"))

    @property
    def is_root(self) -> bool:
        """The run's root span: no parent recorded (``None`` or missing)."""
        return self.raw.get("parent_span_id") is None

    @property
    def name(self) -> str | None:
        return _text(self.raw.get("name"))

    @property
    def label(self) -> str:
        """What to call the span on screen: its step name, else its span name."""
        return self.step or self.name or "?"

    # time
    @property
    def start_time(self) -> str | None:
        return _text(self.raw.get("start_time"))

    @property
    def end_time(self) -> str | None:
        return _text(self.raw.get("end_time"))

    @property
    def start(self) -> datetime | None:
        return parse_time(self.raw.get("start_time"))

    @property
    def end(self) -> datetime | None:
        return parse_time(self.raw.get("end_time"))

    @property
    def duration_ms(self) -> float | None:
        return _number(self.raw.get("duration_ms"))

    # content
    @property
    def attributes(self) -> Mapping[str, Any]:
        if self._attrs is None:
            self._attrs = _mapping(self.raw.get("attributes"))
        return self._attrs

    @property
    def events(self) -> list[Mapping[str, Any]]:
        return _mappings(self.raw.get("events"))

    @property
    def status_code(self) -> str:
        """The OpenTelemetry status code: ``OK``, ``ERROR`` or ``UNSET``."""
        return _text(_mapping(self.raw.get("status")).get("code")) or "UNSET"

    @property
    def status_description(self) -> str | None:
        return _text(_mapping(self.raw.get("status")).get("description"))

    @property
    def is_error(self) -> bool:
        return self.status_code == "ERROR"

    # what the installer recorded
    @property
    def step(self) -> str | None:
        """The installation step this span ran, or ``None`` for any other span."""
        return _text(self.attributes.get(STEP_NAME))

    @property
    def step_status(self) -> str | None:
        """A step span's status (one of :data:`STEP_STATUSES` as written), else ``None``."""
        if self.step is None:
            return None
        recorded = _text(self.attributes.get(STEP_STATUS))
        return recorded or (STEP_FAILED if self.is_error else STEP_COMPLETED)

    @property
    def result(self) -> str | None:
        """The run's recorded result (on the root span), or ``None``."""
        return _text(self.attributes.get(RUN_RESULT))

    @property
    def status(self) -> str:
        step_status = self.step_status
        if step_status is not None:
            return step_status
        if self.is_root:
            return self.result or RESULT_UNKNOWN
        return {"OK": "ok", "ERROR": "error"}.get(self.status_code, "-")

    @property
    def skip_reason(self) -> str | None:
        return _text(self.attributes.get(STEP_SKIP_REASON))

    @property
    def error_category(self) -> str | None:
        return _text(self.attributes.get(ERROR_CATEGORY))

    @property
    def errors(self) -> list[SpanError]:
        """The span's failures: one per recorded exception, else one from its category/status."""
        category = self.error_category
        errors = []
        for event in self.events:
            if event.get("name") != EXCEPTION_EVENT:
                continue
            details = _mapping(event.get("attributes"))
            errors.append(
                SpanError(
                    timestamp=_text(event.get("timestamp")),
                    category=category,
                    type=_text(details.get("exception.type")),
                    message=_text(details.get("exception.message")),
                    stack_trace=_text(details.get("exception.stacktrace")),
                    recorded=True,
                )
            )
        if not errors and (category is not None or self.is_error):
            errors.append(
                SpanError(
                    timestamp=self.end_time,
                    category=category,
                    type=_text(self.attributes.get(ERROR_TYPE)),
                    message=self.status_description,
                    stack_trace=None,
                    recorded=False,
                )
            )
        return errors

    @property
    def signature(self) -> str | None:
        """The failure signature of a failed span: as recorded while the run failed, else (a
        file written before signatures were recorded) computed from what the span kept."""
        recorded = _text(self.attributes.get(ERROR_SIGNATURE))
        if recorded:
            return recorded
        error = next((e for e in self.errors if e.recorded), None)
        if error is None:  # error reporting was off: no details to compute it from
            return None
        frames = frames_of_stack_trace(error.stack_trace)
        return failure_signature(self.step, error.category, error.type, error.message, frames)[0]

    def prefixed(self, prefix: str) -> dict[str, Any]:
        """The attributes under ``prefix`` (``ARG_PREFIX``, ``SYSTEM_PREFIX``), prefix removed."""
        return {k[len(prefix) :]: v for k, v in self.attributes.items() if k.startswith(prefix)}

    def __repr__(self) -> str:
        return f"SpanView({self.label!r}, {self.status!r})"


def step_of(raw: Mapping[str, Any]) -> tuple[str, str, float | None] | None:
    """A stored span's ``(step, step_status, duration_ms)`` as :class:`SpanView` reads them, or
    ``None`` for a span that is not a step.

    The fast path for reading many sessions (``report --from``): a span whose attributes are a
    plain dict holding a recorded status is read without making a view; anything else is
    left to the view, so the meaning stays the view's.
    """
    attrs = raw.get("attributes")
    status = attrs.get(STEP_STATUS) if type(attrs) is dict else None
    if type(status) is not str or not status:
        view = SpanView(raw)
        step, step_status = view.step, view.step_status
        if step is None or step_status is None:
            return None
        return step, step_status, view.duration_ms
    step = attrs.get(STEP_NAME)  # type: ignore[union-attr]  # a dict when status was read
    if not isinstance(step, str):
        return None
    duration = raw.get("duration_ms")
    if type(duration) is not float or duration - duration != 0.0:  # finite floats as they are
        duration = _number(duration)
    return step, status, duration


@dataclass(frozen=True)
class StepOutcome:
    """One step of a run, from its ``installation_step`` event."""

    name: str
    status: str  # one of STEP_STATUSES as written, or "unknown"
    duration_ms: float | None
    reason: str | None


class SessionView:
    """A tolerant, read-only view of one stored session document.

    ``result`` is the one definition of a run's outcome: the result the run recorded
    (``success``, ``failed``, ``cancelled``); ``incomplete`` for a killed run (rebuilt from its
    journal, or without a root span); ``unknown`` for a root span that carries no result.
    """

    __slots__ = ("_spans", "raw")

    def __init__(self, raw: Any) -> None:
        self.raw: Mapping[str, Any] = _mapping(raw)
        self._spans: list[SpanView] | None = None

    @property
    def session_id(self) -> str:
        return _text(self.raw.get("session_id")) or ""

    @property
    def metadata(self) -> Mapping[str, Any]:
        return _mapping(self.raw.get("metadata"))

    @property
    def version(self) -> str | None:
        """The writer's ``SCHEMA_VERSION`` (``None`` in files that predate it)."""
        return _text(self.metadata.get("version"))

    @property
    def complete(self) -> bool:
        """False only for a session rebuilt from the journal of a killed run."""
        return self.metadata.get("complete") is not False

    @property
    def created_at(self) -> str | None:
        return _text(self.metadata.get("created_at"))

    @property
    def resource(self) -> Mapping[str, Any]:
        return _mapping(self.raw.get("resource"))

    @property
    def spans(self) -> list[SpanView]:
        if self._spans is None:
            self._spans = [SpanView(s) for s in self._raw_spans()]
        return self._spans

    @property
    def root(self) -> SpanView | None:
        # Views made one by one up to the root (usually the first span), not one for each span.
        spans = self._spans if self._spans is not None else map(SpanView, self._raw_spans())
        return next((s for s in spans if s.is_root), None)

    def _raw_spans(self) -> list[Mapping[str, Any]]:
        return _mappings(self.raw.get("spans"))

    @property
    def events(self) -> list[Mapping[str, Any]]:
        return _mappings(self.raw.get("events"))

    def events_of(self, event_type: str) -> list[Mapping[str, Any]]:
        return [e for e in self.events if e.get("event_type") == event_type]

    @property
    def steps(self) -> list[StepOutcome]:
        """Each step that ran or was skipped, in the order the run recorded them."""
        outcomes = []
        for event in self.events_of(EVENT_STEP):
            name = _text(event.get("step_name"))
            if name is None:
                continue
            outcomes.append(
                StepOutcome(
                    name=name,
                    status=_text(event.get("status")) or RESULT_UNKNOWN,
                    duration_ms=_number(event.get("duration_ms")),
                    reason=_text(event.get("reason")),
                )
            )
        return outcomes

    @property
    def step_counts(self) -> Counter[str]:
        """How many steps ended in each status (``unknown`` for a step event without one)."""
        counts: Counter[str] = Counter()
        for event in self.events_of(EVENT_STEP):
            counts[_text(event.get("status")) or RESULT_UNKNOWN] += 1
        return counts

    @property
    def errors(self) -> list[Mapping[str, Any]]:
        return self.events_of(EVENT_ERROR)

    @property
    def failures(self) -> list[Mapping[str, Any]]:
        """The error events, one per failure.

        The root span repeats its failing step's category, which gives a second, step-less error
        event; it counts only when no step recorded an error (a failure outside any step).
        """
        errors = self.errors
        return [e for e in errors if _text(e.get("step_name"))] or errors

    @property
    def error_category(self) -> str | None:
        """The first failure's category (the root's when no error event names one)."""
        found = (_text(e.get("error_category")) for e in self.errors)
        category = next((c for c in found if c), None)
        root = self.root
        return category or (root.error_category if root is not None else None)

    def _finish(self) -> Mapping[str, Any] | None:
        return next(iter(self.events_of(EVENT_COMPLETE)), None)

    @property
    def result(self) -> str:
        finish = self._finish()
        result = _text(_mapping(finish.get("summary")).get("result")) if finish else None
        root = self.root
        result = result or (root.result if root is not None else None)
        if result is None and finish is not None and finish.get("success") is True:
            result = RESULT_SUCCESS  # a writer that recorded only ``success``
        if result is None:
            return RESULT_INCOMPLETE if not self.complete or root is None else RESULT_UNKNOWN
        return result

    @property
    def duration_ms(self) -> float | None:
        """The run's duration: as recorded at its end, else its root span's, else the extent
        of the spans that were kept (a killed run)."""
        finish = self._finish()
        seconds = _number(finish.get("duration_seconds")) if finish else None
        if seconds is not None:
            return seconds * 1000
        root = self.root
        duration = root.duration_ms if root is not None else None
        return duration if duration is not None else extent_ms(self.spans)

    @property
    def duration(self) -> float | None:
        """:attr:`duration_ms` in seconds."""
        duration = self.duration_ms
        return None if duration is None else duration / 1000

    @property
    def started(self) -> str | None:
        """When the run started: its first span, else its first event, else the file's time."""
        starts = [s for s in (span.start_time for span in self.spans) if s]
        if starts:
            return min(starts)
        stamps = [s for s in (_text(e.get("timestamp")) for e in self.events) if s]
        return min(stamps) if stamps else self.created_at

    def __iter__(self) -> Iterator[SpanView]:
        return iter(self.spans)

    def __repr__(self) -> str:
        return f"SessionView({self.session_id[:12]!r}, {self.result!r})"


def extent_ms(spans: Sequence[SpanView]) -> float | None:
    """Milliseconds from the first span's start to the last span's end."""
    starts = [t for t in (s.start for s in spans) if t]
    ends = [t for t in (s.end for s in spans) if t]
    if not starts or not ends:
        return None
    return max(0.0, (max(ends) - min(starts)).total_seconds() * 1000)
