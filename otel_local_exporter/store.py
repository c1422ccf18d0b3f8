"""Reading the local data back: sessions, crash reports, how much there is, and clearing it.

Readers never delete or rewrite what they cannot parse: a hostile or damaged file is reported
as invalid with a reason and skipped, so a person can look at it and nothing is lost.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .config import kill_switch
from .home import CRASHES_DIR, SESSIONS_DIR, read_regular_file, telemetry_home
from .journal import JOURNAL_SUFFIX, recover_journals

_logger = logging.getLogger(__name__)

MAX_FILE_BYTES = 32 * 1024 * 1024
SESSION_GLOB = "session_*.json"
CRASH_GLOB = "crash_*.json"
_NAME_STAMP = re.compile(r"_(\d{8}T\d{6}Z)_")


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
    return _scan(home / SESSIONS_DIR, SESSION_GLOB, _check_session)


def load_crashes(home: Path | None = None) -> Scan:
    """Read every crash report, newest first."""
    home = home or telemetry_home()
    return _scan(home / CRASHES_DIR, CRASH_GLOB, _check_crash)


def data_files(home: Path | None = None) -> list[Path]:
    """Every file the exporter and crash reporter own (sessions, journals, crashes, leftovers)."""
    home = home or telemetry_home()
    found: list[Path] = []
    for folder, patterns in ((SESSIONS_DIR, (SESSION_GLOB, f"*{JOURNAL_SUFFIX}", ".*.tmp")),
                             (CRASHES_DIR, (CRASH_GLOB, ".*.tmp"))):
        base = home / folder
        if base.is_symlink() or not base.is_dir():
            continue
        for pattern in patterns:
            found.extend(p for p in base.glob(pattern) if p.is_file() or p.is_symlink())
    return sorted(set(found))


def data_usage(home: Path | None = None) -> tuple[int, int]:
    """(number of files, bytes) of collected data."""
    files = data_files(home)
    total = 0
    for path in files:
        with contextlib.suppress(OSError):
            total += path.lstat().st_size
    return len(files), total


def clear_data(home: Path | None = None) -> tuple[int, int]:
    """Delete sessions, journals and crash reports (never the config). Returns (files, bytes)."""
    count = total = 0
    for path in data_files(home):
        try:
            size = path.lstat().st_size
            path.unlink()
        except OSError:
            _logger.debug("could not delete %s", path.name, exc_info=True)
            continue
        count += 1
        total += size
    return count, total


def prune(folder: Path, pattern: str, keep: int) -> int:
    """Delete the oldest files matching ``pattern`` beyond ``keep``. Returns how many went."""
    try:
        files = sorted(folder.glob(pattern), key=_sort_key, reverse=True)
    except OSError:
        return 0
    removed = 0
    for path in files[keep:]:
        with contextlib.suppress(OSError):
            path.unlink()
            removed += 1
    return removed


def _sort_key(path: Path) -> tuple[str, float]:
    match = _NAME_STAMP.search(path.name)
    try:
        mtime = path.lstat().st_mtime
    except OSError:
        mtime = 0.0
    return (match.group(1) if match else "", mtime)


def _scan(folder: Path, pattern: str, check: Any) -> Scan:
    scan = Scan()
    if folder.is_symlink() or not folder.is_dir():
        return scan
    try:
        paths = sorted(folder.glob(pattern), key=_sort_key, reverse=True)
    except OSError as exc:
        scan.invalid.append(InvalidFile(folder, f"cannot list: {exc.strerror}"))
        return scan
    for path in paths:
        try:
            raw = read_regular_file(path, MAX_FILE_BYTES)
            data = json.loads(raw.decode("utf-8"))
            problem = check(data)
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
    return scan


def _check_session(data: Any) -> str | None:
    if not isinstance(data, dict):
        return "not a JSON object"
    if not isinstance(data.get("session_id"), str):
        return "no session_id"
    if not isinstance(data.get("events"), list):
        return "no events list"
    if not isinstance(data.get("spans", []), list):
        return "spans is not a list"
    if not all(isinstance(s, dict) for s in data.get("spans", [])):
        return "a span is not an object"
    if not all(isinstance(e, dict) for e in data["events"]):
        return "an event is not an object"
    if not isinstance(data.get("metadata", {}), dict):
        return "metadata is not an object"
    return None


def _check_crash(data: Any) -> str | None:
    if not isinstance(data, dict):
        return "not a JSON object"
    if not isinstance(data.get("crash_id"), str):
        return "no crash_id"
    return None

