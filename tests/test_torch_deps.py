"""python_deps against a real package index on 127.0.0.1, with the real uv and the real pip:
torch comes from the chosen index and stays held, an unreachable index is a ``network`` error
naming the override, the resolution is pinned to the release date, and the user's index
settings reach uv."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uv

from fixtures.demo_fixture import Fixture, add_torch_builds, build_fixture, torch_section
from fixtures.package_index import PackageIndex
from installer.context import InstallContext
from installer.errors import INSTALLATION, NETWORK, InstallError
from installer.index_settings import pip_settings
from installer.steps import comfyui, python_deps
from installer.steps.python_deps import Progress
from tests.contexts import Events
from tests.contexts import make_ctx as new_ctx


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Fixture:
    return build_fixture(tmp_path_factory.mktemp("fixture"), model_base_url="http://127.0.0.1:9")


@pytest.fixture(scope="module")
def torch_index() -> Iterator[PackageIndex]:
    """The chosen torch index: the stand-in builds (2.8.0+cpu, 2.8.0+cu128)."""
    index = PackageIndex()
    add_torch_builds(index)
    with index:
        yield index


@pytest.fixture(scope="module")
def default_index() -> Iterator[PackageIndex]:
    """The user's index: a newer torch (which must never win) and a package needing torch,
    in an old and a new release."""
    index = PackageIndex()
    index.add("torch", "9.9.9", uploaded="2023-01-01T00:00:00Z")
    index.add("torchvision", "9.9.9", requires=["torch"], uploaded="2023-01-01T00:00:00Z")
    index.add("needs-torch", "1.0.0", requires=["torch"], uploaded="2023-06-01T00:00:00Z")
    index.add("needs-torch", "2.0.0", requires=["torch>=2"], uploaded="2024-06-01T00:00:00Z")
    with index:
        yield index


def make_ctx(target: Path, manifest: Path, events: Events | None = None, **options: Any):
    """Fail fast: no retries, short network timeouts."""
    return new_ctx(target, manifest, events, **{"retries": 0, "timeout": 5, **options})


def prepared(
    demo: Fixture, tmp_path: Path, torch_url: str, *, released: str | None = "2024-01-01", **extra
) -> Path:
    """A manifest whose torch builds live at ``torch_url``, and a target with ComfyUI cloned
    whose requirements also need ``needs-torch`` (from the user's index)."""
    data = json.loads(demo.manifest.read_text())
    data["torch"] = torch_section(torch_url)
    data["comfyui"] = {**data["comfyui"], "released": released}
    if released is None:
        del data["comfyui"]["released"]
    data.update(extra)
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps(data))
    target = tmp_path / "dinoair"
    ctx = make_ctx(target, manifest)
    comfyui.run(ctx)
    requirements = python_deps.requirements_file(ctx)
    requirements.write_text(requirements.read_text() + "needs-torch\n")
    return manifest


def venv_versions(ctx: InstallContext, *names: str) -> dict[str, str]:
    code = (
        "import json, sys\nfrom importlib import metadata\n"
        "print(json.dumps({n: metadata.version(n) for n in sys.argv[1:]}))"
    )
    done = subprocess.run(
        [str(python_deps.venv_python(ctx)), "-c", code, *names],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout)


@pytest.mark.parametrize("installer", ["uv", "pip"])
def test_torch_comes_from_the_chosen_index_and_stays_held(
    demo: Fixture,
    torch_index: PackageIndex,
    default_index: PackageIndex,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    installer: str,
) -> None:
    monkeypatch.setenv("PIP_INDEX_URL", default_index.url)  # the user's index, as pip sees it
    manifest = prepared(demo, tmp_path, torch_index.url)
    events: Events = []
    ctx = make_ctx(tmp_path / "dinoair", manifest, events, installer=installer)
    python_deps.run(ctx)
    versions = venv_versions(ctx, "torch", "torchvision", "needs-torch")
    # torch 9.9.9 on the user's index is newer, and needs-torch asks for any torch: still held.
    assert versions["torch"] == "2.8.0+cpu"
    assert versions["torchvision"] == "0.23.0"
    held = (python_deps.venv_dir(ctx) / python_deps.CONSTRAINTS_NAME).read_text()
    assert "torch==2.8.0+cpu\n" in held
    outcome = ctx.outcomes["python_deps"]
    assert outcome["installer"] == installer and outcome["torch_build"] == "cpu"
    assert outcome["torch"]["torch"] == "2.8.0+cpu"
    [(_, done)] = [e for e in events if e[0] == "requirements_installed"]
    assert done["installer"] == installer and done["installed"] >= 4 and done["seconds"] > 0
    assert done["resolved"] >= 1 and done["downloaded"] >= 1
    if installer == "pip":  # pip names every download's size; uv names only the large ones
        assert done["bytes"] > 0 and ctx.bytes_downloaded == done["bytes"]


def test_unreachable_torch_index_is_network_naming_the_override(
    demo: Fixture, default_index: PackageIndex, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PIP_INDEX_URL", default_index.url)
    dead = "http://127.0.0.1:1/simple"
    manifest = prepared(demo, tmp_path, dead)
    ctx = make_ctx(tmp_path / "dinoair", manifest)
    with pytest.raises(InstallError) as info:
        python_deps.run(ctx)
    assert info.value.category == NETWORK
    assert f"the torch index {dead} could not be reached" in str(info.value)
    assert "--torch-index" in (info.value.hint or "")
    assert not python_deps.describe(ctx).startswith("skip")  # no stamp: the next run retries


def test_torch_index_option_is_used_instead_of_the_manifests(
    demo: Fixture,
    torch_index: PackageIndex,
    default_index: PackageIndex,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PIP_INDEX_URL", default_index.url)
    manifest = prepared(demo, tmp_path, "http://127.0.0.1:1/simple")  # unreachable in manifest
    before = len(torch_index.requests)
    ctx = make_ctx(tmp_path / "dinoair", manifest, torch_index=torch_index.url)
    python_deps.run(ctx)
    assert venv_versions(ctx, "torch")["torch"] == "2.8.0+cpu"
    assert any("/simple/torch/" in path for path in torch_index.requests[before:])


@pytest.mark.parametrize(("released", "expected"), [("2024-01-01", "1.0.0"), (None, "2.0.0")])
def test_exclude_newer_resolves_as_of_the_release(
    demo: Fixture,
    torch_index: PackageIndex,
    default_index: PackageIndex,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    released: str | None,
    expected: str,
) -> None:
    """needs-torch 2.0.0 was uploaded after the release: resolved as of the release, the
    older one is installed; without a release date, the newest."""
    monkeypatch.setenv("PIP_INDEX_URL", default_index.url)
    manifest = prepared(demo, tmp_path, torch_index.url, released=released)
    ctx = make_ctx(tmp_path / "dinoair", manifest)
    python_deps.run(ctx)
    assert venv_versions(ctx, "needs-torch")["needs-torch"] == expected
    assert ctx.outcomes["python_deps"]["resolved_as_of"] == (
        f"{released}T23:59:59Z" if released else None
    )


def test_a_lock_replaces_the_requirements_and_the_date(
    demo: Fixture,
    torch_index: PackageIndex,
    default_index: PackageIndex,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PIP_INDEX_URL", default_index.url)
    lock = tmp_path / "lock.txt"
    lock.write_text("needs-torch==2.0.0\n")  # newer than the release date: the lock wins
    manifest = prepared(demo, tmp_path, torch_index.url)
    data = json.loads(manifest.read_text())
    data["comfyui"]["lock"] = "lock.txt"
    manifest.write_text(json.dumps(data))
    ctx = make_ctx(tmp_path / "dinoair", manifest)
    python_deps.run(ctx)
    assert venv_versions(ctx, "needs-torch", "torch") == {
        "needs-torch": "2.0.0",
        "torch": "2.8.0+cpu",
    }
    assert ctx.outcomes["python_deps"]["resolved_as_of"] is None


def test_an_index_serving_the_wrong_build_fails_before_verify(
    demo: Fixture, default_index: PackageIndex, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The CPU build was asked for; the index serves only a CUDA build of torch."""
    wrong = PackageIndex()
    wrong.add("torch", "2.8.0+cu128")
    wrong.add("torchvision", "0.23.0", requires=["torch"])
    wrong.add("torchaudio", "2.8.0", requires=["torch"])
    monkeypatch.setenv("PIP_INDEX_URL", default_index.url)
    with wrong:
        manifest = prepared(demo, tmp_path, wrong.url)
        data = json.loads(manifest.read_text())
        data["torch"]["builds"][0]["requirements"] = ["torch", "torchvision", "torchaudio"]
        manifest.write_text(json.dumps(data))
        ctx = make_ctx(tmp_path / "dinoair", manifest)
        with pytest.raises(InstallError) as info:
            python_deps.run(ctx)
    assert info.value.category == INSTALLATION
    assert "served torch 2.8.0+cu128, not the cpu build" in str(info.value)


def test_pip_is_the_fallback_when_uv_cannot_run(
    demo: Fixture,
    torch_index: PackageIndex,
    default_index: PackageIndex,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    broken = tmp_path / "uv"
    broken.write_text("#!/bin/sh\necho 'uv: cannot execute binary file' >&2\nexit 126\n")
    broken.chmod(0o755)
    monkeypatch.setattr(uv, "find_uv_bin", lambda: str(broken))
    monkeypatch.setenv("PIP_INDEX_URL", default_index.url)
    manifest = prepared(demo, tmp_path, torch_index.url)
    events: Events = []
    ctx = make_ctx(tmp_path / "dinoair", manifest, events)
    python_deps.run(ctx)
    assert ctx.outcomes["python_deps"]["installer"] == "pip"
    assert (
        "installer_fallback",
        {"installer": "pip", "reason": "`uv --version` exited with 126"},
    ) in events
    assert venv_versions(ctx, "torch")["torch"] == "2.8.0+cpu"


# -- the user's index settings reach uv -----------------------------------------------------------


def test_pip_conf_and_pip_env_reach_uv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    conf = tmp_path / "pip.conf"
    conf.write_text(
        "[global]\nindex-url = https://mirror.corp.example/simple\n"
        "extra-index-url = https://extra.corp.example/simple file:///srv/wheels\n"
        "constraint = /etc/corp-constraints.txt\ntrusted-host = mirror.corp.example\n"
        "[install]\nfind-links = /srv/links\n"
    )
    monkeypatch.setenv("PIP_CONFIG_FILE", str(conf))
    monkeypatch.delenv("PIP_INDEX_URL")
    settings = pip_settings()
    assert settings.index_url == "https://mirror.corp.example/simple"
    assert settings.extra_index_urls == ("https://extra.corp.example/simple", "file:///srv/wheels")
    assert settings.uv_args() == [
        "--index-url",
        "https://mirror.corp.example/simple",
        "--extra-index-url",
        "https://extra.corp.example/simple",
        "--extra-index-url",
        "file:///srv/wheels",
        "--find-links",
        "/srv/links",
        "--constraint",
        "/etc/corp-constraints.txt",
        "--allow-insecure-host",
        "mirror.corp.example",
    ]
    monkeypatch.setenv("PIP_INDEX_URL", "https://env.corp.example/simple")  # env beats the file
    assert pip_settings().index_url == "https://env.corp.example/simple"
    # A user who configured uv itself gets exactly that: pip's value is not passed over it.
    monkeypatch.setenv("UV_DEFAULT_INDEX", "https://uv.corp.example/simple")
    monkeypatch.setenv("UV_EXTRA_INDEX_URL", "https://uv-extra.corp.example/simple")
    uv_owned = pip_settings()
    assert uv_owned.index_url is None and uv_owned.extra_index_urls == ()
    assert uv_owned.find_links == ("/srv/links",)


def test_uv_index_variables_are_honoured_by_the_install(
    demo: Fixture,
    torch_index: PackageIndex,
    default_index: PackageIndex,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:1/simple")  # would fail if used
    monkeypatch.setenv("UV_DEFAULT_INDEX", default_index.url)
    manifest = prepared(demo, tmp_path, torch_index.url)
    ctx = make_ctx(tmp_path / "dinoair", manifest)
    python_deps.run(ctx)
    assert venv_versions(ctx, "needs-torch")["needs-torch"] == "1.0.0"


# -- live progress -------------------------------------------------------------------------------

UV_OUTPUT = """\
Using Python 3.11.7 environment at: venv
DEBUG Selecting: torch==2.8.0 [compatible] (torch-2.8.0-cp311-cp311-manylinux_2_28_x86_64.whl)
Resolved 29 packages in 2.40s
Downloading nvidia-cublas-cu12 (566.8MiB)
Downloading torch (846.9MiB)
 Downloaded nvidia-cublas-cu12
 Downloaded torch
Prepared 29 packages in 1m 47s
Installed 29 packages in 1.72s
 + torch==2.8.0
"""
PIP_OUTPUT = """\
Collecting torch==2.8.0
  Downloading torch-2.8.0-cp311-cp311-manylinux_2_28_x86_64.whl (888.1 MB)
Collecting filelock
  Downloading filelock-3.20.0-py3-none-any.whl (16 kB)
Successfully installed filelock-3.20.0 torch-2.8.0
"""


@pytest.mark.parametrize(
    ("tool", "output", "counts", "size"),
    [
        ("uv", UV_OUTPUT, (29, 29, 29), int(566.8 * 2**20) + int(846.9 * 2**20)),
        ("pip", PIP_OUTPUT, (2, 2, 2), 888_100_000 + 16_000),
    ],
)
def test_progress_counts_packages_and_bytes(
    tool: str, output: str, counts: tuple[int, int, int], size: int
) -> None:
    import io

    stream = io.StringIO()
    progress = Progress(tool, enabled=False, stream=stream)
    progress.phase("torch")
    for line in output.splitlines(keepends=True):
        progress.feed(line)
    assert (
        progress.resolved or progress._selecting,
        progress.downloaded,
        progress.installed,
    ) == counts
    assert progress.bytes == size
    assert f"{tool} (torch): " in progress.line() and re.search(
        r" [\d.]+ [KMG]iB, ", progress.line()
    )


def test_progress_draws_a_live_line_on_a_terminal() -> None:
    import io
    import time

    stream = io.StringIO()
    progress = Progress("uv", enabled=True, stream=stream)
    progress.phase("requirements")
    progress.feed("Resolved 3 packages in 5ms\n")
    time.sleep(1.2)
    progress.close()
    assert "\r  uv (requirements): 3 resolved, 0 downloaded, 0 installed" in stream.getvalue()


def test_uv_is_a_dependency_that_runs_here() -> None:
    done = subprocess.run([uv.find_uv_bin(), "--version"], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.startswith("uv ")
    assert os.path.isfile(sys.executable)


def test_uv_resolves_torch_and_the_requirements_in_one_call(
    demo: Fixture,
    torch_index: PackageIndex,
    default_index: PackageIndex,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One resolution: the build pinned to its index by a uv source, the rest as of the date.
    torchvision 9.9.9 on the user's index would win without the pin (best match)."""
    monkeypatch.setenv("PIP_INDEX_URL", default_index.url)
    manifest = prepared(demo, tmp_path, torch_index.url)
    ctx = make_ctx(tmp_path / "dinoair", manifest)
    python_deps.run(ctx)
    log = (ctx.logs_dir / python_deps.UV_LOG).read_text()
    calls = [line for line in log.splitlines() if line.startswith("$ ")]
    assert (
        len(calls) == 1
        and " -r " in calls[0]
        and "--exclude-newer 2024-01-01T23:59:59Z" in calls[0]
    )
    assert venv_versions(ctx, "torch", "torchvision", "needs-torch") == {
        "torch": "2.8.0+cpu",
        "torchvision": "0.23.0",
        "needs-torch": "1.0.0",
    }
    pins = (python_deps.venv_dir(ctx) / python_deps.PINS_DIR / "pyproject.toml").read_text()
    assert f'url = "{torch_index.url}"' in pins and "explicit = true" in pins
    assert 'torchvision = { index = "dinoair-torch" }' in pins


def test_an_unreachable_user_index_is_not_blamed_on_the_torch_index(
    demo: Fixture, torch_index: PackageIndex, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One call names both indexes on its command line; the error names the one that failed."""
    dead = "http://127.0.0.1:1/simple"
    monkeypatch.setenv("PIP_INDEX_URL", dead)
    manifest = prepared(demo, tmp_path, torch_index.url)
    ctx = make_ctx(tmp_path / "dinoair", manifest)
    with pytest.raises(InstallError) as info:
        python_deps.run(ctx)
    assert info.value.category == NETWORK
    assert "the package index could not be reached" in str(info.value)
    assert torch_index.url not in str(info.value)
