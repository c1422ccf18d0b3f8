"""The installer's own writes: whole files, and none at all when nothing changed."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import pytest

from installer.fsutil import write_atomic

POSIX = pytest.mark.skipif(sys.platform == "win32", reason="POSIX modes and inodes")


@POSIX
def test_the_same_bytes_and_mode_are_not_written_again(tmp_path: Path) -> None:
    path = tmp_path / "start.sh"
    write_atomic(path, "#!/bin/sh\n", mode=0o755)
    before = os.stat(path)
    write_atomic(path, "#!/bin/sh\n", mode=0o755)
    after = os.stat(path)
    # atomic_write renames a new file into place: the same inode means nothing was written.
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


@POSIX
@pytest.mark.parametrize(
    ("change", "data", "mode"),
    [
        ("other bytes of the same size", b"#!/bin/sh\nX\n", 0o755),
        ("a longer file", b"#!/bin/sh\necho more\n", 0o755),
        ("a shorter file", b"#!/bin/sh\n", 0o755),
        ("another mode", b"#!/bin/sh\necho\n", 0o644),
    ],
)
def test_any_difference_is_written(tmp_path: Path, change: str, data: bytes, mode: int) -> None:
    path = tmp_path / "start.sh"
    write_atomic(path, b"#!/bin/sh\necho\n", mode=0o755)
    inode = os.stat(path).st_ino
    write_atomic(path, data, mode=mode)
    assert path.read_bytes() == data, change
    assert stat.S_IMODE(os.stat(path).st_mode) == mode, change
    assert os.stat(path).st_ino != inode, change


@POSIX
def test_a_symlink_holding_the_same_bytes_is_replaced_by_a_file(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere.txt"
    elsewhere.write_bytes(b"same\n")
    elsewhere.chmod(0o644)
    path = tmp_path / "install_summary.json"
    path.symlink_to(elsewhere)
    write_atomic(path, b"same\n")
    assert not path.is_symlink() and path.read_bytes() == b"same\n"
    assert elsewhere.read_bytes() == b"same\n"  # what the link pointed to is untouched
