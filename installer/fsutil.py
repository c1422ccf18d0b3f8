"""Writing the installer's own files (stamps, records, scripts) so a crash never tears one.

The writing itself is ``otel_local_exporter.atomic_write``, the project's one atomic write; this
module only fixes the installer's default: files in an install folder are readable by everyone
(0644), like any installed file, while telemetry files stay private (0600).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import sys
from pathlib import Path
from typing import Any

from otel_local_exporter import atomic_write

INSTALL_FILE_MODE = 0o644


def write_atomic(path: Path, data: bytes | str, mode: int = INSTALL_FILE_MODE) -> None:
    """Readers see the old file or the new one, whole. Safe from several threads at once.

    A regular file that already holds exactly ``data`` with ``mode`` is left as it is: a re-run
    over a finished install rewrites (and fsyncs) nothing that did not change.
    """
    if isinstance(data, str):
        data = data.encode("utf-8")
    if not _holds(path, data, mode):
        atomic_write(path, data, mode=mode)


def _holds(path: Path, data: bytes, mode: int) -> bool:
    try:
        st = os.lstat(path)
        if not stat.S_ISREG(st.st_mode) or stat.S_IMODE(st.st_mode) != mode:
            return False
        if st.st_size != len(data):
            return False
        with open(path, "rb") as handle:
            return handle.read(len(data) + 1) == data
    except OSError:
        return False


def remove_tree(path: Path) -> None:
    """Delete a file or folder the installer owns, including git's read-only pack files on
    Windows. A symlink is removed as a link: what it points to is never followed or touched."""
    if not path.exists() and not path.is_symlink():
        return

    def make_writable(func: Any, name: str, _exc: Any) -> None:
        with contextlib.suppress(OSError):
            os.chmod(name, stat.S_IWRITE | stat.S_IREAD)
            func(name)

    if path.is_symlink() or not path.is_dir():
        path.unlink()
    elif sys.version_info >= (3, 12):
        shutil.rmtree(path, onexc=make_writable)
    else:
        shutil.rmtree(path, onerror=make_writable)  # deprecated from 3.12 on
