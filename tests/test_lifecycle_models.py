"""Models beside the checkout (issue 18, point 2): extra_model_paths.yaml and the migration.

Real files, a real git checkout of the fixture, a real loopback model server that counts
requests, and a real second file system (a private tmpfs, when this machine can mount one).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fixtures.demo_fixture import Fixture, build_fixture, write_manifest
from fixtures.model_server import ModelServer
from installer.lifecycle import MODEL_FOLDERS, write_extra_model_paths
from installer.lifecycle.models_home import BLOCK_START
from installer.steps import comfyui, models
from installer.units import size
from tests.contexts import Events, make_ctx
from tests.mounts import tmpfs

USER_ENTRIES = """\
# my other UI's models, added by hand
a111:
    base_path: /srv/stable-diffusion-webui/
    checkpoints: models/Stable-diffusion
"""


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Fixture:
    return build_fixture(tmp_path_factory.mktemp("fixture"), model_base_url="http://127.0.0.1:9")


def test_the_yaml_block_is_written_kept_and_the_users_entries_stay(tmp_path: Path) -> None:
    checkout, home = tmp_path / "ComfyUI", tmp_path / "models"
    checkout.mkdir()
    (checkout / "extra_model_paths.yaml").write_text(USER_ENTRIES)

    assert write_extra_model_paths(checkout, home) is True
    text = (checkout / "extra_model_paths.yaml").read_text()
    assert text.startswith(USER_ENTRIES)
    assert f"base_path: {json.dumps(str(home))}" in text
    assert all(f"    {name}: {name}/" in text for name in MODEL_FOLDERS)
    assert all((home / name).is_dir() for name in MODEL_FOLDERS)

    # The user adds an entry after the block; a re-run changes nothing; a moved home is rewritten.
    with (checkout / "extra_model_paths.yaml").open("a") as handle:
        handle.write("later:\n    base_path: /data/later\n")
    assert write_extra_model_paths(checkout, home) is False
    assert write_extra_model_paths(checkout, tmp_path / "elsewhere") is True
    text = (checkout / "extra_model_paths.yaml").read_text()
    assert text.count(BLOCK_START) == 1
    assert text.startswith(USER_ENTRIES) and text.endswith("later:\n    base_path: /data/later\n")
    assert str(home) not in text and json.dumps(str(tmp_path / "elsewhere")) in text


def old_layout_install(demo: Fixture, target: Path) -> None:
    """An install from before models moved out: the checkpoints inside ComfyUI/models/."""
    comfyui.run(make_ctx(target, demo.manifest))
    for model in demo.models:
        (target / "ComfyUI/models/checkpoints" / model.name).write_bytes(model.path.read_bytes())


def migrate_and_count(demo: Fixture, target: Path) -> tuple[list[str], int]:
    with ModelServer(demo.models_dir) as server:
        manifest = write_manifest(demo, server.base_url)
        events: Events = []
        lines: list[str] = []
        ctx = make_ctx(target, manifest, events, retries=0, timeout=5.0)
        ctx.echo = lines.append
        models.run(ctx)
        requests = len(server.requests)
    return lines, requests


def assert_migrated(demo: Fixture, target: Path) -> None:
    for model in demo.models:
        assert (target / "models/checkpoints" / model.name).read_bytes() == model.path.read_bytes()
        assert not (target / "ComfyUI/models/checkpoints" / model.name).exists()
    # the release's own placeholder stays tracked and in place: the checkout is still clean
    assert (target / "ComfyUI/models/checkpoints/.keep").exists()
    assert comfyui.inspect_checkout(target / "ComfyUI", str(demo.repo), demo.tag)[0] is None


def test_an_old_install_is_migrated_by_rename_without_a_download(
    tmp_path: Path, demo: Fixture
) -> None:
    target = tmp_path / "dinoair"
    old_layout_install(demo, target)
    inodes = {
        m.name: (target / "ComfyUI/models/checkpoints" / m.name).stat().st_ino for m in demo.models
    }

    lines, requests = migrate_and_count(demo, target)

    assert requests == 0, "migrated models are never downloaded again"
    assert_migrated(demo, target)
    assert {
        m.name: (target / "models/checkpoints" / m.name).stat().st_ino for m in demo.models
    } == inodes
    total = sum(m.size for m in demo.models)
    moved = f"moved 2 model files ({size(total)}) from ComfyUI/models to models/"
    assert lines[0] == f"  {moved} (no download)"


def test_a_models_folder_on_another_file_system_is_copied_verified_and_deleted(
    tmp_path: Path, demo: Fixture
) -> None:
    target = tmp_path / "dinoair"
    old_layout_install(demo, target)
    with tmpfs(target / "models", size="16m") as mounted:
        if not mounted:
            pytest.skip("cannot mount a second file system here (needs root on Linux)")
        lines, requests = migrate_and_count(demo, target)
        assert requests == 0
        assert lines[0].startswith("  moved 2 model files")
        assert_migrated(demo, target)
        assert not list((target / "models").rglob("*.migrating"))


def test_a_different_file_of_the_same_name_is_left_where_it_was(
    tmp_path: Path, demo: Fixture
) -> None:
    target = tmp_path / "dinoair"
    old_layout_install(demo, target)
    model = demo.models[0]
    (target / "ComfyUI/models/checkpoints" / model.name).write_bytes(b"not the model")
    (target / "models/checkpoints").mkdir(parents=True, exist_ok=True)
    (target / "models/checkpoints" / model.name).write_bytes(model.path.read_bytes())

    lines, requests = migrate_and_count(demo, target)

    assert requests == 0
    assert (target / "ComfyUI/models/checkpoints" / model.name).read_bytes() == b"not the model"
    assert any("left 1 file(s) in ComfyUI/models" in line for line in lines)


def test_the_comfyui_step_writes_the_yaml_for_every_checkout(tmp_path: Path, demo: Fixture) -> None:
    target = tmp_path / "dinoair"
    events: Events = []
    comfyui.run(make_ctx(target, demo.manifest, events))
    text = (target / "ComfyUI/extra_model_paths.yaml").read_text()
    assert json.dumps(str(target / "models")) in text
    assert ("model_paths_written", {"file": "extra_model_paths.yaml"}) in events
    # the yaml is not tracked: the checkout is still clean and reused as is
    again: Events = []
    comfyui.run(make_ctx(target, demo.manifest, again))
    assert [n for n, _ in again] == ["checkout_reused"]
