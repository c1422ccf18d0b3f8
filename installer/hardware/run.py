"""Running the vendors' tools under one deadline for the whole detection, and reading files.

Every tool gets what is left of the detection's deadline (never more than ``TOOL_TIMEOUT``): the
probes run at the same time, so however many tools hang, detection ends at the deadline, with
each hanging tool killed together with whatever it started (its own process group).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

TOOL_TIMEOUT = 1.5  # seconds one tool may take before it counts as hanging (and is killed)
DETECT_LIMIT = 1.5  # seconds all of detection may take, however many tools hang
ROOT_ENV = "DINOAIR_HW_ROOT"  # a fake filesystem root for /proc, /sys, /usr/lib/wsl (tests)
PLATFORM_ENV = "DINOAIR_HW_PLATFORM"  # "Windows/AMD64": the platform detection assumes (tests)
_REAP = 0.2  # seconds to collect a killed tool's pipes


class Deadline:
    """The moment detection gives up; each tool call gets what is left of it."""

    def __init__(self, seconds: float = DETECT_LIMIT) -> None:
        self.seconds = seconds
        self.at = time.monotonic() + seconds

    def left(self, cap: float = TOOL_TIMEOUT) -> float:
        return max(0.0, min(cap, self.at - time.monotonic()))


def hw_root() -> Path:
    """Where ``/proc`` and ``/sys`` are read: ``/``, or ``$DINOAIR_HW_ROOT`` in tests."""
    return Path(os.environ.get(ROOT_ENV) or "/")


def read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def run_tool(cmd: list[str], deadline: Deadline) -> tuple[str, str | None]:
    """A vendor tool's stdout, or the problem with it in a few words (never raises).

    The tool runs in its own process group so that a hanging one is killed with whatever it
    started: a child holding the pipe open must not keep the installer waiting.
    """
    timeout = deadline.left()
    if timeout <= 0:
        return "", f"not asked: detection's {deadline.seconds:g} s were used up"
    try:
        proc = subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            errors="replace",
            start_new_session=os.name != "nt",
        )
    except OSError as exc:
        return "", f"could not be started ({exc.strerror or type(exc).__name__})"
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill(proc)
        # the deadline, not the time this tool had left of it: a loaded machine starts the
        # tools a little late, and the line must not change with that
        return "", f"did not answer within detection's {deadline.seconds:g} s"
    if proc.returncode != 0:
        first = (stderr or stdout).strip().splitlines()
        detail = f": {first[0][:120]}" if first else ""
        return "", f"exited with code {proc.returncode}{detail}"
    return stdout, None


def _kill(proc: subprocess.Popen[str]) -> None:
    try:
        if os.name != "nt":
            os.killpg(proc.pid, signal.SIGKILL)
        else:
            proc.kill()
    except OSError:
        pass
    with contextlib.suppress(subprocess.TimeoutExpired, ValueError):
        proc.communicate(timeout=_REAP)
