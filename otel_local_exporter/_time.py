"""Time as the telemetry files write it: UTC, ISO 8601 with a ``Z``, and compact file stamps.

The one home of time formatting for the package (public through the package root): the session
writer, the journal, the crash reporter, the config and the readers all format and parse times
here, so a stored time always looks the same and reads back the same.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

__all__ = ["file_stamp", "iso_z", "iso_z_ns", "parse_iso_z", "parse_time", "utc_now"]


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def iso_z(moment: datetime) -> str:
    """UTC ISO 8601 with a ``Z`` and microseconds (``2026-01-01T12:00:00.123456Z``)."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def iso_z_ns(epoch_ns: int) -> str:
    """:func:`iso_z` of nanoseconds since the epoch (an OpenTelemetry span time)."""
    return iso_z(datetime.fromtimestamp(epoch_ns // 1000 / 1e6, tz=timezone.utc))


def parse_iso_z(text: str) -> datetime:
    """Inverse of :func:`iso_z` (accepts any ISO 8601 form ``fromisoformat`` knows)."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def parse_time(value: Any) -> datetime | None:
    """A stored time as an aware ``datetime``, or ``None`` when it is not one (tolerant read)."""
    if not isinstance(value, str):
        return None
    try:
        moment = parse_iso_z(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def file_stamp(moment: datetime) -> str:
    """Compact UTC stamp for file names: ``yyyymmddTHHMMSSZ``."""
    return moment.astimezone(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
