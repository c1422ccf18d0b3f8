"""--uninstall and --repair (issue 18, point 6), run as a user runs them, on a real install."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from fixtures.commands import install_command
from fixtures.demo_fixture import Fixture, build_fixture, write_manifest
from fixtures.model_server import ModelServer
from otel_local_exporter import load_sessions
from tests.conftest import snapshot

REPO = Path(__file__).resolve().parent.parent
FAST = ["--skip", "python_deps", "--skip", "webgui", "--retries", "1"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Fixture:
    return build_fixture(tmp_path_factory.mktemp("fixture"))


@pytest.fixture(scope="module")
def installed(demo: Fixture, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One real install (models downloaded from a loopback server), copied by each test."""
    target = tmp_path_factory.mktemp("installed") / "DinoAir"
    with ModelServer(demo.models_dir) as server:
        manifest = write_manifest(demo, server.base_url)
        done = run(install_command(target, manifest, *FAST))
    assert done.returncode == 0, done.stdout + done.stderr
    return target


@pytest.fixture
def target(installed: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "DinoAir"
    shutil.copytree(installed, copy, symlinks=True)
    return copy


def run(cmd: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        cmd,
        cwd=REPO,
        env={**os.environ, **(env or {})},
        text=True,
        capture_output=True,
        timeout=240,
        stdin=subprocess.DEVNULL,
    )


def uninstall(target: Path, *args: str) -> subprocess.CompletedProcess[str]:
    import sys

    return run([sys.executable, "-m", "installer", "--target", str(target), "--uninstall", *args])


def test_uninstall_needs_yes_without_a_terminal_and_removes_nothing(target: Path) -> None:
    before = snapshot(target)
    done = uninstall(target)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "Error: nothing was removed: confirm with --yes when there is no terminal to ask"
    ]
    assert "models/ (" in done.stdout and "ComfyUI/ (" in done.stdout  # what, with sizes
    assert snapshot(target) == before


def test_uninstall_removes_the_folder_and_keeps_telemetry(
    target: Path, consented_home: Path
) -> None:
    consented_home.joinpath("keep.txt").write_text("mine")
    done = uninstall(target, "--yes")
    assert done.returncode == 0, done.stderr
    assert not target.exists()
    assert consented_home.joinpath("keep.txt").read_text() == "mine"
    assert "keeps the telemetry data" in done.stdout
    assert done.stdout.strip().splitlines()[-1].startswith("Removed ")


def test_uninstall_keep_models_keeps_only_models_and_their_yaml(
    target: Path, demo: Fixture
) -> None:
    done = uninstall(target, "--yes", "--keep-models")
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in target.iterdir()) == ["ComfyUI", "models"]
    assert sorted(p.name for p in (target / "ComfyUI").iterdir()) == ["extra_model_paths.yaml"]
    for model in demo.models:
        assert (target / "models/checkpoints" / model.name).read_bytes() == model.path.read_bytes()
    assert "the models stay in models/" in done.stdout


def test_uninstall_remove_telemetry_data(target: Path, consented_home: Path) -> None:
    done = uninstall(target, "--yes", "--remove-telemetry-data")
    assert done.returncode == 0, done.stderr
    assert not target.exists() and not consented_home.exists()


def test_uninstall_refuses_a_folder_that_is_not_an_install(tmp_path: Path) -> None:
    folder = tmp_path / "Documents"
    folder.mkdir()
    (folder / "thesis.txt").write_text("years of work")
    (folder / "install_summary.json").write_text('{"not": "ours"}')
    before = snapshot(folder)
    done = uninstall(folder, "--yes")
    assert done.returncode == 1
    assert "is not a DinoAir install" in done.stderr and len(done.stderr.splitlines()) == 1
    assert snapshot(folder) == before


def test_uninstall_never_follows_a_symlink_out(target: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "precious.bin").write_bytes(b"x" * 4096)
    (target / "output-elsewhere").symlink_to(outside, target_is_directory=True)
    (target / "ComfyUI/custom_nodes/linked").symlink_to(outside, target_is_directory=True)
    link = tmp_path / "link-to-install"
    link.symlink_to(target, target_is_directory=True)

    refused = uninstall(link, "--yes")
    assert refused.returncode == 1 and "is a symbolic link" in refused.stderr
    assert target.is_dir()

    done = uninstall(target, "--yes")
    assert done.returncode == 0, done.stderr
    assert "output-elsewhere (link only; what it points to stays)" in done.stdout
    assert not target.exists()
    assert (outside / "precious.bin").read_bytes() == b"x" * 4096


def test_keep_models_without_uninstall_is_a_usage_error(tmp_path: Path) -> None:
    import sys

    done = run([sys.executable, "-m", "installer", "--target", str(tmp_path), "--keep-models"])
    assert done.returncode == 2 and "go with --uninstall" in done.stderr


def test_repair_refetches_only_the_broken_model(
    target: Path, demo: Fixture, consented_home: Path
) -> None:
    broken, fine = demo.models
    path = target / "models/checkpoints" / broken.name
    stat = path.stat()
    path.write_bytes(b"\0" * broken.size)  # bit rot: same size and time, only a hash can tell
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    fine_path = target / "models/checkpoints" / fine.name
    fine_inode = fine_path.stat().st_ino
    with ModelServer(demo.models_dir) as server:
        manifest = write_manifest(demo, server.base_url)
        plain = run(install_command(target, manifest, *FAST))  # a re-run trusts its records
        assert plain.returncode == 0 and server.requests == []
        done = run(install_command(target, manifest, *FAST, "--repair"))
        fetched = {r.path.lstrip("/") for r in server.requests if r.method == "GET"}
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Repair: checking again" in done.stdout
    assert fetched == {broken.name}
    assert path.read_bytes() == broken.path.read_bytes()
    assert fine_path.stat().st_ino == fine_inode  # the good one was not touched
    # What was checked and fixed: one line at the end, and the repair phase span of the run.
    assert (
        "Repair: checked the checkout, 2 model file(s), 3 launch script(s); fixed: "
        "1 model file(s) fetched again."
    ) in done.stdout.splitlines()
    docs = [stored.data for stored in load_sessions(consented_home).files]
    [repair] = [s for doc in docs for s in doc["spans"] if s["name"] == "dinoair.phase.repair"]
    counts = {
        k.removeprefix("installer.phase."): v
        for k, v in repair["attributes"].items()
        if k.startswith("installer.phase.")
    }
    assert counts == {
        "records_reset": 1,
        "checkout_checked": 1,
        "checkout_fixed": 0,
        "models_checked": 2,
        "models_fixed": 1,
        "scripts_checked": 3,
        "scripts_fixed": 0,
        "result": "repaired",
    }
    root = next(s for doc in docs for s in doc["spans"] if s["span_id"] == repair["parent_span_id"])
    assert root["name"] == "dinoair.install" and root["attributes"]["installer.arg.repair"]


def test_uninstall_is_a_session_of_its_own_with_consent(target: Path, consented_home: Path) -> None:
    refused = uninstall(target)  # no --yes, no terminal: nothing removed, a failed session
    assert refused.returncode == 1
    done = uninstall(target, "--yes", "--keep-models")
    assert done.returncode == 0, done.stderr

    docs = [stored.data for stored in load_sessions(consented_home).files]
    roots = [s for doc in docs for s in doc["spans"] if s["parent_span_id"] is None]
    assert sorted(r["attributes"]["installer.result"] for r in roots) == ["failed", "success"]
    assert {r["name"] for r in roots} == {"dinoair.uninstall"}
    phases = [s for doc in docs for s in doc["spans"] if s["name"] == "dinoair.phase.uninstall"]
    ok = next(
        p["attributes"] for p in phases if p["attributes"]["installer.phase.result"] == "success"
    )
    assert ok["installer.phase.bytes_removed"] > 0
    assert ok["installer.phase.bytes_kept"] > 0  # the models
    assert ok["installer.phase.keep_models"] is True
    assert str(target) not in json.dumps(docs)  # no path: only sizes and the result


def test_uninstall_records_nothing_without_consent(target: Path, dinoair_home: Path) -> None:
    done = uninstall(target, "--yes")
    assert done.returncode == 0, done.stderr
    assert load_sessions(dinoair_home).files == []
