"""Attacks on the telemetry home: planted links, loose file modes, and the kill switches.

* Symbolic links placed where the telemetry folder, a journal, a session file, a crash report,
  the config or an export is written: nothing may be written (or deleted) through a link
  outside the home. The outside folder is compared entry by entry (content, mode, mtime).
* Modes: every folder 0700 and every file 0600 under the home, whatever the umask.
* Kill switches: for every documented way to switch telemetry off, a full installer run (one
  with an unexpected error, so sessions and crash reports would both be written) leaves a home
  full of data byte-for-byte unchanged: not one file, mode or mtime.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from click.testing import CliRunner
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.id_generator import RandomIdGenerator

from installer.context import InstallContext, Options, Step
from installer.manifest import load_manifest
from installer.runner import run_install
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
from otel_local_exporter.tracing import build_resource
from telemetry_cli.cli import cli
from tests.reliability.conftest import (
    Served,
    assert_clean_exit,
    consent,
    install,
    install_crashing,
    manifest_data,
    telemetry,
    tree_state,
    write_manifest_file,
)

TRACE_ID = 0x5EED0000000000000000000000C0FFEE
SESSION_ID = f"{TRACE_ID:032x}"


def _outside(tmp_path: Path) -> Path:
    """A folder outside the home with something worth protecting in it."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "notes.txt").write_text("the user's own notes\n")
    (outside / "keys.json").write_text('{"keep": true}\n')
    return outside


def _dead_journal(session_id: str) -> str:
    header = {
        "journal": 1,
        "session_id": session_id,
        "pid": 2**22 + 7,
        "process_started": 1.0,
        "created_at": "2024-01-01T00:00:00.000000Z",
        "resource": {},
    }
    span = {
        "trace_id": session_id,
        "span_id": "1" * 16,
        "parent_span_id": None,
        "name": "dinoair.install",
        "kind": "INTERNAL",
        "start_time": "2024-01-01T00:00:00.000000Z",
        "end_time": "2024-01-01T00:00:01.000000Z",
        "duration_ms": 1000.0,
        "status": {"code": "UNSET", "description": None},
        "attributes": {},
        "events": [],
    }
    return json.dumps(header) + "\n" + json.dumps(span) + "\n"


class _FixedIds(RandomIdGenerator):
    """Predictable trace ids, so an attacker's links can be planted at the exact file names."""

    def generate_trace_id(self) -> int:
        return TRACE_ID


def _traced_run(home: Path, *, crash: bool = False) -> None:
    """A short installer-shaped trace through the real exporter, with a predictable trace id."""
    decision = resolve_consent(home=home)
    provider = TracerProvider(
        sampler=ConsentSampler(decision),
        id_generator=_FixedIds(),
        resource=build_resource("dinoair-installer", "0.0.0"),
    )
    provider.add_span_processor(SimpleSpanProcessor(LocalSessionExporter(home)))
    reporter = CrashReporter(home, decision)
    tracer = provider.get_tracer("attack")
    with tracer.start_as_current_span("dinoair.install") as root:
        with tracer.start_as_current_span(
            "dinoair.step.a", attributes={attr.STEP_NAME: "a"}
        ) as span:
            span.set_attribute(attr.STEP_STATUS, "completed")
        if crash:
            context = root.get_span_context()
            reporter.report(
                RuntimeError("boom"),
                category="unexpected",
                step="a",
                trace_id=context.trace_id,
                span_id=context.span_id,
            )
        root.set_attribute(attr.RUN_RESULT, "success")
    provider.shutdown()


def _plant_per_second(folder: Path, pattern: str, target: Path, seconds: range) -> list[Path]:
    """Links named like the files written in the next seconds (names carry a UTC stamp)."""
    links = []
    now = time.time()
    for offset in seconds:
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now + offset))
        link = folder / pattern.format(stamp=stamp)
        link.symlink_to(target)
        links.append(link)
    return links


# -- symbolic links ------------------------------------------------------------------------------

LINKS = "links: nothing written through a link outside the home"


def test_linked_telemetry_folder(
    trial, shared: Served, consented_home: Path, tmp_path: Path
) -> None:
    outside = _outside(tmp_path)
    (consented_home / "telemetry").symlink_to(outside, target_is_directory=True)
    (consented_home / "crashes").symlink_to(outside, target_is_directory=True)
    before = tree_state(outside)
    how = (
        "telemetry/ and crashes/ are links to a folder outside; installer run, then every "
        "CLI command"
    )
    with trial.attempt("link: telemetry/ and crashes/ point outside", how=how):
        assert_clean_exit(install(tmp_path / "t", shared.manifest), 0)
        assert_clean_exit(install_crashing(tmp_path / "t2", shared.manifest, "boom"), 1)
        for command in (
            ["status"],
            ["show-data"],
            ["show-data", "--crashes"],
            ["report"],
            ["export", str(tmp_path / "e.json")],
            ["clear-data", "--yes"],
        ):
            assert_clean_exit(telemetry(*command), 0)
        assert tree_state(outside) == before


def test_linked_telemetry_folder_holding_a_journal(
    trial, shared: Served, consented_home: Path, tmp_path: Path
) -> None:
    outside = _outside(tmp_path)
    (outside / f"{SESSION_ID}.journal").write_text(_dead_journal(SESSION_ID))
    (consented_home / "telemetry").symlink_to(outside, target_is_directory=True)
    before = tree_state(outside)
    how = "telemetry/ links to an outside folder that holds a dead run's journal"
    with trial.attempt("link: telemetry/ points at a folder holding a journal", how=how):
        assert_clean_exit(telemetry("show-data"), 0)
        assert_clean_exit(install(tmp_path / "t", shared.manifest), 0)
        assert tree_state(outside) == before


def test_linked_journal_and_session_files(trial, consented_home: Path, tmp_path: Path) -> None:
    outside = _outside(tmp_path)
    folder = consented_home / "telemetry"
    folder.mkdir(mode=0o700)
    before = tree_state(outside)
    how = (
        "predictable trace id; a link at <id>.journal to an outside file (then a dangling "
        "one): the link is replaced by a regular journal, never written through"
    )
    for target in ("notes.txt", "not-there-yet.json"):
        with trial.attempt("link: at the journal's name", how=how):
            journal = folder / f"{SESSION_ID}.journal"
            journal.symlink_to(outside / target)
            _traced_run(consented_home)
            assert tree_state(outside) == before
            assert not journal.is_symlink() and not journal.exists(), "journal done and removed"
            sessions = load_sessions(consented_home, recover=False).files
            assert [s.path.is_symlink() for s in sessions] == [False]
            sessions[0].path.unlink()
    with trial.attempt(
        "link: at the session file's name",
        how="predictable trace id; links at session_<ts>_<id>.json for every "
        "second of the run: replaced by a regular 0600 file",
    ):
        links = _plant_per_second(
            folder, "session_{stamp}_" + SESSION_ID + ".json", outside / "keys.json", range(-2, 8)
        )
        _traced_run(consented_home)
        assert tree_state(outside) == before
        written = [p for p in links if not p.is_symlink() and p.is_file()]
        assert len(written) == 1, "the link was replaced by a regular session file"
        assert stat.S_IMODE(written[0].stat().st_mode) == 0o600


def test_linked_crash_file_and_folder(trial, consented_home: Path, tmp_path: Path) -> None:
    outside = _outside(tmp_path)
    crashes = consented_home / "crashes"
    crashes.mkdir(mode=0o700)
    before = tree_state(outside)
    with trial.attempt(
        "link: at the crash report's name",
        how="links planted at crash_<ts>_<id>.json for every second",
    ):
        _plant_per_second(
            crashes, "crash_{stamp}_" + SESSION_ID + ".json", outside / "keys.json", range(-2, 8)
        )
        _traced_run(consented_home, crash=True)
        assert tree_state(outside) == before
        assert len(load_crashes(consented_home).files) == 1
    shutil.rmtree(crashes)
    crashes.symlink_to(outside, target_is_directory=True)
    with trial.attempt("link: telemetry/ and crashes/ point outside"):
        _traced_run(consented_home, crash=True)
        assert tree_state(outside) == before


def test_linked_config(trial, shared: Served, dinoair_home: Path, tmp_path: Path) -> None:
    outside = _outside(tmp_path)
    (outside / "config.json").write_text(json.dumps({"telemetry_enabled": True}))
    dinoair_home.mkdir(mode=0o700)
    config = dinoair_home / "telemetry_config.json"
    config.symlink_to(outside / "config.json")
    before = tree_state(outside)
    how = "telemetry_config.json links to an outside file that says yes"
    with trial.attempt("link: at the config's name", how=how):
        status = telemetry("status")
        assert_clean_exit(status, 0)
        assert "symbolic link" in status.stdout and "OFF" in status.stdout
        assert_clean_exit(install(tmp_path / "t", shared.manifest), 0)
        assert not (dinoair_home / "telemetry").exists(), "a linked config is not consent"
        assert tree_state(outside) == before
    for command in ("enable", "disable"):
        with trial.attempt("link: at the config's name"):
            if not config.is_symlink():
                config.unlink()
                config.symlink_to(outside / "config.json")
            assert_clean_exit(telemetry(command, "--yes"), 0)
            assert not config.is_symlink() and stat.S_IMODE(config.stat().st_mode) == 0o600
            kept = sorted(dinoair_home.glob("telemetry_config.json.invalid-*"))
            assert kept and kept[-1].is_symlink(), "the link itself is kept aside"
            for old in kept:
                old.unlink()
            assert tree_state(outside) == before


def test_linked_home(trial, shared: Served, tmp_path: Path) -> None:
    outside = tmp_path / "outside-home"
    outside.mkdir()
    home = tmp_path / "linked-home"
    home.symlink_to(outside, target_is_directory=True)
    env = {"DINOAIR_HOME": str(home)}
    with trial.attempt(
        "link: the home itself is a link",
        how="DINOAIR_HOME is a link to an empty folder; enable, then a run",
    ):
        enabled = telemetry("enable", "--yes", env=env)
        assert_clean_exit(enabled, 1)
        assert "symbolic link" in enabled.stderr
        assert_clean_exit(install(tmp_path / "t", shared.manifest, env=env), 0)
        assert list(outside.iterdir()) == []


def test_journal_with_a_path_as_trace_id(trial, consented_home: Path, tmp_path: Path) -> None:
    outside = _outside(tmp_path)
    folder = consented_home / "telemetry"
    # The only help the traversal needs: a folder named like the first part of the file name.
    (folder / "session_20240101T000000Z_x").mkdir(parents=True)
    sneaky = "x/" + os.path.relpath(outside, folder / "session_20240101T000000Z_x") + "/evil"
    (folder / f"{'e' * 32}.journal").write_text(_dead_journal("e" * 32).replace("e" * 32, sneaky))
    before = tree_state(outside)
    with trial.attempt(
        "hostile journal: a trace id holding '../' (path traversal)",
        how="a dead run's journal whose trace_id is x/../../<outside>/evil; then show-data",
    ):
        assert_clean_exit(telemetry("show-data"), 0)
        assert tree_state(outside) == before, "the recovered session was written outside"


def test_linked_journal_is_not_recovered(trial, consented_home: Path, tmp_path: Path) -> None:
    outside = _outside(tmp_path)
    (outside / "x.journal").write_text(_dead_journal(SESSION_ID))
    folder = consented_home / "telemetry"
    folder.mkdir(mode=0o700)
    (folder / f"{SESSION_ID}.journal").symlink_to(outside / "x.journal")
    before = tree_state(outside)
    with trial.attempt(
        "link: a journal links to a file outside",
        how="the next start must neither read, recover nor delete through it",
    ):
        assert_clean_exit(telemetry("show-data"), 0)
        configure_tracing("1.0", home=consented_home).shutdown()
        assert tree_state(outside) == before


def test_linked_export_target(trial, consented_home: Path, tmp_path: Path) -> None:
    outside = _outside(tmp_path)
    _traced_run(consented_home)
    before = tree_state(outside)
    link = tmp_path / "export.json"
    link.symlink_to(outside / "keys.json")
    with trial.attempt(
        "link: at the export file's name",
        how="export FILE where FILE links outside, with and without --force",
    ):
        refused = telemetry("export", str(link))
        assert_clean_exit(refused, 1)
        assert tree_state(outside) == before
        forced = telemetry("export", str(link), "--force")
        assert_clean_exit(forced, 0)
        assert not link.is_symlink() and stat.S_IMODE(link.stat().st_mode) == 0o600
        assert tree_state(outside) == before


# -- modes ---------------------------------------------------------------------------------------

UMASKS = (0o000, 0o002, 0o022, 0o077)


def _modes(home: Path) -> list[str]:
    wrong = []
    for path in [home, *home.rglob("*")]:
        mode = stat.S_IMODE(path.lstat().st_mode)
        want = 0o700 if path.is_dir() else 0o600
        if mode != want:
            wrong.append(f"{path.relative_to(home)}: {oct(mode)} (want {oct(want)})")
    return wrong


@pytest.mark.parametrize("umask", UMASKS, ids=[f"umask-{u:03o}" for u in UMASKS])
def test_modes_whatever_the_umask(
    trial, shared: Served, dinoair_home: Path, tmp_path: Path, umask: int
) -> None:
    how = (
        "enable, an installer run writing a session and a crash report, an export and a "
        "killed run's journal, all under the umask"
    )
    with trial.attempt("modes: folders 0700, files 0600 under any umask", how=how):

        def set_umask() -> None:
            os.umask(umask)

        env = dict(os.environ)
        done = subprocess.run(
            [sys.executable, "-m", "telemetry_cli", "enable", "--yes"],
            env=env,
            capture_output=True,
            text=True,
            preexec_fn=set_umask,
            check=False,
        )
        assert_clean_exit(done, 0)
        killed = subprocess.run(
            [
                sys.executable,
                "-c",
                "import os, signal\n"
                "from otel_local_exporter import configure_tracing\n"
                "tracer = configure_tracing('1').get_tracer('t')\n"
                "with tracer.start_as_current_span('root'):\n"
                "    with tracer.start_as_current_span('child'):\n"
                "        pass\n"
                "    os.kill(os.getpid(), signal.SIGKILL)\n",
            ],
            env=env,
            capture_output=True,
            preexec_fn=set_umask,
            check=False,
        )
        assert killed.returncode == -9
        assert list((dinoair_home / "telemetry").glob("*.journal"))
        crashed = install_crashing(tmp_path / "t2", shared.manifest, "boom", preexec_fn=set_umask)
        assert_clean_exit(crashed, 1)
        assert list((dinoair_home / "telemetry").glob("session_*.json"))
        assert list((dinoair_home / "crashes").glob("crash_*.json"))
        old = os.umask(umask)
        try:
            out = tmp_path / "export.json"
            exported = CliRunner().invoke(cli, ["export", str(out)])
            assert exported.exit_code == 0, exported.output
        finally:
            os.umask(old)
        assert stat.S_IMODE(out.stat().st_mode) == 0o600
        assert not _modes(dinoair_home), _modes(dinoair_home)


# -- kill switches -------------------------------------------------------------------------------

SWITCHES = [
    ("DINOAIR_DISABLE_TELEMETRY=1", {"DINOAIR_DISABLE_TELEMETRY": "1"}, ()),
    ("DINOAIR_DISABLE_TELEMETRY=On", {"DINOAIR_DISABLE_TELEMETRY": "On"}, ()),
    ("DO_NOT_TRACK=1", {"DO_NOT_TRACK": "1"}, ()),
    ("DO_NOT_TRACK=anything", {"DO_NOT_TRACK": "please"}, ()),
    ("OTEL_SDK_DISABLED=true", {"OTEL_SDK_DISABLED": "true"}, ()),
    ("--disable-telemetry", {}, ("--disable-telemetry",)),
    ("dinoair-telemetry disable", "cli-disable", ()),
    ("config edited: telemetry_enabled false", "edit-false", ()),
    ("config undecided: telemetry_enabled null", "edit-null", ()),
]


def _populated_home(root: Path) -> Path:
    """A consented home holding a session, a dead run's journal and a crash report."""
    home = consent(root / "template")
    _traced_run(home, crash=True)
    (home / "telemetry" / f"{'d' * 32}.journal").write_text(_dead_journal("d" * 32))
    os.chmod(home / "telemetry" / f"{'d' * 32}.journal", 0o600)
    assert load_sessions(home, recover=False).files and load_crashes(home).files
    return home


def test_kill_switches_leave_the_home_untouched(trial, shared: Served, tmp_path: Path) -> None:
    template = _populated_home(tmp_path)

    def one(index_switch: tuple[int, tuple]) -> tuple[str, str | None]:
        index, (name, how, args) = index_switch
        home = tmp_path / f"home{index:02d}"
        shutil.copytree(template, home, symlinks=True)
        env: dict[str, str] = {"DINOAIR_HOME": str(home)}
        if how == "cli-disable":
            assert_clean_exit(telemetry("disable", "--yes", env=env), 0)
        elif how in ("edit-false", "edit-null"):
            config = json.loads((home / "telemetry_config.json").read_text())
            config["telemetry_enabled"] = False if how == "edit-false" else None
            (home / "telemetry_config.json").write_text(json.dumps(config))
        else:
            env.update(how)
        before = tree_state(home)
        try:
            result = install_crashing(
                tmp_path / f"t{index}", shared.manifest, f"boom in {home}", *args, env=env
            )
            assert_clean_exit(result, 1)
            assert "crash report" not in result.stderr
            after = tree_state(home)
            assert after == before, sorted(set(after.items()) ^ set(before.items()))
        except AssertionError as exc:
            return name, str(exc)
        return name, None

    with ThreadPoolExecutor(2) as pool:
        outcomes = list(pool.map(one, enumerate(SWITCHES)))
    for name, problem in outcomes:
        trial.record(
            f"kill switch: {name}",
            held=problem is None,
            how="a run with an unexpected error; home with config, session, journal "
            "and crash report compared entry by entry (bytes, mode, mtime)",
        )
    problems = [f"{name}: {problem}" for name, problem in outcomes if problem]
    assert not problems, "\n".join(problems)


SPELLINGS = {
    "DINOAIR_DISABLE_TELEMETRY": [
        "1",
        "true",
        "TRUE",
        "True",
        "yes",
        "YES",
        "on",
        "ON",
        " 1 ",
        "On",
    ],
    "DO_NOT_TRACK": ["1", "true", "yes", "2", "anything", " x"],
    "OTEL_SDK_DISABLED": ["true", "TRUE", "True", " true "],
}
NOT_SWITCHES = {
    "DINOAIR_DISABLE_TELEMETRY": ["", "0", "false", "no", "off", "2"],
    "DO_NOT_TRACK": ["", "0", " "],
    "OTEL_SDK_DISABLED": ["", "false", "1", "yes"],
}


def test_kill_switch_spellings(trial, consented_home: Path, monkeypatch) -> None:
    """Every documented spelling switches the whole pipeline off (in-process, cheap)."""
    (consented_home / "telemetry").mkdir(mode=0o700)
    journal = consented_home / "telemetry" / f"{'d' * 32}.journal"
    journal.write_text(_dead_journal("d" * 32))  # recovery would change the home
    for name, values in SPELLINGS.items():
        for value in values:
            with trial.attempt(
                "kill switch: every documented spelling, in-process",
                how="each value in the sampler, exporter, crash reporter and "
                "journal recovery, home compared entry by entry",
            ):
                monkeypatch.setenv(name, value)
                before = tree_state(consented_home)
                _traced_run(consented_home, crash=True)
                configure_tracing("1", home=consented_home).shutdown()
                load_sessions(consented_home)
                assert tree_state(consented_home) == before
                monkeypatch.delenv(name)
    for name, values in NOT_SWITCHES.items():
        for value in values:
            with trial.attempt(
                "kill switch: values that are not a switch stay on",
                how="empty, 0, false... record as usual",
            ):
                monkeypatch.setenv(name, value)
                assert resolve_consent(home=consented_home).enabled, (name, value)
                monkeypatch.delenv(name)


def test_kill_switch_without_any_home(
    trial, shared: Served, dinoair_home: Path, tmp_path: Path
) -> None:
    with trial.attempt(
        "kill switch: no config at all (never asked, no terminal)",
        how="home does not exist before; a run with an unexpected error",
    ):
        assert_clean_exit(install_crashing(tmp_path / "t", shared.manifest, "boom"), 1)
        assert not dinoair_home.exists()


def test_crash_report_in_process_honours_switches(
    trial, demo, consented_home: Path, tmp_path: Path, monkeypatch
) -> None:
    """The runner and CrashReporter in-process, a switch set after the reporter was built."""

    def explode(ctx: InstallContext) -> None:
        raise RuntimeError("boom")

    before = tree_state(consented_home)
    provider = configure_tracing("1.0", home=consented_home)
    reporter = CrashReporter(consented_home, resolve_consent(home=consented_home))
    monkeypatch.setenv("DO_NOT_TRACK", "1")
    with trial.attempt(
        "kill switch: set mid-run (after tracing was configured)",
        how="DO_NOT_TRACK=1 set after configure_tracing and CrashReporter",
    ):
        ctx = InstallContext(
            options=Options(target=tmp_path / "t"),
            manifest=load_manifest(
                write_manifest_file(
                    tmp_path / "manifest.json", manifest_data(demo, "http://127.0.0.1:9")
                )
            ),
            echo=lambda line: None,
        )

        def on_crash(exc, category, step, span_context):
            return reporter.report(exc, category=category, step=step)

        result = run_install(
            (Step("boom", run=explode, describe=lambda c: "x"),),
            ctx,
            provider.get_tracer("t"),
            on_crash=on_crash,
        )
        provider.shutdown()
        assert result.exit_code == 1 and result.crash_report is None
        assert tree_state(consented_home) == before
    assert TelemetryConfig.load(consented_home).state == "enabled"
