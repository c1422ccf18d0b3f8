"""``LocalSessionExporter``: sanitize spans and keep them as one local session file per run.

The SDK hands over spans once they have ended, when they are immutable, so sanitization happens
here, on copies. The path runs one way: :func:`.session.span_to_dict` makes the sanitized record,
the run's :class:`.journal.Journal` appends it at once, and when the run's root span ends (or
the provider shuts down) :mod:`.session` builds the document, writes it atomically as
``session_<ts>_<id>.json`` and prunes the oldest sessions beyond the limit. Like the
OpenTelemetry exporters it is modelled on, it never raises: a failure is logged at debug level
and reported as ``FAILURE``, and the installation goes on untouched.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from pathlib import Path

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from ._fileio import ensure_private_dir
from .catalogue import usage_events, withheld
from .config import kill_switch
from .home import SESSION_GLOB, SESSIONS_DIR, telemetry_home
from .journal import Journal
from .sanitize import Sanitizer
from .session import (
    Policy,
    build_session,
    prune,
    resource_to_dict,
    span_to_dict,
    write_session,
)

_logger = logging.getLogger(__name__)

DEFAULT_MAX_SESSIONS = 100


class LocalSessionExporter(SpanExporter):
    """Writes sanitized spans to ``<home>/telemetry/``. Thread-safe; never raises."""

    def __init__(
        self,
        home: Path | None = None,
        *,
        sanitizer: Sanitizer | None = None,
        error_reporting: bool = True,
        usage_analytics: bool = True,
        max_sessions: int = DEFAULT_MAX_SESSIONS,
        notice_version: int | None = None,
    ) -> None:
        self._folder = (home or telemetry_home()) / SESSIONS_DIR
        self._sanitizer = sanitizer or Sanitizer()
        keys, prefixes, events = withheld(notice_version) if notice_version else ((), (), ())
        self._policy = Policy(
            error_reporting=error_reporting,
            usage_analytics=usage_analytics,
            withheld_keys=frozenset(keys),
            withheld_prefixes=tuple(prefixes),
            withheld_events=frozenset(events),
            usage_events=usage_events(),
        )
        self._max_sessions = max_sessions
        self._journals: dict[str, Journal] = {}
        self._lock = threading.Lock()
        self._shutdown = False

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if self._shutdown:
            return SpanExportResult.FAILURE
        if kill_switch() is not None:
            return SpanExportResult.SUCCESS  # dropped on purpose: the user switched it off
        try:
            with self._lock:
                for span in spans:
                    self._export_one(span)
            return SpanExportResult.SUCCESS
        except Exception:
            _logger.debug("telemetry export failed; the run goes on without it", exc_info=True)
            return SpanExportResult.FAILURE

    def _export_one(self, span: ReadableSpan) -> None:
        record = span_to_dict(span, self._sanitizer, self._policy)
        session_id = record["trace_id"]
        journal = self._journals.get(session_id)
        if journal is None:
            ensure_private_dir(self._folder)
            resource = resource_to_dict(span.resource.attributes, self._sanitizer, self._policy)
            journal = self._journals[session_id] = Journal(self._folder, session_id, resource)
        journal.append(record)
        if record["parent_span_id"] is None:
            self._finish(journal, complete=True)

    def _finish(self, journal: Journal, *, complete: bool) -> None:
        self._journals.pop(journal.session_id, None)
        doc = build_session(
            journal.session_id,
            journal.spans,
            journal.resource,
            complete=complete,
            created_at=journal.created_at,
        )
        write_session(self._folder, doc)
        journal.close(remove=True)
        prune(self._folder, SESSION_GLOB, self._max_sessions)

    def shutdown(self) -> None:
        """Write what is still open as incomplete sessions (the root never ended)."""
        with self._lock:
            if self._shutdown:
                return
            self._shutdown = True
            for journal in list(self._journals.values()):
                try:
                    if kill_switch() is None:
                        self._finish(journal, complete=False)
                    else:
                        journal.close(remove=False)
                except Exception:
                    _logger.debug("could not finish session %s", journal.session_id, exc_info=True)
                    journal.close(remove=False)

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True  # every export is written synchronously
