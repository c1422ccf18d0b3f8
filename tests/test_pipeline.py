"""The scheduler: dependency order, overlap, failures in one branch, Ctrl-C, events per span.

The steps here are small functions with the real steps' ``needs`` and ``uses``; they run under
the real runner and the real OpenTelemetry SDK (an in-memory exporter collects the spans).
"""

from __future__ import annotations

import _thread
import itertools
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import psutil
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from installer.context import CHECKOUT, VENV, InstallContext, Step
from installer.errors import InstallError
from installer.runner import ROOT_SPAN, RunResult, run_install
from installer.scheduler import DEPENDENCY_FAILED
from installer.steps import STEPS
from otel_local_exporter import attributes as attr
from tests.contexts import make_ctx

Run = Callable[[InstallContext], None]


class Recorder:
    """Real SDK, spans kept in memory; one run at a time."""

    def __init__(self) -> None:
        self.exporter = InMemorySpanExporter()
        self.provider = TracerProvider()
        self.provider.add_span_processor(SimpleSpanProcessor(self.exporter))

    def run(self, steps: list[Step], ctx: InstallContext, **kwargs: object) -> RunResult:
        self.exporter.clear()
        return run_install(steps, ctx, self.provider.get_tracer("test"), **kwargs)  # type: ignore[arg-type]

    def spans(self) -> dict[str, ReadableSpan]:
        return {s.name: s for s in self.exporter.get_finished_spans()}


def shaped(runs: dict[str, Run]) -> list[Step]:
    """The real steps' graph and resources, with test functions (default: return at once)."""
    return [
        replace(step, run=runs.get(step.name, lambda ctx: None), skip_if=lambda ctx: None)
        for step in STEPS
    ]


def ctx_for(tmp_path: Path, lines: list[str] | None = None, **options: object) -> InstallContext:
    ctx = make_ctx(tmp_path / "t", None, **options)
    ctx.echo = lines.append if lines is not None else (lambda line: None)
    return ctx


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.integers(0, 15), min_size=len(STEPS), max_size=len(STEPS)))
def test_dependency_order_and_exclusive_resources_hold_under_random_durations(
    tmp_path: Path, millis: list[int]
) -> None:
    times: dict[str, tuple[float, float]] = {}

    def sleeper(name: str, ms: int) -> Run:
        def run(ctx: InstallContext) -> None:
            started = time.monotonic()
            time.sleep(ms / 1000)
            times[name] = (started, time.monotonic())

        return run

    steps = shaped({s.name: sleeper(s.name, ms) for s, ms in zip(STEPS, millis, strict=True)})
    result = Recorder().run(steps, ctx_for(tmp_path))
    assert result.exit_code == 0 and len(times) == len(STEPS)
    for step in steps:
        for need in step.needs:
            assert times[need][1] <= times[step.name][0], f"{step.name} started before {need}"
    for one in steps:
        for other in steps:
            shared = (one.uses & other.uses) & {VENV, CHECKOUT}
            if one.name < other.name and shared:
                (a0, a1), (b0, b1) = times[one.name], times[other.name]
                assert a1 <= b0 or b1 <= a0, f"{one.name} and {other.name} both held {shared}"


def test_independent_steps_overlap_and_are_sibling_spans_with_real_times(tmp_path: Path) -> None:
    both = threading.Barrier(2, timeout=5)  # each waits for the other: only overlap passes
    steps = shaped({"models": lambda ctx: both.wait(), "webgui": lambda ctx: both.wait()})
    recorder = Recorder()
    result = recorder.run(steps, ctx_for(tmp_path))
    assert result.exit_code == 0
    spans = recorder.spans()
    root = spans[ROOT_SPAN]
    models, webgui = spans["dinoair.step.models"], spans["dinoair.step.webgui"]
    for span in (models, webgui):
        assert span.parent is not None and span.parent.span_id == root.context.span_id
    assert models.start_time < webgui.end_time and webgui.start_time < models.end_time  # type: ignore[operator]


def test_sequential_runs_the_listed_order_one_at_a_time(tmp_path: Path) -> None:
    order: list[str] = []
    active = threading.Semaphore(1)

    def one(name: str) -> Run:
        def run(ctx: InstallContext) -> None:
            assert active.acquire(blocking=False), "two steps at once under --sequential"
            order.append(name)
            time.sleep(0.002)
            active.release()

        return run

    steps = shaped({s.name: one(s.name) for s in STEPS})
    result = Recorder().run(steps, ctx_for(tmp_path, sequential=True))
    assert result.exit_code == 0
    assert order == [s.name for s in STEPS]
    assert [s.name for s in result.steps] == order


def test_a_failure_in_one_branch_leaves_the_other_branchs_work_recorded(tmp_path: Path) -> None:
    def clone_fails(ctx: InstallContext) -> None:
        time.sleep(0.05)
        raise InstallError("git clone failed: remote hung up", hint="check the network, re-run")

    def pulls(ctx: InstallContext) -> None:
        time.sleep(0.15)  # still running when the other branch failed
        ctx.event("ollama_pulled", model="qwen")
        ctx.add_bytes(1234)
        ctx.outcomes["ollama_models"] = [{"name": "qwen", "status": "pulled"}]

    lines: list[str] = []
    recorder = Recorder()
    ctx = ctx_for(tmp_path, lines)
    result = recorder.run(shaped({"comfyui": clone_fails, "ollama_models": pulls}), ctx)
    status = {s.name: (s.status, s.reason) for s in result.steps}
    assert result.exit_code == 1 and result.failure is not None
    assert result.failure.name == "comfyui"
    assert status["ollama_models"] == ("completed", None)
    assert status["webgui"] == ("completed", None)
    for dependant in ("python_deps", "verify", "workflows", "models", "finalize"):
        assert status[dependant] == ("skipped", DEPENDENCY_FAILED), dependant
    assert ctx.outcomes["ollama_models"] == [{"name": "qwen", "status": "pulled"}]
    assert ctx.bytes_downloaded == 1234
    spans = recorder.spans()
    pulled = spans["dinoair.step.ollama_models"]
    assert [e.name for e in pulled.events] == ["ollama_pulled"]
    assert pulled.attributes[attr.STEP_STATUS] == "completed"
    assert pulled.attributes[attr.STEP_BYTES_DOWNLOADED] == 1234
    assert spans["dinoair.step.verify"].attributes[attr.STEP_SKIP_REASON] == DEPENDENCY_FAILED
    # the screen says which step each end line belongs to, and that the dependants were skipped:
    # the end line names comfyui, or is the short form right under comfyui's own start line
    # (nothing else was printed in between: the threads' timing decides which)
    (at,) = [i for i, line in enumerate(lines) if "FAILED" in line]
    failed = lines[at]
    assert failed.startswith("[2/10] comfyui: FAILED") or (
        failed.startswith("      FAILED") and lines[at - 1].startswith("[2/10] comfyui:")
    ), lines
    assert failed.endswith("[installation] git clone failed: remote hung up")
    assert "[5/10] verify: skipped (dependency_failed)" in lines


def test_ctrl_c_with_three_steps_running_cancels_each_and_records_it(tmp_path: Path) -> None:
    running = threading.Barrier(3, timeout=5)
    pid_file = tmp_path / "tool.pid"

    def spins(ctx: InstallContext) -> None:
        running.wait()
        while True:
            time.sleep(0.01)

    def runs_a_tool(ctx: InstallContext) -> None:  # blocked reading a tool's output
        code = (
            f"import os, time; open({str(pid_file)!r}, 'w').write(str(os.getpid())); time.sleep(60)"
        )
        threading.Timer(0.3, running.wait).start()
        ctx.run([sys.executable, "-c", code], log_name="tool.log", what="tool")

    def presses_ctrl_c(ctx: InstallContext) -> None:
        running.wait()
        time.sleep(0.3)
        _thread.interrupt_main()  # what the terminal's SIGINT does: KeyboardInterrupt in main
        while True:
            time.sleep(0.01)

    steps = shaped({"models": spins, "ollama_models": runs_a_tool, "webgui": presses_ctrl_c})
    recorder = Recorder()
    started = time.monotonic()
    result = recorder.run(steps, ctx_for(tmp_path))
    assert time.monotonic() - started < 5
    assert result.exit_code == 130 and result.interrupted
    status = {s.name: s.status for s in result.steps}
    assert {n for n, s in status.items() if s == "cancelled"} == {
        "models",
        "ollama_models",
        "webgui",
    }
    assert "finalize" not in status  # nothing new started after Ctrl-C
    spans = recorder.spans()
    for name in ("models", "ollama_models", "webgui"):
        span = spans[f"dinoair.step.{name}"]
        assert span.attributes[attr.STEP_STATUS] == "cancelled"
        assert span.attributes[attr.ERROR_CATEGORY] == "cancelled"
        assert [e.name for e in span.events] == ["cancelled"]
    tool = int(pid_file.read_text())
    assert not psutil.pid_exists(tool) or psutil.Process(tool).status() == psutil.STATUS_ZOMBIE


def test_events_and_phases_land_in_their_own_steps_span(tmp_path: Path) -> None:
    turn = threading.Barrier(2, timeout=5)  # the two steps emit in lockstep, interleaved

    def emits(name: str) -> Run:
        def run(ctx: InstallContext) -> None:
            for n in range(5):
                turn.wait()
                ctx.event(f"{name}_event", n=n)
                with ctx.phase(f"{name}_phase", n=n):
                    ctx.event(f"{name}_in_phase", n=n)
                ctx.echo(f"  {name} line {n}")

        return run

    lines: list[str] = []
    recorder = Recorder()
    result = recorder.run(
        shaped({"models": emits("models"), "webgui": emits("webgui")}), ctx_for(tmp_path, lines)
    )
    assert result.exit_code == 0
    spans = recorder.spans()
    for name in ("models", "webgui"):
        step = spans[f"dinoair.step.{name}"]
        # ctx.event reports to the step (a phase is a span of its own, not a new event sink)
        assert [e.name for e in step.events] == [f"{name}_event", f"{name}_in_phase"] * 5
        assert [e.attributes["n"] for e in step.events] == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]
        phases = [
            s
            for s in recorder.exporter.get_finished_spans()
            if s.name == f"dinoair.phase.{name}_phase"
        ]
        assert len(phases) == 5
        for phase in phases:
            assert phase.parent is not None and phase.parent.span_id == step.context.span_id
    # a step's own lines say whose they are unless they follow its first line
    for before, line in itertools.pairwise(lines):
        for name in ("models", "webgui"):
            if f"{name} line" in line:
                assert line.startswith(f"  {name}: ") or f"] {name}: " in before, (before, line)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_a_tool_the_terminals_ctrl_c_reached_first_cancels_its_step(tmp_path: Path) -> None:
    """The terminal sends SIGINT to the tools as well: a tool that dies of it before the runner
    hears the Ctrl-C means the user cancelled, not that the step failed (installation)."""
    code = (
        "import os, signal; signal.signal(signal.SIGINT, signal.SIG_DFL); os.kill(os.getpid(), 2)"
    )

    def tool_gets_ctrl_c(ctx: InstallContext) -> None:
        ctx.run([sys.executable, "-c", code], log_name="tool.log", what="creating the venv")

    result = Recorder().run(shaped({"python_deps": tool_gets_ctrl_c}), ctx_for(tmp_path))
    assert result.exit_code == 130
    step = next(s for s in result.steps if s.name == "python_deps")
    assert (step.status, step.error_category) == ("cancelled", "cancelled")
    assert "verify" not in {s.name for s in result.steps if s.status == "completed"}


def test_a_cancelled_inline_step_under_sequential_stops_the_run(tmp_path: Path) -> None:
    def interrupted(ctx: InstallContext) -> None:
        raise KeyboardInterrupt

    result = Recorder().run(shaped({"comfyui": interrupted}), ctx_for(tmp_path, sequential=True))
    assert result.exit_code == 130
    assert [(s.name, s.status) for s in result.steps] == [
        ("preflight", "completed"),
        ("comfyui", "cancelled"),
    ]


def test_a_tool_killed_on_cancel_does_not_outlive_the_run(tmp_path: Path) -> None:
    """stop_tools ends what ctx.run started (the runner calls it on Ctrl-C)."""
    ctx = ctx_for(tmp_path).for_step()
    done = threading.Event()
    failure: list[BaseException] = []

    def run() -> None:
        try:
            ctx.run([sys.executable, "-c", "import time; time.sleep(60)"], log_name="t.log")
        except InstallError as exc:
            failure.append(exc)
        done.set()

    threading.Thread(target=run, daemon=True).start()
    deadline = time.monotonic() + 5
    while not ctx._procs and time.monotonic() < deadline:
        time.sleep(0.01)
    ctx.stop_tools()
    assert done.wait(5) and failure  # the tool's end is reported, not hidden
    assert subprocess.run([sys.executable, "-c", "pass"]).returncode == 0
