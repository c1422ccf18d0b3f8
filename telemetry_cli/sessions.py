"""One line of facts per stored session, and finding a session by the start of its id.

Session files are read through ``otel_local_exporter``'s ``SessionView``, the one definition of a
run's result, duration and steps (a killed run, or a root span without a result, is
``incomplete``/``unknown``, never ``failed``). Crash reports have no view of their own; their
fields are read with :func:`text`, which treats a value of the wrong type as missing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from otel_local_exporter import STEP_STATUSES, SessionView, StoredFile


class NoMatch(LookupError):
    """No stored item, or more than one, starts with the given id prefix."""


@dataclass(frozen=True)
class SessionSummary:
    session_id: str
    file: str
    started: str | None
    result: str
    duration_ms: float | None
    steps: Counter[str] = field(default_factory=Counter)
    error_category: str | None = None
    complete: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {
            "session_id": self.session_id,
            "started": self.started,
            "result": self.result,
            "duration_ms": self.duration_ms,
            "steps": {status: self.steps.get(status, 0) for status in STEP_STATUSES},
            "error_category": self.error_category,
            "complete": self.complete,
            "file": self.file,
        }


def text(value: Any) -> str | None:
    """A crash report's field as text, or ``None`` for a value of another type."""
    return value if isinstance(value, str) else None


def summarize(stored: StoredFile) -> SessionSummary:
    """The facts of one session, as its ``SessionView`` reads them."""
    view = SessionView(stored.data)
    return SessionSummary(
        session_id=view.session_id,
        file=stored.path.name,
        started=view.started,
        result=view.result,
        duration_ms=view.duration_ms,
        steps=view.step_counts,
        error_category=view.error_category,
        complete=view.complete,
    )


def find_one(
    items: Sequence[StoredFile],
    prefix: str,
    *,
    what: str = "session",
    keys: Sequence[str] = ("session_id",),
) -> StoredFile:
    """The single item whose id (any of ``keys``) starts with ``prefix`` (case-insensitive)."""
    wanted = prefix.strip().lower()
    if not wanted:
        raise NoMatch(f"give at least one character of a {what} id")
    matches = [
        item
        for item in items
        if any(str(item.data.get(k) or "").lower().startswith(wanted) for k in keys)
    ]
    if not matches:
        raise NoMatch(f"no {what} id starts with {prefix!r}")
    if len(matches) > 1:
        ids = sorted({str(item.data.get(keys[0]) or item.path.name)[:12] for item in matches})
        shown = ", ".join(ids[:4]) + (", ..." if len(ids) > 4 else "")
        raise NoMatch(f"{prefix!r} matches {len(matches)} {what}s ({shown}): give more characters")
    return matches[0]
