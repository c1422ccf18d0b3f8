"""The one place that runs steps: spans, timing, skipping, errors, cancellation and output.

Steps are plain functions (see :mod:`installer.steps`); everything about telemetry lives here, so
a step never needs to know whether the user consented. Telemetry can only observe: every call
into it is guarded, and the install's outcome and exit code are the same with or without it.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any

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
from .context import ChildUsage, InstallContext, PhaseFactory, PhaseRecord, Step, StepSkipped
from .errors import CANCELLED, UNEXPECTED, categorize

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
    interrupted: bool = False  # Ctrl-C arrived between steps

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
) -> RunResult:
    """Run ``steps`` in order under one root span; stop at the first failure.

    ``KeyboardInterrupt`` marks the running step and the run ``cancelled`` (the exit code becomes
    130) and no further step runs.
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
        try:
            for index, step in enumerate(steps, 1):
                header = f"[{index}/{len(steps)}] {step.name}:"
                if result.failure is not None:
                    outcome = StepResult(step.name, STEP_SKIPPED, reason="earlier_step_failed")
                    _record_skip_span(tracer, outcome)
                    ctx.echo(f"{header} {_step_line(outcome)}")
                elif step.name in skip or (only and step.name not in only | {ALWAYS_RUN}):
                    outcome = StepResult(step.name, STEP_SKIPPED, reason="excluded_by_option")
                    _record_skip_span(tracer, outcome)
                    ctx.echo(f"{header} {_step_line(outcome)}")
                else:  # a skip decided already says so in the first line, not what it would do
                    try:
                        decided = step.skip_if(ctx)
                    except Exception:  # _run_step asks again and reports the failure
                        decided = None
                    ctx.echo(f"{header} {f'skip ({decided})' if decided else step.describe(ctx)}")
                    outcome = _run_step(step, ctx, tracer, result, on_crash)
                    ctx.echo(f"      {_step_line(outcome)}")
                result.steps.append(outcome)
                ctx.outcomes["steps"].append(outcome.summary())
                if ctx.system:  # hardware and torch facts found by the step (usage analytics)
                    _guard(root.set_attributes, dict(ctx.system))
                if outcome.status == STEP_CANCELLED:
                    break
        except KeyboardInterrupt:
            result.interrupted = True
        finally:
            _guard(_finish_root, root, result)
    return result


def _run_step(
    step: Step,
    ctx: InstallContext,
    tracer: trace.Tracer,
    result: RunResult,
    on_crash: CrashHook | None,
) -> StepResult:
    with tracer.start_as_current_span(
        f"dinoair.step.{step.name}",
        attributes={attr.STEP_NAME: step.name},
        record_exception=False,
        set_status_on_exception=False,
    ) as span:
        ctx.set_event_sink(_event_sink(span))
        ctx.set_phase_factory(_phase_factory(tracer))
        ctx.usage = ChildUsage()
        bytes_before = ctx.bytes_downloaded
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
            if category == UNEXPECTED and on_crash is not None:
                path = _guard(on_crash, exc, category, step.name, span.get_span_context())
                result.crash_report = str(path) if path else None
        finally:
            outcome.duration_ms = round((time.monotonic() - started) * 1000)
            outcome.bytes_downloaded = ctx.bytes_downloaded - bytes_before
            ctx.set_event_sink(None)
            ctx.set_phase_factory(None)
            _guard(_finish_step_span, span, outcome, ctx.usage)
    return outcome


def _record_skip_span(tracer: trace.Tracer, outcome: StepResult) -> None:
    """Steps that never ran still appear in the trace, so the session tells the whole story."""
    with tracer.start_as_current_span(
        f"dinoair.step.{outcome.name}", attributes={attr.STEP_NAME: outcome.name}
    ) as span:
        _guard(_finish_step_span, span, outcome, ChildUsage())


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
