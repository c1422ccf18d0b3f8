"""The smaller untruths seen in a real install, each pinned by a test: disk space from the torch
build's real size, a clone that says whether it is shallow, a skip announced in its first line,
the dependency step's bytes, and a summary that still describes the venv after a re-run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from fixtures.demo_fixture import Fixture, build_fixture
from installer.errors import SYSTEM, InstallError
from installer.hardware import Hardware
from installer.steps import comfyui, preflight
from installer.steps.preflight import BASE_MARGIN_BYTES, DOWNLOAD_FACTOR, MB
from tests.contexts import Events, make_ctx


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Fixture:
    return build_fixture(tmp_path_factory.mktemp("fixture"), model_base_url="http://127.0.0.1:9")


def install(target: Path, manifest: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            *(sys.executable, "-m", "installer", "--target", str(target)),
            *("--manifest", str(manifest), "--yes", "--disable-telemetry", "--skip", "webgui"),
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )


# -- disk space comes from the torch build ------------------------------------------------------


@pytest.mark.parametrize(
    ("hardware", "build_mb"),
    [(Hardware(), 1100), (Hardware(accelerator="nvidia", cuda_version="12.8"), 6600)],
)
def test_space_check_uses_the_chosen_torch_builds_size(
    tmp_path: Path, hardware: Hardware, build_mb: int
) -> None:
    ctx = make_ctx(tmp_path / "t", None, no_models=True)
    ctx.hardware = hardware
    needed = preflight.required_bytes(ctx)
    venv = int((build_mb + ctx.manifest.requirements_mb) * MB * DOWNLOAD_FACTOR)
    assert needed == BASE_MARGIN_BYTES + venv
    assert needed > 2 * 1024**3 * 2  # the old flat "2.0 GiB" was far too little for either


def test_a_torch_build_larger_than_the_disk_is_refused_in_preflight(
    demo: Fixture, tmp_path: Path
) -> None:
    data = json.loads(demo.manifest.read_text())
    data["torch"]["builds"][0]["size_mb"] = 10**12  # a petabyte of torch
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps(data))
    ctx = make_ctx(tmp_path / "t", manifest, no_models=True)
    with pytest.raises(InstallError) as info:
        preflight.run(ctx)
    assert info.value.category == SYSTEM and "not enough disk space" in str(info.value)


# -- a clone says what it is --------------------------------------------------------------------


def test_a_local_clone_says_and_records_it_is_not_shallow(demo: Fixture, tmp_path: Path) -> None:
    events: Events = []
    lines: list[str] = []
    ctx = make_ctx(tmp_path / "t", demo.manifest, events)
    ctx.echo = lines.append
    assert "full history" in comfyui.describe(ctx) and "depth 1" not in comfyui.describe(ctx)
    comfyui.run(ctx)
    [done] = [attrs for name, attrs in events if name == "clone_completed"]
    assert done["shallow"] is False  # git ignores --depth for a local path
    assert ctx.outcomes["comfyui"]["shallow"] is False
    assert any("full history" in line for line in lines)
    assert (ctx.comfyui_dir / "custom_nodes").is_dir()  # ComfyUI stops without it


def test_a_file_url_clone_is_shallow_and_says_so(demo: Fixture, tmp_path: Path) -> None:
    data = json.loads(demo.manifest.read_text())
    data["comfyui"]["repo"] = demo.repo.as_uri()  # file:// honours --depth
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps(data))
    events: Events = []
    ctx = make_ctx(tmp_path / "t", manifest, events)
    assert "shallow-clone" in comfyui.describe(ctx)
    comfyui.run(ctx)
    [done] = [attrs for name, attrs in events if name == "clone_completed"]
    assert done["shallow"] is True


# -- a decided skip says so first; the summary describes the installation ------------------------


def test_skips_are_announced_in_the_first_line_and_the_summary_keeps_the_venv(
    demo: Fixture, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PIP_INDEX_URL", demo.torch_index)
    monkeypatch.setenv("PATH", str(Path(sys.executable).parent) + ":/usr/bin:/bin")  # no ollama
    target = tmp_path / "DinoAir"
    first = install(target, demo.manifest, "--no-models")
    assert first.returncode == 0, first.stdout + first.stderr
    assert "ollama_models: skip: --no-models was given" in first.stdout
    assert "] models: skip: --no-models was given" in first.stdout
    assert "download 2 checkpoint" not in first.stdout and "ollama pull" not in first.stdout
    summary = json.loads((target / "install_summary.json").read_text())
    assert summary["installed"]["python_deps"]["torch"]["torch"] == "2.8.0+cpu"

    second = install(target, demo.manifest, "--skip", "models")  # no Ollama on PATH
    assert second.returncode == 0, second.stdout + second.stderr
    assert "ollama_models: skip: no Ollama here and no Ollama archive for" in second.stdout
    assert "python_deps: skip" in second.stdout and "verify: skip" in second.stdout
    summary = json.loads((target / "install_summary.json").read_text())
    steps = {s["name"]: s for s in summary["steps"]}
    assert steps["python_deps"]["reason"] == "already_installed"
    # The venv was not touched by this run, yet the summary still describes it.
    assert summary["installed"]["python_deps"]["torch"]["torch"] == "2.8.0+cpu"
    assert summary["installed"]["verify"]["quick_test"] == "passed"
    assert summary["paths"]["venv"] == "venv"
