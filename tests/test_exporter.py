"""The telemetry core end to end: real SDK, real exporter, real files in a temp home."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest
from opentelemetry.sdk.trace.export import SpanExportResult
from opentelemetry.trace import Status, StatusCode

from otel_local_exporter import (
    ConsentSampler,
    CrashReporter,
    LocalSessionExporter,
    TelemetryConfig,
    configure_tracing,
    load_crashes,
    load_sessions,
    resolve_consent,
)
from otel_local_exporter import attributes as attr
from tests.conftest import snapshot

REPO = Path(__file__).resolve().parent.parent


def run_demo_trace(provider, *, fail: bool = True) -> None:
    """A small installer-shaped trace: a root, a completed, a skipped and a failing step."""
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span(
        "dinoair.install",
        attributes={attr.ARG_PREFIX + "no_models": True, attr.SYSTEM_PREFIX + "cpu_count": 2},
    ) as root:
        with tracer.start_as_current_span("step.a", attributes={attr.STEP_NAME: "a"}) as span:
            span.add_event("milestone", {"percent": 50})
            span.set_attribute(attr.STEP_STATUS, "completed")
        with tracer.start_as_current_span("step.b", attributes={attr.STEP_NAME: "b"}) as span:
            span.set_attribute(attr.STEP_STATUS, "skipped")
            span.set_attribute(attr.STEP_SKIP_REASON, "no_models_flag")
        if fail:
            with tracer.start_as_current_span(
                "step.c", attributes={attr.STEP_NAME: "c"}, record_exception=False
            ) as span:
                try:
                    raise OSError(f"cannot write {Path.home()}/DinoAir/x: token=abc123secret")
                except OSError as exc:
                    span.record_exception(exc, attributes={attr.ERROR_CATEGORY: "system"})
                    span.set_attribute(attr.ERROR_CATEGORY, "system")
                    span.set_attribute(attr.ERROR_TYPE, "OSError")
                    span.set_attribute(attr.STEP_STATUS, "failed")
                    span.set_status(Status(StatusCode.ERROR, str(exc)))
        root.set_attribute(attr.RUN_RESULT, "failed" if fail else "success")


def only_session(home: Path) -> dict:
    scan = load_sessions(home)
    assert not scan.invalid
    assert len(scan.files) == 1
    return scan.files[0].data


def test_session_file_has_the_documented_shape(consented_home: Path) -> None:
    provider = configure_tracing("9.9.9", home=consented_home)
    run_demo_trace(provider)
    provider.shutdown()
    doc = only_session(consented_home)
    assert set(doc) == {"session_id", "events", "spans", "resource", "metadata"}
    assert len(doc["session_id"]) == 32 and doc["metadata"]["complete"] is True
    kinds = [e["event_type"] for e in doc["events"]]
    assert kinds[0] == "installation_start" and kinds[-1] == "installation_complete"
    assert kinds.count("installation_step") == 3 and kinds.count("error") == 1
    start = doc["events"][0]
    assert start["installation_args"] == {"no_models": True}
    assert start["system_info"] == {"cpu_count": 2}
    steps = {e["step_name"]: e for e in doc["events"] if e["event_type"] == "installation_step"}
    assert steps["b"]["status"] == "skipped" and steps["b"]["reason"] == "no_models_flag"
    error = next(e for e in doc["events"] if e["event_type"] == "error")
    assert error["error_category"] == "system" and error["error_type"] == "OSError"
    assert "abc123secret" not in json.dumps(doc) and str(Path.home()) not in json.dumps(doc)
    complete = doc["events"][-1]
    assert complete["success"] is False and complete["summary"]["failed"] == 1
    root = next(s for s in doc["spans"] if s["parent_span_id"] is None)
    assert root["name"] == "dinoair.install" and root["trace_id"] == doc["session_id"]
    assert all(e["timestamp"].endswith("Z") for e in doc["events"])
    assert doc["resource"]["service.version"] == "9.9.9"
    path = load_sessions(consented_home).files[0].path
    assert path.name.startswith("session_") and doc["session_id"] in path.name
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert not list(path.parent.glob("*.journal")), "the journal is removed once the run ends"


def test_resource_is_an_allow_list(consented_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "host.name=secret-box,process.owner=alice")
    provider = configure_tracing("1.0", home=consented_home)
    run_demo_trace(provider, fail=False)
    provider.shutdown()
    resource = only_session(consented_home)["resource"]
    assert "host.name" not in resource and "process.owner" not in resource
    assert set(resource) <= {
        "service.name",
        "service.version",
        "os.type",
        "os.version",
        "host.arch",
        "process.runtime.name",
        "process.runtime.version",
    }


@pytest.mark.parametrize(
    "switch",
    [("DINOAIR_DISABLE_TELEMETRY", "1"), ("DO_NOT_TRACK", "1"), ("OTEL_SDK_DISABLED", "true")],
)
def test_kill_switch_leaves_the_home_byte_for_byte_unchanged(
    consented_home: Path, monkeypatch: pytest.MonkeyPatch, switch: tuple[str, str]
) -> None:
    (consented_home / "telemetry").mkdir(mode=0o700)
    (consented_home / "telemetry" / "stale.journal").write_text("{}\n")  # must not be recovered
    before = snapshot(consented_home)
    monkeypatch.setenv(*switch)
    provider = configure_tracing("1.0", home=consented_home)
    run_demo_trace(provider)
    provider.shutdown()
    CrashReporter(consented_home, resolve_consent()).report(ValueError("x"), category="unexpected")
    load_sessions(consented_home)
    assert snapshot(consented_home) == before


def test_no_config_creates_nothing(dinoair_home: Path) -> None:
    provider = configure_tracing("1.0", home=dinoair_home)
    run_demo_trace(provider)
    provider.shutdown()
    assert not dinoair_home.exists()


def test_sampler_passes_attributes_through_and_names_its_source(consented_home: Path) -> None:
    provider = configure_tracing("1.0", home=consented_home)
    tracer = provider.get_tracer("t")
    with tracer.start_as_current_span("s", attributes={"k": "v"}) as span:
        assert span.is_recording() and span.attributes["k"] == "v"
    assert provider.sampler.get_description() == "ConsentSampler{record:config}"
    provider.shutdown()
    off = ConsentSampler(resolve_consent(run_disabled=True))
    assert off.get_description() == "ConsentSampler{drop:run-flag}"


def test_a_kill_switch_set_mid_run_stops_recording(
    consented_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    provider = configure_tracing("1.0", home=consented_home)
    tracer = provider.get_tracer("t")
    with tracer.start_as_current_span("first") as span:
        assert span.is_recording()
    monkeypatch.setenv("DINOAIR_DISABLE_TELEMETRY", "1")
    with tracer.start_as_current_span("second") as span:
        assert not span.is_recording()
    provider.shutdown()


def test_granular_switches_are_honoured(dinoair_home: Path) -> None:
    config = TelemetryConfig.load(dinoair_home)
    config.enable(error_reporting=False, usage_analytics=False)
    config.save()
    provider = configure_tracing("1.0", home=dinoair_home)
    run_demo_trace(provider)
    provider.shutdown()
    doc = only_session(dinoair_home)
    text = json.dumps(doc)
    assert "exception" not in text and "OSError" not in text and "stacktrace" not in text
    assert attr.ARG_PREFIX not in text and attr.SYSTEM_PREFIX not in text
    assert "host.arch" not in doc["resource"]
    error = next(e for e in doc["events"] if e["event_type"] == "error")
    assert error == {
        "event_type": "error",
        "timestamp": error["timestamp"],
        "step_name": "c",
        "error_category": "system",
    }
    assert doc["events"][0]["installation_args"] == {} and doc["events"][0]["system_info"] == {}
    reporter = CrashReporter(dinoair_home, resolve_consent())
    assert reporter.report(ValueError("boom"), category="unexpected") is None
    assert not (dinoair_home / "crashes").exists()


def test_exporter_never_raises(consented_home: Path) -> None:
    (consented_home / "telemetry").write_text("a file where the folder should be")
    exporter = LocalSessionExporter(consented_home)
    provider = configure_tracing("1.0", home=consented_home)
    tracer = provider.get_tracer("t")
    with tracer.start_as_current_span("x") as span:
        pass
    assert exporter.export([span]) is SpanExportResult.FAILURE
    provider.shutdown()  # its own exporter failed the same way, silently
    exporter.shutdown()
    assert exporter.export([span]) is SpanExportResult.FAILURE


def test_old_sessions_are_pruned(consented_home: Path) -> None:
    provider = configure_tracing("1.0", home=consented_home, max_sessions=3)
    for _ in range(5):
        run_demo_trace(provider, fail=False)
    provider.shutdown()
    assert len(load_sessions(consented_home).files) == 3


def test_threads_share_one_session(consented_home: Path) -> None:
    provider = configure_tracing("1.0", home=consented_home)
    tracer = provider.get_tracer("t")
    with tracer.start_as_current_span("root"):
        from opentelemetry import context

        parent = context.get_current()

        def work(i: int) -> None:
            for j in range(20):
                with tracer.start_as_current_span(f"w{i}.{j}", context=parent):
                    pass

        threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    provider.shutdown()
    assert len(only_session(consented_home)["spans"]) == 161


def test_invalid_session_files_are_reported_never_deleted(consented_home: Path) -> None:
    folder = consented_home / "telemetry"
    folder.mkdir(mode=0o700)
    bad = {
        "session_20200101T000000Z_a.json": b"{not json",
        "session_20200101T000001Z_b.json": b"\xff\xfe",
        "session_20200101T000002Z_c.json": b"[1, 2]",
        "session_20200101T000003Z_d.json": b"[" * 100000,
    }
    for name, data in bad.items():
        (folder / name).write_bytes(data)
    provider = configure_tracing("1.0", home=consented_home)
    run_demo_trace(provider, fail=False)
    provider.shutdown()
    scan = load_sessions(consented_home)
    assert len(scan.files) == 1 and len(scan.invalid) == 4
    assert all((folder / name).read_bytes() == data for name, data in bad.items())


def test_crash_report_is_sanitized_and_linked(consented_home: Path) -> None:
    reporter = CrashReporter(consented_home, resolve_consent(), installer_version="1.2.3")
    where, token = f"{Path.home()}/secret-project", "ghp_" + "a" * 36
    try:
        raise RuntimeError(f"failed in {where} with {token}")
    except RuntimeError as exc:
        path = reporter.report(
            exc,
            category="unexpected",
            step="models",
            trace_id=0xABC,
            span_id=0xDEF,
            disk_path=consented_home,
        )
    assert path is not None and stat.S_IMODE(path.stat().st_mode) == 0o600
    crash = load_crashes(consented_home).files[0].data
    assert crash["failing_step"] == "models" and crash["span_id"] == f"{0xDEF:016x}"
    assert crash["error_category"] == "unexpected" and crash["installer_version"] == "1.2.3"
    assert {"os", "python_version", "cpu_count", "memory_gib", "disk_free_gib"} <= set(
        crash["system"]
    )
    text = path.read_text()
    assert str(Path.home()) not in text and "ghp_" not in text and "secret-project" not in text


KILLED_RUN = textwrap.dedent(
    """
    import os, signal, sys
    from otel_local_exporter import configure_tracing
    from otel_local_exporter import attributes as attr
    provider = configure_tracing("1.0")
    tracer = provider.get_tracer("t")
    with tracer.start_as_current_span("dinoair.install"):
        for i in range(int(sys.argv[1])):
            with tracer.start_as_current_span(f"s{i}", attributes={attr.STEP_NAME: f"s{i}"}) as s:
                s.set_attribute(attr.STEP_STATUS, "completed")
        os.kill(os.getpid(), signal.SIGKILL)
    """
)


@pytest.mark.parametrize("steps", [0, 1, 3])
def test_sigkill_leaves_a_journal_that_becomes_an_incomplete_session(
    consented_home: Path, steps: int
) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", KILLED_RUN, str(steps)],
        cwd=REPO,
        env={**os.environ, "DINOAIR_HOME": str(consented_home)},
        check=False,
    )
    assert proc.returncode == -signal.SIGKILL
    for path in consented_home.rglob("*.json"):
        json.loads(path.read_text())  # never a half-written JSON file
    journals = list(consented_home.glob("telemetry/*.journal"))
    assert len(journals) == (1 if steps else 0)
    scan = load_sessions(consented_home)
    assert not list(consented_home.glob("telemetry/*.journal"))
    if steps:
        doc = scan.files[0].data
        assert doc["metadata"]["complete"] is False
        assert [e["step_name"] for e in doc["events"]] == [f"s{i}" for i in range(steps)]
    else:
        assert scan.files == []


def test_usage_analytics_off_drops_the_events_that_describe_the_machine(
    dinoair_home: Path,
) -> None:
    """``hardware_detected`` names the GPU kind and the torch build: a hardware profile, which
    usage_analytics_enabled: false keeps out, events included (the catalogue says which)."""
    config = TelemetryConfig.load(dinoair_home)
    config.enable(usage_analytics=False)
    config.save()
    provider = configure_tracing("1.0", home=dinoair_home)
    tracer = provider.get_tracer("t")
    with (
        tracer.start_as_current_span("dinoair.install"),
        tracer.start_as_current_span("dinoair.step.preflight") as step,
    ):
        step.add_event("hardware_detected", {"accelerator": "nvidia", "gpu_count": 2})
        step.add_event("torch_checked", {"device": "cuda"})
        step.add_event("tool_detected", {"tool": "git", "found": True})
    provider.shutdown()
    events = [e["name"] for s in only_session(dinoair_home)["spans"] for e in s["events"]]
    assert events == ["tool_detected"]
