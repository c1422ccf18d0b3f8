"""``CrashReporter``: one sanitized JSON file per unexpected failure, only with consent.

A crash report carries what is needed to understand a failure and nothing that identifies the
person: the error category, type, sanitized message and stack trace, the failing step with the
trace and span id that link it to its session, and a coarse system profile (OS, Python version,
CPU count, memory and free disk rounded to whole GiB). Like the exporter, it never raises.
"""

from __future__ import annotations

import json
import logging
import traceback
import uuid
from pathlib import Path
from typing import Any

from ._fileio import atomic_write, ensure_private_dir
from ._system import system_profile
from ._time import file_stamp, iso_z, utc_now
from .catalogue import withheld_crash_fields
from .config import ConsentDecision, kill_switch
from .home import CRASH_GLOB, CRASHES_DIR
from .sanitize import Sanitizer
from .schema import SCHEMA_VERSION
from .session import prune
from .signature import exception_signature

_logger = logging.getLogger(__name__)

DEFAULT_MAX_CRASHES = 50
# The system profile in a crash report (the architecture only with usage analytics, in sessions).
_PROFILE_KEYS = ("os", "os_version", "python_version", "cpu_count", "memory_gib", "disk_free_gib")


class CrashReporter:
    """Writes ``<home>/crashes/crash_<ts>_<session_id>.json`` when error reporting is allowed."""

    def __init__(
        self,
        home: Path,
        decision: ConsentDecision,
        *,
        sanitizer: Sanitizer | None = None,
        installer_version: str = "",
        max_crashes: int = DEFAULT_MAX_CRASHES,
    ) -> None:
        self._folder = home / CRASHES_DIR
        self._decision = decision
        self._sanitizer = sanitizer or Sanitizer()
        self._version = installer_version
        self._max_crashes = max_crashes

    @property
    def allowed(self) -> bool:
        """Consent, error reporting on, and no kill switch: read now, not at construction."""
        return self._decision.enabled and self._decision.error_reporting and kill_switch() is None

    def report(
        self,
        exc: BaseException,
        *,
        category: str,
        step: str | None = None,
        trace_id: int | None = None,
        span_id: int | None = None,
        disk_path: Path | None = None,
    ) -> Path | None:
        """Write the report; returns its path, or ``None`` when not allowed or on failure."""
        if not self.allowed:
            return None
        try:
            report = self._build(exc, category, step, trace_id, span_id, disk_path)
            ensure_private_dir(self._folder)
            session = report["session_id"] or report["crash_id"]
            path = self._folder / f"crash_{file_stamp(utc_now())}_{session}.json"
            atomic_write(path, json.dumps(report, indent=1, ensure_ascii=False).encode("utf-8"))
            prune(self._folder, CRASH_GLOB, self._max_crashes)
            return path
        except Exception:
            _logger.debug("could not write a crash report", exc_info=True)
            return None

    def _build(
        self,
        exc: BaseException,
        category: str,
        step: str | None,
        trace_id: int | None,
        span_id: int | None,
        disk_path: Path | None,
    ) -> dict[str, Any]:
        stack = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        report = {
            "crash_id": uuid.uuid4().hex,
            "timestamp": iso_z(utc_now()),
            "session_id": f"{trace_id:032x}" if trace_id else None,
            "error_category": category,
            "error_type": type(exc).__qualname__,
            "error_message": str(exc),
            "stack_trace": stack,
            "failing_step": step,
            "trace_id": f"{trace_id:032x}" if trace_id else None,
            "span_id": f"{span_id:016x}" if span_id else None,
            "installer_version": self._version,
            "system": system_profile(disk_path, keys=_PROFILE_KEYS),
            "version": SCHEMA_VERSION,
        }
        if "signature" not in withheld_crash_fields(self._decision.agreed_notice):
            report["signature"] = exception_signature(
                exc, step=step, category=category, sanitizer=self._sanitizer
            )[0]
        return self._sanitizer.value(report)
