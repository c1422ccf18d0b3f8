"""Local, consent-gated OpenTelemetry telemetry: sampler, sanitizer, session exporter, crashes.

The names are imported lazily, so a caller that only needs the config (``dinoair-telemetry
status``) does not pay for importing the OpenTelemetry SDK.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "TelemetryConfig": "config",
    "ConsentDecision": "config",
    "kill_switch": "config",
    "resolve_consent": "config",
    "ConsentSampler": "sampler",
    "Sanitizer": "sanitize",
    "LocalSessionExporter": "exporter",
    "CrashReporter": "crash",
    "configure_tracing": "tracing",
    "telemetry_home": "home",
    "load_sessions": "store",
    "load_crashes": "store",
    "clear_data": "home",
    "data_usage": "home",
}

__all__ = [
    "ConsentDecision",
    "ConsentSampler",
    "CrashReporter",
    "LocalSessionExporter",
    "Sanitizer",
    "TelemetryConfig",
    "clear_data",
    "configure_tracing",
    "data_usage",
    "kill_switch",
    "load_crashes",
    "load_sessions",
    "resolve_consent",
    "telemetry_home",
]

if TYPE_CHECKING:
    from .config import ConsentDecision, TelemetryConfig, kill_switch, resolve_consent
    from .crash import CrashReporter
    from .exporter import LocalSessionExporter
    from .home import clear_data, data_usage, telemetry_home
    from .sampler import ConsentSampler
    from .sanitize import Sanitizer
    from .store import load_crashes, load_sessions
    from .tracing import configure_tracing


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value
