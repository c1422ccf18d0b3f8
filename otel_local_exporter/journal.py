"""The run's journal: spans appended one JSON line at a time while the run is live.

This module only appends and recovers. A session file is written once, atomically, when the
run's root span ends (by :mod:`.session`). Until then, each ended span is appended here, so a run
killed with SIGKILL loses at most the line being written. The next start of the installer or the
telemetry command turns such a journal (its process gone) into a session marked
``"complete": false``, through the same :mod:`.session` writer; a torn last line is skipped,
never fatal.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ._fileio import atomic_write, open_append_private, read_regular_file
from ._time import iso_z, utc_now
from .home import JOURNAL_SUFFIX, SESSIONS_DIR
from .schema import TRACE_ID_PATTERN, SpanRecord, span_problem
from .session import build_session, write_session

_logger = logging.getLogger(__name__)

_MAX_JOURNAL_BYTES = 64 * 1024 * 1024


class Journal:
    """An append-only JSON-lines file for one trace. Not thread-safe: the exporter locks."""

    def __init__(self, folder: Path, session_id: str, resource: dict[str, Any]) -> None:
        self.path = folder / f"{session_id}{JOURNAL_SUFFIX}"
        self.session_id = session_id
        self.created_at = iso_z(utc_now())
        self.resource = resource
        self.spans: list[SpanRecord] = []
        header = {
            "journal": 1,
            "session_id": session_id,
            "pid": os.getpid(),
            "process_started": _process_started(os.getpid()),
            "created_at": self.created_at,
            "resource": resource,
        }
        # Born whole: a concurrent recovery never sees a journal without its header.
        atomic_write(self.path, _line(header), fsync=False)
        self._fd = open_append_private(self.path)

    def append(self, span: SpanRecord) -> None:
        self.spans.append(span)
        self._write(span)

    def _write(self, record: Mapping[str, Any]) -> None:
        # One write() per line with O_APPEND: a kill leaves whole lines plus at most one torn one.
        os.write(self._fd, _line(record))

    def close(self, *, remove: bool) -> None:
        with contextlib.suppress(OSError):
            os.close(self._fd)
        if remove:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)


def _line(record: Mapping[str, Any]) -> bytes:
    return (json.dumps(record, separators=(",", ":")) + "\n").encode()


def recover_journals(home: Path) -> list[Path]:
    """Turn journals of dead processes into ``"complete": false`` sessions. Never raises."""
    folder = home / SESSIONS_DIR
    recovered: list[Path] = []
    try:
        if folder.is_symlink() or not folder.is_dir():
            return recovered  # never read, write or delete through a link out of the home
        journals = sorted(folder.glob(f"*{JOURNAL_SUFFIX}"))
    except OSError:
        return recovered
    for journal in journals:
        try:
            path = _recover_one(folder, journal)
        except Exception:  # a hostile journal must not stop the others or the caller
            _logger.debug("could not recover %s", journal.name, exc_info=True)
            continue
        if path is not None:
            recovered.append(path)
    return recovered


def _recover_one(folder: Path, journal: Path) -> Path | None:
    # Not through a link, not a FIFO, not over the size limit: refused (and left in place).
    lines = read_regular_file(journal, _MAX_JOURNAL_BYTES).splitlines()
    records = []
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            continue  # the torn last line of a killed run
        if isinstance(record, dict):
            records.append(record)
    header = records[0] if records and records[0].get("journal") == 1 else None
    if header is not None and _is_alive(header):
        return None  # a live run is still writing it
    session_id = journal.name[: -len(JOURNAL_SUFFIX)]
    spans = [r for r in records if r.get("trace_id") == session_id and span_problem(r) is None]
    if not spans or not TRACE_ID_PATTERN.fullmatch(session_id):
        journal.unlink()
        return None
    resource = header.get("resource", {}) if header else {}
    # The root span in the journal means the run finished and was killed only between writing
    # its session and removing the journal: that session is complete, not a partial one.
    complete = any(s.get("parent_span_id") is None for s in spans)
    doc = build_session(
        session_id,
        spans,
        resource if isinstance(resource, dict) else {},
        complete=complete,
        created_at=header.get("created_at") if header else None,
    )
    path = write_session(folder, doc)
    journal.unlink()
    return path


@functools.lru_cache(maxsize=64)
def _process_started(pid: int) -> float | None:
    """A process's start time (cached: a new journal per run must not cost a psutil call)."""
    import psutil  # here, not at import: `dinoair-telemetry status` never needs it

    try:
        return psutil.Process(pid).create_time()
    except psutil.Error:
        return None


def _is_alive(header: dict[str, Any]) -> bool:
    import psutil

    pid = header.get("pid")
    if not isinstance(pid, int) or not psutil.pid_exists(pid):
        return False
    started = header.get("process_started")
    current = _process_started(pid)
    # A reused pid has a different start time: that run is dead.
    return (
        isinstance(started, (int, float)) and current is not None and abs(current - started) < 1.0
    )
