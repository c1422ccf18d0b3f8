"""Safe file I/O, the one home for it in all three packages (public through the package root).

Everything the telemetry home holds is private to the user (folders 0700, files 0600, whatever
the umask), and every file the project writes is written atomically: a temporary file in the
same folder, flush, fsync, ``os.replace``, so a reader sees the old file or the new one, never a
torn one. No write follows a symbolic link, so a link planted where a folder or file should be
cannot redirect data elsewhere, and no read hangs on a FIFO planted where a file should be.

Public names: :func:`atomic_write`, :func:`read_regular_file`, :func:`ensure_private_dir`,
:func:`open_append_private`, :class:`UnsafePathError`, ``DIR_MODE``, ``FILE_MODE``.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

__all__ = [
    "DIR_MODE",
    "FILE_MODE",
    "UnsafePathError",
    "atomic_write",
    "ensure_private_dir",
    "open_append_private",
    "read_regular_file",
]

DIR_MODE = 0o700
FILE_MODE = 0o600


class UnsafePathError(OSError):
    """A path is a symbolic link or not the kind of entry expected."""


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


def atomic_write(
    path: Path,
    data: bytes | str,
    *,
    mode: int = FILE_MODE,
    fsync: bool = True,
    overwrite: bool = True,
) -> None:
    """Write ``data`` (``str`` as UTF-8) to ``path`` atomically, as a file with ``mode``.

    A reader sees the old file or the new one, never a torn one; a SIGKILL at any point leaves at
    most a ``.<name>.*.tmp`` file, which readers ignore. ``mode`` is set exactly (the umask does
    not apply). The folder itself is not fsynced: after a power cut the rename may be lost (the
    old state returns), which costs one file, never a torn one. An existing symbolic link at
    ``path`` is replaced by a regular file, never written through. With ``overwrite=False`` an
    existing entry is never replaced, not even one created while we were writing: the file is
    placed with a hard link, and ``FileExistsError`` is raised if the name is taken. Safe from
    several threads and processes at once (each writer gets its own temporary name).
    """
    import tempfile  # here: it pulls in random, shutil, bz2..., which `status` never needs

    if isinstance(data, str):
        data = data.encode("utf-8")
    if not overwrite and os.path.lexists(path):
        raise FileExistsError(f"{path.name} exists")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        if hasattr(os, "fchmod"):
            os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            if fsync:
                os.fsync(handle.fileno())
        if not hasattr(os, "fchmod"):
            os.chmod(tmp, mode)
        if overwrite:
            os.replace(tmp, path)
        else:
            _place_no_clobber(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _place_no_clobber(tmp: str, path: Path) -> None:
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise FileExistsError(f"{path.name} exists") from None
    except OSError:  # a file system without hard links: check, then move
        if os.path.lexists(path):
            raise FileExistsError(f"{path.name} exists") from None
        os.replace(tmp, path)
        return
    os.unlink(tmp)  # the file now lives under its own name


def open_append_private(path: Path) -> int:
    """Open ``path`` for appending (0600), never through a symbolic link. Returns an fd."""
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(path, flags, FILE_MODE)
    os.fchmod(fd, FILE_MODE)
    return fd


def read_regular_file(path: Path, limit: int) -> bytes:
    """Read a regular file of at most ``limit`` bytes without following a symbolic link.

    Opened non-blocking and checked before reading, so a FIFO or device planted where a file
    should be is refused instead of hanging the caller. Raises ``ValueError`` when the file is
    larger than ``limit`` and :class:`UnsafePathError` when it is not a regular file.
    """
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(fd, "rb") as handle:
        st = os.fstat(handle.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise UnsafePathError(f"not a regular file: {path.name}")
        if st.st_size > limit:
            raise ValueError(f"{path.name} is larger than {limit} bytes")
        return handle.read(limit + 1)
