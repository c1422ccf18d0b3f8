"""Custom nodes' requirements (issue 18, point 5): real node folders, a real package index on
127.0.0.1 as the user's index, the real uv, real venvs and (end to end) a real update.

The index serves a helper a node needs, a package that needs torch (any torch: the held build
must stay) and a newer torch that would win if it were not held. A node asking for a package the
index does not have, or for that newer torch, cannot install: it is disabled (moved to
``custom_nodes.disabled/``), or with ``--strict-nodes`` the run fails and an update rolls back.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from fixtures.commands import install_command
from fixtures.demo_fixture import Fixture, build_fixture
from fixtures.package_index import PackageIndex
from installer.context import StepSkipped
from installer.errors import INSTALLATION, InstallError
from installer.lifecycle import transaction
from installer.steps import comfyui, custom_nodes, python_deps
from otel_local_exporter import load_sessions
from tests.contexts import Events, make_ctx
from tests.test_lifecycle_update import pinned

REPO = Path(__file__).resolve().parent.parent
ARGS = ["--no-models", "--skip", "webgui", "--retries", "0"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Fixture:
    return build_fixture(tmp_path_factory.mktemp("fixture"), model_base_url="http://127.0.0.1:9")


@pytest.fixture(scope="module")
def index() -> Iterator[PackageIndex]:
    """The user's index (uploaded before the demo release's date)."""
    served = PackageIndex()
    served.add("node-helper", "1.0.0", uploaded="2023-06-01T00:00:00Z")
    served.add("needs-torch", "1.0.0", requires=["torch"], uploaded="2023-06-01T00:00:00Z")
    served.add("torch", "9.9.9", uploaded="2023-06-01T00:00:00Z")
    with served:
        yield served


@pytest.fixture
def user_index(index: PackageIndex, monkeypatch: pytest.MonkeyPatch) -> PackageIndex:
    monkeypatch.setenv("PIP_INDEX_URL", index.url)
    return index


def add_node(checkout: Path, name: str, requirements: str) -> Path:
    node = checkout / "custom_nodes" / name
    node.mkdir(parents=True, exist_ok=True)
    (node / "__init__.py").write_text("NODE_CLASS_MAPPINGS = {}\n")
    (node / "requirements.txt").write_text(requirements)
    return node


def versions(python: Path, *names: str) -> dict[str, str]:
    code = (
        "import json, sys\nfrom importlib import metadata\nout = {}\nfor n in sys.argv[1:]:\n"
        "    try:\n        out[n] = metadata.version(n)\n"
        "    except metadata.PackageNotFoundError:\n        pass\nprint(json.dumps(out))"
    )
    done = subprocess.run(
        [str(python), "-c", code, *names], capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout)


def installed_venv(demo: Fixture, target: Path) -> None:
    """ComfyUI cloned and its requirements installed for real (torch 2.8.0+cpu held)."""
    ctx = make_ctx(target, demo.manifest, retries=0, timeout=5)
    comfyui.run(ctx)
    python_deps.run(ctx)


def test_each_nodes_requirements_install_with_torch_held_and_a_failing_node_is_disabled(
    demo: Fixture, user_index: PackageIndex, tmp_path: Path
) -> None:
    target = tmp_path / "dinoair"
    installed_venv(demo, target)
    checkout = target / "ComfyUI"
    add_node(checkout, "a_good_node", "node-helper==1.0.0\nneeds-torch\n")
    add_node(checkout, "b_missing_package", "dinoair-no-such-package==1.0\n")
    add_node(checkout, "c_wants_other_torch", "torch==9.9.9\n")
    (checkout / "custom_nodes" / "d_no_requirements").mkdir()
    events: Events = []
    ctx = make_ctx(target, demo.manifest, events, retries=0, timeout=5)
    lines: list[str] = []
    ctx.echo = lines.append

    assert custom_nodes.skip_if(ctx) is None
    assert "3 custom node(s) (a_good_node, b_missing_package, c_wants_other_torch)" in (
        custom_nodes.describe(ctx)
    )
    custom_nodes.run(ctx)

    python = python_deps.venv_python(ctx)
    found = versions(python, "node-helper", "needs-torch", "torch", "dinoair-no-such-package")
    assert found == {"node-helper": "1.0.0", "needs-torch": "1.0.0", "torch": "2.8.0+cpu"}
    disabled = checkout / custom_nodes.DISABLED
    assert sorted(p.name for p in disabled.iterdir()) == [
        "b_missing_package",
        "c_wants_other_torch",
    ]
    assert (disabled / "b_missing_package" / "requirements.txt").is_file()
    assert sorted(p.name for p in (checkout / "custom_nodes").iterdir()) == [
        "a_good_node",
        "d_no_requirements",
    ]
    named = [line for line in lines if "disabled: its requirements could not be installed" in line]
    assert len(named) == 2 and all("\n" not in line for line in named)
    assert "custom node b_missing_package disabled" in named[0]
    assert ctx.outcomes["custom_nodes"]["installed"] == ["a_good_node"]
    assert ctx.outcomes["custom_nodes"]["disabled"] == ["b_missing_package", "c_wants_other_torch"]
    [(_, event)] = [e for e in events if e[0] == "custom_nodes_installed"]
    assert (event["nodes"], event["installed"], event["disabled"]) == (3, 1, 2)
    assert "b_missing_package, c_wants_other_torch" in (custom_nodes.disabled_line(ctx) or "")

    # The next run: the record says the remaining node is installed in this venv.
    assert custom_nodes.describe(ctx).startswith("skip: ")
    with pytest.raises(StepSkipped) as skipped:
        custom_nodes.run(make_ctx(target, demo.manifest))
    assert skipped.value.reason == "already_installed"
    # A node whose requirements change is installed again; so is a node moved back.
    shutil.move(disabled / "b_missing_package", checkout / "custom_nodes" / "b_missing_package")
    (checkout / "custom_nodes/b_missing_package/requirements.txt").write_text("node-helper\n")
    again = make_ctx(target, demo.manifest, retries=0, timeout=5)
    custom_nodes.run(again)
    assert again.outcomes["custom_nodes"]["installed"] == ["b_missing_package"]
    assert not (disabled / "b_missing_package").exists()


def test_strict_nodes_fails_the_step_and_moves_nothing(
    demo: Fixture, user_index: PackageIndex, tmp_path: Path
) -> None:
    target = tmp_path / "dinoair"
    installed_venv(demo, target)
    node = add_node(target / "ComfyUI", "needs_missing", "dinoair-no-such-package==1.0\n")
    ctx = make_ctx(target, demo.manifest, retries=0, timeout=5, strict_nodes=True)
    shown: list[str] = []
    ctx.echo = shown.append
    assert "fails the run (--strict-nodes)" in custom_nodes.describe(ctx)

    with pytest.raises(InstallError) as info:
        custom_nodes.run(ctx)

    assert info.value.category == INSTALLATION
    assert "custom node 'needs_missing'" in "\n".join(shown)  # the screen names it ...
    assert "needs_missing" not in str(info.value)  # ... the recorded error does not
    assert "dinoair-no-such-package" not in str(info.value) + (info.value.hint or "")
    assert "--strict-nodes" in (info.value.hint or "")
    assert (node / "requirements.txt").is_file()
    assert not (target / "ComfyUI" / custom_nodes.DISABLED).exists()


def test_an_unreachable_index_is_not_the_nodes_fault(
    demo: Fixture, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "dinoair"
    installed_venv(demo, target)
    node = add_node(target / "ComfyUI", "a_node", "node-helper\n")
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:1/simple")

    with pytest.raises(InstallError) as info:
        custom_nodes.run(make_ctx(target, demo.manifest, retries=0, timeout=5))

    assert info.value.category == "network"
    assert node.is_dir(), "no node is disabled for a network failure"


def test_no_nodes_or_no_venv_skip(demo: Fixture, tmp_path: Path) -> None:
    target = tmp_path / "dinoair"
    ctx = make_ctx(target, demo.manifest)
    comfyui.run(ctx)
    assert custom_nodes.skip_if(ctx) == "no_custom_nodes"
    add_node(target / "ComfyUI", "n", "node-helper\n")
    assert custom_nodes.skip_if(ctx) == "nothing_installed"


# -- end to end: an update ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def installed(demo: Fixture, index: PackageIndex, tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("installed") / "DinoAir"
    done = run(install_command(target, demo.manifest, *ARGS), index)
    assert done.returncode == 0, done.stdout + done.stderr
    return target


@pytest.fixture
def target(installed: Path) -> Iterator[Path]:
    backup = installed.with_name("DinoAir.pristine")
    shutil.copytree(installed, backup, symlinks=True)
    yield installed
    shutil.rmtree(installed)
    backup.rename(installed)


def run(cmd: list[str], index: PackageIndex) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PIP_INDEX_URL": index.url}
    return subprocess.run(cmd, cwd=REPO, env=env, text=True, capture_output=True, timeout=300)


def test_an_update_installs_the_nodes_into_the_new_venv_and_disables_a_failing_one(
    target: Path, demo: Fixture, index: PackageIndex, tmp_path: Path, consented_home: Path
) -> None:
    checkout = target / "ComfyUI"
    add_node(checkout, "good", "node-helper==1.0.0\n")
    add_node(checkout, "broken", "dinoair-no-such-package==1.0\n")

    done = run(install_command(target, pinned(demo, tmp_path / "n", demo.next_tag), *ARGS), index)

    assert done.returncode == 0, done.stdout + done.stderr
    assert "custom node broken disabled: its requirements could not be installed" in done.stdout
    assert f"Updated to {demo.next_tag}: the new venv is in use" in done.stdout
    assert (
        "Custom node broken disabled: the requirements could not be installed; moved to "
        f"{checkout / custom_nodes.DISABLED}"
    ) in done.stdout
    assert (checkout / custom_nodes.DISABLED / "broken" / "requirements.txt").is_file()
    assert os.readlink(target / "venv") == transaction.new_venv_name(demo.next_tag)
    assert versions(target / "venv/bin/python", "node-helper", "torch") == {
        "node-helper": "1.0.0",
        "torch": "2.8.0+cpu",
    }
    summary = json.loads((target / "install_summary.json").read_text())
    steps = {step["name"]: step for step in summary["steps"]}
    assert steps["custom_nodes"]["status"] == "completed"
    assert steps["verify"]["status"] == "completed"  # after the nodes' requirements went in
    doc = load_sessions(consented_home).files[-1].data
    step = next(s for s in doc["spans"] if s["name"] == "dinoair.step.custom_nodes")
    [event] = [e for e in step["events"] if e["name"] == "custom_nodes_installed"]
    assert event["attributes"]["disabled"] == 1 and event["attributes"]["installed"] == 1


def test_strict_nodes_makes_it_a_failed_update_that_rolls_back(
    target: Path, demo: Fixture, index: PackageIndex, tmp_path: Path
) -> None:
    checkout = target / "ComfyUI"
    venv_before = (target / "venv").resolve()
    node = add_node(checkout, "broken", "dinoair-no-such-package==1.0\n")
    manifest = pinned(demo, tmp_path / "n", demo.next_tag)

    done = run(install_command(target, manifest, *ARGS, "--strict-nodes"), index)

    assert done.returncode == 1, done.stdout + done.stderr
    assert "step 'custom_nodes' failed (installation)" in done.stderr
    assert "custom node 'broken'" in done.stdout + done.stderr
    assert "Partly installed" not in done.stdout + done.stderr  # the previous release is whole
    assert (
        done.stderr.strip()
        .splitlines()[-1]
        .startswith(f"The update to {demo.next_tag} was rolled back: the previous release")
    )
    assert "Custom node" not in done.stdout + done.stderr.replace("custom node 'broken'", "")
    assert (node / "requirements.txt").is_file()
    assert (target / "venv").resolve() == venv_before
    assert not list(target.glob("venv-*")) and not (target / transaction.JOURNAL).exists()


def test_a_failed_update_moves_the_nodes_it_disabled_back(
    target: Path, demo: Fixture, index: PackageIndex, tmp_path: Path
) -> None:
    """The node worked with the release gone back to: the rollback puts it back in place."""
    node = add_node(target / "ComfyUI", "broken", "dinoair-no-such-package==1.0\n")
    manifest = pinned(demo, tmp_path / "n", demo.next_tag)
    env_fail = {"DINOAIR_DEMO_QUICK_TEST": "fail"}  # verify fails after the node was disabled
    done = subprocess.run(
        install_command(target, manifest, *ARGS),
        cwd=REPO,
        env={**os.environ, "PIP_INDEX_URL": index.url, **env_fail},
        text=True,
        capture_output=True,
        timeout=300,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "custom node broken disabled" in done.stdout
    assert "was rolled back" in done.stderr
    assert (node / "requirements.txt").is_file()
    assert not (target / "ComfyUI" / custom_nodes.DISABLED / "broken").exists()
    assert "Custom node broken disabled" not in done.stdout + done.stderr


@pytest.mark.parametrize("strict", [False, True])
def test_a_nodes_name_and_its_requirements_never_reach_the_telemetry(
    target: Path,
    demo: Fixture,
    index: PackageIndex,
    tmp_path: Path,
    consented_home: Path,
    strict: bool,
) -> None:
    """A custom node may be the user's own (its folder named after them, a private package in
    its requirements): neither its name nor what it asks for is recorded, only counts."""
    add_node(target / "ComfyUI", "alice-smith-tools", "alicecorp-internal-pkg==1.0\n")
    manifest = pinned(demo, tmp_path / "n", demo.next_tag)
    extra = ["--strict-nodes"] if strict else []

    done = run(install_command(target, manifest, *ARGS, *extra), index)

    assert done.returncode == (1 if strict else 0), done.stdout + done.stderr
    assert "alice-smith-tools" in done.stdout + done.stderr  # the user is told which node
    recorded = "".join(
        path.read_text(errors="replace") for path in consented_home.rglob("*") if path.is_file()
    )
    assert "custom_nodes_installed" in recorded or strict
    for private in ("alice-smith-tools", "alice", "alicecorp-internal-pkg", "alicecorp"):
        at = recorded.lower().find(private)
        assert at < 0, recorded[max(0, at - 300) : at + 300]
