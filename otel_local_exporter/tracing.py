"""``configure_tracing``: one call that wires consent, sampler, exporter and resource together."""

from __future__ import annotations

import logging
import platform
import sys
from pathlib import Path

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from .config import ConsentDecision, TelemetryConfig, resolve_consent
from .exporter import DEFAULT_MAX_SESSIONS, LocalSessionExporter
from .home import telemetry_home
from .journal import recover_journals
from .sampler import ConsentSampler
from .sanitize import Sanitizer

_logger = logging.getLogger(__name__)


def build_resource(service_name: str, service_version: str) -> Resource:
    """The resource from an allow-list only: never ``Resource.create``, which would merge
    ``OTEL_RESOURCE_ATTRIBUTES`` and detectors that may add host names or command lines."""
    return Resource(
        {
            "service.name": service_name,
            "service.version": service_version,
            "os.type": platform.system().lower(),
            "os.version": platform.release(),
            "host.arch": platform.machine(),
            "process.runtime.name": sys.implementation.name,
            "process.runtime.version": platform.python_version(),
        }
    )


def configure_tracing(
    service_version: str,
    *,
    service_name: str = "dinoair-installer",
    run_disabled: bool = False,
    home: Path | None = None,
    config: TelemetryConfig | None = None,
    decision: ConsentDecision | None = None,
    sanitizer: Sanitizer | None = None,
    max_sessions: int = DEFAULT_MAX_SESSIONS,
) -> TracerProvider:
    """Build a ``TracerProvider`` that records only with consent and keeps data locally.

    The provider is not made global, so tests and repeated calls never fight over the one global
    slot; call ``provider.get_tracer(...)``. It is shut down (open sessions written) at exit, or
    by ``provider.shutdown()``. ``provider.sampler.decision`` tells what was decided and why.
    Without consent no processor is attached and nothing under the home is touched.
    """
    home = home or telemetry_home()
    if decision is None:
        decision = resolve_consent(config, run_disabled=run_disabled, home=home)
    provider = TracerProvider(
        sampler=ConsentSampler(decision),
        resource=build_resource(service_name, service_version),
    )
    if decision.enabled:
        try:
            recover_journals(home)
            exporter = LocalSessionExporter(
                home,
                sanitizer=sanitizer,
                error_reporting=decision.error_reporting,
                usage_analytics=decision.usage_analytics,
                max_sessions=max_sessions,
                notice_version=decision.agreed_notice,
            )
            provider.add_span_processor(SimpleSpanProcessor(exporter))
        except Exception:
            _logger.debug("telemetry could not be set up; running without it", exc_info=True)
    return provider
