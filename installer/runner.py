"""The one place that runs steps: spans, timing, skipping, errors, cancellation and output.

Steps are plain functions (see :mod:`installer.steps`); everything about telemetry lives here, so
a step never needs to know whether the user consented. Telemetry can only observe: every call
into it is guarded, and the install's outcome and exit code are the same with or without it.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Status, StatusCode

from otel_local_exporter import (
    HARDWARE_KEYS,
    RESULT_CANCELLED,
    RESULT_FAILED,
    RESULT_SUCCESS,
    STEP_CANCELLED,
    STEP_COMPLETED,
    STEP_FAILED,
    STEP_SKIPPED,
    exception_signature,
    system_profile,
)
from otel_local_exporter import attributes as attr

from . import __version__
from .console import Console, live_stream
from .context import (
    ChildUsage,
    InstallContext,
    PhaseFactory,
    PhaseRecord,
    Step,
    StepSkipped,
    skip_words,
)
from .download import connection_budget
from .errors import CANCELLED, UNEXPECTED, categorize
from .scheduler import DEPENDENCY_FAILED, default_limits, next_steps

_logger = logging.getLogger(__name__)

ROOT_SPAN = "dinoair.install"
ALWAYS_RUN = "preflight"  # --only never excludes it: later steps rely on what it detects
CrashHook = Callable[[BaseException, str, str, trace.SpanContext], "os.PathLike[str] | None"]


@dataclass
class StepResult:
    name: str
    status: str  # completed | skipped | failed | cancelled
    duration_ms: int = 0
    reason: str | None = None
    detail: str | None = None  # what the user can do about a skip, for the screen only
    error_category: str | None = None
    error: str | None = None
    hint: str | None = None
    bytes_downloaded: int = 0
    signature: str | None = None  # the failure signature (otel_local_exporter.signature)
    signature_parts: dict[str, Any] | None = None  # what it was made of (for the screen only)

    def summary(self) -> dict[str, Any]:
        return {
            k: v
            for k, v in asdict(self).items()
            if (v not in (None, 0) or k == "duration_ms") and k != "signature_parts"
        }


@dataclass
class RunResult:
    steps: list[StepResult] = field(default_factory=list)
    session_id: str | None = None
    crash_report: str | None = None
    interrupted: bool = False  # Ctrl-C arrived: running steps were cancelled, none started

    @property
    def failure(self) -> StepResult | None:
        return next((s for s in self.steps if s.status in (STEP_FAILED, STEP_CANCELLED)), None)

    @property
    def outcome(self) -> str:
        failure = self.failure
        if self.interrupted or (failure is not None and failure.status == STEP_CANCELLED):
            return RESULT_CANCELLED
        return RESULT_SUCCESS if failure is None else RESULT_FAILED

    @property
    def exit_code(self) -> int:
        return {RESULT_SUCCESS: 0, RESULT_FAILED: 1, RESULT_CANCELLED: 130}[self.outcome]


def run_install(
    steps: Sequence[Step],
    ctx: InstallContext,
    tracer: trace.Tracer,
    *,
    only: Iterable[str] = (),
    skip: Iterable[str] = (),
    run_attributes: dict[str, Any] | None = None,
    on_crash: CrashHook | None = None,
    limits: Mapping[str, int] | None = None,
    finish: Callable[[InstallContext, bool], None] | None = None,
) -> RunResult:
    """Run ``steps`` under one root span, each as soon as the steps it needs completed.

    Independent steps overlap on worker threads within ``limits`` per resource (see
    :mod:`installer.scheduler`); ``--sequential`` (``Options.sequential``) runs them one at a
    time in listed order on this thread. A failed step skips the steps that need it
    (``dependency_failed``) while the others finish. ``KeyboardInterrupt`` cancels every
    running step, records each as ``cancelled``, starts nothing more and makes the run
    ``cancelled`` (exit code 130). ``finish`` runs after the steps, inside the root span, with
    the run's success and ``ctx.phase`` opening spans under the root: what closes a run out
    (an update's swap or rollback) is then part of the run's session.
    """
    only, skip = set(only), set(skip)
    result = RunResult()
    ctx.outcomes["steps"] = []
    root_attrs = {
        attr.INSTALLER_VERSION: __version__,
        **_hardware_attributes(),
        **(run_attributes or {}),
    }
    with tracer.start_as_current_span(
        ROOT_SPAN, attributes=root_attrs, record_exception=False, set_status_on_exception=False
    ) as root:
        span_context = root.get_span_context()
        if span_context.is_valid and root.is_recording():
            result.session_id = f"{span_context.trace_id:032x}"
        live = live_stream(ctx.echo, verbose=ctx.options.verbose)
        console = Console(ctx.echo, len(steps), live=live)
        run = _Run(steps, ctx, tracer, result, on_crash, console)
        escaped = True  # a bug outside any step: no closing out (the next run recovers)
        try:
            try:
                with connection_budget(max(ctx.options.connections, ctx.options.jobs)):
                    run.schedule(
                        only, skip, ctx.options.sequential, limits or default_limits(), root
                    )
                escaped = False
            except KeyboardInterrupt:
                escaped = False
                result.interrupted = True
                run.cancel_running(root)
            finally:  # the live lines go before anything else is printed (the summary)
                console.close()
        finally:
            if finish is not None and not escaped:
                ctx.set_phase_factory(_phase_factory(tracer))
                try:
                    finish(ctx, result.outcome == RESULT_SUCCESS)
                finally:
                    ctx.set_phase_factory(None)
            _guard(_finish_root, root, result)
    return result


_CANCEL_GRACE = 3.0  # seconds running steps get to record their cancellation after Ctrl-C


@dataclass
class _Worker:
    step: Step
    thread: threading.Thread | None = None  # None: runs on the scheduler's thread
    ctx: InstallContext | None = None  # the step's child context, once its span is open
    done: bool = False
    outcome: StepResult | None = None  # what it reported (kept: see _Run.cancel_running)


class _Run:
    """One run's scheduling state: what finished, what runs, where outcomes arrive."""

    def __init__(
        self,
        steps: Sequence[Step],
        ctx: InstallContext,
        tracer: trace.Tracer,
        result: RunResult,
        on_crash: CrashHook | None,
        console: Console,
    ):
        self.steps, self.ctx, self.tracer, self.result = steps, ctx, tracer, result
        self.on_crash, self.console = on_crash, console
        self.index = {step.name: n for n, step in enumerate(steps, 1)}
        self.finished: dict[str, tuple[str, str | None]] = {}
        self.running: dict[str, _Worker] = {}
        self.launched: dict[str, _Worker] = {}
        self.arrived: queue.SimpleQueue[StepResult] = queue.SimpleQueue()
        self.lock = threading.Lock()
        # the root span's context, handed to each worker thread explicitly (threads do not
        # inherit the caller's OpenTelemetry context): every step span is a child of the root
        self.root_context = otel_context.get_current()

    def schedule(
        self,
        only: set[str],
        skip: set[str],
        sequential: bool,
        limits: Mapping[str, int],
        root: trace.Span,
    ) -> None:
        while True:
            running = [worker.step for worker in self.running.values()]
            decision = next_steps(
                self.steps, self.finished, running, limits=limits, sequential=sequential
            )
            for step in decision.blocked:
                self.record_skip(step, DEPENDENCY_FAILED, root)
            for step in decision.start:
                if step.name in skip or (only and step.name not in only | {ALWAYS_RUN}):
                    self.record_skip(step, "excluded_by_option", root)
                else:
                    self.launch(step, inline=sequential, root=root)
            if decision.blocked or decision.start:
                continue
            if not self.running:
                return
            try:
                outcome = self.arrived.get(timeout=0.1)  # short waits keep Ctrl-C responsive
            except queue.Empty:
                continue
            self.complete(outcome, root)

    def launch(self, step: Step, *, inline: bool, root: trace.Span) -> None:
        worker = _Worker(step)
        self.running[step.name] = worker
        self.launched[step.name] = worker
        if inline:
            self.work(worker)
            self.complete(self.arrived.get(), root)
            return
        worker.thread = threading.Thread(
            target=self.work, args=(worker,), name=f"dinoair-step-{step.name}", daemon=True
        )
        worker.thread.start()

    def work(self, worker: _Worker) -> None:
        """Runs one step (on its worker thread, or inline under --sequential).

        The runner's Ctrl-C can land anywhere in a worker, even after the step's own handling:
        wherever it lands, the step is reported once, as cancelled, and the thread ends quietly.
        """
        try:
            token = otel_context.attach(self.root_context)
            try:
                outcome = _run_step(worker, self)
            finally:
                otel_context.detach(token)
            self.report(worker, outcome)
        except KeyboardInterrupt:
            if worker.thread is None:  # inline: the scheduler's own thread sees it
                raise
            self.report(worker, _cancelled(worker.step.name))

    def report(self, worker: _Worker, outcome: StepResult) -> None:
        with self.lock:
            if worker.done:  # reported already, or the scheduler gave up waiting for it
                return
            worker.done, worker.outcome = True, outcome
        self.arrived.put(outcome)

    def complete(self, outcome: StepResult, root: trace.Span) -> None:
        if self.completed(outcome.name):  # once per step (see cancel_running)
            return
        self.result.steps.append(outcome)
        # Its line is printed here, on the scheduler's thread, once: a Ctrl-C the runner raises
        # in a worker can land anywhere there, even between the step's end and its line.
        index, line = self.index[outcome.name], _step_line(outcome)
        if outcome.name in self.launched:
            self.console.finished(index, outcome.name, line)
        else:  # skipped before it started
            self.console.once(index, outcome.name, line)
        worker = self.running.pop(outcome.name, None)
        if worker is not None and worker.ctx is not None:
            self.ctx.adopt(worker.ctx)
        self.finished[outcome.name] = (outcome.status, outcome.reason)
        self.ctx.outcomes["steps"].append(outcome.summary())
        if self.ctx.system:  # hardware and torch facts found by the step (usage analytics)
            _guard(root.set_attributes, dict(self.ctx.system))
        if outcome.status == STEP_CANCELLED and not self.result.interrupted:
            raise KeyboardInterrupt  # a step saw Ctrl-C first: cancel the others, start nothing

    def record_skip(self, step: Step, reason: str, root: trace.Span) -> None:
        outcome = StepResult(step.name, STEP_SKIPPED, reason=reason)
        with self.tracer.start_as_current_span(
            f"dinoair.step.{step.name}",
            context=self.root_context,
            attributes={attr.STEP_NAME: step.name},
        ) as span:
            _guard(_finish_step_span, span, outcome, ChildUsage())
        self.complete(outcome, root)

    def cancel_running(self, root: trace.Span) -> None:
        """Ctrl-C reaches the main thread only: raise it in every running step's thread and
        stop the tools they run, give them a moment to record it, record the rest ourselves."""
        with self.lock:
            workers = [w for w in self.running.values() if not w.done and w.thread is not None]
            for worker in workers:
                if worker.thread is not None and worker.thread.ident is not None:
                    _raise_in_thread(worker.thread.ident, KeyboardInterrupt)
        for worker in workers:
            if worker.ctx is not None:
                _guard(worker.ctx.stop_tools)
        deadline = time.monotonic() + _CANCEL_GRACE
        while time.monotonic() < deadline and any(w.outcome is None for w in self.outstanding()):
            try:
                self.complete(self.arrived.get(timeout=0.05), root)
            except queue.Empty:
                continue
            except KeyboardInterrupt:  # a second Ctrl-C: stop waiting
                break
        with self.lock:
            for worker in self.launched.values():
                worker.done = True  # a report from now on comes too late
        # Still running, or reported while the Ctrl-C landed between the queue and complete():
        # each step is recorded once, with what it really reported when it did.
        for worker in self.outstanding():
            self.complete(worker.outcome or _cancelled(worker.step.name), root)

    def completed(self, name: str) -> bool:
        return any(step.name == name for step in self.result.steps)

    def outstanding(self) -> list[_Worker]:
        """Launched steps whose outcome is not recorded yet."""
        return [w for w in self.launched.values() if not self.completed(w.step.name)]


def _raise_in_thread(ident: int, exc: type[BaseException]) -> None:
    import ctypes  # here: only Ctrl-C needs it

    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(ident), ctypes.py_object(exc))


def _cancelled(name: str) -> StepResult:
    return StepResult(
        name, STEP_CANCELLED, error_category=CANCELLED, error="cancelled by the user (Ctrl-C)"
    )


def _run_step(worker: _Worker, run: _Run) -> StepResult:
    step, tracer, console = worker.step, run.tracer, run.console
    index = run.index[step.name]
    try:  # a skip decided already says so in the first line, not what it would do
        decided = step.skip_if(run.ctx)
    except Exception:  # asked again below, where the failure is reported
        decided = None
    console.started(index, step.name, skip_words(decided) if decided else step.describe(run.ctx))
    with tracer.start_as_current_span(
        f"dinoair.step.{step.name}",
        attributes={attr.STEP_NAME: step.name},
        record_exception=False,
        set_status_on_exception=False,
    ) as span:
        ctx = worker.ctx = run.ctx.for_step(
            sink=_event_sink(span),
            phase=_phase_factory(tracer),
            echo=console.echo_for(step.name),
            progress=console.progress_for(step.name) if console.live else None,
        )
        bytes_before = ctx.bytes_downloaded
        console.track(step.name, lambda: ctx.bytes_downloaded - bytes_before)
        started = time.monotonic()
        outcome = StepResult(step.name, STEP_COMPLETED)
        try:
            reason = step.skip_if(ctx)
            if reason:
                raise StepSkipped(reason)
            step.run(ctx)
        except StepSkipped as skipped:
            outcome.status, outcome.reason = STEP_SKIPPED, skipped.reason
            outcome.detail = skipped.detail or None
        except KeyboardInterrupt as exc:
            outcome.status, outcome.error_category = STEP_CANCELLED, CANCELLED
            outcome.error = "cancelled by the user (Ctrl-C)"
            _guard(_mark_error, span, exc, CANCELLED, record=False)
        except Exception as exc:  # every failure gets a category, a span record and a hint
            category = categorize(exc)
            outcome.status, outcome.error_category = STEP_FAILED, category
            outcome.error = str(exc) or type(exc).__name__
            outcome.hint = getattr(exc, "hint", None)
            signed = _guard(exception_signature, exc, step=step.name, category=category)
            if signed:
                outcome.signature, outcome.signature_parts = signed[0], signed[1].as_dict()
            _guard(_mark_error, span, exc, category, record=True)
            if outcome.signature:
                _guard(span.set_attribute, attr.ERROR_SIGNATURE, outcome.signature)
            if category == UNEXPECTED and run.on_crash is not None:
                path = _guard(run.on_crash, exc, category, step.name, span.get_span_context())
                run.result.crash_report = str(path) if path else None
        finally:
            ctx.take_over(step.name)  # what describe handed over is this run's only
            outcome.duration_ms = round((time.monotonic() - started) * 1000)
            outcome.bytes_downloaded = ctx.bytes_downloaded - bytes_before
            _guard(_finish_step_span, span, outcome, ctx.usage)
    return outcome


def _finish_step_span(span: trace.Span, outcome: StepResult, usage: ChildUsage) -> None:
    span.set_attribute(attr.STEP_STATUS, outcome.status)
    if outcome.reason:
        span.set_attribute(attr.STEP_SKIP_REASON, outcome.reason)
    if outcome.bytes_downloaded:
        span.set_attribute(attr.STEP_BYTES_DOWNLOADED, outcome.bytes_downloaded)
    if usage.cpu_seconds or usage.peak_rss_bytes:
        span.set_attribute(attr.STEP_CHILD_CPU_SECONDS, usage.cpu_seconds)
        span.set_attribute(attr.STEP_CHILD_PEAK_RSS_MIB, round(usage.peak_rss_bytes / 2**20, 1))
    if outcome.status == STEP_COMPLETED:
        span.set_status(Status(StatusCode.OK))


def _mark_error(span: trace.Span, exc: BaseException, category: str, *, record: bool) -> None:
    span.set_attribute(attr.ERROR_CATEGORY, category)
    span.set_attribute(attr.ERROR_TYPE, type(exc).__qualname__)
    if record:
        span.record_exception(exc, attributes={attr.ERROR_CATEGORY: category})
    else:
        span.add_event("cancelled", {attr.ERROR_CATEGORY: category})
    span.set_status(Status(StatusCode.ERROR, str(exc) or category))


def _finish_root(root: trace.Span, result: RunResult) -> None:
    root.set_attribute(attr.RUN_RESULT, result.outcome)
    failure = result.failure
    if failure is None:
        root.set_status(Status(StatusCode.OK))
        return
    root.set_attribute(attr.ERROR_CATEGORY, failure.error_category or UNEXPECTED)
    root.set_status(Status(StatusCode.ERROR, f"{failure.name}: {failure.status}"))


def _event_sink(span: trace.Span) -> Callable[[str, dict[str, Any]], None]:
    def sink(name: str, attributes: dict[str, Any]) -> None:
        _guard(span.add_event, name, attributes)

    return sink


def _phase_factory(tracer: trace.Tracer) -> PhaseFactory:
    """Phases become child spans of the running step's span; their failure is recorded there
    and re-raised to the step, which decides what it means."""

    @contextmanager
    def phase(name: str, attributes: dict[str, Any]) -> Iterator[PhaseRecord]:
        record = PhaseRecord(name, dict(attributes))
        with tracer.start_as_current_span(
            f"dinoair.phase.{name}",
            attributes={attr.PHASE_NAME: name},
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            try:
                yield record
            except KeyboardInterrupt as exc:
                _guard(_mark_error, span, exc, CANCELLED, record=False)
                raise
            except Exception as exc:
                _guard(_mark_error, span, exc, categorize(exc), record=True)
                raise
            else:
                _guard(span.set_status, Status(StatusCode.OK))
            finally:
                prefixed = {f"{attr.PHASE_PREFIX}{k}": v for k, v in record.attributes.items()}
                _guard(span.set_attributes, prefixed)

    return phase


def _guard(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Telemetry may observe but never break the install: swallow and log at debug."""
    try:
        return fn(*args, **kwargs)
    except Exception:
        _logger.debug("telemetry call %s failed", getattr(fn, "__name__", fn), exc_info=True)
        return None


def _hardware_attributes() -> dict[str, Any]:
    """The coarse hardware profile (usage analytics): nothing that tells one machine from
    another. A value that cannot be measured is left out."""
    profile = system_profile(keys=HARDWARE_KEYS)
    return {f"{attr.SYSTEM_PREFIX}{key}": value for key, value in profile.items()}


_SYMBOL = {
    STEP_COMPLETED: "ok",
    STEP_SKIPPED: "skipped",
    STEP_FAILED: "FAILED",
    STEP_CANCELLED: "CANCELLED",
}


def _step_line(outcome: StepResult) -> str:
    """``ok in 1.2s``, ``skipped (reason)``, ``FAILED [category] message``."""
    detail = f" ({outcome.reason})" if outcome.reason else ""
    if outcome.error:
        detail = f" [{outcome.error_category}] {outcome.error}"
    seconds = f" in {outcome.duration_ms / 1000:.1f}s" if outcome.duration_ms >= 50 else ""
    return f"{_SYMBOL[outcome.status]}{seconds}{detail}"
