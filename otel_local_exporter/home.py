"""Where telemetry lives: the home folder, the names of what it holds, its size, clearing it.

Everything under the home is private to the user and written through :mod:`._fileio` (atomic,
0600 files in 0700 folders, never through a symbolic link).
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

HOME_ENV = "DINOAIR_HOME"
CONFIG_NAME = "telemetry_config.json"
SESSIONS_DIR = "telemetry"
CRASHES_DIR = "crashes"
SESSION_GLOB = "session_*.json"
CRASH_GLOB = "crash_*.json"
JOURNAL_SUFFIX = ".journal"
DRAFTS_DIR = "drafts"  # bug-report drafts saved by `report-issue --submit`, so none is lost
DRAFT_GLOB = "dinoair-report_*.md"


def telemetry_home() -> Path:
    """The telemetry home: ``$DINOAIR_HOME`` if set, else ``~/.dinoair``. Creates nothing."""
    override = os.environ.get(HOME_ENV)
    if override:
        return Path(override).expanduser()
    return Path.home() / ".dinoair"


def data_files(home: Path | None = None) -> list[Path]:
    """Every data file under the home (sessions, journals, crashes, report drafts, leftovers).

    Never raises: a home that cannot be listed (a name too long, no permission) holds nothing
    we can show or delete.
    """
    home = home or telemetry_home()
    found: set[Path] = set()
    for folder, patterns in (
        (SESSIONS_DIR, (SESSION_GLOB, f"*{JOURNAL_SUFFIX}", ".*.tmp")),
        (CRASHES_DIR, (CRASH_GLOB, ".*.tmp")),
        (DRAFTS_DIR, (DRAFT_GLOB, ".*.tmp")),
    ):
        base = home / folder
        try:
            if base.is_symlink() or not base.is_dir():
                continue
            for pattern in patterns:
                found.update(p for p in base.glob(pattern) if p.is_file() or p.is_symlink())
        except OSError:
            continue
    return sorted(found)


def data_usage(home: Path | None = None) -> tuple[int, int]:
    """(number of files, bytes) of collected data."""
    files = data_files(home)
    total = 0
    for path in files:
        with contextlib.suppress(OSError):
            total += path.lstat().st_size
    return len(files), total


def clear_data(home: Path | None = None) -> tuple[int, int]:
    """Delete sessions, journals, crash reports and report drafts (never the config).
    Returns (files, bytes)."""
    count = total = 0
    for path in data_files(home):
        try:
            size = path.lstat().st_size
            path.unlink()
        except OSError:
            continue
        count += 1
        total += size
    return count, total
