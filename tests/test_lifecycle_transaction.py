"""An update is all or nothing (issue 18, point 4): real venvs, real uv, real git, real SIGKILL.

One real install of the demo release (python_deps and verify run for real: uv builds the venv
from the fixture's local torch index and the wheel inside the repository); each test works on a
copy of it. The fixture's ``v0.0.3`` release names a requirement that cannot install.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import git
import pytest
from click.testing import CliRunner

from fixtures.commands import install_command
from fixtures.demo_fixture import Fixture, build_fixture
from installer.lifecycle import transaction
from installer.lifecycle.venv_clone import clone_venv
from installer.steps import comfyui
from otel_local_exporter import load_sessions
from telemetry_cli.cli import cli as telemetry_cli
from tests.contexts import make_ctx
from tests.processes import kill_tree
from tests.test_lifecycle_update import pinned

REPO = Path(__file__).resolve().parent.parent
ARGS = ["--no-models", "--skip", "webgui", "--retries", "0"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Fixture:
    return build_fixture(tmp_path_factory.mktemp("fixture"), model_base_url="http://127.0.0.1:9")


@pytest.fixture(scope="module")
def installed(demo: Fixture, tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("installed") / "DinoAir"
    done = run(install_command(target, demo.manifest, *ARGS))
    assert done.returncode == 0, done.stdout + done.stderr
    return target


@pytest.fixture
def target(installed: Path, tmp_path: Path) -> Path:
    # A venv is not relocatable (its scripts name its path): copy to the same path, by moving
    # the original aside for the duration of the test and back after.
    backup = installed.with_name("DinoAir.pristine")
    shutil.copytree(installed, backup, symlinks=True)
    yield installed
    shutil.rmtree(installed)
    backup.rename(installed)


def run(cmd: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        cmd, cwd=REPO, env=dict(os.environ), text=True, capture_output=True, timeout=300
    )


def head_of(checkout: Path) -> str:
    with git.Repo(checkout) as repo:
        return repo.head.commit.hexsha


def quick_test(target: Path) -> subprocess.CompletedProcess[str]:
    """What start.sh runs, through venv/ as start.sh does: ComfyUI's own quick test."""
    return subprocess.run(
        [str(target / "venv/bin/python"), "main.py", "--quick-test-for-ci", "--cpu"],
        cwd=target / "ComfyUI",
        text=True,
        capture_output=True,
        timeout=60,
    )


def leftovers(target: Path) -> list[str]:
    return sorted(
        p.name for p in target.iterdir() if p.name.startswith(("venv-", "venv.", ".dinoair-update"))
    )


def test_a_failed_update_rolls_back_to_the_release_that_worked(
    target: Path, demo: Fixture, tmp_path: Path
) -> None:
    (target / "ComfyUI/output").mkdir(exist_ok=True)
    (target / "ComfyUI/output/keep.png").write_bytes(b"png")
    venv_before = (target / "venv").resolve()

    done = run(install_command(target, pinned(demo, tmp_path / "b", demo.broken_tag), *ARGS))

    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert any("step 'python_deps' failed" in line for line in lines)
    assert lines[-1] == (
        f"The update to {demo.broken_tag} was rolled back: the previous release "
        f"({demo.commit[:12]}) is still installed, with its venv, and runs."
    )
    assert head_of(target / "ComfyUI") == demo.commit
    assert (target / "venv").resolve() == venv_before and not (target / "venv").is_symlink()
    assert leftovers(target) == []
    assert (target / "ComfyUI/output/keep.png").read_bytes() == b"png"
    assert quick_test(target).returncode == 0


def test_a_good_update_swaps_the_new_venv_in(target: Path, demo: Fixture, tmp_path: Path) -> None:
    done = run(install_command(target, pinned(demo, tmp_path / "n", demo.next_tag), *ARGS))

    assert done.returncode == 0, done.stdout + done.stderr
    assert f"Updated to {demo.next_tag}: the new venv is in use" in done.stdout
    assert head_of(target / "ComfyUI") == demo.head_commit
    assert os.readlink(target / "venv") == transaction.new_venv_name(demo.next_tag)
    assert leftovers(target) == [transaction.new_venv_name(demo.next_tag)]
    assert quick_test(target).returncode == 0
    # Same requirements: the new venv is the old one cloned, nothing installed, and no script
    # in it names the old venv (which is gone).
    assert "started the new venv as a clone of the one in use" in done.stdout
    new_venv = target / transaction.new_venv_name(demo.next_tag)
    for script in (new_venv / "bin").iterdir():
        if script.is_file() and not script.is_symlink():
            old_path = re.escape(str(target / "venv")) + r"(?![\w.-])"  # not venv-<release>
            assert not re.search(old_path, script.read_text(errors="replace")), script

    # The next update (here back to the first release) replaces the link and removes the
    # venv it pointed at.
    back = run(install_command(target, demo.manifest, *ARGS))
    assert back.returncode == 0, back.stdout + back.stderr
    assert os.readlink(target / "venv") == transaction.new_venv_name(demo.tag)
    assert leftovers(target) == [transaction.new_venv_name(demo.tag)]
    assert head_of(target / "ComfyUI") == demo.commit
    assert quick_test(target).returncode == 0


def recover_span(home: Path) -> tuple[dict, dict]:
    """The one ``recover`` phase recorded, and the span of the run it is part of."""
    spans = [span for stored in load_sessions(home).files for span in stored.data["spans"]]
    [recover] = [s for s in spans if s["name"] == "dinoair.phase.recover"]
    by_id = {s["span_id"]: s for s in spans}
    parent = by_id[recover["parent_span_id"]]
    return recover, by_id[parent["parent_span_id"]] if parent["parent_span_id"] else parent


def test_sigkill_during_the_update_then_a_normal_run_works(
    target: Path, demo: Fixture, tmp_path: Path, consented_home: Path
) -> None:
    manifest = pinned(demo, tmp_path / "n", demo.next_tag)
    proc = subprocess.Popen(
        install_command(target, manifest, *ARGS),
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while not (target / transaction.JOURNAL).exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    kill_tree(proc.pid)  # git, mid-update, with it: none runs on beside the next run
    proc.wait()
    assert (target / transaction.JOURNAL).exists(), "killed while the update was under way"

    done = run(install_command(target, manifest, *ARGS))

    assert done.returncode == 0, done.stdout + done.stderr
    assert head_of(target / "ComfyUI") == demo.head_commit
    assert quick_test(target).returncode == 0
    assert leftovers(target) == [transaction.new_venv_name(demo.next_tag)]
    # The rollback that recovery did is part of the telemetry of the run that did it.
    assert f"An interrupted update to {demo.next_tag} was rolled back" in done.stdout
    recover, root = recover_span(consented_home)
    assert root["name"] == "dinoair.install"
    attributes = recover["attributes"]
    assert attributes["installer.phase"] == "recover"
    assert {k[16:]: v for k, v in attributes.items() if k.startswith("installer.phase.")} == {
        "from_commit": demo.commit[:12],
        "to_release": demo.next_tag,
        "state": "updating",
        "result": "rolled_back",
    }
    assert recover["status"]["code"] == "OK"


@pytest.mark.parametrize("stop_after", [0, 1])
def test_sigkill_during_the_swap_leaves_a_working_install(
    target: Path, demo: Fixture, tmp_path: Path, stop_after: int, consented_home: Path
) -> None:
    """The swap, stopped after each of its renames (as a SIGKILL would), then a normal run."""
    manifest = pinned(demo, tmp_path / "n", demo.next_tag)
    ctx = make_ctx(target, manifest)
    comfyui.run(ctx)  # the checkout moves to the next release, the journal is written
    journal = transaction.load(target)
    assert journal is not None and ctx.venv_override == target / journal.new_venv
    shutil.copytree(target / "venv", target / journal.new_venv, symlinks=True)  # "python_deps"
    journal.state = transaction.SWAPPING
    journal.save(target)
    steps = transaction.swap_steps(target, journal)
    for _ in range(stop_after + 1):
        next(steps)
    del steps  # the process dies here: nothing after the last rename runs

    done = run(install_command(target, manifest, *ARGS))

    assert done.returncode == 0, done.stdout + done.stderr
    assert f"Completed the interrupted update to {demo.next_tag}." in done.stdout
    assert os.readlink(target / "venv") == journal.new_venv
    assert leftovers(target) == [journal.new_venv]
    assert quick_test(target).returncode == 0
    recover, _root = recover_span(consented_home)
    assert recover["attributes"]["installer.phase.state"] == "swapping"
    assert recover["attributes"]["installer.phase.result"] == "swapped"


def test_a_rolled_back_update_is_a_span_and_report_counts_it_per_release(
    target: Path, demo: Fixture, tmp_path: Path, consented_home: Path
) -> None:
    good = run(install_command(target, pinned(demo, tmp_path / "n", demo.next_tag), *ARGS))
    assert good.returncode == 0, good.stdout + good.stderr
    bad = run(install_command(target, pinned(demo, tmp_path / "b", demo.broken_tag), *ARGS))
    assert bad.returncode == 1

    docs = [stored.data for stored in load_sessions(consented_home).files]
    spans = [span for doc in docs for span in doc["spans"]]
    rollback = next(s for s in spans if s["name"] == "dinoair.phase.rollback")
    assert rollback["attributes"]["installer.phase.from_release"] == demo.broken_tag
    assert rollback["attributes"]["installer.phase.to_commit"] == demo.head_commit[:12]
    assert rollback["attributes"]["installer.phase.result"] == "rolled_back"
    assert rollback["status"]["code"] == "OK"
    root = next(s for s in spans if s["span_id"] == rollback["parent_span_id"])
    assert root["name"] == "dinoair.install"  # part of the failed run's session, not its own

    report = CliRunner().invoke(telemetry_cli, ["report", "--json"])
    assert report.exit_code == 0, report.output
    rows = {row["release"]: row for row in json.loads(report.output)["releases"]}
    assert rows[demo.next_tag] == {
        "release": demo.next_tag,
        "updates": 1,
        "rollbacks": 0,
        "recovery_rollbacks": 0,
        "recovery_completed": 0,
        "recovery_failed": 0,
        "rollback_rate": 0.0,
    }
    assert rows[demo.broken_tag]["rollbacks"] == 1
    assert rows[demo.broken_tag]["rollback_rate"] == 1.0
    text = CliRunner().invoke(telemetry_cli, ["report"]).output
    assert "Updates by release" in text
    assert demo.broken_tag in text

    # The maintainers' view over an exported bundle counts them the same way.
    bundle = tmp_path / "bundle.json"
    exported = CliRunner().invoke(telemetry_cli, ["export", str(bundle)])
    assert exported.exit_code == 0, exported.output
    # one install: shown with --min-group 1 (by default its releases are folded into 'other')
    fleet = CliRunner().invoke(
        telemetry_cli, ["report", "--from", str(bundle), "--json", "--min-group", "1"]
    )
    assert fleet.exit_code == 0, fleet.output
    assert json.loads(fleet.output)["releases"] == json.loads(report.output)["releases"]
    csv_out = CliRunner().invoke(
        telemetry_cli, ["report", "--from", str(bundle), "--csv", "--min-group", "1"]
    )
    assert f"release,{demo.broken_tag},rollback_rate,1.0" in csv_out.output


@contextlib.contextmanager
def symlinks_refused() -> Iterator[None]:
    """Windows without Developer Mode: creating a symbolic link is refused."""

    def refused(*args: object, **kwargs: object) -> None:
        raise OSError(1314, "A required privilege is not held by the client")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(os, "symlink", refused)
        yield


def updated_to_next(target: Path, demo: Fixture, tmp_path: Path) -> transaction.Journal:
    """The checkout moved to the next release, its venv built beside the old (a real clone,
    whose scripts name ``venv-<release>``), verify passed: the journal ready for the swap."""
    comfyui.run(make_ctx(target, pinned(demo, tmp_path / "n", demo.next_tag)))
    journal = transaction.load(target)
    assert journal is not None
    clone_venv(target / "venv", target / journal.new_venv)
    return journal


def names_folder(venv: Path, folder: Path) -> bool:
    """Whether a script of the venv names ``folder`` (and not a longer name beginning so)."""
    pattern = re.escape(str(folder)) + r"(?![\w.-])"
    return any(
        re.search(pattern, script.read_text(errors="replace"))
        for script in (venv / "bin").iterdir()
        if script.is_file() and not script.is_symlink()
    )


def test_without_symlink_rights_the_swap_renames(
    target: Path, demo: Fixture, tmp_path: Path
) -> None:
    journal = updated_to_next(target, demo, tmp_path)
    new = target / journal.new_venv
    assert names_folder(new, new)

    with symlinks_refused():
        assert transaction.finish(target, True) == "swapped"

    venv = target / "venv"
    assert venv.is_dir() and not venv.is_symlink()
    assert leftovers(target) == [] and not (target / transaction.SWAP_LINK).exists()
    assert names_folder(venv, venv) and not names_folder(venv, new)
    assert quick_test(target).returncode == 0
    assert head_of(target / "ComfyUI") == demo.head_commit
    # The next update on this machine renames again (the venv in use is a real folder).
    comfyui.run(make_ctx(target, demo.manifest))
    again = transaction.load(target)
    assert again is not None and again.old_venv is None
    clone_venv(venv, target / again.new_venv)  # (a POSIX venv has a link inside: lib64)
    with symlinks_refused():
        assert transaction.finish(target, True) == "swapped"
    assert not venv.is_symlink() and leftovers(target) == []
    assert quick_test(target).returncode == 0 and head_of(target / "ComfyUI") == demo.commit


@pytest.mark.parametrize("stop_after", [0, 1])
def test_sigkill_during_the_rename_swap_then_a_normal_run_completes_it(
    target: Path,
    demo: Fixture,
    tmp_path: Path,
    stop_after: int,
    consented_home: Path,
) -> None:
    """Stopped after each rename (0: no venv/ at all), then a normal run, where links can be
    made: the journal says the swap renames, so recovery finishes it by renames."""
    journal = updated_to_next(target, demo, tmp_path)
    journal.state = transaction.SWAPPING
    journal.save(target)
    with symlinks_refused():
        steps = transaction.swap_steps(target, journal)
        done_steps = [next(steps) for _ in range(stop_after + 1)]
        del steps  # the process dies here
    assert done_steps == ["previous_aside", "renamed"][: stop_after + 1]
    saved = transaction.load(target)
    assert saved is not None and saved.swap == transaction.RENAME
    assert (target / "venv").exists() == bool(stop_after)

    done = run(install_command(target, pinned(demo, tmp_path / "n", demo.next_tag), *ARGS))

    assert done.returncode == 0, done.stdout + done.stderr
    assert f"Completed the interrupted update to {demo.next_tag}." in done.stdout
    venv = target / "venv"
    assert venv.is_dir() and not venv.is_symlink()
    assert leftovers(target) == [] and not names_folder(venv, target / journal.new_venv)
    assert quick_test(target).returncode == 0
    recover, _root = recover_span(consented_home)
    assert recover["attributes"]["installer.phase.result"] == "swapped"


def test_recovery_clears_the_locks_a_killed_git_left(demo: Fixture, tmp_path: Path) -> None:
    """git killed mid-update leaves its lock files; every later git command on the checkout
    would then fail ("File exists"). The run that held them is dead: recovery removes them."""
    target = tmp_path / "dinoair"
    comfyui.run(make_ctx(target, demo.manifest))
    transaction.begin(target, demo.commit, demo.next_tag)
    git_dir = target / "ComfyUI" / ".git"
    locks = [
        git_dir / "index.lock",
        git_dir / "HEAD.lock",
        git_dir / "ORIG_HEAD.lock",
        git_dir / "refs" / "tags" / f"{demo.next_tag}.lock",
    ]
    for lock in locks:
        lock.parent.mkdir(parents=True, exist_ok=True)
        lock.write_text("")

    assert transaction.recover(target) == "rolled_back"

    assert [lock for lock in locks if lock.exists()] == []
    comfyui.run(make_ctx(target, pinned(demo, tmp_path / "n", demo.next_tag)))
    assert head_of(target / "ComfyUI") == demo.head_commit
