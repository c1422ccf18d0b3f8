"""No name a user chose reaches the telemetry (issue 18, point 3): the lifecycle, run for real
with personal-looking names, and every byte of the telemetry home and its exports searched.

A person's name is in the install folder (``--target``), in two custom nodes (one that installs,
one whose requirement does not exist and is disabled), in model files reused with
``--models-from`` from a folder named after them, and in a model left inside the checkout (the
old layout), which the update migrates to ``models/``. The real operations run with consent: an
install (the models reused, the venv built by the real uv), an update with the nodes, a failed
update (rolled back), an update killed mid-way and recovered by the next run, an update whose
node fails with --strict-nodes, one whose node cannot reach the index (the error names the
install folder), a repair, an uninstall. Then every file the telemetry home holds (sessions,
crash reports, journals, config) and both exports (the JSON bundle and OTLP lines) must not
contain any part of the name. (No run here is an unexpected failure, so no crash report is
written: the folder is searched; a crash report's own sanitizing is tests/test_exporter.py's.)
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import git
import pytest
from click.testing import CliRunner

from fixtures.commands import install_command
from fixtures.demo_fixture import Fixture, build_fixture
from fixtures.package_index import PackageIndex
from installer.steps import comfyui
from otel_local_exporter import load_sessions
from telemetry_cli.cli import cli as telemetry_cli
from tests.contexts import make_ctx
from tests.test_lifecycle_nodes import add_node
from tests.test_lifecycle_remove import run
from tests.test_lifecycle_update import pinned

# The parts of the name, as they are spelled in the folders and files below (searched for
# case-insensitively in every byte recorded).
PERSON = ("Henrietta", "Quarshie")
TARGET = "Henrietta Quarshie's DinoAir"
NODE = "henrietta_quarshie_nodes"
BRANCH = "henrietta-quarshie-experiments"
BROKEN_NODE = "QuarshieFamilyTools"
MODELS_FROM = "Henrietta-Quarshie models"
MODEL_NAMES = ("henrietta-quarshie-wedding.safetensors", "quarshie_kids_v2.ckpt")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Fixture:
    return build_fixture(tmp_path_factory.mktemp("fixture"), model_base_url="http://127.0.0.1:9")


@pytest.fixture
def user_index(monkeypatch: pytest.MonkeyPatch) -> Iterator[PackageIndex]:
    """The user's package index, serving what the working node asks for."""
    served = PackageIndex()
    served.add("node-helper", "1.0.0", uploaded="2023-06-01T00:00:00Z")
    with served:
        monkeypatch.setenv("PIP_INDEX_URL", served.url)
        yield served


def test_no_name_a_user_chose_reaches_a_session_crash_report_or_export(
    demo: Fixture, tmp_path: Path, consented_home: Path, user_index: PackageIndex
) -> None:
    target = tmp_path / TARGET
    mine = tmp_path / MODELS_FROM
    (mine / "Henrietta private").mkdir(parents=True)
    shutil.copy(demo.models[0].path, mine / MODEL_NAMES[0])
    shutil.copy(demo.models[1].path, mine / "Henrietta private" / MODEL_NAMES[1])
    args = ["--skip", "webgui", "--retries", "0"]

    # An install: both checkpoints reused from the user's folder (no server serves them).
    done = run(install_command(target, demo.manifest, *args, "--models-from", str(mine)))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "reused 2 model files" in done.stdout
    # A model of the person's left inside the checkout (the layout before models/): migrated.
    lora = target / "ComfyUI/models/loras" / "henrietta_quarshie_style.safetensors"
    lora.parent.mkdir(parents=True, exist_ok=True)
    lora.write_bytes(b"lora" * 100)
    # Two custom nodes named after the person, then an update to the next release.
    add_node(target / "ComfyUI", NODE, "node-helper==1.0.0\n")
    add_node(target / "ComfyUI", BROKEN_NODE, "quarshie-private-package==1.0\n")
    nxt = pinned(demo, tmp_path / "next", demo.next_tag)
    done = run(install_command(target, nxt, *args))
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"custom node {BROKEN_NODE} disabled" in done.stdout
    assert (target / "models/loras" / lora.name).is_file()
    # An update that fails (its requirements cannot install): rolled back.
    broken = pinned(demo, tmp_path / "broken", demo.broken_tag)
    done = run(install_command(target, broken, *args))
    assert done.returncode == 1 and "was rolled back" in done.stderr
    # An update killed mid-way (the checkout moved, the journal written), then a normal run,
    # whose recovery rolls it back; and one with --strict-nodes, whose node fails the run.
    comfyui.run(make_ctx(target, demo.manifest))
    done = run(install_command(target, nxt, *args))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "An interrupted update to" in done.stdout
    add_node(target / "ComfyUI", BROKEN_NODE, "quarshie-private-package==1.0\n")
    done = run(install_command(target, demo.manifest, *args, "--strict-nodes"))
    assert done.returncode == 1, done.stdout + done.stderr
    assert "--strict-nodes" in done.stderr
    # An update whose node cannot reach the index (python_deps has nothing to do: the venv is
    # cloned): the step fails as for ComfyUI's own requirements, and the update rolls back.
    offline = {"PIP_INDEX_URL": "http://127.0.0.1:9/simple"}
    done = run(install_command(target, demo.manifest, *args), env=offline)
    assert done.returncode == 1
    assert "step 'custom_nodes' failed (network)" in done.stderr
    assert "was rolled back" in done.stderr
    # A repair, then an uninstall (a session of its own).
    shutil.rmtree(target / "ComfyUI/custom_nodes" / BROKEN_NODE)
    done = run(install_command(target, nxt, *args, "--repair"))
    assert done.returncode == 0, done.stdout + done.stderr
    # An update to a branch the person named (their own --manifest): recorded as "custom".
    with git.Repo(demo.repo) as repo:
        repo.create_head(BRANCH, demo.tag)
    done = run(install_command(target, pinned(demo, tmp_path / "branch", BRANCH), *args))
    assert done.returncode == 0, done.stdout + done.stderr
    uninstall = [sys.executable, "-m", "installer", "--target", str(target), "--uninstall"]
    done = run([*uninstall, "--yes"])
    assert done.returncode == 0, done.stdout + done.stderr
    assert not target.exists()

    # What was recorded: the lifecycle's phases, and the node event, all of them.
    spans = [s for stored in load_sessions(consented_home).files for s in stored.data["spans"]]
    names = {s["name"] for s in spans}
    lifecycle = ("update", "rollback", "recover", "migrate_models", "reuse_models", "repair")
    for phase in (*lifecycle, "uninstall"):
        assert f"dinoair.phase.{phase}" in names, phase
    releases = {
        s["attributes"][key]
        for s in spans
        for key in ("installer.phase.to_release", "installer.phase.from_release")
        if key in s["attributes"]
    }
    assert releases == {demo.tag, demo.next_tag, demo.broken_tag, "custom"}, releases
    events = {e["name"] for s in spans for e in s.get("events", [])}
    assert "custom_nodes_installed" in events

    bundle, lines = tmp_path / "bundle.json", tmp_path / "otlp.jsonl"
    for path, fmt in ((bundle, "json"), (lines, "otlp")):
        result = CliRunner().invoke(telemetry_cli, ["export", str(path), "--format", fmt])
        assert result.exit_code == 0, result.output
    recorded = [p for p in consented_home.rglob("*") if p.is_file()] + [bundle, lines]
    leaks = {
        f"{path.relative_to(tmp_path) if path.is_relative_to(tmp_path) else path}: {part}"
        for path in recorded
        for part in PERSON
        if part.lower().encode() in path.read_bytes().lower()
    }
    assert not leaks, sorted(leaks)


@pytest.mark.parametrize(
    ("ref", "label"),
    [
        ("v0.3.64", "v0.3.64"),
        ("0.3.64", "0.3.64"),
        ("v1.2.3-rc1", "v1.2.3-rc1"),
        ("v0.0.1-demo", "v0.0.1-demo"),
        ("henrietta-fix", "custom"),
        ("v0.3.64-henrietta", "custom"),
        ("main", "custom"),
        ("812a1b7efe18", "custom"),
        ("users/hq/v0.3.64", "custom"),
    ],
)
def test_only_a_release_shaped_ref_is_recorded(ref: str, label: str) -> None:
    from installer.lifecycle.release import release_label

    assert release_label(ref) == label
