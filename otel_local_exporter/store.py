"""Reading the local data back: sessions, crash reports, how much there is, and clearing it.

The read side of the home. A session file's frame is checked with
:func:`~.schema.session_problem`; its content is read through :class:`~.schema.SessionView`.
Readers never delete or rewrite what they cannot parse: a hostile or damaged file is reported
as invalid with a reason and skipped, so a person can look at it and nothing is lost.
"""

from __future__ import annotations

import fnmatch
import gc
import json
import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._fileio import read_regular_file
from .config import kill_switch
from .home import (
    CRASH_GLOB,
    CRASHES_DIR,
    SESSION_GLOB,
    SESSIONS_DIR,
    clear_data,
    data_files,
    data_usage,
    telemetry_home,
)
from .journal import recover_journals
from .schema import session_problem

__all__ = [
    "CRASH_GLOB",
    "SESSION_GLOB",
    "InvalidFile",
    "Scan",
    "StoredFile",
    "clear_data",
    "data_files",
    "data_usage",
    "load_crashes",
    "load_sessions",
]

_logger = logging.getLogger(__name__)

MAX_FILE_BYTES = 32 * 1024 * 1024


@dataclass(frozen=True)
class StoredFile:
    """A valid session or crash file: its path and parsed content."""

    path: Path
    data: dict[str, Any]
    size: int

    @property
    def id(self) -> str:
        return str(self.data.get("crash_id") or self.data.get("session_id") or "")


@dataclass(frozen=True)
class InvalidFile:
    path: Path
    reason: str


@dataclass
class Scan:
    """What a read of the data folder found: valid files newest first, and the invalid ones."""

    files: list[StoredFile] = field(default_factory=list)
    invalid: list[InvalidFile] = field(default_factory=list)


def load_sessions(home: Path | None = None, *, recover: bool = True) -> Scan:
    """Read every session file, newest first.

    Journals of killed runs are recovered into sessions first, unless a kill switch is set (then
    nothing under the home is changed).
    """
    home = home or telemetry_home()
    if recover and kill_switch() is None:
        recover_journals(home)
    return _scan(home / SESSIONS_DIR, SESSION_GLOB, session_problem)


def load_crashes(home: Path | None = None) -> Scan:
    """Read every crash report, newest first."""
    home = home or telemetry_home()
    return _scan(home / CRASHES_DIR, CRASH_GLOB, _check_crash)


def _scan(folder: Path, pattern: str, check: Any) -> Scan:
    scan = Scan()
    if folder.is_symlink() or not folder.is_dir():
        return scan
    try:
        # Newest first: the UTC stamp in the name, then the write time for runs in one second.
        names = [
            name
            for _, _, name in sorted(
                (
                    (e.name.rsplit("_", 1)[0], _mtime(e), e.name)
                    for e in os.scandir(folder)
                    if fnmatch.fnmatchcase(e.name, pattern)
                ),
                reverse=True,
            )
        ]
    except OSError as exc:
        scan.invalid.append(InvalidFile(folder, f"cannot list: {exc.strerror}"))
        return scan
    # Parsed JSON holds no reference cycles: pausing the collector keeps 10,000 files linear.
    collecting = gc.isenabled()
    gc.disable()
    try:
        for name in names:
            _read_one(folder / name, check, scan)
    finally:
        if collecting:
            gc.enable()
    return scan


def _mtime(entry: os.DirEntry[str]) -> int:
    try:
        return entry.stat(follow_symlinks=False).st_mtime_ns
    except OSError:
        return 0


def _read_one(path: Path, check: Any, scan: Scan) -> None:
    try:
        raw = read_regular_file(path, MAX_FILE_BYTES)
        data = json.loads(raw.decode("utf-8"))
        problem = check(data) or _lone_surrogates(raw, data)
    except UnicodeDecodeError:
        problem = "not UTF-8 text"
    except ValueError as exc:
        problem = str(exc) if "larger than" in str(exc) else "not valid JSON"
    except RecursionError:
        problem = "nested too deeply"
    except OSError as exc:
        problem = "a symbolic link" if path.is_symlink() else f"unreadable ({exc.strerror})"
    if problem:
        scan.invalid.append(InvalidFile(path, problem))
    else:
        scan.files.append(StoredFile(path, data, len(raw)))


_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def _lone_surrogates(raw: bytes, data: Any) -> str | None:
    """JSON may escape half a UTF-16 pair (``\\ud800``); such text cannot be printed or
    exported. The full check runs only when the bytes hold such an escape at all."""
    if not _SURROGATE_ESCAPE.search(raw):
        return None
    try:
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return "not valid Unicode text (a lone surrogate escape)"
    return None


def _check_crash(data: Any) -> str | None:
    if not isinstance(data, dict):
        return "not a JSON object"
    if not isinstance(data.get("crash_id"), str):
        return "no crash_id"
    return None
