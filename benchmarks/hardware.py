"""Hardware detection: what it costs before the first step starts.

* every tool missing: ``installer.hardware.detect()`` on a machine with no vendor tool on PATH
  and an empty ``/proc``/``/sys`` root (``DINOAIR_HW_ROOT``), against one start of a process that
  does nothing (``true``): the least any probe of a tool could cost. Target: under 200 ms.
* one tool hanging, two tools hanging: an ``nvidia-smi`` (and a ``rocminfo``) that sleep for ten
  minutes. The tools are asked at the same time under one deadline (``DETECT_LIMIT``, the
  baseline): detection must give up at it and kill them, target under 2 s however many hang,
  and every stub's process gone afterwards.
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
import time
from pathlib import Path
from types import ModuleType

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

            for names in (("nvidia-smi",), ("nvidia-smi", "rocminfo")):
                results.append(_hanging(hardware, root, names))

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


def _hanging(hardware: ModuleType, root: Path, names: tuple[str, ...]) -> Result:
    """Detection with these tools hanging: its time, and whether each tool was killed."""
    folder = root / f"hang-{len(names)}"
    pidfiles = [folder / f"{name}.pid" for name in names]
    for name, pidfile in zip(names, pidfiles, strict=True):
        _tool(folder, name, _HANG.format(python=sys.executable, pidfile=str(pidfile)))
    os.environ["PATH"] = str(folder)
    started = now_ns()
    found = hardware.detect(system="Linux", machine="x86_64")
    hang_ns = now_ns() - started
    time.sleep(0.1)  # a killed process is gone once reaped
    killed = all(_gone(pidfile) for pidfile in pidfiles)
    what = " and ".join(names)
    return Result(
        name=NAME,
        figure=f"detection, {len(names)} tool{'s' if len(names) > 1 else ''} hanging ({what})",
        baseline=f"deadline {hardware.DETECT_LIMIT:g} s",
        subject=fmt_ns(hang_ns),
        ratio=round(hang_ns / 1e9 / hardware.DETECT_LIMIT, 2),
        target=f"< {HANG_LIMIT_S:g} s, tools killed",
        passed=hang_ns / 1e9 < HANG_LIMIT_S and killed,
        raw={"hang_ns": hang_ns, "killed": killed, "reason": found.reason},
        note="" if killed else "a hanging tool was still running",
    )


def _gone(pidfile: Path) -> bool:
    """Whether the hanging stub's process no longer runs (gone, or a zombie being reaped)."""
    try:
        pid = int(pidfile.read_text())
    except (OSError, ValueError):
        return True  # it never started: nothing left running
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return True
    return "\nState:\tZ" in status
