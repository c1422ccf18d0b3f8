"""What a span costs the installer, with telemetry off (kill switch) and on (end to end).

The unit of work is one installer-shaped trace, timed in batches: a root span ``dinoair.install``
with the runner's attributes, and eight step spans with a status, one of them with a download
event, exactly the shape :mod:`installer.runner` produces. Per-span cost is the batch time divided
by the spans in it (9 a trace). Baseline and subject run the same code against different
``TracerProvider`` objects, in alternating rounds.

* off: baseline ``TracerProvider(sampler=ALWAYS_OFF)``; subject ``configure_tracing`` on a
  consented home with ``DINOAIR_DISABLE_TELEMETRY=1`` set before it is called (the common case).
  Also measured, reported in the note but not judged: the switch set *after* setup, so the
  sampler reads it at every span (no process can change another's environment, so only code in
  the installer itself could do that).
* on: baseline the SDK's own ``SimpleSpanProcessor`` + ``ConsoleSpanExporter`` writing
  ``span.to_json(indent=None)`` lines to a file; subject ``configure_tracing`` on a consented
  home: ConsentSampler, Sanitizer, journal line per span, session file per trace (the root span
  ending writes it atomically, with fsync, and prunes beyond 100 sessions).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .harness import FsyncMeter, Result, fmt_ns, interleave, median

NAME = "spans"
STEPS = (
    "preflight",
    "comfyui",
    "python_deps",
    "workflows",
    "ollama_models",
    "models",
    "webgui",
    "finalize",
)
SPANS_PER_TRACE = 1 + len(STEPS)
OFF_LIMIT = 1.3
ON_LIMIT = 1.5
KILL = "DINOAIR_DISABLE_TELEMETRY"


def install_trace(tracer: Any) -> None:
    """One installer run's spans, attribute for attribute like ``installer.runner``."""
    from opentelemetry.trace import Status, StatusCode

    root_attrs = {
        "installer.version": "0.1.0",
        "installer.system.cpu_count": 2,
        "installer.system.memory_gib": 24,
        "installer.system.machine": "x86_64",
        "installer.arg.no_models": False,
        "installer.arg.custom_target": True,
        "installer.arg.custom_manifest": True,
        "installer.arg.only": [],
        "installer.arg.skip": [],
        "installer.arg.jobs": 3,
        "installer.arg.retries": 3,
        "installer.arg.verbose": False,
        "installer.arg.yes": True,
    }
    ok = Status(StatusCode.OK)
    with tracer.start_as_current_span(
        "dinoair.install",
        attributes=root_attrs,
        record_exception=False,
        set_status_on_exception=False,
    ) as root:
        for name in STEPS:
            with tracer.start_as_current_span(
                f"dinoair.step.{name}",
                attributes={"installer.step": name},
                record_exception=False,
                set_status_on_exception=False,
            ) as span:
                if name == "models":
                    span.add_event(
                        "download_complete",
                        {"file": "demo_base.safetensors", "bytes": 3145728, "resumed_from": 0},
                    )
                    span.set_attribute("installer.step.bytes_downloaded", 3145728)
                span.set_attribute("installer.step.status", "completed")
                span.set_status(ok)
        root.set_attribute("installer.result", "success")
        root.set_status(ok)


def _batch(tracer: Any, traces: int) -> Any:
    def run() -> None:
        for _ in range(traces):
            install_trace(tracer)

    return run


@contextlib.contextmanager
def _env(name: str, value: str | None) -> Iterator[None]:
    old = os.environ.get(name)
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = old


def consented_home(root: Path) -> Path:
    from otel_local_exporter.config import TelemetryConfig

    home = root / "home"
    config = TelemetryConfig.load(home)
    config.enable()
    config.save()
    return home


def _per_span(values: list[int], traces: int) -> float:
    return median(values) / (traces * SPANS_PER_TRACE)


def measure_off(quick: bool) -> Result:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.sampling import ALWAYS_OFF

    from otel_local_exporter import configure_tracing

    traces, rounds = (150, 11) if quick else (300, 21)
    with tempfile.TemporaryDirectory(prefix="bench-spans-off-") as tmp:
        home = consented_home(Path(tmp))
        baseline = TracerProvider(sampler=ALWAYS_OFF)
        with _env(KILL, "1"):
            subject = configure_tracing("0.1.0", home=home)  # consent resolves to "off: env"
        mid_run = configure_tracing("0.1.0", home=home)  # consent on; switch set afterwards
        with _env(KILL, "1"):
            base_ns, subj_ns = interleave(
                _batch(baseline.get_tracer("bench"), traces),
                _batch(subject.get_tracer("bench"), traces),
                rounds,
            )
            base2_ns, mid_ns = interleave(
                _batch(baseline.get_tracer("bench"), traces),
                _batch(mid_run.get_tracer("bench"), traces),
                rounds,
            )
        for provider in (baseline, subject, mid_run):
            provider.shutdown()
        created = (
            sorted(p.name for p in (home / "telemetry").glob("*"))
            if (home / "telemetry").exists()
            else []
        )
    base, subj = _per_span(base_ns, traces), _per_span(subj_ns, traces)
    base2, mid = _per_span(base2_ns, traces), _per_span(mid_ns, traces)
    ratio = subj / base
    mid_ratio = mid / base2
    note = (
        f"kill switch set mid-run (sampler reads it at every span): {fmt_ns(mid)} vs "
        f"{fmt_ns(base2)}, {mid_ratio:.2f}x"
    )
    if created:
        note += f"; UNEXPECTED files written with the switch on: {created}"
    return Result(
        name=NAME,
        figure="span, telemetry off (kill switch)",
        baseline=f"ALWAYS_OFF {fmt_ns(base)}",
        subject=fmt_ns(subj),
        ratio=ratio,
        target=f"<= {OFF_LIMIT}x",
        passed=ratio <= OFF_LIMIT and not created,
        raw={
            "unit": "ns per span",
            "spans_per_round": traces * SPANS_PER_TRACE,
            "baseline_round_ns": base_ns,
            "subject_round_ns": subj_ns,
            "baseline_ns_per_span": base,
            "subject_ns_per_span": subj,
            "mid_run_baseline_round_ns": base2_ns,
            "mid_run_subject_round_ns": mid_ns,
            "mid_run_ratio": mid_ratio,
            "files_created_with_switch_on": created,
        },
        note=note,
    )


def measure_on(quick: bool) -> Result:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor

    from otel_local_exporter import configure_tracing

    traces, rounds = (30, 7) if quick else (50, 11)
    with (
        tempfile.TemporaryDirectory(prefix="bench-spans-on-") as tmp,
        _env(KILL, None),
        _env("DO_NOT_TRACK", None),
        _env("OTEL_SDK_DISABLED", None),
        open(Path(tmp) / "baseline.jsonl", "w", encoding="utf-8") as lines,
    ):
        home = consented_home(Path(tmp))
        baseline = TracerProvider()
        baseline.add_span_processor(
            SimpleSpanProcessor(
                ConsoleSpanExporter(
                    out=lines, formatter=lambda span: span.to_json(indent=None) + "\n"
                )
            )
        )
        subject = configure_tracing("0.1.0", home=home)
        # Two untimed batches first: the session folder reaches its steady state (100 kept).
        for _ in range(2):
            _batch(subject.get_tracer("bench"), 50)()
        with FsyncMeter() as fsyncs:
            base_ns, subj_ns = interleave(
                _batch(baseline.get_tracer("bench"), traces),
                fsyncs.around(_batch(subject.get_tracer("bench"), traces)),
                rounds,
            )
        baseline.shutdown()
        subject.shutdown()
        sessions = len(list((home / "telemetry").glob("session_*.json")))
        session_bytes = sum(p.stat().st_size for p in (home / "telemetry").glob("session_*.json"))
    base, subj = _per_span(base_ns, traces), _per_span(subj_ns, traces)
    ratio = subj / base
    runs = traces * (rounds + 1)  # the timed rounds and the warm-up round
    fsync_per_run = fsyncs.ns / runs
    without = (subj * SPANS_PER_TRACE - fsync_per_run) / SPANS_PER_TRACE
    return Result(
        name=NAME,
        figure="span, telemetry on, end to end",
        baseline=f"SimpleSpanProcessor+to_json lines {fmt_ns(base)}",
        subject=fmt_ns(subj),
        ratio=ratio,
        target=f"<= {ON_LIMIT}x",
        passed=ratio <= ON_LIMIT,
        raw={
            "unit": "ns per span",
            "spans_per_trace": SPANS_PER_TRACE,
            "traces_per_round": traces,
            "baseline_round_ns": base_ns,
            "subject_round_ns": subj_ns,
            "baseline_ns_per_span": base,
            "subject_ns_per_span": subj,
            "subject_ns_per_trace": subj * SPANS_PER_TRACE,
            "sessions_kept": sessions,
            "mean_session_bytes": session_bytes / max(1, sessions),
            "fsync_calls_per_trace": fsyncs.calls / runs,
            "fsync_ns_per_trace": fsync_per_run,
            "ratio_without_fsync_time": without / base,
        },
        note=f"per installer run (9 spans, one session file): {fmt_ns(subj * SPANS_PER_TRACE)} "
        f"vs {fmt_ns(base * SPANS_PER_TRACE)}, of which {fsyncs.calls / runs:.0f} fsyncs "
        f"{fmt_ns(fsync_per_run)}; without the fsync time {without / base:.2f}x",
    )


def run(quick: bool) -> list[Result]:
    return [measure_off(quick), measure_on(quick)]
