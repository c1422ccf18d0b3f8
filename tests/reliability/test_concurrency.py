"""Many processes writing to one telemetry home at the same moment.

* Eight real installer runs at once (different targets, one home, telemetry on): eight intact,
  complete sessions; the config byte-for-byte what it was; no journal or temporary file left.
* Eight processes running installer-shaped traces with many spans through ``configure_tracing``
  at once, with a small session limit so they also prune each other's files while writing.
* Eight ``dinoair-telemetry`` processes switching telemetry on and off at once: the config is
  always valid JSON, never kept aside as invalid.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from fixtures.commands import install_command
from installer.steps import STEPS
from otel_local_exporter import TelemetryConfig, load_sessions
from tests.reliability.conftest import (
    FAST,
    REPO,
    Served,
    environment,
    json_files_parse,
)

PROCESSES = 8


def _start_all(cmds: list[list[str]], env: dict[str, str]) -> list[subprocess.CompletedProcess]:
    procs = [
        subprocess.Popen(
            cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for cmd in cmds
    ]
    results = []
    for cmd, proc in zip(cmds, procs, strict=True):
        out, err = proc.communicate(timeout=180)
        results.append(subprocess.CompletedProcess(cmd, proc.returncode, out, err))
    return results


def _leftovers(home: Path) -> list[str]:
    return [p.name for p in home.rglob("*") if p.name.endswith((".journal", ".tmp"))]


def test_eight_installers_at_once(
    trial, shared: Served, consented_home: Path, tmp_path: Path
) -> None:
    case = "8 installers at once, one home"
    config_before = (consented_home / "telemetry_config.json").read_bytes()
    cmds = [install_command(tmp_path / f"t{n}", shared.manifest, *FAST) for n in range(PROCESSES)]
    results = _start_all(cmds, environment())
    for result in results:
        trial.record(
            case,
            held=result.returncode == 0 and "Traceback" not in result.stderr,
            how="8 real installer subprocesses started together, telemetry on",
        )
    assert [r.returncode for r in results] == [0] * PROCESSES, [r.stderr for r in results]
    with trial.attempt(case):
        scan = load_sessions(consented_home, recover=False)
        assert not scan.invalid, scan.invalid
        assert len(scan.files) == PROCESSES
        assert len({f.data["session_id"] for f in scan.files}) == PROCESSES
        for stored in scan.files:
            doc = stored.data
            assert doc["metadata"]["complete"] is True
            assert doc["events"][-1]["event_type"] == "installation_complete"
            assert doc["events"][-1]["success"] is True
            assert len(doc["spans"]) == 1 + len(STEPS)  # the root and every step
            assert {s["trace_id"] for s in doc["spans"]} == {doc["session_id"]}
        assert (consented_home / "telemetry_config.json").read_bytes() == config_before
        assert TelemetryConfig.load(consented_home).state == "enabled"
        assert not _leftovers(consented_home)
        json_files_parse(consented_home)


TRACED = textwrap.dedent(
    """
    import sys
    from otel_local_exporter import configure_tracing
    from otel_local_exporter import attributes as attr
    runs, steps, limit = (int(a) for a in sys.argv[1:4])
    provider = configure_tracing("1.0", max_sessions=limit)
    tracer = provider.get_tracer("concurrency")
    for run in range(runs):
        with tracer.start_as_current_span("dinoair.install") as root:
            for i in range(steps):
                with tracer.start_as_current_span(
                        f"dinoair.step.s{i}", attributes={attr.STEP_NAME: f"s{i}"}) as span:
                    span.add_event("progress", {"percent": 50, "file": f"/home/alice/m{i}"})
                    span.set_attribute(attr.STEP_STATUS, "completed")
            root.set_attribute(attr.RUN_RESULT, "success")
    provider.shutdown()
    """
)


def test_eight_traced_processes_write_and_prune_at_once(trial, consented_home: Path) -> None:
    case = "8 processes tracing at once, pruning each other's sessions"
    runs, steps, limit = 3, 40, 12
    config_before = (consented_home / "telemetry_config.json").read_bytes()
    cmds = [
        [sys.executable, "-c", TRACED, str(runs), str(steps), str(limit)] for _ in range(PROCESSES)
    ]
    results = _start_all(cmds, environment())
    for result in results:
        trial.record(
            case,
            held=result.returncode == 0 and "Traceback" not in result.stderr,
            how=f"8 subprocesses x {runs} runs x {steps + 1} spans via "
            f"configure_tracing, max_sessions={limit}",
        )
    assert all(r.returncode == 0 and "Traceback" not in r.stderr for r in results), results
    with trial.attempt(case):
        scan = load_sessions(consented_home, recover=False)
        assert not scan.invalid, scan.invalid
        assert 1 <= len(scan.files) <= limit
        for stored in scan.files:
            doc = stored.data
            assert doc["metadata"]["complete"] is True and len(doc["spans"]) == steps + 1
            assert "alice" not in json.dumps(doc)
        assert (consented_home / "telemetry_config.json").read_bytes() == config_before
        assert not _leftovers(consented_home)
        json_files_parse(consented_home)


def test_eight_cli_processes_toggle_consent_at_once(trial, dinoair_home: Path) -> None:
    case = "8 dinoair-telemetry enable/disable at once"
    script = textwrap.dedent(
        """
        import subprocess, sys
        for i in range(2):
            command = "enable" if (i + int(sys.argv[1])) % 2 else "disable"
            done = subprocess.run([sys.executable, "-m", "telemetry_cli", command, "--yes"],
                                  capture_output=True, text=True)
            if done.returncode != 0 or "Traceback" in done.stderr:
                sys.exit(done.stderr or f"{command} exited {done.returncode}")
        """
    )
    cmds = [[sys.executable, "-c", script, str(n)] for n in range(PROCESSES)]
    results = _start_all(cmds, environment())
    for result in results:
        trial.record(
            case,
            held=result.returncode == 0,
            how="8 processes x 2 enable/disable --yes on one fresh home",
        )
    assert all(r.returncode == 0 for r in results), [r.stderr for r in results]
    with trial.attempt(case):
        config = TelemetryConfig.load(dinoair_home)
        assert config.problem is None and config.state in ("enabled", "disabled")
        data = json.loads((dinoair_home / "telemetry_config.json").read_text())
        assert set(data) == {
            "telemetry_enabled",
            "error_reporting_enabled",
            "usage_analytics_enabled",
            "user_id",
            "install_id",
            "consent_timestamp",
            "opt_out_timestamp",
            "fix_notifications_enabled",
            "consent_notice_version",
        }
        assert not list(dinoair_home.glob("*.invalid-*")), "a valid config was kept as invalid"
        assert not _leftovers(dinoair_home)
