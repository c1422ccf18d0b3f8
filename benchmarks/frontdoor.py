"""The front door's cost on every run: a second ``python3 install.py --help`` against
``dinoair-install --help``.

The first run builds the installer's own environment (untimed here: it is a download, measured
by its "ready in" line); every run after reuses it, and that reuse is what a user pays each time.
The subject runs ``install.py`` with this machine's base Python (outside any venv, as a user
would), which checks the environment's stamp and execs into it; the baseline is the console
script installed by ``make setup``, which starts the same CLI directly. The environment is built
with the real uv (the one ``make setup`` installed) from the real lock, in a temp folder, so the
user's ``~/.dinoair`` is never touched. Rounds interleave; the best of each is the estimate.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from .harness import PYTHON, ROOT, Result, clean_env, fmt_ns, interleave, median, run_quiet

NAME = "frontdoor"
LIMIT = 1.5


def _base_python() -> str:
    """The Python a user types ``python3`` for: the base of this venv, not the venv."""
    folder = Path(sys.base_prefix) / ("python.exe" if os.name == "nt" else "bin")
    if os.name == "nt":
        return str(folder)
    return str(folder / f"python{sys.version_info[0]}.{sys.version_info[1]}")


def run(quick: bool) -> list[Result]:
    rounds = 9 if quick else 19
    script = Path(PYTHON).with_name("dinoair-install")
    uv = Path(PYTHON).with_name("uv")
    with tempfile.TemporaryDirectory(prefix="bench-frontdoor-") as tmp:
        env = clean_env(
            DINOAIR_HOME=str(Path(tmp) / "home"),
            DINOAIR_INSTALLER_ENV=str(Path(tmp) / "installer-env"),
            DINOAIR_UV=str(uv),
            PATH=os.defpath,
        )
        env.pop("VIRTUAL_ENV", None)
        door = [_base_python(), str(ROOT / "install.py"), "--help"]
        first = run_quiet(door, env=env)  # builds the environment: untimed
        built = first.stderr.decode(errors="replace").strip().splitlines()[-1:]
        base_ns, subj_ns = interleave(
            lambda: run_quiet([str(script), "--help"], env=env),
            lambda: run_quiet(door, env=env),
            rounds,
            warmup=1,
        )
    base, subj = min(base_ns), min(subj_ns)
    raw: dict[str, Any] = {
        "rounds": rounds,
        "baseline_round_ns": base_ns,
        "subject_round_ns": subj_ns,
        "baseline_median_ns": median(base_ns),
        "subject_median_ns": median(subj_ns),
        "extra_ns": subj - base,
        "first_run": built[0] if built else "",
    }
    ratio = subj / base
    return [
        Result(
            name=NAME,
            figure="second `python3 install.py --help` (front door, env reused)",
            baseline=f"`dinoair-install --help` {fmt_ns(base)}",
            subject=fmt_ns(subj),
            ratio=ratio,
            target=f"<= {LIMIT}x (and < 1 s more)",
            passed=ratio <= LIMIT and subj - base < 1e9,
            raw=raw,
            note=f"{fmt_ns(subj - base)} more; first run: {raw['first_run']}",
        )
    ]
