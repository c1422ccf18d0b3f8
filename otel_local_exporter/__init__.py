"""Local, consent-gated OpenTelemetry telemetry: the public face of the package.

Import from here, never from a submodule: every public name is listed in ``__all__`` and loaded
lazily, so a caller that only needs the config (``dinoair-telemetry status``) does not pay for
importing the OpenTelemetry SDK. The map of the package, along the one-way write path:

* ``schema``: the session document's shape, version, names and read views (``SpanView``,
  ``SessionView``); every reader reads through them. A new session field starts here.
* ``config`` (consent, kill switches) -> ``sampler`` (the gate) -> ``exporter`` (sanitize each
  ended span) -> ``session`` (span records, the document, its file, retention) with ``journal``
  (append while the run is live, recover a killed run) -> ``_fileio`` (atomic, private files).
* ``sanitize``: the rule chain every stored string passes (a new rule goes there).
* ``store``: the read side (sessions, crash reports); ``otlp``: sessions as OTLP/JSON;
  ``crash``: crash reports; ``tracing``: ``configure_tracing`` wires it all together.
* ``home``: where the data lives; ``_time``: time formatting; ``_system``: the coarse system
  profile; ``notice``: what is kept, in words, shown before consent.

Private modules (leading underscore) are reached through the names re-exported here.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_MODULES = {
    "config": (
        "ConsentDecision",
        "KILL_SWITCHES",
        "TelemetryConfig",
        "kill_switch",
        "resolve_consent",
    ),
    "sampler": ("ConsentSampler",),
    "sanitize": ("Sanitizer",),
    "exporter": ("LocalSessionExporter",),
    "crash": ("CrashReporter",),
    "tracing": (
        "build_resource",
        "configure_tracing",
    ),
    "home": (
        "CONFIG_NAME",
        "CRASHES_DIR",
        "CRASH_GLOB",
        "HOME_ENV",
        "JOURNAL_SUFFIX",
        "SESSIONS_DIR",
        "SESSION_GLOB",
        "clear_data",
        "data_files",
        "data_usage",
        "telemetry_home",
    ),
    "store": (
        "InvalidFile",
        "Scan",
        "StoredFile",
        "load_crashes",
        "load_sessions",
    ),
    "_fileio": (
        "UnsafePathError",
        "atomic_write",
        "ensure_private_dir",
        "read_regular_file",
    ),
    "_time": (
        "file_stamp",
        "iso_z",
        "iso_z_ns",
        "parse_iso_z",
        "parse_time",
        "utc_now",
    ),
    "_system": (
        "HARDWARE_KEYS",
        "system_profile",
    ),
    "notice": ("collection_notice",),
    "otlp": (
        "OtlpConversionError",
        "iso_to_unix_nano",
        "session_spans",
        "traces_data_line",
    ),
    "schema": (
        "ARG_PREFIX",
        "CompleteEvent",
        "ERROR_CATEGORIES",
        "ERROR_CATEGORY",
        "ERROR_TYPE",
        "EVENT_COMPLETE",
        "EVENT_ERROR",
        "EVENT_START",
        "EVENT_STEP",
        "EVENT_TYPES",
        "EXCEPTION_EVENT",
        "ErrorEvent",
        "Event",
        "INSTALLER_VERSION",
        "PHASE_FROM_RELEASE",
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
        "SYSTEM_PREFIX",
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
        "TRACE_ID_PATTERN",
        "extent_ms",
        "session_problem",
        "span_problem",
        "step_of",
        "step_of",
    ),
}
_EXPORTS = {name: module for module, names in _MODULES.items() for name in names}

__all__ = [
    "ARG_PREFIX",
    "CONFIG_NAME",
    "CRASHES_DIR",
    "CRASH_GLOB",
    "ERROR_CATEGORIES",
    "ERROR_CATEGORY",
    "ERROR_TYPE",
    "EVENT_COMPLETE",
    "EVENT_ERROR",
    "EVENT_START",
    "EVENT_STEP",
    "EVENT_TYPES",
    "EXCEPTION_EVENT",
    "HARDWARE_KEYS",
    "HOME_ENV",
    "INSTALLER_VERSION",
    "JOURNAL_SUFFIX",
    "KILL_SWITCHES",
    "PHASE_FROM_RELEASE",
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
    "SESSIONS_DIR",
    "SESSION_GLOB",
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
    "SYSTEM_PREFIX",
    "TRACE_ID_PATTERN",
    "CompleteEvent",
    "ConsentDecision",
    "ConsentSampler",
    "CrashReporter",
    "ErrorEvent",
    "Event",
    "InvalidFile",
    "LocalSessionExporter",
    "OtlpConversionError",
    "Sanitizer",
    "Scan",
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
    "StoredFile",
    "TelemetryConfig",
    "UnsafePathError",
    "atomic_write",
    "build_resource",
    "clear_data",
    "collection_notice",
    "configure_tracing",
    "data_files",
    "data_usage",
    "ensure_private_dir",
    "extent_ms",
    "file_stamp",
    "iso_to_unix_nano",
    "iso_z",
    "iso_z_ns",
    "kill_switch",
    "load_crashes",
    "load_sessions",
    "parse_iso_z",
    "parse_time",
    "read_regular_file",
    "resolve_consent",
    "session_problem",
    "session_spans",
    "span_problem",
    "step_of",
    "system_profile",
    "telemetry_home",
    "traces_data_line",
    "utc_now",
]

if TYPE_CHECKING:
    from ._fileio import (
        UnsafePathError,
        atomic_write,
        ensure_private_dir,
        read_regular_file,
    )
    from ._system import (
        HARDWARE_KEYS,
        system_profile,
    )
    from ._time import (
        file_stamp,
        iso_z,
        iso_z_ns,
        parse_iso_z,
        parse_time,
        utc_now,
    )
    from .config import (
        KILL_SWITCHES,
        ConsentDecision,
        TelemetryConfig,
        kill_switch,
        resolve_consent,
    )
    from .crash import (
        CrashReporter,
    )
    from .exporter import (
        LocalSessionExporter,
    )
    from .home import (
        CONFIG_NAME,
        CRASH_GLOB,
        CRASHES_DIR,
        HOME_ENV,
        JOURNAL_SUFFIX,
        SESSION_GLOB,
        SESSIONS_DIR,
        clear_data,
        data_files,
        data_usage,
        telemetry_home,
    )
    from .notice import (
        collection_notice,
    )
    from .otlp import (
        OtlpConversionError,
        iso_to_unix_nano,
        session_spans,
        traces_data_line,
    )
    from .sampler import (
        ConsentSampler,
    )
    from .sanitize import (
        Sanitizer,
    )
    from .schema import (
        ARG_PREFIX,
        ERROR_CATEGORIES,
        ERROR_CATEGORY,
        ERROR_TYPE,
        EVENT_COMPLETE,
        EVENT_ERROR,
        EVENT_START,
        EVENT_STEP,
        EVENT_TYPES,
        EXCEPTION_EVENT,
        INSTALLER_VERSION,
        PHASE_FROM_RELEASE,
        PHASE_RESULT,
        PHASE_ROLLBACK,
        PHASE_SPAN_PREFIX,
        PHASE_TO_RELEASE,
        PHASE_UPDATE,
        RESULT_CANCELLED,
        RESULT_FAILED,
        RESULT_INCOMPLETE,
        RESULT_SUCCESS,
        RESULT_UNKNOWN,
        RUN_RESULT,
        RUN_RESULTS,
        SCHEMA_VERSION,
        SPAN_ID_PATTERN,
        STEP_BYTES_DOWNLOADED,
        STEP_CANCELLED,
        STEP_CHILD_CPU_SECONDS,
        STEP_CHILD_PEAK_RSS_MIB,
        STEP_COMPLETED,
        STEP_FAILED,
        STEP_NAME,
        STEP_SKIP_REASON,
        STEP_SKIPPED,
        STEP_STATUS,
        STEP_STATUSES,
        SYSTEM_ACCELERATOR,
        SYSTEM_PREFIX,
        TRACE_ID_PATTERN,
        CompleteEvent,
        ErrorEvent,
        Event,
        SessionDocument,
        SessionMetadata,
        SessionView,
        SpanError,
        SpanEventRecord,
        SpanRecord,
        SpanStatus,
        SpanView,
        StartEvent,
        StepEvent,
        StepOutcome,
        extent_ms,
        session_problem,
        span_problem,
        step_of,
    )
    from .store import (
        InvalidFile,
        Scan,
        StoredFile,
        load_crashes,
        load_sessions,
    )
    from .tracing import (
        build_resource,
        configure_tracing,
    )


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
