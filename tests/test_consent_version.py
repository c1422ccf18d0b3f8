"""Consent that follows the notice: asked again when it grew, a "no" never asked again, and
until then only what the older notice named is recorded. Real installer runs, on a real
terminal (a pty) where the question is asked."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fixtures.commands import install_command
from fixtures.demo_fixture import Fixture, build_fixture, write_manifest
from fixtures.model_server import ModelServer
from otel_local_exporter import NOTICE_VERSION, TelemetryConfig, load_sessions

REPO = Path(__file__).resolve().parent.parent
ONLY = ("--only", "preflight")


@pytest.fixture(scope="module")
def fixture(tmp_path_factory: pytest.TempPathFactory):
    built = build_fixture(tmp_path_factory.mktemp("fixture"))
    with ModelServer(built.models_dir) as srv:
        write_manifest(built, srv.base_url)
        yield built


def _write_config(home: Path, **fields: object) -> None:
    home.mkdir(parents=True, exist_ok=True)
    data = {"telemetry_enabled": True, "user_id": "a" * 32, **fields}
    (home / "telemetry_config.json").write_text(json.dumps(data))


def _on_terminal(cmd: list[str], answers: list[tuple[bytes, bytes]]) -> tuple[int, str]:
    """Run ``cmd`` on a pty, answering each (marker, reply) in turn; its exit code and output."""
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

    for marker, reply in answers:
        read_until(marker)
        os.write(fd, reply)
    read_until(b"\x00never")  # to the end
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    return os.waitstatus_to_exitcode(status), output.decode(errors="replace")


def _events(home: Path) -> set[str]:
    doc = load_sessions(home).files[0].data
    return {e["name"] for span in doc["spans"] for e in span["events"]}


def test_without_a_terminal_an_older_yes_records_only_what_it_named(
    fixture: Fixture, dinoair_home: Path, tmp_path: Path
) -> None:
    _write_config(dinoair_home)  # a yes from before notices had versions: version 1
    cmd = install_command(tmp_path / "t", fixture.manifest, *ONLY)
    result = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "notice changed" not in result.stdout, "no question without a terminal"
    assert "tool_detected" not in _events(dinoair_home), "an event version 1 did not name"
    assert TelemetryConfig.load(dinoair_home).consent_notice_version is None


def test_a_current_yes_records_everything(
    fixture: Fixture, dinoair_home: Path, tmp_path: Path
) -> None:
    _write_config(dinoair_home, consent_notice_version=NOTICE_VERSION)
    cmd = install_command(tmp_path / "t", fixture.manifest, *ONLY)
    result = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "tool_detected" in _events(dinoair_home)


def test_an_older_yes_is_asked_again_on_a_terminal_and_a_yes_records_the_version(
    fixture: Fixture, dinoair_home: Path, tmp_path: Path
) -> None:
    _write_config(dinoair_home, consent_notice_version=1, usage_analytics_enabled=False)
    cmd = install_command(tmp_path / "t", fixture.manifest, *ONLY)
    code, output = _on_terminal(cmd, [(b"[y/N/more]", b"y\r")])
    assert code == 0, output
    assert f"version 1 -> {NOTICE_VERSION}" in output and "installer.system.gpu_model" in output
    config = TelemetryConfig.load(dinoair_home)
    assert config.consent_notice_version == NOTICE_VERSION and config.telemetry_enabled
    assert config.usage_analytics_enabled is False, "the switches chosen before are kept"
    assert "tool_detected" in _events(dinoair_home)


def test_no_to_the_new_notice_switches_telemetry_off_and_is_not_asked_again(
    fixture: Fixture, dinoair_home: Path, tmp_path: Path
) -> None:
    _write_config(dinoair_home, consent_notice_version=1)
    cmd = install_command(tmp_path / "t", fixture.manifest, *ONLY)
    code, output = _on_terminal(cmd, [(b"[y/N/more]", b"n\r")])
    assert code == 0, output
    assert "Telemetry is off now" in output
    assert TelemetryConfig.load(dinoair_home).state == "disabled"
    code, output = _on_terminal(cmd, [])
    assert code == 0 and "[y/N/more]" not in output, "a saved no is never asked again"


def test_a_saved_no_is_never_asked_because_of_a_notice_change(
    fixture: Fixture, dinoair_home: Path, tmp_path: Path
) -> None:
    _write_config(dinoair_home, telemetry_enabled=False, consent_notice_version=1)
    cmd = install_command(tmp_path / "t", fixture.manifest, *ONLY)
    code, output = _on_terminal(cmd, [])
    assert code == 0, output
    assert "[y/N/more]" not in output and "notice changed" not in output
    assert not (dinoair_home / "telemetry").exists()


def test_status_shows_the_notice_version_agreed_to(dinoair_home: Path) -> None:
    from click.testing import CliRunner

    from telemetry_cli.cli import cli

    _write_config(dinoair_home, consent_notice_version=1)
    output = CliRunner().invoke(cli, ["status"]).output
    assert f"version 1 (now {NOTICE_VERSION})" in output
    assert "only what that version named is kept" in output
    _write_config(dinoair_home, consent_notice_version=NOTICE_VERSION)
    output = CliRunner().invoke(cli, ["status"]).output
    assert f"Notice agreed to  version {NOTICE_VERSION}\n" in output
