"""Timing helpers shared by the figures: interleaved rounds, medians, results, machine, tables.

This machine is shared (2 cores, other work running), so a figure is never "subject alone, then
baseline alone": rounds alternate baseline and subject (ABBA order, so neither always goes first
while caches are warm or a neighbour is busy) and the median of the rounds is reported (the best
of them for whole-process timings, see :mod:`benchmarks.cli`). Ratios are taken between numbers
measured in the same run, never against a number from another day.
"""

from __future__ import annotations

import datetime as _dt
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "build" / "bench"
PYTHON = sys.executable

now_ns = time.perf_counter_ns


# -- timing --------------------------------------------------------------------------------------


def time_call(fn: Callable[[], Any]) -> int:
    """Nanoseconds one call of ``fn`` takes."""
    start = now_ns()
    fn()
    return now_ns() - start


def interleave(
    baseline: Callable[[], Any],
    subject: Callable[[], Any],
    rounds: int,
    *,
    warmup: int = 1,
    between: Callable[[], Any] | None = None,
) -> tuple[list[int], list[int]]:
    """Time ``rounds`` calls of each, alternating ABBA; returns (baseline_ns, subject_ns).

    ``warmup`` untimed calls of each go first (imports, page cache, lazy setup). ``between``, if
    given, runs untimed before every timed call (cleanup such as deleting a downloaded file).
    """
    for _ in range(warmup):
        for fn in (baseline, subject):
            if between:
                between()
            fn()
    base: list[int] = []
    subj: list[int] = []
    for i in range(rounds):
        order = ((baseline, base), (subject, subj))
        if i % 2:
            order = order[::-1]
        for fn, sink in order:
            if between:
                between()
            sink.append(time_call(fn))
    return base, subj


class FsyncMeter:
    """Counts the calls to ``os.fsync`` and the time spent in them while active.

    Durability has a price that no baseline here pays; metering it says how much of a figure it
    is. The wrapper adds about a microsecond a call, nothing next to an fsync.
    """

    def __init__(self) -> None:
        self.calls = 0
        self.ns = 0
        self.active = False
        self._real = os.fsync

    def _fsync(self, fd: Any) -> None:
        if not self.active:
            return self._real(fd)
        start = now_ns()
        try:
            return self._real(fd)
        finally:
            self.ns += now_ns() - start
            self.calls += 1

    def __enter__(self) -> FsyncMeter:
        os.fsync = self._fsync
        return self

    def __exit__(self, *exc: object) -> None:
        os.fsync = self._real

    def around(self, fn: Callable[[], Any]) -> Callable[[], Any]:
        """``fn`` with metering on while it runs (so only the subject's fsyncs are counted)."""

        def run() -> Any:
            self.active = True
            try:
                return fn()
            finally:
                self.active = False

        return run


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def run_quiet(
    cmd: Sequence[str],
    *,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 600,
) -> subprocess.CompletedProcess[bytes]:
    """Run a command, capture its output, and fail loudly (with its stderr) if it fails."""
    done = subprocess.run(
        list(cmd), env=env, cwd=cwd or ROOT, capture_output=True, timeout=timeout, check=False
    )
    if done.returncode != 0:
        tail = done.stderr.decode(errors="replace")[-2000:]
        raise RuntimeError(f"{' '.join(map(str, cmd))} exited {done.returncode}:\n{tail}")
    return done


PYCACHE = BUILD / "pycache"


def clean_env(**extra: str) -> dict[str, str]:
    """The environment for child processes: no kill switch, no proxy for loopback, no colour.

    Bytecode is cached (in ``build/bench/pycache``, never beside the sources), as it is for any
    installed package: with ``PYTHONDONTWRITEBYTECODE`` set, every cold start would compile the
    project's modules from source and the start-up figures would measure the compiler.
    """
    env = {
        k: v
        for k, v in os.environ.items()
        if k
        not in (
            "DINOAIR_DISABLE_TELEMETRY",
            "DO_NOT_TRACK",
            "OTEL_SDK_DISABLED",
            "OTEL_RESOURCE_ATTRIBUTES",
            "PYTHONPROFILEIMPORTTIME",
            "PYTHONDONTWRITEBYTECODE",
        )
    }
    env.update(
        {
            "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
            "NO_COLOR": "1",
            "PYTHONPYCACHEPREFIX": str(PYCACHE),
            **extra,
        }
    )
    return env


# -- results -------------------------------------------------------------------------------------


@dataclass
class Result:
    """One row of the table.

    ``ratio`` is subject / baseline, except for throughput figures, where it is subject
    throughput / baseline throughput (``higher_is_better``). ``limit`` is the target on the ratio
    unless ``check`` says otherwise; ``passed`` is decided by the figure module.
    """

    name: str  # --only key of the module that made it
    figure: str
    baseline: str  # what the baseline is, with its measured value
    subject: str  # the measured value of the subject
    ratio: float | None
    target: str
    passed: bool
    raw: dict[str, Any] = field(default_factory=dict)
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def fmt_ns(ns: float) -> str:
    """A duration with a sensible unit: 812 ns, 3.41 us, 12.3 ms, 1.52 s."""
    if ns < 1e3:
        return f"{ns:.0f} ns"
    if ns < 1e6:
        return f"{ns / 1e3:.2f} us"
    if ns < 1e9:
        return f"{ns / 1e6:.1f} ms"
    return f"{ns / 1e9:.2f} s"


def fmt_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


# -- the machine ---------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    """Where the numbers came from: they mean little without it."""
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        cores: int | None = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count()
    try:
        load = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        load = []
    return {
        "platform": platform.platform(),
        "cpu": cpu,
        "cores": cores,
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "load_at_start": load,
    }


# -- output --------------------------------------------------------------------------------------

_HEADERS = ("figure", "baseline", "subject", "ratio", "target", "result")


def _rows(results: Sequence[Result]) -> list[tuple[str, ...]]:
    return [
        (
            r.figure,
            r.baseline,
            r.subject,
            "-" if r.ratio is None else f"{r.ratio:.2f}x",
            r.target,
            "pass" if r.passed else "MISS",
        )
        for r in results
    ]


def text_table(results: Sequence[Result]) -> str:
    rows = [_HEADERS, *_rows(results)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(_HEADERS))]
    lines = []
    for n, row in enumerate(rows):
        lines.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def markdown_table(results: Sequence[Result], info: dict[str, Any], mode: str) -> str:
    lines = [
        "| " + " | ".join(_HEADERS) + " |",
        "|" + "|".join("---" for _ in _HEADERS) + "|",
    ]
    for row in _rows(results):
        cells = [c.replace("|", "\\|") for c in row]
        cells[-1] = "pass" if cells[-1] == "pass" else "**MISS**"
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    lines.append(
        f"Measured {info['date']} with `make bench`{' --quick' if mode == 'quick' else ''} on "
        f"{info['cpu']} ({info['cores']} cores), {info['platform']}, {info['python']}; "
        f"load average at start {', '.join(map(str, info.get('load_at_start', [])))} (a shared "
        "machine). Each ratio is against a baseline measured in the same run."
    )
    notes = [f"* {r.figure}: {r.note}" for r in results if r.note]
    if notes:
        lines += ["", *notes]
    return "\n".join(lines) + "\n"
