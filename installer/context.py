"""What a step gets to work with, and how it reports, without knowing about telemetry.

A step is a plain function ``run(ctx)``. It reports progress through :meth:`InstallContext.event`
and :meth:`InstallContext.add_bytes`, skips itself with :meth:`InstallContext.skip`, and runs
external tools through :meth:`InstallContext.run`, which tees their output to a log file and
measures their CPU time and peak memory. The runner binds these to the step's span.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, suppress
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, NoReturn

import psutil

from .errors import InstallError
from .hardware import Hardware
from .manifest import Manifest

EventSink = Callable[[str, dict[str, Any]], None]
# A running step's progress for its live line on a terminal: bytes done and total (downloads),
# or a short phase text (``uv: 12 resolved, 3 downloaded``). See InstallContext.progress.
ProgressSink = Callable[[int | None, int | None, str | None], None]


def _discard(name: str, attributes: dict[str, Any]) -> None:
    return None


@dataclass
class PhaseRecord:
    """What a phase reports: its attributes (set them as results become known)."""

    name: str
    attributes: dict[str, Any] = field(default_factory=dict)


PhaseFactory = Callable[[str, dict[str, Any]], AbstractContextManager[PhaseRecord]]


@contextmanager
def _plain_phase(name: str, attributes: dict[str, Any]) -> Iterator[PhaseRecord]:
    yield PhaseRecord(name, dict(attributes))


@dataclass(frozen=True)
class Options:
    target: Path
    no_models: bool = False
    verbose: bool = False
    yes: bool = False
    jobs: int = 3  # parallel downloads
    connections: int = 8  # parallel range requests for one large file
    timeout: float = 30.0  # network read timeout, seconds
    retries: int = 3
    gpu: str = "auto"  # auto | nvidia | amd | apple | cpu
    cuda_version: str | None = None
    rocm_version: str | None = None
    torch_index: str | None = None  # replaces the index of the chosen torch build
    installer: str = "uv"  # uv | pip: what installs the Python dependencies
    verify_timeout: float = 300.0  # seconds ComfyUI's quick test may take
    sequential: bool = False  # one step at a time in listed order (debugging, benchmark baseline)
    repair: bool = False  # --repair: re-check every part (installer.lifecycle.repair)
    models_from: tuple[Path, ...] = ()  # --models-from: folders of models to reuse
    python: str | None = None  # --python X.Y: the ComfyUI venv's Python (installer.python_choice)
    strict_nodes: bool = False  # --strict-nodes: a node whose requirements fail fails the run


# Skip reasons (the codes a step's ``skip_if`` returns and the summary records) in words, for
# the plan and the run's first line of a skipped step.
SKIP_WORDS = {
    "excluded_by_option": "left out by --only/--skip",
    "no_models_flag": "--no-models was given",
    "no_checkpoints": "the manifest lists no checkpoint models",
    "no_ollama_models": "the manifest lists no Ollama models",
    "no_custom_nodes": "no custom node in ComfyUI/custom_nodes/ has a requirements.txt",
    "nothing_installed": "no venv or ComfyUI checkout to verify, and their steps do not run",
}


def skip_words(reason: str) -> str:
    """``skip: <why in words>`` for a skip reason code (the code itself when it has none)."""
    return f"skip: {SKIP_WORDS.get(reason, reason)}"


class StepSkipped(Exception):
    """Raised by :meth:`InstallContext.skip`; the runner records status ``skipped``."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(reason)
        self.reason = reason
        self.detail = detail


@dataclass
class ChildUsage:
    """CPU seconds and peak resident memory of the processes a step started."""

    cpu_seconds: float = 0.0
    peak_rss_bytes: int = 0


@dataclass
class InstallContext:
    options: Options
    manifest: Manifest  # Manifest.unloaded(...) when it failed to load (preflight then fails)
    echo: Callable[[str], None] = print
    tools: dict[str, str | None] = field(default_factory=dict)  # filled by preflight
    hardware: Hardware | None = None  # detected by preflight (or the CLI for --dry-run)
    system: dict[str, Any] = field(default_factory=dict)  # coarse hardware facts for telemetry
    outcomes: dict[str, Any] = field(default_factory=dict)  # what each step did, for the summary
    _sink: EventSink = field(default=_discard, repr=False)  # see set_event_sink
    _phase: PhaseFactory = field(default=lambda name, attrs: _plain_phase(name, attrs), repr=False)
    venv_override: Path | None = None  # an update's new venv (installer.lifecycle.transaction)
    bytes_downloaded: int = 0
    usage: ChildUsage = field(default_factory=ChildUsage)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _parent: InstallContext | None = field(default=None, repr=False)  # see for_step
    _procs: set[subprocess.Popen[bytes]] = field(default_factory=set, repr=False)
    _progress: ProgressSink | None = field(default=None, repr=False)  # see for_step
    _found: dict[str, Any] = field(default_factory=dict, repr=False)  # see hand_over

    @property
    def target(self) -> Path:
        return self.options.target

    @property
    def comfyui_dir(self) -> Path:
        return self.options.target / "ComfyUI"

    @property
    def models_dir(self) -> Path:
        """Models live beside the checkout (``<target>/models/``), found by ComfyUI through
        ``ComfyUI/extra_model_paths.yaml`` (installer.lifecycle.models_home)."""
        return self.options.target / "models"

    @property
    def venv_dir(self) -> Path:
        """The venv this run installs into and verifies: ``venv/``, or during an update the new
        venv beside it, swapped in only when the run succeeded."""
        return self.venv_override or self.options.target / "venv"

    @property
    def logs_dir(self) -> Path:
        return self.options.target / "logs"

    def event(self, name: str, **attributes: Any) -> None:
        """A milestone worth keeping (retry, 50% downloaded, reused checkout). Thread-safe."""
        self._sink(name, attributes)

    def set_event_sink(self, sink: EventSink | None) -> None:
        """Where :meth:`event` goes (the runner binds it to the running step's span);
        ``None`` drops events, as between steps."""
        self._sink = sink or _discard

    def phase(self, name: str, **attributes: Any) -> AbstractContextManager[PhaseRecord]:
        """A named part of a step (``update``, ``rollback``, ``migrate_models``...) with a span
        of its own under the step's span, when the runner bound one; otherwise a plain block.
        Set results on the yielded record's ``attributes``; an exception marks it failed."""
        return self._phase(name, attributes)

    @property
    def live(self) -> bool:
        """True when the runner shows this step's progress on a live line (a terminal): the
        step then reports through :meth:`progress` and draws no bar or line of its own."""
        return self._progress is not None

    def progress(
        self, *, done: int | None = None, total: int | None = None, phase: str | None = None
    ) -> None:
        """What the step is doing now, for its live line: ``done`` of ``total`` bytes, or a
        short ``phase`` text. Dropped when there is no live line (no terminal)."""
        if self._progress is not None:
            self._progress(done, total, phase)

    def set_phase_factory(self, factory: PhaseFactory | None) -> None:
        """What :meth:`phase` opens (the runner binds it to the running step's span)."""
        self._phase = factory or _plain_phase

    def for_step(
        self,
        *,
        sink: EventSink | None = None,
        phase: PhaseFactory | None = None,
        echo: Callable[[str], None] | None = None,
        progress: ProgressSink | None = None,
    ) -> InstallContext:
        """A child context for one running step. Several steps run at once, so what reports
        about a step (its event sink, phase factory, child-process usage, echo) must be its own;
        options, manifest, tools, system facts and outcomes stay shared with this context.
        ``bytes_downloaded`` starts at the run's total so far and :meth:`add_bytes` counts into
        both. ``progress`` feeds the step's live line (None: no live line). The runner calls
        :meth:`adopt` when the step ends to keep what it detected."""
        return replace(
            self,
            echo=echo or self.echo,
            _sink=sink or _discard,
            _phase=phase or _plain_phase,
            usage=ChildUsage(),
            _parent=self,
            _procs=set(),
            _progress=progress,
        )

    def adopt(self, child: InstallContext) -> None:
        """Keep what a finished step set on its child context (preflight's hardware, the
        comfyui step's update venv): the steps that need it read it from their own child."""
        if child.hardware is not None and child.hardware is not self.hardware:
            self.hardware = child.hardware
        if child.venv_override is not None:
            self.venv_override = child.venv_override

    def stop_tools(self) -> None:
        """Ctrl-C for a step on a worker thread: kill the tools it runs through :meth:`run`, so
        its blocking read of their output ends and the runner's ``KeyboardInterrupt`` lands."""
        with self._lock:
            procs = list(self._procs)
        for proc in procs:
            with suppress(OSError):
                proc.kill()

    def add_bytes(self, count: int) -> None:
        with self._lock:
            self.bytes_downloaded += count
            if self._parent is not None:
                self._parent.bytes_downloaded += count

    def hand_over(self, step: str, value: Any) -> Any:
        """Keep what ``step``'s ``describe`` read for its ``run``, which the runner calls right
        after it (nothing else changes what a step reads in between); returns ``value``. A
        re-run then reads each fact once (the checkout is three ``git`` calls), not twice."""
        self._found[step] = value
        return value

    def take_over(self, step: str) -> Any | None:
        """What ``describe`` handed over (once: a later read asks again), or None."""
        return self._found.pop(step, None)

    def skip(self, reason: str, detail: str = "") -> NoReturn:
        """Stop this step as ``skipped`` with a short machine-readable reason."""
        raise StepSkipped(reason, detail)

    def run(
        self,
        cmd: Sequence[str],
        *,
        log_name: str,
        cwd: Path | None = None,
        env: dict[str, str] | None = None,
        what: str | None = None,
        on_line: Callable[[str], None] | None = None,
    ) -> None:
        """Run a tool, tee its output to ``logs/<log_name>``, stream it under ``--verbose``.

        ``on_line`` sees each line of output as it comes (live progress).

        Raises :class:`InstallError` (``installation``) naming the log when the tool fails.
        """
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.logs_dir / log_name
        what = what or Path(cmd[0]).name
        with log_path.open("ab") as log:
            log.write(f"$ {' '.join(cmd)}\n".encode())
            proc = subprocess.Popen(
                list(cmd),
                cwd=cwd,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
            with self._lock:
                self._procs.add(proc)
            watcher = _UsageWatcher(proc.pid)
            watcher.start()
            try:
                assert proc.stdout is not None
                for line in proc.stdout:
                    log.write(line)
                    if on_line is not None:
                        on_line(line.decode(errors="replace"))
                    if self.options.verbose:
                        sys.stdout.write("    " + line.decode(errors="replace"))
                        sys.stdout.flush()
                code = proc.wait()
            except BaseException:
                proc.kill()
                proc.wait()
                raise
            finally:
                usage = watcher.stop()
                with self._lock:
                    self._procs.discard(proc)
                    self.usage.cpu_seconds += usage.cpu_seconds
                    self.usage.peak_rss_bytes = max(self.usage.peak_rss_bytes, usage.peak_rss_bytes)
        if code in _INTERRUPTED:  # the terminal's Ctrl-C reached the tool before the runner
            raise KeyboardInterrupt
        if code != 0:
            tail = _tail(log_path)
            raise InstallError(
                f"{what} failed with exit code {code}: {tail}",
                hint=f"see {log_path} for the full output, then re-run",
            )


# How a tool ends on Ctrl-C: killed by SIGINT (POSIX), or STATUS_CONTROL_C_EXIT (Windows).
_INTERRUPTED = frozenset({-signal.SIGINT if os.name != "nt" else 0xC000013A})


class _UsageWatcher(threading.Thread):
    """Samples a process tree's memory and CPU time until stopped (psutil)."""

    def __init__(self, pid: int, interval: float = 0.05):
        super().__init__(daemon=True)
        self._pid = pid
        self._interval = interval
        self._stop_event = threading.Event()
        self._cpu: dict[int, float] = {}
        self.peak = 0

    def run(self) -> None:
        try:
            root = psutil.Process(self._pid)
        except psutil.Error:
            return
        while not self._stop_event.is_set():
            self._sample(root)
            self._stop_event.wait(self._interval)

    def _sample(self, root: psutil.Process) -> None:
        try:
            procs = [root, *root.children(recursive=True)]
        except psutil.Error:
            return
        rss = 0
        for proc in procs:
            try:
                with proc.oneshot():
                    rss += proc.memory_info().rss
                    times = proc.cpu_times()
                    self._cpu[proc.pid] = times.user + times.system
            except psutil.Error:
                continue
        self.peak = max(self.peak, rss)

    def stop(self) -> ChildUsage:
        self._stop_event.set()
        self.join(timeout=1)
        return ChildUsage(round(sum(self._cpu.values()), 3), self.peak)


def _tail(log_path: Path, lines: int = 1) -> str:
    try:
        text = log_path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return "(no output)"
    meaningful = [line.strip() for line in text if line.strip()]
    return " | ".join(meaningful[-lines:]) or "(no output)"


# The resources a step can hold while it runs (Step.uses). A scheduler may run steps side by side
# only within a limit per resource; "venv" and "checkout" are exclusive (one step at a time).
NETWORK = "network"  # downloads share one connection budget (--connections, --jobs)
CPU = "cpu"  # CPU-bound work: unpacking, compiling, ComfyUI's quick test
VENV = "venv"  # writes or runs <target>/venv
CHECKOUT = "checkout"  # writes or runs <target>/ComfyUI
RESOURCES = frozenset({NETWORK, CPU, VENV, CHECKOUT})


@dataclass(frozen=True)
class Step:
    """One installation step as data: the runner owns spans, errors, progress and skipping.

    The step model (DESIGN section 10/11): steps form a dependency graph, not a line. ``needs``
    names the steps whose outcome this one reads: it starts only after each of them completed
    (or was found done by an earlier run), and is skipped as ``dependency_failed`` when one of
    them failed. ``uses`` names the resources it holds (see ``RESOURCES``). ``--sequential`` and
    today's runner run ``STEPS`` in their listed order, which is a valid order of the graph.
    Sub-operations that deserve a span of their own (update, rollback, migrate_models, ...)
    go through :meth:`InstallContext.phase`, so a step still knows nothing about telemetry.
    """

    name: str
    run: Callable[[InstallContext], None]
    describe: Callable[[InstallContext], str]  # one line for --dry-run: what it would do
    skip_if: Callable[[InstallContext], str | None] = lambda ctx: None  # a reason, or None
    needs: tuple[str, ...] = ()  # steps that must complete first
    uses: frozenset[str] = frozenset()  # resources held while running (RESOURCES)
