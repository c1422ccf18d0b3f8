"""An install that lives for years (issue 18): kills, full disks, dirty checkouts, other file
systems and links out, each tried for real against the installer's lifecycle."""

from __future__ import annotations

import errno
import json
import os
import random
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import git
import psutil
import pytest

from fixtures.commands import install_command
from fixtures.demo_fixture import Fixture, build_fixture
from fixtures.package_index import PackageIndex
from installer.lifecycle import transaction
from installer.lifecycle.venv_clone import clone_venv
from installer.steps import comfyui
from installer.steps.python_deps import VENV_MARKER
from tests.contexts import make_ctx
from tests.mounts import tmpfs
from tests.processes import kill_tree
from tests.test_lifecycle_models import assert_migrated, migrate_and_count, old_layout_install
from tests.test_lifecycle_nodes import add_node
from tests.test_lifecycle_transaction import names_folder, symlinks_refused
from tests.test_lifecycle_update import add_user_files, assert_user_files, pinned

REPO = Path(__file__).resolve().parents[2]
ARGS = ["--no-models", "--skip", "webgui", "--retries", "0"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Fixture:
    return build_fixture(tmp_path_factory.mktemp("fixture"), model_base_url="http://127.0.0.1:9")


def run(
    cmd: list[str], timeout: float = 300, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        cmd, cwd=REPO, env=env or dict(os.environ), text=True, capture_output=True, timeout=timeout
    )


def head_of(checkout: Path) -> str:
    with git.Repo(checkout) as repo:
        return repo.head.commit.hexsha


def quick_test_passes(target: Path) -> bool:
    done = subprocess.run(
        [str(target / "venv/bin/python"), "main.py", "--quick-test-for-ci", "--cpu"],
        cwd=target / "ComfyUI",
        capture_output=True,
        timeout=60,
    )
    return done.returncode == 0


def test_sigkill_during_an_update(trial, demo: Fixture, tmp_path: Path) -> None:
    name = "lifecycle: SIGKILL during an update, then a normal run"
    how = (
        "a real install of v0.0.1, then the update to v0.0.2 killed (SIGKILL to the installer "
        "and every process below it, each stopped first so none escapes) at a random moment "
        "0-1.2 s after its journal appeared (the update takes about 0.5 s on an idle machine); "
        "the next run must end with v0.0.2 whose venv passes ComfyUI's quick test"
    )
    target = tmp_path / "DinoAir"
    assert run(install_command(target, demo.manifest, *ARGS)).returncode == 0
    pristine = tmp_path / "pristine"
    shutil.copytree(target, pristine, symlinks=True)
    manifest = pinned(demo, tmp_path / "n", demo.next_tag)
    rng = random.Random(18)
    killed = 0
    for _ in range(4):
        with trial.attempt(name, how=how):
            proc = subprocess.Popen(
                install_command(target, manifest, *ARGS),
                cwd=REPO,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            deadline = time.monotonic() + 120
            while not (target / transaction.JOURNAL).exists() and time.monotonic() < deadline:
                time.sleep(0.005)
            time.sleep(rng.uniform(0, 1.2))
            killed += kill_tree(proc.pid) > 0  # uv or git killed with the installer
            proc.wait()
            done = run(install_command(target, manifest, *ARGS))
            assert done.returncode == 0, done.stdout + done.stderr
            assert head_of(target / "ComfyUI") == demo.head_commit
            assert quick_test_passes(target)
            assert not (target / transaction.JOURNAL).exists()
        shutil.rmtree(target)
        shutil.copytree(pristine, target, symlinks=True)
    trial.note(name, f"{killed} of 4 runs were still running when killed")


def test_disk_full_during_the_new_venv(trial, demo: Fixture, tmp_path: Path) -> None:
    name = "lifecycle: disk full while the update builds its new venv"
    how = (
        "target on a 1.2 GiB tmpfs with v0.0.1 installed, 101 MiB free (preflight passes); the "
        "moment the update's journal appears the disk is filled to 64 KiB free, so the new "
        "venv cannot be built (the old venv's completion marker is removed first, so the new "
        "venv is built from nothing: a hard-linked clone of the old needs no space); the run "
        "must exit 1, roll back, and leave v0.0.1 whose venv passes the quick test"
    )
    mount = tmp_path / "disk"
    with tmpfs(mount, size="1200m") as mounted:
        if not mounted:
            trial.skipped(name, "cannot mount a tmpfs here (needs root on Linux)", how=how)
            pytest.skip("cannot mount a tmpfs here")
        with trial(name, how=how):
            target = mount / "DinoAir"
            first = run(install_command(target, demo.manifest, *ARGS))
            assert first.returncode == 0, first.stdout + first.stderr
            (target / "venv" / VENV_MARKER).unlink()  # no clone: the venv is built afresh
            filled = threading.Event()

            with (mount / "filler-1").open("wb") as handle:  # preflight's re-run margin passes
                free = psutil.disk_usage(str(mount)).free
                os.posix_fallocate(handle.fileno(), 0, free - 101 * 2**20)

            def fill() -> None:  # another program takes the disk as the update starts
                deadline = time.monotonic() + 120
                while not (target / transaction.JOURNAL).exists() and time.monotonic() < deadline:
                    time.sleep(0.001)
                with (mount / "filler-2").open("wb") as handle:
                    for _ in range(20):  # the update writes too: measure again if it won
                        free = psutil.disk_usage(str(mount)).free
                        try:
                            os.posix_fallocate(handle.fileno(), 0, free - 64 * 1024)
                            break
                        except OSError as exc:
                            if exc.errno != errno.ENOSPC:
                                raise
                filled.set()

            filler = threading.Thread(target=fill, daemon=True)
            filler.start()
            done = run(install_command(target, pinned(demo, tmp_path / "n", demo.next_tag), *ARGS))
            filler.join(timeout=5)
            assert filled.is_set(), "the update never started"
            assert done.returncode == 1, done.stdout + done.stderr
            assert "step 'python_deps' failed (system)" in done.stderr
            assert "was rolled back: the previous release" in done.stderr
            assert head_of(target / "ComfyUI") == demo.commit
            assert quick_test_passes(target)
            assert not list(target.glob("venv-*")) and not (target / transaction.JOURNAL).exists()


def test_update_with_a_dirty_checkout(trial, demo: Fixture, tmp_path: Path) -> None:
    name = "lifecycle: update with a dirty checkout"
    how = (
        "a tracked file edited, a custom node, an output, settings and a model added; the "
        "update to v0.0.2 must keep all of them (the edit re-applied and kept in git stash)"
    )
    with trial(name, how=how):
        target = tmp_path / "dinoair"
        comfyui.run(make_ctx(target, demo.manifest))
        add_user_files(target / "ComfyUI")
        comfyui.run(make_ctx(target, pinned(demo, tmp_path / "n", demo.next_tag)))
        assert head_of(target / "ComfyUI") == demo.head_commit
        assert_user_files(target / "ComfyUI")


def test_model_folder_on_another_file_system(trial, demo: Fixture, tmp_path: Path) -> None:
    name = "lifecycle: models/ on another file system than the checkout"
    how = (
        "an old install's models inside ComfyUI/models, the new models/ a tmpfs mount: the "
        "migration copies, verifies SHA-256 and deletes; 0 requests to the model server"
    )
    target = tmp_path / "dinoair"
    old_layout_install(demo, target)
    with tmpfs(target / "models", size="16m") as mounted:
        if not mounted:
            trial.skipped(name, "cannot mount a tmpfs here (needs root on Linux)", how=how)
            pytest.skip("cannot mount a tmpfs here")
        with trial(name, how=how):
            _lines, requests = migrate_and_count(demo, target)
            assert requests == 0
            assert_migrated(demo, target)


def test_uninstall_of_a_folder_with_a_symlink_out(trial, tmp_path: Path) -> None:
    name = "lifecycle: uninstall of a folder with symlinks out of it"
    how = (
        "an install folder whose models/, a custom node and a file are links to folders and "
        "files outside it; --uninstall --yes removes the links, and nothing outside changes"
    )
    with trial(name, how=how):
        outside = tmp_path / "outside"
        (outside / "models").mkdir(parents=True)
        (outside / "models" / "big.safetensors").write_bytes(b"m" * 10_000)
        (outside / "notes.txt").write_text("mine")
        target = tmp_path / "DinoAir"
        (target / "ComfyUI" / "custom_nodes").mkdir(parents=True)
        summary = {"installer_version": "0", "paths": {"comfyui": "ComfyUI"}}
        (target / "install_summary.json").write_text(json.dumps(summary))
        (target / "models").symlink_to(outside / "models", target_is_directory=True)
        (target / "ComfyUI/custom_nodes/n").symlink_to(outside, target_is_directory=True)
        (target / "notes.txt").symlink_to(outside / "notes.txt")
        done = run(
            [sys.executable, "-m", "installer", "--target", str(target), "--uninstall", "--yes"]
        )
        assert done.returncode == 0, done.stderr
        assert not target.exists()
        assert (outside / "models" / "big.safetensors").read_bytes() == b"m" * 10_000
        assert (outside / "notes.txt").read_text() == "mine"


def test_an_update_with_a_custom_node_whose_requirements_fail(trial, demo: Fixture, tmp_path: Path):
    name = "lifecycle: update with a custom node whose requirements fail"
    how = (
        "v0.0.1 installed with two custom nodes, one needing a package the (local) index has, "
        "one a package that does not exist; the update to v0.0.2 must succeed with the first "
        "node's requirement in the new venv (torch held), the second moved to "
        "custom_nodes.disabled/ and named; with --strict-nodes the update fails and rolls back, "
        "the node left in place"
    )
    index = PackageIndex()
    index.add("node-helper", "1.0.0", uploaded="2023-06-01T00:00:00Z")
    with index, trial(name, how=how):
        env = {**os.environ, "PIP_INDEX_URL": index.url}
        target = tmp_path / "DinoAir"
        first = run(install_command(target, demo.manifest, *ARGS), env=env)
        assert first.returncode == 0, first.stdout + first.stderr
        pristine = tmp_path / "pristine"
        shutil.copytree(target, pristine, symlinks=True)
        manifest = pinned(demo, tmp_path / "n", demo.next_tag)
        for strict in (False, True):
            checkout = target / "ComfyUI"
            add_node(checkout, "good", "node-helper==1.0.0\n")
            broken = add_node(checkout, "broken", "dinoair-no-such-package==1.0\n")
            extra = ["--strict-nodes"] if strict else []
            done = run(install_command(target, manifest, *ARGS, *extra), env=env)
            if strict:
                assert done.returncode == 1, done.stdout + done.stderr
                assert "step 'custom_nodes' failed (installation)" in done.stderr
                assert "was rolled back: the previous release" in done.stderr
                assert head_of(checkout) == demo.commit and broken.is_dir()
            else:
                assert done.returncode == 0, done.stdout + done.stderr
                assert "Custom node broken disabled" in done.stdout
                assert (checkout / "custom_nodes.disabled" / "broken").is_dir()
                assert head_of(checkout) == demo.head_commit
                probe = "from importlib.metadata import version as v\n"
                probe += "print(v('node-helper'), v('torch'))"
                held = subprocess.run(
                    [str(target / "venv/bin/python"), "-c", probe], capture_output=True, text=True
                )
                assert held.stdout.split() == ["1.0.0", "2.8.0+cpu"], held.stderr
            assert quick_test_passes(target)
            shutil.rmtree(target)
            shutil.copytree(pristine, target, symlinks=True)


def test_sigkill_during_the_rename_swap(trial, demo: Fixture, tmp_path: Path) -> None:
    name = "lifecycle: SIGKILL during the rename swap (no symlink rights)"
    how = (
        "os.symlink refused as on Windows without Developer Mode, so the venv swap renames "
        "(venv -> venv.previous, venv-<release> -> venv); stopped after each rename (after the "
        "first there is no venv/ at all), then a normal run: it must complete the swap by "
        "renames, and the venv/ that results passes the quick test, its scripts naming venv/"
    )
    target = tmp_path / "DinoAir"
    assert run(install_command(target, demo.manifest, *ARGS)).returncode == 0
    pristine = tmp_path / "pristine"
    shutil.copytree(target, pristine, symlinks=True)
    manifest = pinned(demo, tmp_path / "n", demo.next_tag)
    for stop_after in (0, 1):
        with trial.attempt(name, how=how):
            comfyui.run(make_ctx(target, manifest))
            journal = transaction.load(target)
            assert journal is not None
            clone_venv(target / "venv", target / journal.new_venv)
            journal.state = transaction.SWAPPING
            journal.save(target)
            with symlinks_refused():
                steps = transaction.swap_steps(target, journal)
                for _ in range(stop_after + 1):
                    next(steps)
                del steps  # killed here
            done = run(install_command(target, manifest, *ARGS))
            assert done.returncode == 0, done.stdout + done.stderr
            assert "Completed the interrupted update" in done.stdout
            venv = target / "venv"
            assert venv.is_dir() and not venv.is_symlink()
            assert not names_folder(venv, target / journal.new_venv)
            assert quick_test_passes(target)
            assert not (target / transaction.JOURNAL).exists()
        shutil.rmtree(target)
        shutil.copytree(pristine, target, symlinks=True)
