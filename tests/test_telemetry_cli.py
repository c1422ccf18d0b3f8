"""``dinoair-telemetry`` end to end, on a temporary ``DINOAIR_HOME`` filled by the real exporter.

Sessions are recorded with the real SDK pipeline (``configure_tracing`` + ``LocalSessionExporter``)
and crash reports with the real ``CrashReporter``. Commands run through click's ``CliRunner`` and,
for the entry points people type, as real subprocesses (the console script, ``python -m`` and the
``python telemetry_cli.py`` shim), including one on a pseudo-terminal for the ``[y/N]`` question.
"""

from __future__ import annotations

import json
import os
import re
import select
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from opentelemetry.trace import Status, StatusCode

from otel_local_exporter import attributes as attr
from otel_local_exporter.config import TelemetryConfig, resolve_consent
from otel_local_exporter.crash import CrashReporter
from otel_local_exporter.tracing import configure_tracing
from telemetry_cli.cli import cli
from telemetry_cli.report import percentile
from tests.test_schema import LEGACY_SESSION, install_legacy

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
KILL_SWITCHES = {"DINOAIR_DISABLE_TELEMETRY": "1", "DO_NOT_TRACK": "1", "OTEL_SDK_DISABLED": "true"}
ANSI = re.compile(r"\x1b\[[0-9;]*m")


# -- building real data ------------------------------------------------------------------------


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A telemetry home that does not exist yet; no kill switch, no NO_COLOR."""
    for name in (*KILL_SWITCHES, "NO_COLOR"):
        monkeypatch.delenv(name, raising=False)
    path = tmp_path / "dinoair-home"
    monkeypatch.setenv("DINOAIR_HOME", str(path))
    return path


def consent(home: Path, **switches: bool) -> TelemetryConfig:
    config = TelemetryConfig.load(home)
    config.enable(**switches)
    config.save()
    return config


def record_session(
    home: Path,
    *,
    fail: bool = False,
    skip: bool = True,
    message: str = "download of the checkpoint timed out",
    accelerator: str | None = None,
) -> Path:
    """One installer-like run through the real pipeline; returns the session file.

    ``accelerator`` goes on the root span as the runner puts it there (usage analytics)."""
    provider = configure_tracing("0.1.0", home=home)
    tracer = provider.get_tracer("t")
    with tracer.start_as_current_span(
        "dinoair.install",
        attributes={attr.INSTALLER_VERSION: "0.1.0", f"{attr.ARG_PREFIX}no_models": skip},
    ) as root:
        if accelerator is not None:
            root.set_attribute(attr.SYSTEM_ACCELERATOR, accelerator)
        for name in ("preflight", "comfyui"):
            with tracer.start_as_current_span(
                f"step {name}", attributes={attr.STEP_NAME: name}
            ) as span:
                time.sleep(0.002)
                span.set_attribute(attr.STEP_STATUS, "completed")
        with tracer.start_as_current_span(
            "step models", attributes={attr.STEP_NAME: "models"}
        ) as span:
            if skip:
                span.set_attribute(attr.STEP_STATUS, "skipped")
                span.set_attribute(attr.STEP_SKIP_REASON, "--no-models was given")
            else:
                time.sleep(0.003)
                span.set_attribute(attr.STEP_STATUS, "completed")
        with tracer.start_as_current_span(
            "step webgui",
            attributes={attr.STEP_NAME: "webgui"},
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            time.sleep(0.002)
            if fail:
                try:
                    raise TimeoutError(message)
                except TimeoutError as exc:
                    span.record_exception(exc)
                    span.set_status(Status(StatusCode.ERROR, str(exc)))
                span.set_attribute(attr.STEP_STATUS, "failed")
                span.set_attribute(attr.ERROR_CATEGORY, "network")
                span.set_attribute(attr.ERROR_TYPE, "TimeoutError")
            else:
                span.set_attribute(attr.STEP_STATUS, "completed")
        root.set_attribute(attr.RUN_RESULT, "failed" if fail else "success")
        if fail:
            root.set_attribute(attr.ERROR_CATEGORY, "network")
            root.set_status(Status(StatusCode.ERROR, "step webgui failed"))
    provider.shutdown()
    exporter_files = sorted(
        (home / "telemetry").glob("session_*.json"), key=lambda p: p.stat().st_mtime_ns
    )
    return exporter_files[-1]


def record_crash(home: Path, session_file: Path) -> Path:
    doc = json.loads(session_file.read_text())
    root = next(s for s in doc["spans"] if s["parent_span_id"] is None)
    reporter = CrashReporter(home, resolve_consent(home=home), installer_version="0.1.0")
    try:
        raise RuntimeError("the manifest could not be parsed")
    except RuntimeError as exc:
        path = reporter.report(
            exc,
            category="unexpected",
            step="webgui",
            trace_id=int(doc["session_id"], 16),
            span_id=int(root["span_id"], 16),
        )
    assert path is not None
    return path


INVALID_SESSIONS = {
    "session_20000101T000001Z_notjson.json": b"{this is not json",
    "session_20000101T000002Z_shape.json": b'["a list, not an object"]',
    "session_20000101T000003Z_utf8.json": b'{"session_id": "\xff\xfe", "events": []}',
    "session_20000101T000004Z_nested.json": b"[" * 200_000 + b"]" * 200_000,
}


def add_invalid_files(home: Path) -> dict[str, bytes]:
    written = {}
    for name, content in INVALID_SESSIONS.items():
        (home / "telemetry" / name).write_bytes(content)
        written[f"telemetry/{name}"] = content
    (home / "crashes").mkdir(mode=0o700, exist_ok=True)
    (home / "crashes" / "crash_20000101T000000Z_bad.json").write_bytes(b'{"no": "crash_id"}')
    written["crashes/crash_20000101T000000Z_bad.json"] = b'{"no": "crash_id"}'
    return written


@pytest.fixture
def populated(home: Path) -> dict[str, Any]:
    """Consent, one successful and one failed session (newest), a crash report, invalid files."""
    consent(home)
    ok = record_session(home, fail=False, skip=False)
    past = time.time() - 60  # older even where the clock or file times are coarse
    os.utime(ok, (past, past))
    failed = record_session(home, fail=True)
    crash = record_crash(home, failed)
    invalid = add_invalid_files(home)
    return {"ok": ok, "failed": failed, "crash": crash, "invalid": invalid}


def run(
    *args: str, input: str | None = None, color: bool = False, env: dict[str, str] | None = None
) -> Any:
    result = CliRunner().invoke(cli, list(args), input=input, color=color, env=env)
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


def session_id(path: Path) -> str:
    return json.loads(path.read_text())["session_id"]


def subprocess_env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in (*KILL_SWITCHES, "NO_COLOR")}
    env.update(DINOAIR_HOME=str(home), **extra)
    return env


def snapshot(folder: Path) -> dict[str, bytes]:
    if not folder.exists():
        return {}
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


# -- help, version -------------------------------------------------------------------------------

COMMANDS = [
    "status",
    "enable",
    "disable",
    "show-data",
    "report",
    "clear-data",
    "export",
    "report-issue",
    "redact",
    "selftest",
    "fields",
    "known-issues",
]


def test_group_help_says_where_data_lives_and_how_to_switch_it_off(home: Path) -> None:
    result = run("--help")
    assert result.exit_code == 0
    for needle in (
        "DINOAIR_HOME",
        "DINOAIR_DISABLE_TELEMETRY",
        "DO_NOT_TRACK",
        "OTEL_SDK_DISABLED",
        "~/.dinoair",
        "telemetry_config.json",
        "crashes/",
        *COMMANDS,
    ):
        assert needle in result.output
    assert not home.exists()


def test_help_lists_every_command_without_importing_one(home: Path) -> None:
    """--help shows each command's short help from the one mapping; no command module loads."""
    code = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from telemetry_cli.cli import COMMANDS, cli\n"
        "r = CliRunner().invoke(cli, ['--help'])\n"
        "assert r.exit_code == 0, r.output\n"
        "for name, entry in COMMANDS.items():\n"
        "    line = next(x for x in r.output.splitlines() if x.strip().startswith(name + ' '))\n"
        "    assert entry.short_help in line, (line, entry.short_help)\n"
        "print(sorted(m for m in sys.modules if m.startswith('telemetry_cli.commands.')"
        " and not m.endswith('._shared')))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        env=subprocess_env(home),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_each_mapped_module_defines_the_command_of_its_name() -> None:
    from telemetry_cli.cli import COMMANDS as MAPPING

    ctx = cli.make_context("dinoair-telemetry", ["status"])
    assert cli.list_commands(ctx) == list(MAPPING)
    assert sorted(MAPPING) == sorted(COMMANDS)
    for name, entry in MAPPING.items():
        command = cli.get_command(ctx, name)
        assert command is not None and command.name == name
        assert command.short_help == entry.short_help
    assert cli.get_command(ctx, "no-such-command") is None
    result = CliRunner().invoke(cli, ["no-such-command"])
    assert result.exit_code == 2 and "No such command" in result.output


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(home: Path, command: str) -> None:
    result = run(command, "--help")
    assert result.exit_code == 0
    assert f"Usage: dinoair-telemetry {command}" in result.output
    assert len(result.output.splitlines()) > 4


def test_version() -> None:
    from importlib.metadata import version

    result = run("--version")
    assert result.exit_code == 0
    assert result.output.strip() == f"dinoair-telemetry {version('dinoair-installer')}"


# -- an empty home -------------------------------------------------------------------------------


def test_read_commands_on_a_missing_home_work_and_create_nothing(
    home: Path, tmp_path: Path
) -> None:
    for args in (
        ["status"],
        ["status", "--json"],
        ["show-data"],
        ["show-data", "--json"],
        ["show-data", "--crashes"],
        ["report"],
        ["report", "--json"],
        ["export", str(tmp_path / "out.json")],
        ["export", "--format", "otlp", str(tmp_path / "out.otlp.jsonl")],
        ["clear-data", "--yes"],
    ):
        result = run(*args)
        assert result.exit_code == 0, (args, result.output)
    assert not home.exists()
    status = json.loads(run("status", "--json").stdout)
    assert status["source"] == "undecided" and status["enabled"] is False
    assert status["data"]["home_exists"] is False and status["data"]["files"] == 0
    assert json.loads(run("report", "--json").stdout)["sessions"] == 0
    bundle = json.loads((tmp_path / "out.json").read_text())
    assert bundle["sessions"] == [] and bundle["crash_reports"] == []
    assert (tmp_path / "out.otlp.jsonl").read_bytes() == b""
    assert "No sessions recorded" in run("show-data").output


def test_latest_on_an_empty_home_is_one_line_error(home: Path) -> None:
    result = run("show-data", "--latest")
    assert result.exit_code == 1
    assert result.stderr.strip().count("\n") == 0 and "no sessions" in result.stderr
    assert not home.exists()


# -- status --------------------------------------------------------------------------------------


def test_status_does_not_import_the_sdk(home: Path) -> None:
    consent(home)
    record_session(home)
    code = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from telemetry_cli.cli import cli\n"
        "r = CliRunner().invoke(cli, ['status'])\n"
        "assert r.exit_code == 0, r.output\n"
        "r = CliRunner().invoke(cli, ['status', '--json'])\n"
        "assert r.exit_code == 0, r.output\n"
        "print(sorted(m for m in sys.modules if m.startswith('opentelemetry')))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        env=subprocess_env(home),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert "opentelemetry.sdk" not in out.stdout
    assert out.stdout.strip() == "[]"


def test_status_shows_state_switches_ids_and_data(home: Path, populated: dict[str, Any]) -> None:
    config = json.loads((home / "telemetry_config.json").read_text())
    result = run("status")
    assert result.exit_code == 0
    text = result.output
    assert "Telemetry is ON" in text
    for needle in (
        config["user_id"],
        config["install_id"],
        config["consent_timestamp"],
        str(home / "telemetry_config.json"),
        "Error reporting",
        "Usage analytics",
        "6 session files, 2 crash report files",
    ):
        assert needle in text
    info = json.loads(run("status", "--json").stdout)
    assert info["config"] == config
    assert info["effective"] == {
        "telemetry": True,
        "error_reporting": True,
        "usage_analytics": True,
    }
    data = info["data"]
    assert (data["sessions"], data["crash_reports"]) == (6, 2)  # 4 + 1 invalid files counted
    assert data["bytes"] == sum(
        p.stat().st_size
        for p in home.rglob("*_*.json")
        if p.parent.name in ("telemetry", "crashes")
    )


@pytest.mark.parametrize(("switch", "value"), sorted(KILL_SWITCHES.items()))
def test_kill_switch_is_named_in_status(
    home: Path, monkeypatch: pytest.MonkeyPatch, switch: str, value: str
) -> None:
    consent(home)
    monkeypatch.setenv(switch, value)
    info = json.loads(run("status", "--json").stdout)
    assert info["enabled"] is False
    assert info["kill_switch"] == switch and info["source"] == f"env:{switch}"
    assert info["config"]["telemetry_enabled"] is True  # the saved choice, overridden
    text = run("status").output
    assert "Telemetry is OFF" in text and switch in text and "overrides" in text


def test_enable_under_a_kill_switch_saves_and_warns(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DO_NOT_TRACK", "1")
    result = run("enable", "--yes")
    assert result.exit_code == 0
    assert TelemetryConfig.load(home).telemetry_enabled is True
    assert "DO_NOT_TRACK" in result.stderr and "overrides" in result.stderr


def test_a_kill_switch_leaves_a_killed_runs_journal_alone(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    consent(home)
    killed_run(home)
    journals = list((home / "telemetry").glob("*.journal"))
    assert len(journals) == 1
    monkeypatch.setenv("DINOAIR_DISABLE_TELEMETRY", "yes")
    before = snapshot(home)
    assert run("show-data").exit_code == 0
    assert run("report").exit_code == 0
    assert "1 unfinished run" in run("status").output
    assert snapshot(home) == before


def killed_run(home: Path) -> None:
    """A run whose process died (os._exit) before its root span ended: a journal stays."""
    code = (
        "import os\n"
        "from otel_local_exporter import attributes as a\n"
        "from otel_local_exporter.tracing import configure_tracing\n"
        "p = configure_tracing('0.1.0')\n"
        "t = p.get_tracer('t')\n"
        "root = t.start_span('dinoair.install')\n"
        "from opentelemetry import trace\n"
        "ctx = trace.set_span_in_context(root)\n"
        "with t.start_as_current_span('step preflight', context=ctx,\n"
        "        attributes={a.STEP_NAME: 'preflight'}) as s:\n"
        "    s.set_attribute(a.STEP_STATUS, 'completed')\n"
        "os._exit(0)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        env=subprocess_env(home),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr


def test_show_data_recovers_a_killed_run(home: Path) -> None:
    consent(home)
    killed_run(home)
    result = run("show-data", "--json")
    sessions = json.loads(result.stdout)["sessions"]
    assert len(sessions) == 1
    assert sessions[0]["result"] == "incomplete" and sessions[0]["complete"] is False
    assert not list((home / "telemetry").glob("*.journal"))
    waterfall = run("show-data", "--latest").output
    assert "preflight" in waterfall and "ended before its session was finished" in waterfall


# -- enable / disable ----------------------------------------------------------------------------


def test_enable_then_disable_round_trips_through_status(home: Path) -> None:
    result = run("enable", "--yes")
    assert result.exit_code == 0, result.output
    assert "steps" in result.output and "Nothing is sent anywhere" in result.output
    saved = json.loads((home / "telemetry_config.json").read_text())
    assert saved["telemetry_enabled"] is True and saved["opt_out_timestamp"] is None
    assert re.fullmatch(r"[0-9a-f]{32}", saved["user_id"])
    assert saved["consent_timestamp"].endswith("Z")
    assert json.loads(run("status", "--json").stdout)["config"] == saved
    assert stat.S_IMODE((home / "telemetry_config.json").stat().st_mode) == 0o600

    result = run("disable", "--yes")
    assert result.exit_code == 0, result.output
    after = json.loads((home / "telemetry_config.json").read_text())
    assert after["telemetry_enabled"] is False
    assert after["error_reporting_enabled"] is False and after["usage_analytics_enabled"] is False
    assert after["user_id"] == saved["user_id"]
    assert after["consent_timestamp"] == saved["consent_timestamp"]
    assert after["opt_out_timestamp"].endswith("Z")
    info = json.loads(run("status", "--json").stdout)
    assert info["config"] == after
    assert info["enabled"] is False and info["source"] == "config"

    run("enable", "--yes")
    again = json.loads((home / "telemetry_config.json").read_text())
    assert again["user_id"] == saved["user_id"] and again["opt_out_timestamp"] is None


def test_enable_keeps_one_switch_off(home: Path) -> None:
    result = run("enable", "--yes", "--no-error-reporting")
    assert "off: --no-error-reporting" in result.output
    saved = json.loads((home / "telemetry_config.json").read_text())
    assert saved["error_reporting_enabled"] is False and saved["usage_analytics_enabled"] is True
    run("enable", "--yes", "--no-usage-analytics")
    saved = json.loads((home / "telemetry_config.json").read_text())
    assert saved["error_reporting_enabled"] is True and saved["usage_analytics_enabled"] is False
    effective = json.loads(run("status", "--json").stdout)["effective"]
    assert effective == {"telemetry": True, "error_reporting": True, "usage_analytics": False}


def test_disable_with_clear_data_deletes_the_data(home: Path, populated: dict[str, Any]) -> None:
    result = run("disable", "--yes", "--clear-data")
    assert result.exit_code == 0
    assert "Deleted 8 files" in result.output
    assert not list((home / "telemetry").iterdir()) and not list((home / "crashes").iterdir())
    assert TelemetryConfig.load(home).telemetry_enabled is False


@pytest.mark.parametrize(
    "args", [["enable"], ["disable"], ["clear-data"], ["disable", "--clear-data"]]
)
def test_without_a_terminal_asking_commands_refuse_in_one_line(
    home: Path, populated: dict[str, Any], args: list[str]
) -> None:
    before = snapshot(home)
    result = run(*args)  # CliRunner's stdin is not a terminal
    assert result.exit_code == 1
    assert "--yes" in result.stderr and "no terminal" in result.stderr
    assert result.stdout == ""  # refused before saying anything else
    assert "Traceback" not in result.output
    assert result.stderr.strip().count("\n") == 0
    assert snapshot(home) == before


def test_without_a_terminal_refusal_as_a_real_process(home: Path) -> None:
    out = subprocess.run(
        [str(BIN / "dinoair-telemetry"), "enable"],
        stdin=subprocess.DEVNULL,
        env=subprocess_env(home),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 1
    assert out.stderr.strip() == (
        "Error: 'dinoair-telemetry enable' asks before changing "
        "anything, and there is no terminal to ask on: pass --yes to "
        "go ahead."
    )
    assert not home.exists()


def run_on_a_terminal(args: list[str], answer: bytes, env: dict[str, str]) -> tuple[int, str]:
    """Run a command with stdin/stdout on a pseudo-terminal, answer the question, collect output."""
    import pty  # POSIX only, like the test below

    master, slave = pty.openpty()
    proc = subprocess.Popen(
        args, stdin=slave, stdout=slave, stderr=slave, env=env, cwd=REPO, close_fds=True
    )
    os.close(slave)
    output = b""
    answered = False
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(master, 4096)
                except OSError:  # EIO: the child closed the terminal
                    break
                if not chunk:
                    break
                output += chunk
            if not answered and b"[y/N]" in output:
                os.write(master, answer + b"\r")
                answered = True
            if proc.poll() is not None and not ready:
                break
        code = proc.wait(timeout=30)
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
    return code, ANSI.sub("", output.decode("utf-8", "replace"))


@pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pseudo-terminal")
def test_on_a_terminal_enable_asks_and_enter_means_no(home: Path) -> None:
    env = subprocess_env(home)
    code, output = run_on_a_terminal([str(BIN / "dinoair-telemetry"), "enable"], b"", env)
    assert code == 0, output
    assert "Turn telemetry on? [y/N]" in output and "Nothing changed." in output
    assert not home.exists()

    code, output = run_on_a_terminal([sys.executable, "telemetry_cli.py", "enable"], b"y", env)
    assert code == 0, output
    assert "Telemetry is on." in output
    assert TelemetryConfig.load(home).telemetry_enabled is True

    code, output = run_on_a_terminal(
        [sys.executable, "-m", "telemetry_cli.cli", "disable"], b"y", env
    )
    assert code == 0, output
    assert "Turn telemetry off? [y/N]" in output
    assert TelemetryConfig.load(home).telemetry_enabled is False


# -- an invalid config ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"{not json", "not valid JSON"),
        (b'{"telemetry_enabled": "false"}', "telemetry_enabled must be true, false or null"),
        (b"[1, 2]", "expected a JSON object"),
        (b"\xff\xfe{}", "not UTF-8"),
    ],
)
def test_invalid_config_is_explained_then_rewritten_and_kept(
    home: Path, content: bytes, reason: str
) -> None:
    home.mkdir(mode=0o700)
    (home / "telemetry_config.json").write_bytes(content)
    result = run("status")
    assert result.exit_code == 0
    assert "Telemetry is OFF" in result.output and reason in result.output
    info = json.loads(run("status", "--json").stdout)
    assert info["source"] == "config-invalid" and reason in info["config_problem"]
    assert info["config"] is None

    result = run("enable", "--yes")
    assert result.exit_code == 0
    kept = list(home.glob("telemetry_config.json.invalid-*"))
    assert len(kept) == 1 and kept[0].read_bytes() == content
    assert str(kept[0]) in result.stderr
    assert TelemetryConfig.load(home).state == "enabled"
    assert json.loads(run("status", "--json").stdout)["config_problem"] is None


# -- show-data -----------------------------------------------------------------------------------


def table_rows(output: str) -> list[str]:
    lines = output.splitlines()
    end = lines.index("") if "" in lines else len(lines)
    return lines[1:end]


def test_show_data_lists_sessions_newest_first_and_skips_invalid_files(
    home: Path, populated: dict[str, Any]
) -> None:
    before = snapshot(home)
    result = run("show-data")
    assert result.exit_code == 0
    header, *_ = result.output.splitlines()
    for title in (
        "started",
        "session",
        "result",
        "duration",
        "completed",
        "skipped",
        "failed",
        "error",
        "file",
    ):
        assert title in header
    rows = table_rows(result.output)
    assert len(rows) == 2
    newest, oldest = rows
    assert session_id(populated["failed"])[:12] in newest and "failed" in newest
    assert "network" in newest and populated["failed"].name in newest
    assert session_id(populated["ok"])[:12] in oldest and "success" in oldest
    # Columns line up: every row puts the file name at the same column.
    assert len({row.index("session_") for row in rows}) == 1
    assert re.search(r"\b2\s+1\s+1\s+network", newest)  # completed, skipped, failed
    for name in populated["invalid"]:
        if name.startswith("telemetry/"):
            assert name in result.output
    for reason in ("not valid JSON", "not a JSON object", "not UTF-8 text", "nested too deeply"):
        assert reason in result.output
    assert snapshot(home) == before  # invalid files are never deleted or rewritten


def test_show_data_json(home: Path, populated: dict[str, Any]) -> None:
    data = json.loads(run("show-data", "--json").stdout)
    assert [s["session_id"] for s in data["sessions"]] == [
        session_id(populated["failed"]),
        session_id(populated["ok"]),
    ]
    failed = data["sessions"][0]
    assert failed["steps"] == {"completed": 2, "skipped": 1, "failed": 1, "cancelled": 0}
    assert failed["error_category"] == "network" and failed["duration_ms"] > 0
    assert {i["file"] for i in data["invalid"]} == {
        n for n in populated["invalid"] if n.startswith("telemetry/")
    }
    one = json.loads(run("show-data", "--json", session_id(populated["ok"])[:8]).stdout)
    assert one == json.loads(populated["ok"].read_text())


def test_show_data_draws_a_waterfall(home: Path, populated: dict[str, Any]) -> None:
    sid = session_id(populated["failed"])
    result = run("show-data", sid[:6])
    assert result.exit_code == 0
    text = result.output
    assert f"Session {sid}" in text
    for needle in (
        "dinoair.install",
        "├─ preflight",
        "├─ comfyui",
        "├─ models",
        "└─ webgui",
        "skipped: --no-models was given",
        "error [network] TimeoutError",
        "download of the checkpoint timed out",
        "completed",
        "failed",
        "timeline",
    ):
        assert needle in text, needle
    bars = [line for line in text.splitlines() if "█" in line or "▏" in line]
    assert len(bars) == 5  # the root and four steps
    starts = [min(line.find(c) for c in "█▏" if c in line) for line in bars]
    assert starts[0] == min(starts)  # the root starts first...
    assert starts[1:] == sorted(starts[1:])  # ...and the steps follow in order
    assert bars[0].count("█") == 40  # the root spans the whole timeline
    assert run("show-data", "--latest").output == text


def test_show_data_unknown_or_ambiguous_prefix_is_one_line(
    home: Path, populated: dict[str, Any]
) -> None:
    result = run("show-data", "zzzz")
    assert result.exit_code == 1
    assert result.stderr.strip() == "Error: no session id starts with 'zzzz'"
    # Two copies whose ids share a prefix.
    raw = populated["ok"].read_text()
    old = session_id(populated["ok"])
    for new in ("abcd" + "0" * 27 + "1", "abcd" + "0" * 27 + "2"):
        (home / "telemetry" / f"session_20100101T000000Z_{new}.json").write_text(
            raw.replace(old, new)
        )
    result = run("show-data", "abcd")
    assert result.exit_code == 1
    assert "matches 2 sessions" in result.stderr and result.stderr.strip().count("\n") == 0
    assert run("show-data", "abcd" + "0" * 27 + "2").exit_code == 0
    assert run("show-data", "x", "--latest").exit_code == 2


def test_show_data_crashes(home: Path, populated: dict[str, Any]) -> None:
    crash = json.loads(populated["crash"].read_text())
    result = run("show-data", "--crashes")
    assert result.exit_code == 0
    assert crash["crash_id"][:12] in result.output and "RuntimeError" in result.output
    assert "crashes/crash_20000101T000000Z_bad.json" in result.output
    data = json.loads(run("show-data", "--crashes", "--json").stdout)
    assert [c["crash_id"] for c in data["crash_reports"]] == [crash["crash_id"]]
    detail = run("show-data", "--crashes", crash["crash_id"][:8]).output
    assert "the manifest could not be parsed" in detail and "Stack trace" in detail


def test_odd_but_valid_files_never_crash_a_command(home: Path, tmp_path: Path) -> None:
    consent(home)
    weird = {
        "session_id": "feedfacefeedfacefeedfacefeedface",
        "events": [
            {
                "event_type": "installation_step",
                "status": 5,
                "duration_ms": "x",
                "step_name": ["no"],
            },
            {"event_type": "installation_complete", "summary": [], "duration_seconds": "soon"},
        ],
        "spans": [
            {"span_id": "a", "parent_span_id": "a", "start_time": 3, "attributes": []},
            {"name": None, "events": "none", "status": "odd"},
        ],
        "metadata": {},
    }
    (home / "telemetry").mkdir(mode=0o700)
    (home / "telemetry" / "session_20200101T000000Z_feedface.json").write_text(json.dumps(weird))
    for args in (
        ["show-data"],
        ["show-data", "--json"],
        ["show-data", "feed"],
        ["report"],
        ["report", "--json"],
        ["export", str(tmp_path / "b.json")],
    ):
        result = run(*args)
        assert result.exit_code == 0, (args, result.output)
    result = run("export", "--format", "otlp", str(tmp_path / "b.jsonl"))
    assert result.exit_code == 0
    assert "not convertible to OTLP" in result.stderr
    assert (tmp_path / "b.jsonl").read_bytes() == b""


# -- report --------------------------------------------------------------------------------------


def test_report_groups_step_success_by_accelerator(home: Path) -> None:
    """Real sessions through the real exporter: two kinds recorded, one run with usage analytics
    off (the exporter drops the attribute) and one file from before the attribute existed."""
    consent(home)
    record_session(home, accelerator="cpu")  # webgui completed
    record_session(home, fail=True, accelerator="cpu")  # webgui failed
    record_session(home, skip=False, accelerator="nvidia")  # models ran and completed
    consent(home, usage_analytics=False)
    dropped = record_session(home, fail=True, accelerator="nvidia")
    root = next(s for s in json.loads(dropped.read_text())["spans"] if not s["parent_span_id"])
    assert attr.SYSTEM_ACCELERATOR not in root["attributes"]  # usage analytics off: not kept
    install_legacy(home, LEGACY_SESSION.name)  # preflight, models completed; workflows failed
    data = json.loads(run("report", "--json").stdout)
    assert data["sessions"] == 5
    groups = {g["accelerator"]: g for g in data["by_accelerator"]}
    assert [g["accelerator"] for g in data["by_accelerator"]] == ["cpu", "nvidia", "not recorded"]
    assert {k: g["sessions"] for k, g in groups.items()} == {
        "cpu": 2,
        "nvidia": 1,
        "not recorded": 2,
    }
    assert groups["cpu"]["results"] == {"success": 1, "failed": 1}
    assert groups["not recorded"]["results"] == {"failed": 2}

    def step(kind: str, name: str) -> dict[str, Any]:
        return next(s for s in groups[kind]["steps"] if s["step"] == name)

    assert step("cpu", "webgui")["success_rate"] == 0.5
    assert step("cpu", "models")["skipped"] == 2 and step("cpu", "models")["success_rate"] is None
    assert step("nvidia", "models")["completed"] == 1
    assert step("nvidia", "webgui")["success_rate"] == 1.0
    assert step("not recorded", "webgui")["failed"] == 1  # the run with usage analytics off
    assert step("not recorded", "workflows")["failed"] == 1  # the legacy file
    assert step("not recorded", "preflight")["completed"] == 2
    # Every step run is in exactly one group.
    for total in data["steps"]:
        per_kind = [
            s for g in data["by_accelerator"] for s in g["steps"] if s["step"] == total["step"]
        ]
        assert sum(s["runs"] for s in per_kind) == total["runs"]
    text = run("report").output
    section = text.split("Step success by accelerator", 1)[1].split("Failures by category")[0]
    assert "sessions: cpu 2, nvidia 1, not recorded 2" in section
    webgui = next(line.split() for line in section.splitlines() if line.split()[:1] == ["webgui"])
    assert webgui == ["webgui", "50.0%", "(1/2)", "100.0%", "(1/1)", "0.0%", "(0/1)"]
    workflows = next(
        line.split() for line in section.splitlines() if line.split()[:1] == ["workflows"]
    )
    assert workflows == ["workflows", "-", "-", "0.0%", "(0/1)"]


def test_report_aggregates(home: Path, populated: dict[str, Any]) -> None:
    data = json.loads(run("report", "--json").stdout)
    assert data["sessions"] == 2
    assert data["results"] == {"success": 1, "failed": 1} or data["results"] == {
        "failed": 1,
        "success": 1,
    }
    assert data["success_rate"] == 0.5
    steps = {s["step"]: s for s in data["steps"]}
    assert list(steps) == ["preflight", "comfyui", "models", "webgui"]
    assert steps["webgui"]["success_rate"] == 0.5 and steps["webgui"]["failed"] == 1
    assert steps["models"]["skipped"] == 1 and steps["models"]["completed"] == 1
    assert steps["models"]["success_rate"] == 1.0
    assert steps["preflight"]["median_ms"] >= 2 and steps["preflight"]["p95_ms"] >= 2
    assert data["failures_by_category"] == {"network": 1}
    assert data["top_errors"] == [
        {"error_type": "TimeoutError", "error_category": "network", "count": 1, "steps": ["webgui"]}
    ]
    assert len(data["invalid"]) == 4
    text = run("report").output
    for needle in (
        "success rate 50.0%",
        "webgui",
        "50.0%",
        "network",
        "TimeoutError",
        "p95",
        "median",
    ):
        assert needle in text


def test_percentile_interpolates_like_numpy() -> None:
    assert percentile([], 50) is None
    assert percentile([4.0], 95) == 4.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5
    assert percentile([float(i) for i in range(1, 101)], 95) == pytest.approx(95.05)


# -- clear-data ----------------------------------------------------------------------------------


def test_clear_data_deletes_data_but_not_the_config(home: Path, populated: dict[str, Any]) -> None:
    size = sum(p.stat().st_size for p in (home / "telemetry").iterdir()) + sum(
        p.stat().st_size for p in (home / "crashes").iterdir()
    )
    config = (home / "telemetry_config.json").read_bytes()
    result = run("clear-data", "--yes")
    assert result.exit_code == 0
    assert result.output.strip() == f"Deleted 8 files ({size / 1024:.1f} KiB)."
    assert (home / "telemetry_config.json").read_bytes() == config
    assert not any((home / "telemetry").iterdir()) and not any((home / "crashes").iterdir())
    assert "no collected data" in run("clear-data").output


# -- export --------------------------------------------------------------------------------------


def plant_unsanitized(home: Path, session_file: Path) -> list[str]:
    """Edit a session by hand so it carries what the sanitizer must catch on export."""
    doc = json.loads(session_file.read_text())
    leaks = ["/home/alice/models/secret.safetensors", "hf_abcdefghijklmnopqrstuvwxyz123456"]
    doc["spans"][0]["attributes"]["installer.arg.target"] = leaks[0]
    doc["events"][0]["installation_args"]["note"] = f"used {leaks[1]} to download"
    times = session_file.stat()
    session_file.write_text(json.dumps(doc))
    os.utime(session_file, ns=(times.st_atime_ns, times.st_mtime_ns))  # keep the listing order
    return leaks


def test_export_bundle_is_complete_sanitized_and_private(
    home: Path, tmp_path: Path, populated: dict[str, Any]
) -> None:
    leaks = plant_unsanitized(home, populated["ok"])
    target = tmp_path / "bundle.json"
    result = run("export", str(target))
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    raw = target.read_text()
    bundle = json.loads(raw)
    assert bundle["format"] == "dinoair-telemetry-export"
    assert bundle["config"] == json.loads((home / "telemetry_config.json").read_text())
    assert [s["session_id"] for s in bundle["sessions"]] == [
        session_id(populated["failed"]),
        session_id(populated["ok"]),
    ]
    assert [c["crash_id"] for c in bundle["crash_reports"]] == [
        json.loads(populated["crash"].read_text())["crash_id"]
    ]
    assert {f["file"] for f in bundle["skipped_files"]} == set(populated["invalid"])
    for leak in leaks:
        assert leak not in raw
    assert str(home) not in raw and str(tmp_path) not in raw
    assert set(bundle) == {
        "format",
        "format_version",
        "exported_at",
        "exported_by",
        "config",
        "config_problem",
        "sessions",
        "crash_reports",
        "skipped_files",
        "redaction_summary",
    }
    # The redaction summary on stderr matches what was replaced.
    summary = bundle["redaction_summary"]
    assert sum(summary.values()) >= 2
    line = next(x for x in result.stderr.splitlines() if x.startswith("Redaction summary"))
    assert f"replaced {sum(summary.values())} value(s)" in line
    for kind, count in summary.items():
        assert f"{kind} {count}" in line
    assert "Exported 2 sessions and 1 crash report" in result.stderr and not result.stdout
    assert "skipped telemetry/session_20000101T000001Z_notjson.json: not valid JSON" in (
        result.stderr
    )
    # Untouched sessions keep their content: only planted values changed.
    failed = json.loads(populated["failed"].read_text())
    assert bundle["sessions"][0]["spans"] == failed["spans"]


def test_export_keeps_an_existing_file_unless_forced(
    home: Path, tmp_path: Path, populated: dict[str, Any]
) -> None:
    target = tmp_path / "bundle.json"
    target.write_text("keep me")
    result = run("export", str(target))
    assert result.exit_code == 1
    assert result.stderr.strip() == f"Error: {target} exists; pass --force to replace it"
    assert target.read_text() == "keep me"
    result = run("export", "--force", str(target))
    assert result.exit_code == 0
    assert json.loads(target.read_text())["format"] == "dinoair-telemetry-export"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_export_to_stdout(home: Path, populated: dict[str, Any]) -> None:
    result = run("export", "-")
    assert result.exit_code == 0
    bundle = json.loads(result.stdout)
    assert len(bundle["sessions"]) == 2
    assert "Redaction summary" in result.stderr and "standard output" in result.stderr


def test_export_one_session(home: Path, tmp_path: Path, populated: dict[str, Any]) -> None:
    sid = session_id(populated["failed"])
    result = run("export", "--session", sid[:10], str(tmp_path / "one.json"))
    assert result.exit_code == 0
    bundle = json.loads((tmp_path / "one.json").read_text())
    assert [s["session_id"] for s in bundle["sessions"]] == [sid]
    assert [c["session_id"] for c in bundle["crash_reports"]] == [sid]
    result = run("export", "--session", session_id(populated["ok"]), str(tmp_path / "ok.json"))
    assert json.loads((tmp_path / "ok.json").read_text())["crash_reports"] == []
    result = run("export", "--session", "nope", str(tmp_path / "x.json"))
    assert result.exit_code == 1 and not (tmp_path / "x.json").exists()


@pytest.mark.parametrize("where", ["missing-folder/out.json", "a-file/out.json", "."])
def test_export_to_an_unwritable_place_is_one_line(
    home: Path, tmp_path: Path, populated: dict[str, Any], where: str
) -> None:
    (tmp_path / "a-file").write_text("x")
    target = tmp_path / where
    result = run("export", str(target))
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: ") and result.stderr.strip().count("\n") == 0
    assert "Traceback" not in result.output


def test_export_to_a_read_only_folder(
    home: Path, tmp_path: Path, populated: dict[str, Any]
) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        if os.access(folder, os.W_OK):
            pytest.skip("running as a user who may write anywhere (root)")
        result = run("export", str(folder / "out.json"))
        assert result.exit_code == 1
        assert result.stderr.startswith("Error: cannot write") and "Permission denied" in (
            result.stderr
        )
    finally:
        folder.chmod(0o700)


def any_value(value: Any) -> Any:
    """A proto_json AnyValue back to Python."""
    for name in ("string_value", "bool_value", "int_value", "double_value"):
        got = getattr(value, name, None)
        if got is not None:
            return got
    if value.array_value is not None:
        return [any_value(v) for v in value.array_value.values]
    if value.kvlist_value is not None:
        return {kv.key: any_value(kv.value) for kv in value.kvlist_value.values}
    return None


def test_export_otlp_round_trips_through_the_proto_classes(
    home: Path, tmp_path: Path, populated: dict[str, Any]
) -> None:
    from opentelemetry.proto_json.trace.v1.trace import Span, Status, TracesData

    from otel_local_exporter.otlp import iso_to_unix_nano

    target = tmp_path / "traces.jsonl"
    result = run("export", "--format", "otlp", str(target))
    assert result.exit_code == 0, result.output
    assert "crash report(s) and the config are not spans" in result.stderr
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    lines = target.read_text().splitlines()
    assert len(lines) == 2
    for line, source in zip(lines, (populated["failed"], populated["ok"]), strict=True):
        raw = json.loads(line)
        first = raw["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
        assert re.fullmatch(r"[0-9a-f]{32}", first["traceId"])  # hex, not base64
        assert re.fullmatch(r"[0-9a-f]{16}", first["spanId"])
        doc = json.loads(source.read_text())
        data = TracesData.from_json(line)
        (resource_spans,) = data.resource_spans
        resource = {kv.key: any_value(kv.value) for kv in resource_spans.resource.attributes}
        assert resource == doc["resource"]
        spans = [s for scope in resource_spans.scope_spans for s in scope.spans]
        assert len(spans) == len(doc["spans"])
        by_id = {s.span_id.hex(): s for s in spans}
        for stored in doc["spans"]:
            span = by_id[stored["span_id"]]
            assert span.trace_id.hex() == stored["trace_id"] == doc["session_id"]
            assert span.name == stored["name"]
            assert (span.parent_span_id.hex() or None) == stored["parent_span_id"]
            attrs = {kv.key: any_value(kv.value) for kv in span.attributes}
            assert attrs == stored["attributes"]
            assert span.start_time_unix_nano == iso_to_unix_nano(stored["start_time"])
            assert span.end_time_unix_nano == iso_to_unix_nano(stored["end_time"])
            assert span.kind == Span.SpanKind.SPAN_KIND_INTERNAL
            code = {"UNSET": 0, "OK": 1, "ERROR": 2}[stored["status"]["code"]]
            assert int((span.status or Status()).code or 0) == code
            assert [e.name for e in span.events] == [e["name"] for e in stored["events"]]
            for event, stored_event in zip(span.events, stored["events"], strict=True):
                assert {kv.key: any_value(kv.value) for kv in event.attributes} == (
                    stored_event["attributes"]
                )
        failed_root = next(s for s in spans if not s.parent_span_id)
        if source == populated["failed"]:
            assert failed_root.status.message == "step webgui failed"


def test_iso_to_unix_nano_is_exact() -> None:
    from otel_local_exporter.otlp import iso_to_unix_nano

    assert iso_to_unix_nano("1970-01-01T00:00:00.000001Z") == 1000
    assert iso_to_unix_nano("2026-01-01T12:00:00.123456Z") == 1767268800123456000


# -- colour --------------------------------------------------------------------------------------


def test_colour_only_on_a_terminal_and_never_with_no_color(
    home: Path, populated: dict[str, Any]
) -> None:
    assert "\x1b[" in run("status", color=True).output  # as on a terminal
    assert "\x1b[" in run("show-data", color=True).output
    assert "\x1b[" not in run("status").output  # not a terminal
    for args in (["status"], ["show-data"], ["show-data", "--latest"], ["report"]):
        result = run(*args, color=True, env={"NO_COLOR": "1"})
        assert "\x1b[" not in result.output, args
    plain = run("show-data", "--latest").output
    assert ANSI.sub("", run("show-data", "--latest", color=True).output) == plain


# -- many sessions -------------------------------------------------------------------------------


@pytest.fixture
def thousand(home: Path) -> Path:
    consent(home)
    source = record_session(home, fail=True)
    raw = source.read_text()
    old = session_id(source)
    folder = source.parent
    for i in range(1000):
        new = f"{i + 1:08x}" + old[8:]
        stamp = f"2025{1 + i % 12:02d}{1 + i % 28:02d}T{i % 24:02d}{i % 60:02d}00Z"
        (folder / f"session_{stamp}_{new}.json").write_text(raw.replace(old, new))
    source.unlink()
    return home


def test_a_thousand_sessions_stay_quick_and_aligned(thousand: Path) -> None:
    started = time.perf_counter()
    result = run("show-data")
    elapsed = time.perf_counter() - started
    assert result.exit_code == 0
    rows = table_rows(result.output)
    assert len(rows) == 1000
    assert len({len(row) for row in rows}) == 1  # every row the same width
    assert elapsed < 10, elapsed
    started = time.perf_counter()
    data = json.loads(run("report", "--json").stdout)
    assert time.perf_counter() - started < 10
    assert data["sessions"] == 1000 and data["failures_by_category"] == {"network": 1000}
    assert json.loads(run("status", "--json").stdout)["data"]["sessions"] == 1000
    assert len(table_rows(run("show-data", "--limit", "5").output)) == 5
    assert run("show-data", "000003e8").exit_code == 0


# -- the entry points as real processes ----------------------------------------------------------


ENTRY_POINTS = {  # name: (argv, run from the repository root?)
    "console script": ([str(BIN / "dinoair-telemetry")], False),
    "python -m telemetry_cli.cli": ([sys.executable, "-m", "telemetry_cli.cli"], True),
    "python -m telemetry_cli": ([sys.executable, "-m", "telemetry_cli"], True),
    "python telemetry_cli.py": ([sys.executable, "telemetry_cli.py"], True),
    "python /abs/telemetry_cli.py": ([sys.executable, str(REPO / "telemetry_cli.py")], False),
}


@pytest.mark.parametrize("entry", sorted(ENTRY_POINTS))
def test_entry_points_as_real_processes(home: Path, tmp_path: Path, entry: str) -> None:
    consent(home)
    record_session(home, fail=True)
    argv, in_repo = ENTRY_POINTS[entry]
    cwd = REPO if in_repo else tmp_path  # the console script and the shim run from elsewhere too
    env = subprocess_env(home)

    def call(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*argv, *args],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
        )

    status = call("status", "--json")
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["config"] == json.loads(
        (home / "telemetry_config.json").read_text()
    )
    shown = call("show-data")
    assert shown.returncode == 0 and "failed" in shown.stdout
    assert "\x1b[" not in shown.stdout  # a pipe is not a terminal
    out = tmp_path / "export.json"
    exported = call("export", str(out))
    assert exported.returncode == 0, exported.stderr
    assert "Redaction summary" in exported.stderr
    assert len(json.loads(out.read_text())["sessions"]) == 1
    assert call("enable", "--yes", "--no-usage-analytics").returncode == 0
    assert TelemetryConfig.load(home).usage_analytics_enabled is False
    missing = call("show-data", "ffffffffff")
    assert missing.returncode == 1 and missing.stderr.startswith("Error: ")
    assert "Traceback" not in missing.stderr


def test_the_shim_name_resolves_to_the_package() -> None:
    code = "import telemetry_cli; print(telemetry_cli.__file__)"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert out.stdout.strip() == str(REPO / "telemetry_cli" / "__init__.py")
    assert shutil.which("dinoair-telemetry", path=str(BIN))


def test_a_root_without_a_result_is_unknown_not_failed(home: Path) -> None:
    """The run's result is the schema's one definition: no recorded result is not a failure."""
    consent(home)
    provider = configure_tracing("0.1.0", home=home)
    tracer = provider.get_tracer("t")
    with tracer.start_as_current_span(
        "dinoair.install", attributes={attr.INSTALLER_VERSION: "0.1.0"}
    ) as root:
        with tracer.start_as_current_span(
            "step verify", attributes={attr.STEP_NAME: "verify"}
        ) as s:
            s.set_attribute(attr.STEP_STATUS, "completed")
        root.set_status(Status(StatusCode.ERROR, "the run ended oddly"))  # but no result
    provider.shutdown()
    listed = json.loads(run("show-data", "--json").output)["sessions"]
    assert [s["result"] for s in listed] == ["unknown"]
    table = ANSI.sub("", run("show-data").output)
    row = next(line for line in table.splitlines() if line[:4].isdigit())
    assert " unknown " in row and "failed" not in row.split()[3:4]
    waterfall = ANSI.sub("", run("show-data", "--latest").output)
    assert "result unknown" in waterfall
    assert re.search(r"dinoair\.install\s+\S*\s+unknown", waterfall), waterfall
    assert json.loads(run("report", "--json").output)["results"] == {"unknown": 1}


def test_the_cli_imports_only_the_public_root_of_the_core() -> None:
    """``telemetry_cli`` reads data only through names ``otel_local_exporter`` exports."""
    import ast

    deep = []
    for path in sorted((REPO / "telemetry_cli").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else []
            )
            deep += [
                f"{path.name}:{node.lineno} {n}"
                for n in names
                if n.startswith("otel_local_exporter.")
            ]
    assert not deep, deep
