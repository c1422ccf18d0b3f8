"""Hardware detection: what it costs before the first step starts.

* every tool missing: ``installer.hardware.detect()`` on a machine with no vendor tool on PATH
  and an empty ``/proc``/``/sys`` root (``DINOAIR_HW_ROOT``), against one start of a process that
  does nothing (``true``): the least any probe of a tool could cost. Target: under 200 ms.
* a hanging tool: an ``nvidia-smi`` that sleeps for ten minutes. Detection must give up after its
  timeout (``TOOL_TIMEOUT``, the baseline) and kill it: target under 2 s in all, and the stub's
  process gone afterwards.
* a stubbed RTX 3090 (two ``nvidia-smi`` calls, each a Python start): reported for comparison.

Detection runs in-process (as preflight and ``--dry-run`` run it); the best of the rounds is
the estimate, as for the other figures that time processes on a shared machine.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from .harness import Result, fmt_ns, interleave, now_ns

NAME = "hardware"
MISSING_LIMIT_MS = 200.0
HANG_LIMIT_S = 2.0

_HANG = """#!{python}
import os, time
open({pidfile!r}, "w").write(str(os.getpid()))
time.sleep(600)
"""
_RTX = """#!{python}
import sys
if any(a.startswith("--query-gpu") for a in sys.argv[1:]):
    print("NVIDIA GeForce RTX 3090, 24576, 535.104.05, 8.6")
else:
    print("| NVIDIA-SMI 535.104.05  Driver Version: 535.104.05  CUDA Version: 12.2 |")
"""


def _tool(folder: Path, name: str, text: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text)
    path.chmod(0o755)


def run(quick: bool) -> list[Result]:
    from installer import hardware

    rounds = 5 if quick else 15
    saved = {key: os.environ.get(key) for key in ("PATH", hardware.ROOT_ENV, "ROCM_PATH")}
    true = shutil.which("true") or "/bin/true"
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "empty-root").mkdir()
        os.environ[hardware.ROOT_ENV] = str(root / "empty-root")
        os.environ["ROCM_PATH"] = str(root / "no-rocm")
        try:
            os.environ["PATH"] = str(root / "empty-bin")
            base, subj = interleave(
                lambda: subprocess.run([true], check=False),
                lambda: hardware.detect(system="Linux", machine="x86_64"),
                rounds,
            )
            missing = min(subj)
            results.append(
                Result(
                    name=NAME,
                    figure="detection, every tool missing",
                    baseline=f"one process start {fmt_ns(min(base))}",
                    subject=fmt_ns(missing),
                    ratio=round(missing / min(base), 2),
                    target=f"< {MISSING_LIMIT_MS:.0f} ms",
                    passed=missing / 1e6 < MISSING_LIMIT_MS,
                    raw={"missing_ns": subj, "process_ns": base},
                )
            )

            hang_bin = root / "hang-bin"
            pidfile = root / "hang.pid"
            _tool(hang_bin, "nvidia-smi", _HANG.format(python=sys.executable, pidfile=str(pidfile)))
            os.environ["PATH"] = str(hang_bin)
            started = now_ns()
            found = hardware.detect(system="Linux", machine="x86_64")
            hang_ns = now_ns() - started
            killed = _gone(pidfile)
            results.append(
                Result(
                    name=NAME,
                    figure="detection, nvidia-smi hangs",
                    baseline=f"tool timeout {hardware.TOOL_TIMEOUT:g} s",
                    subject=fmt_ns(hang_ns),
                    ratio=round(hang_ns / 1e9 / hardware.TOOL_TIMEOUT, 2),
                    target=f"< {HANG_LIMIT_S:g} s, tool killed",
                    passed=hang_ns / 1e9 < HANG_LIMIT_S and killed,
                    raw={"hang_ns": hang_ns, "killed": killed, "reason": found.reason},
                    note="" if killed else "the hanging tool was still running",
                )
            )

            rtx_bin = root / "rtx-bin"
            _tool(rtx_bin, "nvidia-smi", _RTX.format(python=sys.executable))
            os.environ["PATH"] = str(rtx_bin)
            base, subj = interleave(
                lambda: subprocess.run([sys.executable, "-c", "pass"], check=False),
                lambda: hardware.detect(system="Linux", machine="x86_64"),
                max(3, rounds // 3),
            )
            results.append(
                Result(
                    name=NAME,
                    figure="detection, stubbed RTX 3090",
                    baseline=f"one Python start {fmt_ns(min(base))}",
                    subject=fmt_ns(min(subj)),
                    ratio=round(min(subj) / min(base), 2),
                    target="reported (two nvidia-smi calls)",
                    passed=True,
                    raw={"rtx_ns": subj, "python_ns": base},
                )
            )
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
    return results


def _gone(pidfile: Path) -> bool:
    """Whether the hanging stub's process no longer exists."""
    try:
        pid = int(pidfile.read_text())
    except (OSError, ValueError):
        return True  # it never started: nothing left running
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False
