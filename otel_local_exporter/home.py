"""Where telemetry lives, and how files get there safely.

Everything under the home is private to the user (folders 0700, files 0600, whatever the umask)
and written atomically: a temporary file in the same folder, flush, fsync, ``os.replace``. No
write follows a symbolic link, so a link planted where a folder or file should be cannot redirect
data outside the home.
"""

from __future__ import annotations

import contextlib
import os
import stat
from datetime import datetime, timezone
from pathlib import Path

HOME_ENV = "DINOAIR_HOME"
CONFIG_NAME = "telemetry_config.json"
SESSIONS_DIR = "telemetry"
CRASHES_DIR = "crashes"
SESSION_GLOB = "session_*.json"
CRASH_GLOB = "crash_*.json"
JOURNAL_SUFFIX = ".journal"

DIR_MODE = 0o700
FILE_MODE = 0o600


class UnsafePathError(OSError):
    """A path under the home is a symbolic link or not the kind of entry expected."""


def telemetry_home() -> Path:
    """The telemetry home: ``$DINOAIR_HOME`` if set, else ``~/.dinoair``. Creates nothing."""
    override = os.environ.get(HOME_ENV)
    if override:
        return Path(override).expanduser()
    return Path.home() / ".dinoair"


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def iso_z(moment: datetime) -> str:
    """UTC ISO 8601 with a ``Z`` and microseconds (``2026-01-01T12:00:00.123456Z``)."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def iso_z_ns(epoch_ns: int) -> str:
    return iso_z(datetime.fromtimestamp(epoch_ns // 1000 / 1e6, tz=timezone.utc))


def parse_iso_z(text: str) -> datetime:
    """Inverse of :func:`iso_z` (accepts any ISO 8601 form ``fromisoformat`` knows)."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def file_stamp(moment: datetime) -> str:
    """Compact UTC stamp for file names: ``yyyymmddTHHMMSSZ``."""
    return moment.astimezone(timezone.utc).strftime("%Y%m%dT%H%M%SZ")


def ensure_private_dir(path: Path) -> Path:
    """Create ``path`` (and missing parents) as 0700 folders; refuse symlinks on the way.

    Only the last component and the parents we create are forced to 0700; existing parents
    (such as the user's home) are left alone, but none may be a symbolic link we would follow.
    """
    missing: list[Path] = []
    probe = path
    while True:
        try:
            st = os.lstat(probe)
        except FileNotFoundError:
            missing.append(probe)
            if probe.parent == probe:
                break
            probe = probe.parent
            continue
        if stat.S_ISLNK(st.st_mode) and probe == path:
            raise UnsafePathError(f"refusing to use a symbolic link as a folder: {path.name}")
        if not stat.S_ISDIR(os.stat(probe).st_mode):
            raise UnsafePathError(f"not a folder: {probe.name}")
        break
    for folder in reversed(missing):
        with contextlib.suppress(FileExistsError):
            os.mkdir(folder, DIR_MODE)
        st = os.lstat(folder)
        if stat.S_ISLNK(st.st_mode) or not stat.S_ISDIR(st.st_mode):
            raise UnsafePathError(f"not a folder: {folder.name}")
    os.chmod(path, DIR_MODE)  # checked above: a real folder, not a link
    return path


def atomic_write(path: Path, data: bytes, *, fsync: bool = True) -> None:
    """Write ``data`` to ``path`` atomically as a 0600 file in an existing private folder.

    A reader sees the old file or the new one, never a torn one; a SIGKILL at any point leaves at
    most a ``.tmp`` file, which readers ignore. The folder itself is not fsynced: after a power
    cut the rename may be lost (the old state returns), which costs one session, never a torn
    file, and halves the fsyncs per run. An existing symbolic link at ``path`` is replaced
    by a regular file, never written through.
    """
    import tempfile  # here: it pulls in random, shutil, bz2..., which `status` never needs

    folder = path.parent
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    try:
        os.fchmod(fd, FILE_MODE)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            if fsync:
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def open_append_private(path: Path) -> int:
    """Open ``path`` for appending (0600), never through a symbolic link. Returns an fd."""
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(path, flags, FILE_MODE)
    os.fchmod(fd, FILE_MODE)
    return fd


def read_regular_file(path: Path, limit: int) -> bytes:
    """Read a regular file of at most ``limit`` bytes without following a symbolic link.

    Opened non-blocking and checked before reading, so a FIFO or device planted where a file
    should be is refused instead of hanging the caller.
    """
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(fd, "rb") as handle:
        st = os.fstat(handle.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise UnsafePathError(f"not a regular file: {path.name}")
        if st.st_size > limit:
            raise ValueError(f"{path.name} is larger than {limit} bytes")
        return handle.read(limit + 1)


def data_files(home: Path | None = None) -> list[Path]:
    """Every file the exporter and crash reporter own (sessions, journals, crashes, leftovers).

    Never raises: a home that cannot be listed (a name too long, no permission) holds nothing
    we can show or delete.
    """
    home = home or telemetry_home()
    found: set[Path] = set()
    for folder, patterns in (
        (SESSIONS_DIR, (SESSION_GLOB, f"*{JOURNAL_SUFFIX}", ".*.tmp")),
        (CRASHES_DIR, (CRASH_GLOB, ".*.tmp")),
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
    """Delete sessions, journals and crash reports (never the config). Returns (files, bytes)."""
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
