"""Update in place (issue 18, point 1) against the real git fixture and a counting model server.

An update is the same installer run with a manifest naming the next release: the checkout moves
to it, and nothing the user put into ``ComfyUI/`` (custom nodes, outputs, settings, models,
edits to tracked files) is lost or downloaded again.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import git
import pytest

from fixtures.commands import install_command
from fixtures.demo_fixture import Fixture, build_fixture, write_manifest
from fixtures.model_server import ModelServer
from installer.errors import INSTALLATION, InstallError
from installer.steps import comfyui
from otel_local_exporter import load_sessions
from tests.contexts import Events, make_ctx

REPO = Path(__file__).resolve().parent.parent
FAST = ["--skip", "python_deps", "--skip", "webgui", "--retries", "1"]
UNUSED_MODEL_URL = "http://127.0.0.1:9"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Fixture:
    return build_fixture(tmp_path_factory.mktemp("fixture"), model_base_url=UNUSED_MODEL_URL)


def pinned(demo: Fixture, folder: Path, ref: str) -> Path:
    """A copy of the demo manifest naming ``ref`` (what a DinoAir release changes)."""
    data = json.loads(demo.manifest.read_text())
    data["comfyui"] = {**data["comfyui"], "ref": ref}
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "manifest.json"
    path.write_text(json.dumps(data))
    return path


def head_of(path: Path) -> str:
    with git.Repo(path) as repo:
        return repo.head.commit.hexsha


def add_user_files(checkout: Path) -> None:
    """What a user adds over months: a custom node, an output, settings, a model, an edit."""
    node = checkout / "custom_nodes" / "my_node"
    node.mkdir(parents=True, exist_ok=True)
    (node / "__init__.py").write_text("NODE_CLASS_MAPPINGS = {}\n")
    (checkout / "output").mkdir(exist_ok=True)
    (checkout / "output" / "ComfyUI_00001_.png").write_bytes(b"\x89PNG fake image")
    settings = checkout / "user" / "default" / "comfy.settings.json"
    settings.parent.mkdir(parents=True)
    settings.write_text('{"Comfy.Theme": "dark"}')
    (checkout / "models" / "checkpoints" / "mine.safetensors").write_bytes(b"my model")
    readme = checkout / "README.md"
    readme.write_text(readme.read_text() + "\nMy note in a tracked file.\n")


def assert_user_files(checkout: Path, models_home: Path | None = None) -> None:
    """``models_home``: where the user's model went (a full run moves models out of ComfyUI/)."""
    node = checkout / "custom_nodes/my_node/__init__.py"
    assert node.read_text() == "NODE_CLASS_MAPPINGS = {}\n"
    assert (checkout / "output/ComfyUI_00001_.png").read_bytes() == b"\x89PNG fake image"
    assert "dark" in (checkout / "user/default/comfy.settings.json").read_text()
    model = (models_home or checkout / "models") / "checkpoints/mine.safetensors"
    assert model.read_bytes() == b"my model"
    assert "My note in a tracked file." in (checkout / "README.md").read_text()


def test_update_moves_the_checkout_and_keeps_everything_the_user_put_there(
    tmp_path: Path, demo: Fixture
) -> None:
    target = tmp_path / "dinoair"
    comfyui.run(make_ctx(target, demo.manifest))
    checkout = target / "ComfyUI"
    add_user_files(checkout)
    events: Events = []
    ctx = make_ctx(target, pinned(demo, tmp_path / "next", demo.next_tag), events)
    lines: list[str] = []
    ctx.echo = lines.append

    assert "update the ComfyUI checkout in place" in comfyui.describe(ctx)
    comfyui.run(ctx)

    assert head_of(checkout) == demo.head_commit  # the next release
    assert (checkout / "CHANGELOG.md").exists()  # a file only the next release has
    assert_user_files(checkout)
    assert not list(target.glob("ComfyUI.broken-*")), "nothing moved aside"
    updated = [a for n, a in events if n == "checkout_updated"]
    assert updated == [
        {"from_commit": demo.commit[:12], "to_commit": demo.head_commit[:12], "local_edits": 1}
    ]
    assert any("stashed and re-applied" in line for line in lines)
    with git.Repo(checkout) as repo:  # the edit is also kept in the stash, never lost
        assert "dinoair update" in repo.git.stash("list")
    assert ctx.outcomes["comfyui"]["updated_from"] == demo.commit[:12]

    # The next run finds the pinned release with the user's edit: reused, edit kept, no git.
    again: Events = []
    comfyui.run(make_ctx(target, pinned(demo, tmp_path / "next", demo.next_tag), again))
    assert [a["local_edits"] for n, a in again if n == "checkout_reused"] == [True]
    assert_user_files(checkout)


def test_an_update_that_cannot_check_out_leaves_the_checkout_unchanged(
    tmp_path: Path, demo: Fixture
) -> None:
    target = tmp_path / "dinoair"
    comfyui.run(make_ctx(target, demo.manifest))
    checkout = target / "ComfyUI"
    add_user_files(checkout)
    # An untracked file where the next release has a tracked one: git refuses to overwrite it.
    (checkout / "CHANGELOG.md").write_text("my own changelog\n")

    with pytest.raises(InstallError) as info:
        comfyui.run(make_ctx(target, pinned(demo, tmp_path / "next", demo.next_tag)))

    assert info.value.category == INSTALLATION
    assert "the checkout is unchanged at" in str(info.value)
    assert head_of(checkout) == demo.commit
    assert (checkout / "CHANGELOG.md").read_text() == "my own changelog\n"
    assert_user_files(checkout)  # the stashed edit was put back


def test_a_ref_missing_upstream_is_one_clear_error(tmp_path: Path, demo: Fixture) -> None:
    target = tmp_path / "dinoair"
    comfyui.run(make_ctx(target, demo.manifest))

    with pytest.raises(InstallError) as info:
        comfyui.run(make_ctx(target, pinned(demo, tmp_path / "bad", "v9.9.9-missing")))

    assert "v9.9.9-missing" in str(info.value) and "\n" not in str(info.value)
    assert head_of(target / "ComfyUI") == demo.commit


def test_update_run_end_to_end_downloads_no_model(
    tmp_path: Path, consented_home: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    fixture = build_fixture(tmp_path_factory.mktemp("e2e-fixture"))
    with ModelServer(fixture.models_dir) as server:
        first_manifest = write_manifest(fixture, server.base_url)
        target = tmp_path / "DinoAir"
        first = run(install_command(target, first_manifest, *FAST))
        assert first.returncode == 0, first.stdout + first.stderr
        add_user_files(target / "ComfyUI")
        next_manifest = pinned(fixture, tmp_path / "next", fixture.next_tag)
        server.clear_log()

        second = run(install_command(target, next_manifest, *FAST))

        assert second.returncode == 0, second.stdout + second.stderr
        assert server.requests == [], "an update downloads no model"
    assert "updated ComfyUI in place" in second.stdout
    assert head_of(target / "ComfyUI") == fixture.head_commit
    assert_user_files(target / "ComfyUI", models_home=target / "models")
    assert "moved 1 model file" in second.stdout  # the user's own, out of ComfyUI/models
    for model in fixture.models:
        assert (target / "models/checkpoints" / model.name).stat().st_size == model.size
    doc = load_sessions(consented_home).files[0].data
    update = next(s for s in doc["spans"] if s["name"] == "dinoair.phase.update")
    assert update["status"]["code"] == "OK"
    assert update["attributes"]["installer.phase.to_release"] == fixture.next_tag
    assert update["attributes"]["installer.phase.result"] == "updated"


def run(cmd: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        cmd, cwd=REPO, env=dict(os.environ), text=True, capture_output=True, timeout=240
    )
