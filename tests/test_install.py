"""The installer end to end: real processes, a real git repo, a real loopback model server."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import TracerProvider

from fixtures.commands import install_command
from fixtures.demo_fixture import Fixture, build_fixture, write_manifest
from fixtures.model_server import Fault, ModelServer
from installer.context import InstallContext, Options, Step
from installer.manifest import load_manifest
from installer.runner import run_install
from otel_local_exporter import (
    CrashReporter,
    TelemetryConfig,
    configure_tracing,
    load_crashes,
    load_sessions,
    resolve_consent,
)
from tests.conftest import has_part_file, snapshot
from tests.mounts import remount_read_only, tmpfs

REPO = Path(__file__).resolve().parent.parent
FAST = ["--skip", "python_deps", "--skip", "webgui", "--retries", "1"]


@pytest.fixture(scope="module")
def fixture(tmp_path_factory: pytest.TempPathFactory) -> Fixture:
    return build_fixture(tmp_path_factory.mktemp("fixture"))


@pytest.fixture
def server(fixture: Fixture):
    with ModelServer(fixture.models_dir) as srv:
        write_manifest(fixture, srv.base_url)
        yield srv


def install(
    target: Path,
    manifest: Path,
    *args: str,
    env: dict[str, str] | None = None,
    timeout: float = 240,
) -> subprocess.CompletedProcess[str]:
    cmd = install_command(target, manifest, *args)
    return subprocess.run(
        cmd,
        cwd=REPO,
        env={**os.environ, **(env or {})},
        text=True,
        capture_output=True,
        timeout=timeout,
        check=False,
    )


def latest_session(home: Path) -> dict:
    scan = load_sessions(home)
    assert not scan.invalid
    return scan.files[0].data


def steps_of(doc: dict) -> dict[str, dict]:
    return {e["step_name"]: e for e in doc["events"] if e["event_type"] == "installation_step"}


def span_of(doc: dict, step: str) -> dict:
    return next(s for s in doc["spans"] if s["attributes"].get("installer.step") == step)


def test_full_install_then_a_fast_rerun(
    fixture: Fixture, server: ModelServer, consented_home: Path, tmp_path: Path
) -> None:
    target = tmp_path / "DinoAir"
    started = time.perf_counter()
    first = install(target, fixture.manifest)
    first_seconds = time.perf_counter() - started
    assert first.returncode == 0, first.stderr + first.stdout
    assert "DinoAir is installed" in first.stdout
    doc = latest_session(consented_home)
    steps = steps_of(doc)
    assert set(steps) == {  # in the order they ended: independent steps overlap
        "preflight",
        "comfyui",
        "python_deps",
        "custom_nodes",
        "verify",
        "workflows",
        "ollama_models",
        "models",
        "webgui",
        "finalize",
    }
    assert steps["ollama_models"] == {
        **steps["ollama_models"],
        "status": "skipped",
        "reason": "ollama_not_found",
    }
    ran = {name for name, e in steps.items() if e["status"] == "completed"}
    assert ran == {
        "preflight",
        "comfyui",
        "python_deps",
        "verify",
        "workflows",
        "models",
        "finalize",
        "webgui",  # the bundled GUI is served by Python: no Node.js needed
    }
    assert doc["events"][-1]["success"] is True
    models = span_of(doc, "models")
    assert models["attributes"]["installer.step.bytes_downloaded"] == sum(
        m.size for m in fixture.models
    )
    assert any(e["name"] == "download_complete" for e in models["events"])
    # uv's processes are short (CPU time may round to 0), but their memory is always seen.
    assert span_of(doc, "python_deps")["attributes"]["installer.step.child_peak_rss_mib"] > 0
    system = doc["events"][0]["system_info"]  # the coarse hardware profile, usage analytics
    assert system["accelerator"] == "cpu"
    assert system["torch_build"] == "cpu"
    assert system["torch_device"] == "cpu"
    for model in fixture.models:
        assert (target / "models/checkpoints" / model.name).read_bytes() == model.path.read_bytes()
    assert (target / "start.sh").exists() and (target / "install_summary.json").exists()

    server.clear_log()
    started = time.perf_counter()
    second = install(target, fixture.manifest)
    second_seconds = time.perf_counter() - started
    assert second.returncode == 0, second.stderr + second.stdout
    assert server.requests == [], "verified models are not fetched again"
    doc = latest_session(consented_home)
    steps = steps_of(doc)
    assert steps["python_deps"]["reason"] == "already_installed"
    assert steps["verify"]["reason"] == "already_verified"  # nothing changed since
    assert steps["webgui"]["status"] == "completed"  # a copy of what changed, no npm
    assert any(e["name"] == "checkout_reused" for e in span_of(doc, "comfyui")["events"])
    assert "installer.step.bytes_downloaded" not in span_of(doc, "models")["attributes"]
    assert len(load_sessions(consented_home).files) == 2
    assert second_seconds < first_seconds

    # What a re-run does not pay for: git is asked about the checkout once per step that reads
    # it (describe hands its answer to run), and nothing loads an HTTP client, GitPython or tqdm.
    calls = tmp_path / "git-calls.txt"
    shim = tmp_path / "shim"
    shim.mkdir()
    (shim / "git").write_text(f'#!/bin/sh\necho "$*" >> {calls}\nexec {shutil.which("git")} "$@"\n')
    (shim / "git").chmod(0o755)
    loaded = tmp_path / "modules.json"
    probe = (
        "import atexit, json, runpy, sys\n"
        f"out = open({str(loaded)!r}, 'w')\n"
        "atexit.register(lambda: out.write(json.dumps(sorted(sys.modules))))\n"
        "sys.argv[0] = 'dinoair-install'\n"
        "runpy.run_module('installer', run_name='__main__')\n"
    )
    third = subprocess.run(
        [sys.executable, "-c", probe, *install_command(target, fixture.manifest)[3:]],
        cwd=REPO,
        env={**os.environ, "PATH": f"{shim}{os.pathsep}{os.environ['PATH']}"},
        text=True,
        capture_output=True,
        timeout=240,
        check=False,
    )
    assert third.returncode == 0, third.stderr + third.stdout
    assert "DinoAir is installed" in third.stdout
    asked = calls.read_text().splitlines()
    assert sum(" config --local " in line for line in asked) == 1, asked  # comfyui
    assert sum(" rev-parse " in line for line in asked) == 1, asked  # verify's stamp
    modules = set(json.loads(loaded.read_text()))
    assert modules & {"urllib.request", "http.client", "ssl", "git", "tqdm"} == set()


def test_a_cut_download_resumes_and_fetches_only_the_rest(
    fixture: Fixture, server: ModelServer, consented_home: Path, tmp_path: Path
) -> None:
    model = fixture.models[0]
    server.set_fault(model.name, Fault.cut(after=model.size // 2))
    # One connection, so the cut lands mid-file (segmented resume: tests/reliability).
    result = install(tmp_path / "t", fixture.manifest, *FAST, "--connections", "1")
    assert result.returncode == 0, result.stderr
    assert server.bytes_sent(model.name) == model.size, "the second request fetched only the rest"
    ranged = [r for r in server.requests if r.path == model.name and r.range]
    assert len(ranged) == 1
    events = span_of(latest_session(consented_home), "models")["events"]
    assert any(e["name"] == "download_retry" for e in events)


def test_checksum_mismatch_is_an_installation_error(
    fixture: Fixture, server: ModelServer, consented_home: Path, tmp_path: Path
) -> None:
    model = fixture.models[1]
    server.set_fault(model.name, Fault.different(b"x" * model.size))
    result = install(tmp_path / "t", fixture.manifest, *FAST)
    assert result.returncode == 1
    assert "'models' failed (installation)" in result.stderr
    assert not (tmp_path / "t/models/checkpoints" / model.name).exists()
    doc = latest_session(consented_home)
    error = next(e for e in doc["events"] if e["event_type"] == "error")
    assert error["step_name"] == "models" and error["error_category"] == "installation"
    assert error["error_type"] == "installer.errors.ChecksumError"
    assert steps_of(doc)["finalize"]["reason"] == "dependency_failed"
    span = span_of(doc, "models")
    assert span["status"]["code"] == "ERROR" and span["attributes"]["error.type"] == "ChecksumError"


@pytest.mark.parametrize("fault", ["refused", "503"])
def test_network_failures_are_network_errors(
    fixture: Fixture, server: ModelServer, consented_home: Path, tmp_path: Path, fault: str
) -> None:
    manifest = tmp_path / "manifest.json"
    data = json.loads(fixture.manifest.read_text())
    if fault == "refused":
        data["checkpoints"][0]["url"] = "http://127.0.0.1:9/nothing-listens-here"
    else:
        server.set_fault(fixture.models[0].name, Fault.http(503, times=None))
    manifest.write_text(json.dumps(data))
    result = install(tmp_path / "t", manifest, *FAST)
    assert result.returncode == 1
    assert "(network)" in result.stderr
    doc = latest_session(consented_home)
    assert steps_of(doc)["models"]["status"] == "failed"
    error = next(e for e in doc["events"] if e["event_type"] == "error")
    assert error["error_category"] == "network"
    retries = [e for e in span_of(doc, "models")["events"] if e["name"] == "download_retry"]
    assert retries, "network failures are retried before giving up"


def test_an_unwritable_target_is_a_system_error(
    fixture: Fixture, server: ModelServer, consented_home: Path, tmp_path: Path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    result = install(blocker / "DinoAir", fixture.manifest, *FAST)
    assert result.returncode == 1
    doc = latest_session(consented_home)
    assert steps_of(doc)["preflight"]["status"] == "failed"
    error = next(e for e in doc["events"] if e["event_type"] == "error")
    assert (error["step_name"], error["error_category"]) == ("preflight", "system")


def test_a_read_only_target_is_a_system_error(
    fixture: Fixture, server: ModelServer, consented_home: Path, tmp_path: Path
) -> None:
    mount = tmp_path / "ro"
    with tmpfs(mount, size="1m") as mounted:
        if not (mounted and remount_read_only(mount)):
            pytest.skip("needs root to mount a read-only tmpfs (chmod does not stop root)")
        result = install(mount / "DinoAir", fixture.manifest, *FAST)
    assert result.returncode == 1, result.stdout
    assert "(system)" in result.stderr and "Traceback" not in result.stderr
    doc = latest_session(consented_home)
    error = next(e for e in doc["events"] if e["event_type"] == "error")
    assert (error["step_name"], error["error_category"]) == ("preflight", "system")
    assert span_of(doc, "preflight")["status"]["code"] == "ERROR"


@pytest.mark.parametrize("content", ['{"comfyui": 3}', "not json", '{"comfyui": {}}'])
def test_a_bad_manifest_is_a_configuration_error(
    consented_home: Path, tmp_path: Path, content: str
) -> None:
    manifest = tmp_path / "manifest.json"
    manifest.write_text(content)
    result = install(tmp_path / "t", manifest)
    assert result.returncode == 1
    assert "(configuration)" in result.stderr and "Traceback" not in result.stderr
    doc = latest_session(consented_home)
    steps = steps_of(doc)
    assert steps["preflight"]["status"] == "failed"
    assert {e["reason"] for n, e in steps.items() if n != "preflight"} == {"dependency_failed"}
    error = next(e for e in doc["events"] if e["event_type"] == "error")
    assert error["error_category"] == "configuration"
    assert not (tmp_path / "t").exists()
    dry = install(tmp_path / "t", manifest, "--dry-run")
    assert dry.returncode == 1 and dry.stderr.startswith("Error: manifest")


def test_ctrl_c_cancels_the_running_step_and_exits_130(
    fixture: Fixture, server: ModelServer, consented_home: Path, tmp_path: Path
) -> None:
    for model in fixture.models:
        server.set_fault(model.name, Fault.stall(after=1024, seconds=60))
    cmd = install_command(tmp_path / "t", fixture.manifest, *FAST)
    proc = subprocess.Popen(
        cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 60
    while not has_part_file(tmp_path / "t") and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, out + err
    assert "cancelled" in err.lower() and "Traceback" not in err
    doc = latest_session(consented_home)
    assert steps_of(doc)["models"]["status"] == "cancelled"
    assert doc["events"][-1]["summary"]["result"] == "cancelled"
    assert span_of(doc, "models")["attributes"]["installer.error.category"] == "cancelled"
    assert not list((tmp_path / "t/models/checkpoints").glob("*.safetensors"))


@pytest.mark.parametrize(
    "how",
    [
        {"DINOAIR_DISABLE_TELEMETRY": "1"},
        {"DO_NOT_TRACK": "1"},
        {"OTEL_SDK_DISABLED": "true"},
        "--disable-telemetry",
    ],
)
def test_switched_off_telemetry_leaves_the_home_untouched(
    fixture: Fixture, server: ModelServer, consented_home: Path, tmp_path: Path, how: object
) -> None:
    before = snapshot(consented_home)
    env = how if isinstance(how, dict) else {}
    extra = [how] if isinstance(how, str) else []
    result = install(tmp_path / "t", fixture.manifest, *FAST, *extra, env=env)
    assert result.returncode == 0, result.stderr
    assert snapshot(consented_home) == before


def test_no_consent_no_terminal_no_question_no_files(
    fixture: Fixture, server: ModelServer, dinoair_home: Path, tmp_path: Path
) -> None:
    result = install(tmp_path / "t", fixture.manifest, *FAST)
    assert result.returncode == 0 and "telemetry?" not in result.stdout.lower()
    assert not dinoair_home.exists()


def test_dry_run_prints_the_plan_and_changes_nothing(
    fixture: Fixture, server: ModelServer, consented_home: Path, tmp_path: Path
) -> None:
    before = snapshot(consented_home)
    result = install(tmp_path / "t", fixture.manifest, "--dry-run", "--skip", "webgui")
    assert result.returncode == 0, result.stderr
    for step in ("preflight", "comfyui", "python_deps", "models", "finalize"):
        assert step in result.stdout
    assert "webgui         skip: left out by --only/--skip" in result.stdout
    assert "MiB" in result.stdout and " MB" not in result.stdout
    assert not (tmp_path / "t").exists() and snapshot(consented_home) == before


@pytest.mark.parametrize("entry", [["-m", "installer"], ["install.py"]])
def test_help_explains_every_option(entry: list[str]) -> None:
    result = subprocess.run(
        [sys.executable, *entry, "--help"], cwd=REPO, text=True, capture_output=True, check=True
    )
    for option in (
        "--target",
        "--no-models",
        "--disable-telemetry",
        "--manifest",
        "--only",
        "--skip",
        "--dry-run",
        "--yes",
        "--verbose",
        "--version",
        "Exit codes",
    ):
        assert option in result.stdout
    version = subprocess.run(
        [sys.executable, *entry, "--version"], cwd=REPO, text=True, capture_output=True, check=True
    )
    assert "0.1.0" in version.stdout


def test_usage_errors_exit_2() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "installer", "--only", "nonsense"],
        cwd=REPO,
        text=True,
        capture_output=True,
        check=False,
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr


def test_an_unexpected_error_writes_a_linked_crash_report(
    fixture: Fixture, server: ModelServer, consented_home: Path, tmp_path: Path
) -> None:
    def explode(ctx: InstallContext) -> None:
        raise RuntimeError(f"bug near {tmp_path}")

    steps = (
        Step("explode", run=explode, describe=lambda ctx: "fail"),
        Step("after", run=lambda ctx: None, describe=lambda ctx: "never runs"),
    )
    provider = configure_tracing("1.0", home=consented_home)
    reporter = CrashReporter(consented_home, resolve_consent())
    ctx = InstallContext(
        options=Options(target=tmp_path / "t"),
        manifest=load_manifest(fixture.manifest),
        echo=lambda line: None,
    )

    def on_crash(exc, category, step, span_context):
        return reporter.report(
            exc,
            category=category,
            step=step,
            trace_id=span_context.trace_id,
            span_id=span_context.span_id,
        )

    result = run_install(steps, ctx, provider.get_tracer("t"), on_crash=on_crash)
    provider.shutdown()
    assert result.exit_code == 1 and result.crash_report
    crash = load_crashes(consented_home).files[0].data
    doc = latest_session(consented_home)
    span = span_of(doc, "explode")
    assert crash["span_id"] == span["span_id"] and crash["session_id"] == doc["session_id"]
    assert crash["failing_step"] == "explode" and crash["error_category"] == "unexpected"
    assert str(tmp_path) not in json.dumps(crash) and str(tmp_path) not in json.dumps(doc)


def test_telemetry_failure_does_not_change_the_outcome(fixture: Fixture, tmp_path: Path) -> None:
    class BrokenTracerProvider(TracerProvider):
        pass

    provider = BrokenTracerProvider()

    def fail_on_event(*args, **kwargs):
        raise RuntimeError("telemetry broke")

    steps = (Step("a", run=lambda ctx: ctx.event("x", n=1), describe=lambda ctx: "a"),)
    ctx = InstallContext(
        options=Options(target=tmp_path / "t"),
        manifest=load_manifest(fixture.manifest),
        echo=lambda line: None,
    )
    tracer = provider.get_tracer("t")
    original = tracer.start_span

    def start_span(*args, **kwargs):
        span = original(*args, **kwargs)
        span.add_event = fail_on_event
        span.set_attribute = fail_on_event
        return span

    tracer.start_span = start_span
    result = run_install(steps, ctx, tracer)
    assert result.exit_code == 0 and result.steps[0].status == "completed"
    provider.shutdown()


def test_consent_prompt_on_a_terminal_enter_means_no(
    fixture: Fixture, server: ModelServer, dinoair_home: Path, tmp_path: Path
) -> None:
    import pty

    cmd = install_command(tmp_path / "t", fixture.manifest, *FAST)
    pid, fd = pty.fork()
    if pid == 0:  # child: a real terminal on stdin and stdout
        os.chdir(REPO)
        os.execv(sys.executable, cmd)
    output = b""

    def read_until(marker: bytes) -> None:
        nonlocal output
        deadline = time.monotonic() + 60
        while marker not in output and time.monotonic() < deadline:
            try:
                output += os.read(fd, 4096)
            except OSError:
                break

    read_until(b"[y/N/more]")
    os.write(fd, b"more\r")
    read_until(b"What is never kept")
    os.write(fd, b"\r")
    read_until(b"Summary:")
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    assert os.waitstatus_to_exitcode(status) == 0, output.decode(errors="replace")
    assert b"Telemetry stays off" in output
    assert not dinoair_home.exists(), "a 'no' creates nothing"
    assert TelemetryConfig.load(dinoair_home).state == "undecided"
