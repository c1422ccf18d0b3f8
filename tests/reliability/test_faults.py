"""Faults in the telemetry home: the installer finishes exactly as it would without telemetry.

Every case runs the real installer twice, once in a run that succeeds and once in a run that
fails (a bad manifest), and compares the exit code with the same run under
``--disable-telemetry``. Telemetry may lose its data; it may never change the outcome, print a
traceback, or leave a half-written JSON file behind.
"""

from __future__ import annotations

import errno
import io
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from otel_local_exporter import TelemetryConfig, load_sessions
from tests.reliability.conftest import (
    Served,
    assert_clean_exit,
    consent,
    fill_up,
    install,
    json_files_parse,
    remount_read_only,
    telemetry,
    tmpfs,
    tree_state,
)

SCENARIOS = ("succeeds", "fails")


@pytest.fixture(scope="module")
def bad_manifest(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("bad-manifest") / "manifest.json"
    path.write_text('{"comfyui": 3}')
    return path


@pytest.fixture(scope="module")
def baseline(
    shared: Served, bad_manifest: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, int]:
    """The exit code of each scenario with telemetry switched off for the run."""
    codes = {}
    for scenario in SCENARIOS:
        target = tmp_path_factory.mktemp("baseline") / "DinoAir"
        result = install(
            target, manifest_for(scenario, shared, bad_manifest), "--disable-telemetry"
        )
        assert_clean_exit(result, 0, 1)
        codes[scenario] = result.returncode
    assert codes == {"succeeds": 0, "fails": 1}
    return codes


def manifest_for(scenario: str, shared: Served, bad_manifest: Path) -> Path:
    return shared.manifest if scenario == "succeeds" else bad_manifest


def run_both(
    trial: Any,
    case: str,
    how: str,
    shared: Served,
    bad_manifest: Path,
    baseline: dict[str, int],
    tmp_path: Path,
    env: dict | None = None,
) -> None:
    """Both scenarios under the fault; each is one try of ``case``."""
    for scenario in SCENARIOS:
        with trial.attempt(case, how=how):
            result = install(
                tmp_path / f"target-{scenario}",
                manifest_for(scenario, shared, bad_manifest),
                env=env,
            )
            assert_clean_exit(result, baseline[scenario])


def test_home_is_a_regular_file(trial, shared, bad_manifest, baseline, tmp_path):
    home = tmp_path / "dinoair-home"
    home.write_bytes(b'{"telemetry_enabled": true}\n')
    before = tree_state(home)
    run_both(
        trial,
        "home is a regular file, not a folder",
        "DINOAIR_HOME names a file; installer run that succeeds and one that fails",
        shared,
        bad_manifest,
        baseline,
        tmp_path,
        env={"DINOAIR_HOME": str(home)},
    )
    assert tree_state(home) == before


def test_home_parent_is_a_regular_file(trial, shared, bad_manifest, baseline, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where a folder should be")
    home = blocker / ".dinoair"
    run_both(
        trial,
        "home's parent is a regular file",
        "DINOAIR_HOME=<file>/.dinoair (ENOTDIR on every access)",
        shared,
        bad_manifest,
        baseline,
        tmp_path,
        env={"DINOAIR_HOME": str(home)},
    )
    assert blocker.read_text() == "a file where a folder should be"


@pytest.fixture
def read_only_home(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A consented home that cannot be written: a read-only mount, or 0500 for a non-root user."""
    mount = tmp_path / "ro-fs"
    with tmpfs(mount) as mounted:
        home = mount / "home"
        if mounted:
            consent(home)
            assert remount_read_only(mount)
            yield home, "consented home on a tmpfs remounted read-only (real EROFS)"
            return
        if os.geteuid() != 0:
            consent(home)
            home.chmod(0o500)
            try:
                yield home, "consented home chmod 0500 as a non-root user (real EACCES)"
            finally:
                home.chmod(0o700)
            return
        pytest.skip("root without mount privileges: no honest way to make a read-only home")


def test_home_is_read_only(trial, shared, bad_manifest, baseline, tmp_path, read_only_home):
    home, how = read_only_home
    before = tree_state(home)
    assert TelemetryConfig.load(home).state == "enabled"
    run_both(
        trial,
        "home is read-only",
        how,
        shared,
        bad_manifest,
        baseline,
        tmp_path,
        env={"DINOAIR_HOME": str(home)},
    )
    with trial.attempt("home is read-only"):
        status = telemetry("status", env={"DINOAIR_HOME": str(home)})
        assert_clean_exit(status, 0)
        shown = telemetry("show-data", env={"DINOAIR_HOME": str(home)})
        assert_clean_exit(shown, 0)
    assert tree_state(home) == before


def test_disk_full_real_enospc(trial, shared, bad_manifest, baseline, tmp_path):
    case = "disk full (ENOSPC on every write)"
    how = "real: home on a 256 KiB tmpfs filled to the last byte"
    mount = tmp_path / "full-fs"
    with tmpfs(mount) as mounted:
        if not mounted:
            trial.skipped(case, "needs root to mount a tmpfs; the in-process ENOSPC case ran", how)
            pytest.skip("cannot mount a tmpfs here")
        home = consent(mount / "home")
        config_before = (home / "telemetry_config.json").read_bytes()
        filled = fill_up(mount)
        with pytest.raises(OSError) as full:
            (mount / "probe").write_bytes(b"x" * 8192)
        assert full.value.errno == errno.ENOSPC, "the file system really is full"
        run_both(
            trial,
            case,
            how,
            shared,
            bad_manifest,
            baseline,
            tmp_path,
            env={"DINOAIR_HOME": str(home)},
        )
        with trial.attempt(case):
            json_files_parse(home)
            assert not list(home.rglob("session_*.json")), "the fault was real: nothing fit"
            assert (home / "telemetry_config.json").read_bytes() == config_before
            assert_clean_exit(telemetry("show-data", env={"DINOAIR_HOME": str(home)}), 0)
            # Space again: the next start leaves no journal behind and reads what is there.
            (mount / "filler.bin").unlink()
            scan = load_sessions(home)
            assert not scan.invalid, scan.invalid
            assert not list((home / "telemetry").glob("*.journal"))
            assert not list(home.rglob("*.tmp"))
        trial.note(case, f"filler {filled // 1024} KiB")


class _FullFile(io.RawIOBase):
    """A file object whose writes fail like a full disk (the descriptor itself is real)."""

    def __init__(self, handle: Any) -> None:
        self._handle = handle

    def write(self, data: Any) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def fileno(self) -> int:
        return self._handle.fileno()

    def flush(self) -> None:
        self._handle.flush()

    def close(self) -> None:
        self._handle.close()
        super().close()


class _FullDiskOs:
    """``os`` for the file-writing modules, with every data write under ``home`` failing with
    ENOSPC (the installer's own files, written by the same code, still go to their disk)."""

    def __init__(self, home: Path) -> None:
        self._home = os.path.realpath(home)

    def __getattr__(self, name: str) -> Any:
        return getattr(os, name)

    @staticmethod
    def write(fd: int, data: bytes) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def fdopen(self, fd: int, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        handle = os.fdopen(fd, mode, *args, **kwargs)
        try:
            where = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            where = self._home  # no /proc: every write fails
        if "r" in mode or not where.startswith(self._home):
            return handle
        return _FullFile(handle)


def _run_in_process(argv: list[str]) -> int:
    from installer.cli import main

    try:
        main(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def test_disk_full_simulated_in_process(
    trial, shared, bad_manifest, baseline, tmp_path, consented_home, monkeypatch, capsys
):
    """The same fault where mounting is not possible: the telemetry modules' writes fail."""
    import otel_local_exporter._fileio as fileio_module
    import otel_local_exporter.journal as journal_module

    case = "disk full, simulated in-process"
    how = (
        "installer run in-process with os.write/os.fdopen of the file-writing modules raising "
        "ENOSPC for every write under the telemetry home"
    )
    before = tree_state(consented_home)
    monkeypatch.setattr(journal_module, "os", _FullDiskOs(consented_home))
    monkeypatch.setattr(fileio_module, "os", _FullDiskOs(consented_home))
    for scenario in SCENARIOS:
        with trial.attempt(case, how=how):
            argv = [
                "--target",
                str(tmp_path / f"t-{scenario}"),
                "--manifest",
                str(manifest_for(scenario, shared, bad_manifest)),
                "--yes",
                "--skip",
                "python_deps",
                "--skip",
                "webgui",
                "--retries",
                "1",
            ]
            assert _run_in_process(argv) == baseline[scenario]
            out = capsys.readouterr()
            assert "Traceback" not in out.out + out.err
    monkeypatch.undo()
    with trial.attempt(case):
        json_files_parse(consented_home)
        after = tree_state(consented_home)
        # At most the empty journals the failed header writes left; the next start removes them.
        extra = {k for k in after if k not in before}
        assert all(k == "telemetry" or k.endswith(".journal") for k in extra), extra
        assert not load_sessions(consented_home).files
        assert not list((consented_home / "telemetry").glob("*.journal"))


def test_config_is_a_folder(trial, shared, bad_manifest, baseline, tmp_path, dinoair_home):
    case = "config is a folder"
    config = dinoair_home / "telemetry_config.json"
    config.mkdir(parents=True)
    (config / "inside.txt").write_text("the user's own file")
    before = tree_state(dinoair_home)
    run_both(
        trial,
        case,
        "telemetry_config.json is a directory holding a file",
        shared,
        bad_manifest,
        baseline,
        tmp_path,
    )
    assert tree_state(dinoair_home) == before
    with trial.attempt(case):
        status = telemetry("status")
        assert_clean_exit(status, 0)
        assert "folder" in status.stdout and "OFF" in status.stdout
        enabled = telemetry("enable", "--yes")
        assert_clean_exit(enabled, 0)
        assert TelemetryConfig.load(dinoair_home).state == "enabled"
        kept = list(dinoair_home.glob("telemetry_config.json.invalid-*"))
        assert len(kept) == 1 and (kept[0] / "inside.txt").read_text() == "the user's own file"


def _sessions(home: Path) -> list[dict]:
    scan = load_sessions(home)
    assert not scan.invalid, scan.invalid
    return [f.data for f in scan.files]


def test_config_changes_between_runs(trial, shared, bad_manifest, baseline, tmp_path, dinoair_home):
    case = "config changes between runs"
    how = (
        "7 runs in one home, the config rewritten before each (on, off, garbage, wrong "
        "type, granular off, deleted, undecided)"
    )
    config = dinoair_home / "telemetry_config.json"
    runs = 0

    def run(scenario: str) -> None:
        nonlocal runs
        runs += 1
        result = install(tmp_path / f"t{runs}", manifest_for(scenario, shared, bad_manifest))
        assert_clean_exit(result, baseline[scenario])

    def unchanged_by(scenario: str) -> None:
        before = tree_state(dinoair_home)
        run(scenario)
        assert tree_state(dinoair_home) == before

    with trial.attempt(case, how=how):
        consent(dinoair_home)
        run("succeeds")
        docs = _sessions(dinoair_home)
        assert len(docs) == 1 and docs[0]["metadata"]["complete"] is True
    with trial.attempt(case):
        data = json.loads(config.read_text())
        config.write_text(json.dumps({**data, "telemetry_enabled": False}))
        unchanged_by("succeeds")
    with trial.attempt(case):
        config.write_text('{"telemetry_enabled": tru')
        unchanged_by("fails")
    with trial.attempt(case):
        config.write_text(json.dumps({**data, "telemetry_enabled": "true"}))
        unchanged_by("succeeds")
    with trial.attempt(case):
        config.unlink()
        consent(dinoair_home, error_reporting=False, usage_analytics=False)
        run("fails")
        docs = _sessions(dinoair_home)
        assert len(docs) == 2
        newest = json.dumps(docs[0])
        assert "exception" not in newest and "installer.arg." not in newest
        assert any(
            e["event_type"] == "error" and e["error_category"] == "configuration"
            for e in docs[0]["events"]
        )
    with trial.attempt(case):
        config.unlink()
        unchanged_by("succeeds")
        assert not config.exists(), "no config is created without consent"
    with trial.attempt(case):
        config.write_text(json.dumps({**data, "telemetry_enabled": None}))
        unchanged_by("fails")


def test_telemetry_folders_are_files(
    trial, shared, bad_manifest, baseline, tmp_path, consented_home
):
    """telemetry/ and crashes/ are regular files: sessions cannot be written, runs go on."""
    case = "telemetry/ and crashes/ are files, not folders"
    (consented_home / "telemetry").write_text("x")
    (consented_home / "crashes").write_text("y")
    before = tree_state(consented_home)
    run_both(
        trial,
        case,
        "both data folders replaced by regular files",
        shared,
        bad_manifest,
        baseline,
        tmp_path,
    )
    with trial.attempt(case):
        assert tree_state(consented_home) == before
        for command in (["status"], ["show-data"], ["report"], ["show-data", "--crashes"]):
            assert_clean_exit(telemetry(*command), 0)


LONG_HOME_HOW = "DINOAIR_HOME with a 300-character name (ENAMETOOLONG on every access)"


def test_home_path_cannot_exist(trial, shared, bad_manifest, baseline, tmp_path):
    """A home that can never exist: the installer runs as without telemetry."""
    home = tmp_path / ("x" * 300)
    run_both(
        trial,
        "home path cannot exist (name too long): installer",
        LONG_HOME_HOW,
        shared,
        bad_manifest,
        baseline,
        tmp_path,
        env={"DINOAIR_HOME": str(home)},
    )
    with trial.attempt("home path cannot exist (name too long): installer"):
        enabled = telemetry("enable", "--yes", env={"DINOAIR_HOME": str(home)})
        assert_clean_exit(enabled, 1)
        assert enabled.stderr.splitlines()[-1].startswith("Error: could not save")


def test_status_survives_a_home_path_that_cannot_exist(trial, tmp_path):
    home = tmp_path / ("x" * 300)
    for command in (["status"], ["status", "--json"], ["clear-data", "--yes"]):
        with trial.attempt(
            "home path cannot exist (name too long): status, clear-data", how=LONG_HOME_HOW
        ):
            assert_clean_exit(telemetry(*command, env={"DINOAIR_HOME": str(home)}), 0)
