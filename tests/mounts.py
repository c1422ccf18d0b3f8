"""Real file-system faults for tests: a private tmpfs, remounted read-only or filled up.

Mounting needs root on Linux (tests here may run as root, where chmod stops nothing); where it
is not possible the helpers say so and the test skips that case with the reason.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path


def can_mount() -> bool:
    return (
        sys.platform.startswith("linux") and os.geteuid() == 0 and shutil.which("mount") is not None
    )


@contextlib.contextmanager
def tmpfs(path: Path, size: str = "256k") -> Iterator[bool]:
    """Mount a small private tmpfs at ``path`` for the block; yields False when not possible."""
    path.mkdir(parents=True, exist_ok=True)
    mounted = False
    if can_mount():
        done = subprocess.run(
            [
                "mount",
                "-t",
                "tmpfs",
                "-o",
                f"size={size},mode=0700",
                f"dinoair-rel-{uuid.uuid4().hex[:8]}",
                str(path),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        mounted = done.returncode == 0
    try:
        yield mounted
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(path)], capture_output=True, check=False)


def remount_read_only(path: Path) -> bool:
    done = subprocess.run(
        ["mount", "-o", "remount,ro", str(path)], capture_output=True, check=False
    )
    return done.returncode == 0
