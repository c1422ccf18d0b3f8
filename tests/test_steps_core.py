"""preflight, comfyui and python_deps against real parts: local git repos, a real venv, real pip.

Nothing here touches the network: ComfyUI is the fixture's local repository, its requirements are
a wheel inside that repository, and pip runs with ``PIP_NO_INDEX`` so a slip would fail instead of
reaching out. Creating a venv with pip is the slow part (seconds), so the python_deps tests share
one installation through a module-scoped fixture.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import git
import pytest

from fixtures.demo_fixture import Fixture, build_fixture, write_manifest
from installer import ollama
from installer.context import InstallContext, StepSkipped
from installer.errors import (
    CONFIGURATION,
    INSTALLATION,
    NETWORK,
    SYSTEM,
    ConfigurationError,
    InstallError,
)
from installer.manifest import load_manifest
from installer.steps import comfyui, preflight, python_deps
from installer.units import size
from tests.contexts import Events, make_ctx
from tests.stack_target import install_standin_ollama

UNUSED_MODEL_URL = "http://127.0.0.1:9"  # these tests never download models


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Fixture:
    return build_fixture(tmp_path_factory.mktemp("fixture"), model_base_url=UNUSED_MODEL_URL)


@pytest.fixture(autouse=True)
def _offline_and_fast(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setattr(comfyui, "BACKOFF_SECONDS", 0.0)


def variant_manifest(demo: Fixture, folder: Path, **overrides: Any) -> Path:
    """A copy of the demo manifest in ``folder`` with some top-level fields replaced."""
    data = json.loads(demo.manifest.read_text())
    data.update(overrides)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "manifest.json"
    path.write_text(json.dumps(data))
    return path


def names(events: Events) -> list[str]:
    return [name for name, _ in events]


def assert_plain_attributes(events: Events) -> None:
    """Event attributes are short scalars: no paths, no URLs (DESIGN section 7 starts here)."""
    for name, attrs in events:
        for key, value in attrs.items():
            assert isinstance(value, (str, int, float, bool)), (name, key, value)
            if isinstance(value, str):
                assert "/" not in value and "\\" not in value, (name, key, value)


# -- preflight -----------------------------------------------------------------------------------


def test_preflight_fills_tools_and_outcome(tmp_path: Path, demo: Fixture) -> None:
    events: Events = []
    ctx = make_ctx(tmp_path / "dinoair", demo.manifest, events)

    preflight.run(ctx)

    assert set(ctx.tools) == {"git", "node", "npm", "ollama"}
    assert ctx.tools["git"] == shutil.which("git")
    for tool in ("node", "npm", "ollama"):
        assert ctx.tools[tool] == shutil.which(tool)
    detected = {attrs["tool"]: attrs["found"] for name, attrs in events if name == "tool_detected"}
    assert detected["git"] is True and set(detected) == set(ctx.tools)
    assert ctx.outcomes["preflight"]["tools"]["git"] is True
    assert (tmp_path / "dinoair").is_dir()
    assert list((tmp_path / "dinoair").iterdir()) == []  # the write probe is gone
    assert_plain_attributes(events)
    assert re.search(r"has [0-9.]+ [MG]iB free", preflight.describe(ctx))


def test_preflight_refuses_old_python() -> None:
    with pytest.raises(ConfigurationError) as info:
        preflight.check_python((3, 9, 18))
    assert info.value.category == CONFIGURATION
    assert "3.9.18" in str(info.value)
    preflight.check_python((3, 10, 0))  # the minimum itself is fine


def test_preflight_missing_git_is_system(
    tmp_path: Path, demo: Fixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "empty-path"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    ctx = make_ctx(tmp_path / "dinoair", demo.manifest)

    with pytest.raises(InstallError) as info:
        preflight.run(ctx)

    assert info.value.category == SYSTEM
    assert "missing tool: git" in str(info.value)
    assert ctx.tools == {"git": None, "node": None, "npm": None, "ollama": None}


def test_preflight_target_below_a_file_is_system(tmp_path: Path, demo: Fixture) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a regular file where a folder should be")
    ctx = make_ctx(blocker / "dinoair", demo.manifest)

    with pytest.raises(InstallError) as info:
        preflight.run(ctx)

    assert info.value.category == SYSTEM
    assert "cannot write to the target folder" in str(info.value)


@pytest.mark.skipif(
    os.name != "posix" or os.geteuid() == 0,
    reason="root ignores permission bits; the file-parent test covers root",
)
def test_preflight_read_only_parent_is_system(tmp_path: Path, demo: Fixture) -> None:
    parent = tmp_path / "locked"
    parent.mkdir()
    parent.chmod(0o500)
    try:
        ctx = make_ctx(parent / "dinoair", demo.manifest)
        with pytest.raises(InstallError) as info:
            preflight.run(ctx)
    finally:
        parent.chmod(0o700)
    assert info.value.category == SYSTEM
    assert "permission denied" in str(info.value)


def test_preflight_not_enough_disk_is_system(tmp_path: Path, demo: Fixture) -> None:
    huge = {
        "name": "huge.safetensors",
        "url": "http://127.0.0.1:9/huge.safetensors",
        "size": 2**60,
        "sha256": "0" * 64,
        "dest": "models/checkpoints",
    }
    manifest = variant_manifest(demo, tmp_path / "huge", checkpoints=[huge])
    ctx = make_ctx(tmp_path / "dinoair", manifest)

    with pytest.raises(InstallError) as info:
        preflight.run(ctx)

    assert info.value.category == SYSTEM
    assert "not enough disk space" in str(info.value) and "GiB free" in str(info.value)
    assert "--no-models" in info.value.hint

    # --no-models leaves the checkpoints out of the sum, so the same manifest passes.
    preflight.run(make_ctx(tmp_path / "dinoair", manifest, no_models=True))


# -- comfyui -------------------------------------------------------------------------------------


def head_of(path: Path) -> str:
    with git.Repo(path) as repo:
        return repo.head.commit.hexsha


def leftovers(target: Path) -> list[str]:
    return sorted(p.name for p in target.iterdir() if p.name.startswith("ComfyUI."))


def test_clone_checks_out_the_tag_then_reuses_without_network(
    tmp_path: Path, demo: Fixture
) -> None:
    target = tmp_path / "dinoair"
    events: Events = []
    ctx = make_ctx(target, demo.manifest, events)

    comfyui.run(ctx)

    checkout = target / "ComfyUI"
    assert head_of(checkout) == demo.commit != demo.head_commit  # the tag, not main
    assert (checkout / "main.py").is_file() and (checkout / "requirements.txt").is_file()
    assert not (checkout / "CHANGELOG.md").exists()  # only on main, after the tag
    assert ctx.outcomes["comfyui"] == {
        "ref": demo.tag,
        "commit": demo.commit[:12],
        "reused": False,
        "shallow": False,  # a local path: git clones it in full, and the outcome says so
    }
    assert "clone_completed" in names(events)
    assert leftovers(target) == []

    # A model the models step downloaded must survive the second run.
    model = checkout / "models" / "checkpoints" / "demo_base.safetensors"
    model.write_bytes(b"weights")
    # Second run: with the source repository gone, only a reuse can succeed.
    hidden = demo.repo.with_name("comfyui-src.hidden")
    demo.repo.rename(hidden)
    try:
        events.clear()
        second = make_ctx(target, demo.manifest, events)
        assert "reuse" in comfyui.describe(second)
        comfyui.run(second)
    finally:
        hidden.rename(demo.repo)
    assert names(events) == ["checkout_reused"]
    assert second.outcomes["comfyui"]["reused"] is True
    assert model.read_bytes() == b"weights"
    assert_plain_attributes(events)


def test_clone_a_full_commit_sha(tmp_path: Path, demo: Fixture) -> None:
    manifest = variant_manifest(
        demo, tmp_path / "sha", comfyui={"repo": str(demo.repo), "ref": demo.commit}
    )
    target = tmp_path / "dinoair"
    comfyui.run(make_ctx(target, manifest))
    assert head_of(target / "ComfyUI") == demo.commit

    events: Events = []
    comfyui.run(make_ctx(target, manifest, events))
    assert names(events) == ["checkout_reused"]


def test_clone_a_sha_from_a_server_that_refuses_unadvertised_objects(
    tmp_path: Path, demo: Fixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Protocol v0 without uploadpack.allowReachableSHA1InWant refuses "want <sha>".
    monkeypatch.setenv("GIT_CONFIG_COUNT", "1")
    monkeypatch.setenv("GIT_CONFIG_KEY_0", "protocol.version")
    monkeypatch.setenv("GIT_CONFIG_VALUE_0", "0")
    manifest = variant_manifest(
        demo, tmp_path / "sha", comfyui={"repo": str(demo.repo), "ref": demo.commit}
    )
    target = tmp_path / "dinoair"

    comfyui.run(make_ctx(target, manifest))

    assert head_of(target / "ComfyUI") == demo.commit
    with git.Repo(target / "ComfyUI") as repo:  # only the fallback fetches whole branches
        assert "origin/main" in [ref.name for ref in repo.remotes.origin.refs]


def init_other_repo(path: Path) -> None:
    with git.Repo.init(path) as repo:
        repo.create_remote("origin", "https://example.invalid/other.git")
    (path / "my-notes.txt").write_text("keep me")


# Another release or local edits are not broken: tests/test_lifecycle_update.py updates those.
@pytest.mark.parametrize("broken", ["not_a_repo", "wrong_origin"])
def test_broken_checkout_is_moved_aside_not_deleted(
    tmp_path: Path, demo: Fixture, broken: str
) -> None:
    target = tmp_path / "dinoair"
    checkout = target / "ComfyUI"
    if broken == "not_a_repo":
        checkout.mkdir(parents=True)
        (checkout / "my-notes.txt").write_text("keep me")
    else:
        checkout.mkdir(parents=True)
        init_other_repo(checkout)
    (checkout / "custom_nodes" / "my_node").mkdir(parents=True)
    (checkout / "custom_nodes" / "my_node" / "__init__.py").write_text("NODE = 1\n")
    events: Events = []
    ctx = make_ctx(target, demo.manifest, events)

    assert "move the existing ComfyUI/ aside" in comfyui.describe(ctx)
    comfyui.run(ctx)

    moved = [attrs for name, attrs in events if name == "checkout_moved_aside"]
    assert [m["reason"] for m in moved] == [broken]
    aside = target / moved[0]["folder"]
    assert aside.name.startswith("ComfyUI.broken-") and aside.name.endswith("Z")
    assert (aside / "my-notes.txt").read_text() == "keep me"
    assert head_of(checkout) == demo.commit
    assert not (checkout / "my-notes.txt").exists()
    # The user's folders are carried into the fresh checkout, not left behind.
    assert (checkout / "custom_nodes" / "my_node" / "__init__.py").read_text() == "NODE = 1\n"
    assert [a["folders"] for n, a in events if n == "user_folders_carried_over"] == ["custom_nodes"]
    assert_plain_attributes(events)


def test_corrupt_checkout_is_moved_aside(tmp_path: Path, demo: Fixture) -> None:
    target = tmp_path / "dinoair"
    comfyui.run(make_ctx(target, demo.manifest))
    shutil.rmtree(target / "ComfyUI" / ".git" / "objects")
    (target / "ComfyUI" / ".git" / "objects").mkdir()
    events: Events = []

    comfyui.run(make_ctx(target, demo.manifest, events))

    assert [a["reason"] for n, a in events if n == "checkout_moved_aside"] == ["corrupt"]
    assert head_of(target / "ComfyUI") == demo.commit


def test_bad_ref_is_installation_and_leaves_nothing(tmp_path: Path, demo: Fixture) -> None:
    manifest = variant_manifest(
        demo, tmp_path / "bad", comfyui={"repo": str(demo.repo), "ref": "v9.9.9-missing"}
    )
    target = tmp_path / "dinoair"
    events: Events = []

    with pytest.raises(InstallError) as info:
        comfyui.run(make_ctx(target, manifest, events))

    assert info.value.category == INSTALLATION
    assert "v9.9.9-missing" in str(info.value)
    assert "clone_retry" not in names(events)  # not a network problem: no retries
    assert list(target.iterdir()) == []


def test_unreachable_repo_is_network_after_retries(tmp_path: Path, demo: Fixture) -> None:
    manifest = variant_manifest(
        demo, tmp_path / "net", comfyui={"repo": "http://127.0.0.1:1/ComfyUI.git", "ref": "v1.0.0"}
    )
    target = tmp_path / "dinoair"
    events: Events = []

    with pytest.raises(InstallError) as info:
        comfyui.run(make_ctx(target, manifest, events, retries=2))

    assert info.value.category == NETWORK
    assert "after 3 attempts" in str(info.value)
    retries = [attrs for name, attrs in events if name == "clone_retry"]
    assert [r["attempt"] for r in retries] == [1, 2]
    assert list(target.iterdir()) == []
    assert_plain_attributes(events)


def test_interrupted_clone_leaves_no_partial_checkout(
    tmp_path: Path, demo: Fixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_clone = comfyui.clone_into

    def clone_then_ctrl_c(partial: Path, *args: Any, **kwargs: Any) -> None:
        real_clone(partial, *args, **kwargs)
        assert (partial / "main.py").exists()  # the partial checkout really was there
        raise KeyboardInterrupt

    monkeypatch.setattr(comfyui, "clone_into", clone_then_ctrl_c)
    target = tmp_path / "dinoair"

    with pytest.raises(KeyboardInterrupt):
        comfyui.run(make_ctx(target, demo.manifest))

    assert list(target.iterdir()) == []


def test_stale_partial_of_a_killed_run_is_removed(tmp_path: Path, demo: Fixture) -> None:
    target = tmp_path / "dinoair"
    stale = target / "ComfyUI.partial-999999999"  # no such process
    (stale / ".git").mkdir(parents=True)
    events: Events = []

    comfyui.run(make_ctx(target, demo.manifest, events))

    assert not stale.exists()
    assert ("stale_partial_removed", {"count": 1}) in events
    assert leftovers(target) == []


# -- python_deps ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def installed(
    demo: Fixture, tmp_path_factory: pytest.TempPathFactory
) -> tuple[InstallContext, Events]:
    """One real install (clone, venv, offline uv from the fixture's torch index) shared by the
    python_deps tests.

    It starts from a broken venv (a folder without its python, as left when Python was
    upgraded away), so the one slow venv creation also covers "recreate a broken venv".
    """
    target = tmp_path_factory.mktemp("deps") / "dinoair"
    events: Events = []
    ctx = make_ctx(target, demo.manifest, events)
    comfyui.run(ctx)
    (target / "venv" / "lib").mkdir(parents=True)
    (target / "venv" / "pyvenv.cfg").write_text("home = /no/such/python\n")
    python_deps.run(ctx)
    return ctx, events


def venv_imports_demo_dep(ctx: InstallContext) -> bool:
    done = subprocess.run(
        [str(python_deps.venv_python(ctx)), "-c", "import dinoair_demo_dep"], capture_output=True
    )
    return done.returncode == 0


def test_python_deps_installs_the_wheel_offline(installed: tuple[InstallContext, Events]) -> None:
    ctx, events = installed
    assert venv_imports_demo_dep(ctx)
    assert "venv_created" in names(events) and "requirements_installed" in names(events)
    assert ctx.outcomes["python_deps"]["venv_created"] is True
    assert ctx.outcomes["python_deps"]["requirements"] == 3  # torch, torchvision, the demo wheel
    assert ctx.outcomes["python_deps"]["installer"] == "uv"
    log = (ctx.logs_dir / "uv-install.log").read_text()
    assert "+ dinoair-demo-dep==0.1.0" in log and "+ torch==2.8.0+cpu" in log
    assert_plain_attributes(events)


def test_python_deps_second_run_skips(installed: tuple[InstallContext, Events]) -> None:
    ctx, _ = installed
    assert python_deps.describe(ctx).startswith("skip")
    with pytest.raises(StepSkipped) as info:
        python_deps.run(ctx)
    assert info.value.reason == "already_installed"


def test_python_deps_failing_requirement_names_the_log(
    installed: tuple[InstallContext, Events],
) -> None:
    ctx, _ = installed
    requirements = python_deps.requirements_file(ctx)
    good = requirements.read_text()
    requirements.write_text(good + "dinoair-no-such-package==9.9.9\n")
    try:
        assert not python_deps.describe(ctx).startswith("skip")  # changed: install again
        with pytest.raises(InstallError) as info:
            python_deps.run(ctx)
        assert info.value.category == INSTALLATION
        assert "uv install (torch and requirements) failed" in str(info.value)
        assert "uv-install.log" in info.value.hint
        assert not python_deps.describe(ctx).startswith("skip")  # no stamp for a failure
    finally:
        requirements.write_text(good)
    assert python_deps.describe(ctx).startswith("skip")  # the earlier stamp still holds


def test_python_deps_unreachable_index_is_network(
    installed: tuple[InstallContext, Events], monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx, _ = installed
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:1/simple")  # reaches uv as its index
    requirements = python_deps.requirements_file(ctx)
    good = requirements.read_text()
    requirements.write_text(good + "dinoair-no-such-package==9.9.9\n")
    try:
        with pytest.raises(InstallError) as info:
            python_deps.run(make_ctx(ctx.target, ctx.manifest.source, retries=1))
    finally:
        requirements.write_text(good)
    assert info.value.category == NETWORK
    assert "uv-install.log" in info.value.hint


def test_python_deps_missing_requirements_is_installation(tmp_path: Path, demo: Fixture) -> None:
    ctx = make_ctx(tmp_path / "dinoair", demo.manifest)
    ctx.comfyui_dir.mkdir(parents=True)
    with pytest.raises(InstallError) as info:
        python_deps.run(ctx)
    assert info.value.category == INSTALLATION
    assert "requirements.txt is missing" in str(info.value)
    assert not (tmp_path / "dinoair" / "venv").exists()  # checked before creating anything


def test_python_deps_recreates_a_venv_without_python(
    installed: tuple[InstallContext, Events],
) -> None:
    ctx, events = installed
    assert ("venv_recreated", {"reason": "no_python"}) in events
    assert names(events).index("venv_recreated") < names(events).index("venv_created")
    assert venv_imports_demo_dep(ctx)
    assert "home = /no/such/python" not in (python_deps.venv_dir(ctx) / "pyvenv.cfg").read_text()


def test_fixture_manifest_can_be_written_later(tmp_path: Path) -> None:
    fixture = build_fixture(tmp_path / "late", models={"one.safetensors": 1234})
    assert not fixture.manifest.exists()
    write_manifest(fixture, "http://127.0.0.1:8123/")
    manifest = load_manifest(fixture.manifest)
    assert manifest.comfyui_ref == fixture.tag
    [checkpoint] = manifest.checkpoints
    assert checkpoint.url == "http://127.0.0.1:8123/one.safetensors"
    assert checkpoint.size == 1234 == (fixture.models_dir / "one.safetensors").stat().st_size
    assert manifest.webgui_dir.name == "webgui" and manifest.workflows_dir.name == "workflows"


# -- preflight: the disk Ollama will take (issue 23) -----------------------------------------


def _ollama_manifest(demo: Fixture, folder: Path, **archive: Any) -> Path:
    """The demo manifest with an Ollama archive entry for this machine (fields as given)."""
    system, arch = ollama.platform_key()
    entry = {"os": system, "arch": arch, "url": "http://127.0.0.1:9/ollama.tgz"}
    entry |= {"sha256": "0" * 64, **archive}
    return variant_manifest(demo, folder, ollama={"archives": [entry]})


@pytest.fixture
def no_ollama(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No Ollama answers (OLLAMA_HOST names a port nothing listens on), none on PATH."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("OLLAMA_HOST", f"127.0.0.1:{port}")
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    git_dir = Path(shutil.which("git") or "/usr/bin/git").parent
    monkeypatch.setenv("PATH", os.pathsep.join([str(empty), str(git_dir)]))


def test_preflight_counts_the_ollama_archive_its_files_and_the_models_to_pull(
    tmp_path: Path, demo: Fixture, no_ollama: None
) -> None:
    """No Ollama here and an archive for this platform: ollama_models will download it, unpack
    it and pull the chat model, so all three count; what the manifest does not give (the
    unpacked size, the model's size) is a stated estimate, and the plan says which."""
    manifest = _ollama_manifest(demo, tmp_path / "m", size=1_500_000_000)
    ctx = make_ctx(tmp_path / "t", manifest)
    preflight.find_tools(ctx)
    without = preflight.required_bytes(make_ctx(tmp_path / "t", demo.manifest))
    needed = preflight.required_bytes(ctx)
    ollama = 1_500_000_000 * (1 + preflight.OLLAMA_UNPACK_FACTOR) + preflight.OLLAMA_MODEL_ESTIMATE
    assert needed - without == ollama
    plan = preflight.describe(ctx)
    assert (
        f", {size(ollama)} of it for Ollama (the release archive 1.4 GiB; its files unpacked "
        "4.2 GiB, estimated; the chat model to pull 5.0 GiB, estimated)"
    ) in plan
    from click.testing import CliRunner

    from installer.cli import cli

    args = ["--dry-run", "--manifest", str(manifest), "--target", str(tmp_path / "t")]
    result = CliRunner().invoke(cli, [*args, "--disable-telemetry"])
    assert result.exit_code == 0, result.output
    assert f"free, {size(ollama)} of it for Ollama (the release archive 1.4 GiB;" in result.output
    assert f"has {size(needed)} free" in result.output  # the figure preflight will check
    assert not (tmp_path / "t").exists()


def test_preflight_uses_the_manifests_sizes_and_its_estimate_for_a_sizeless_archive(
    tmp_path: Path, demo: Fixture, no_ollama: None
) -> None:
    data = json.loads(_ollama_manifest(demo, tmp_path / "m", unpacked_size=3 * 2**30).read_text())
    data["ollama"]["model_sizes"] = {data["ollama_models"][0]: 4 * 2**30}
    manifest = tmp_path / "m" / "manifest.json"
    manifest.write_text(json.dumps(data))
    ctx = make_ctx(tmp_path / "t", manifest)
    preflight.find_tools(ctx)
    assert preflight.ollama_parts(ctx) == [
        ("the release archive", preflight.OLLAMA_ARCHIVE_ESTIMATE, True),  # no size: estimated
        ("its files unpacked", 3 * 2**30, False),
        ("the chat model to pull", 4 * 2**30, False),
    ]
    assert "the chat model to pull 4.0 GiB)" in preflight.describe(ctx)


def test_preflight_counts_no_ollama_where_ollama_models_will_not_install_it(
    tmp_path: Path, demo: Fixture, no_ollama: None
) -> None:
    """No archive for this platform (the step is skipped), --no-models, or an Ollama already
    answering (it pulls into its own folder): nothing of Ollama counts."""
    elsewhere = "windows" if ollama.platform_key()[0] != "windows" else "linux"
    other = _ollama_manifest(demo, tmp_path / "other", os=elsewhere)  # none for this platform
    assert preflight.ollama_parts(make_ctx(tmp_path / "t", other)) == []
    manifest = _ollama_manifest(demo, tmp_path / "m", size=10**9)
    assert preflight.ollama_parts(make_ctx(tmp_path / "t", manifest, no_models=True)) == []
    standin = install_standin_ollama(tmp_path / "system")
    port = os.environ["OLLAMA_HOST"].rsplit(":", 1)[1]
    server = subprocess.Popen(
        [str(standin), "serve"],
        env={**os.environ, "OLLAMA_MODELS": str(tmp_path / "system-models")},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            if ollama.version(f"http://127.0.0.1:{port}") is not None:
                break
            server.poll()
            assert server.returncode is None, "the stand-in Ollama exited"
            time.sleep(0.1)
        assert preflight.ollama_parts(make_ctx(tmp_path / "t", manifest)) == []
    finally:
        server.terminate()
        server.wait()


def test_preflight_counts_only_the_models_the_installs_own_ollama_lacks(
    tmp_path: Path, demo: Fixture, no_ollama: None
) -> None:
    manifest = _ollama_manifest(demo, tmp_path / "m", size=10**9)
    target = tmp_path / "t"
    install_standin_ollama(target)  # ollama/bin/ollama: no archive to download
    ctx = make_ctx(target, manifest)
    assert preflight.ollama_parts(ctx) == [
        ("the chat model to pull", preflight.OLLAMA_MODEL_ESTIMATE, True)
    ]
    name, tag = ctx.manifest.ollama_models[0].split(":")  # pulled: Ollama's manifest file
    pulled = target / "ollama/models/manifests/registry.ollama.ai/library" / name / tag.lower()
    pulled.parent.mkdir(parents=True)
    pulled.write_text("{}")
    assert preflight.ollama_parts(ctx) == []
