"""Faults of the dependency install and of verify, each in a real installer subprocess: an
unreachable index, an index serving the wrong torch, a torch that sees no GPU on a machine that
reports one, a ComfyUI that hangs, Ctrl-C mid-install, a disk that fills up mid-install."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from fixtures.demo_fixture import Fixture, add_torch_builds, torch_section
from fixtures.package_index import PackageIndex
from installer.steps import python_deps
from tests.gpu_tools import RTX_5090_580, nvidia
from tests.reliability.conftest import (
    REPO,
    assert_clean_exit,
    environment,
    install,
    tmpfs,
    write_manifest_file,
)

ARGS = ("--no-models", "--skip", "webgui", "--retries", "0", "--timeout", "5")


def manifest_for(demo: Fixture, folder: Path, torch_url: str, **torch_changes: object) -> Path:
    data = {
        "comfyui": {"repo": str(demo.repo), "ref": demo.tag},
        "torch": torch_section(torch_url),
        "ollama_models": [],
        "checkpoints": [],
        "webgui": str(demo.webgui_dir),
        "workflows": str(demo.workflows_dir),
    }
    for key, value in torch_changes.items():
        data["torch"]["builds"][0][key] = value  # type: ignore[index]
    folder.mkdir(parents=True, exist_ok=True)
    return write_manifest_file(folder / "manifest.json", data)


def index_env(url: str, **extra: str) -> dict[str, str | None]:
    return {"PIP_INDEX_URL": url, **extra}


def test_torch_index_unreachable(trial, demo: Fixture, tmp_path: Path) -> None:
    dead = "http://127.0.0.1:1/simple"
    with trial("deps: torch index unreachable", how="manifest's torch index on a closed port"):
        result = install(
            tmp_path / "t", manifest_for(demo, tmp_path, dead), *ARGS, fast=False,
            env=index_env(demo.torch_index),
        )  # fmt: skip
        assert_clean_exit(result, 1)
        assert "failed (network)" in result.stderr
        assert f"the torch index {dead} could not be reached" in result.stderr
        assert "--torch-index" in result.stderr
        assert not (tmp_path / "t" / "venv" / python_deps.STAMP_NAME).exists()


def test_index_serving_a_wrong_torch(trial, demo: Fixture, tmp_path: Path) -> None:
    how = "index holds only torch 2.8.0+cu128; the cpu build is asked for by name"
    wrong = PackageIndex()
    wrong.add("torch", "2.8.0+cu128")
    wrong.add("torchvision", "0.23.0", requires=["torch"])
    wrong.add("torchaudio", "2.8.0", requires=["torch"])
    with wrong, trial("deps: index serving a wrong torch", how=how):
        manifest = manifest_for(
            demo, tmp_path, wrong.url, requirements=["torch", "torchvision", "torchaudio"]
        )
        result = install(tmp_path / "t", manifest, *ARGS, fast=False, env=index_env(wrong.url))
        assert_clean_exit(result, 1)
        assert "failed (installation)" in result.stderr
        assert "served torch 2.8.0+cu128, not the cpu build" in result.stderr


def test_torch_sees_no_gpu_on_a_machine_that_reports_one(
    trial, demo: Fixture, tmp_path: Path
) -> None:
    how = (
        "nvidia-smi (driver 580, CUDA 13.0) on PATH; the cu128 torch's cuda.is_available() is False"
    )
    bin_dir = tmp_path / "bin"
    nvidia(bin_dir, RTX_5090_580, "13.0")
    path = os.pathsep.join([str(bin_dir), os.environ["PATH"]])
    with trial("verify: torch imports but sees no GPU on a GPU machine", how=how):
        result = install(
            tmp_path / "t", manifest_for(demo, tmp_path, demo.torch_index),
            *ARGS, fast=False, env=index_env(demo.torch_index, PATH=path),
        )  # fmt: skip
        assert_clean_exit(result, 1)
        assert "step 'verify' failed (system)" in result.stderr
        assert (
            "sees no GPU (cpu) although this machine has NVIDIA GeForce RTX 5090" in result.stderr
        )
        assert "update the NVIDIA driver" in result.stderr
        assert "[10/10] finalize: skipped (dependency_failed)" in result.stdout


def test_comfyui_hangs_in_verify(trial, demo: Fixture, tmp_path: Path) -> None:
    how = "quick test sleeps for an hour; --verify-timeout 3"
    with trial("verify: ComfyUI hangs", how=how):
        started = time.monotonic()
        result = install(
            tmp_path / "t", manifest_for(demo, tmp_path, demo.torch_index), *ARGS,
            "--verify-timeout", "3", fast=False,
            env=index_env(demo.torch_index, DINOAIR_DEMO_QUICK_TEST="hang"),
        )  # fmt: skip
        assert time.monotonic() - started < 60
        assert_clean_exit(result, 1)
        assert "did not finish within 3 s" in result.stderr
        leftover = [
            p for p in psutil.process_iter(["cmdline"])
            if "--quick-test-for-ci" in (p.info["cmdline"] or [])
            and str(tmp_path) in " ".join(p.info["cmdline"] or [])
        ]  # fmt: skip
        assert leftover == [], "the hanging ComfyUI was killed"


def test_ctrl_c_during_the_dependency_install(trial, demo: Fixture, tmp_path: Path) -> None:
    how = "SIGINT to the installer's process group while uv waits for a slow index (5 s a file)"
    slow = PackageIndex(file_delay=5.0)
    add_torch_builds(slow)
    target = tmp_path / "t"
    with slow, trial("deps: Ctrl-C during the dependency install", how=how):
        manifest = manifest_for(demo, tmp_path, slow.url)
        cmd = [sys.executable, "-m", "installer", "--target", str(target),
               "--manifest", str(manifest), "--yes", *ARGS]  # fmt: skip
        proc = subprocess.Popen(
            cmd, cwd=REPO, env=environment(index_env(slow.url)), text=True,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while not any(p.startswith("/files/") for p in slow.requests):
            assert time.monotonic() < deadline and proc.poll() is None, "uv never downloaded"
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGINT)  # what a terminal does on Ctrl-C
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 130, out + err
        assert "Traceback" not in err
        assert "python_deps" in out and "CANCELLED" in out
        assert not (target / "venv" / python_deps.STAMP_NAME).exists()
        assert not [p for p in psutil.process_iter(["cmdline"])
                    if str(target) in " ".join(p.info["cmdline"] or [])]  # fmt: skip
        slow.file_delay = 0.0  # the re-run finishes the install
        again = install(target, manifest, *ARGS, fast=False, env=index_env(slow.url))
        assert_clean_exit(again, 0)


def test_disk_full_during_the_dependency_install(trial, demo: Fixture, tmp_path: Path) -> None:
    name = "deps: disk full during the dependency install"
    how = (
        "target on a 1.2 GiB tmpfs, filled to 150 MiB free after a first install (preflight's "
        "re-run margin passes); the manifest's new lock adds a requirement that unpacks 200 MB"
    )
    big = PackageIndex()
    add_torch_builds(big)
    blob = random.Random(7).randbytes(100 * 10**6).hex()
    big.add("big-blob", "1.0", modules={"big_blob/__init__.py": f"DATA = {blob!r}\n"})
    del blob
    mount = tmp_path / "disk"
    with tmpfs(mount, size="1200m") as mounted:
        if not mounted:
            trial.skipped(name, "cannot mount a tmpfs here (needs root on Linux)", how=how)
            pytest.skip("cannot mount a tmpfs here")
        with big, trial(name, how=how):
            manifest = manifest_for(demo, tmp_path / "m", big.url)
            data = json.loads(manifest.read_text())
            data["comfyui"]["requirements_mb"] = 1
            manifest.write_text(json.dumps(data))
            target = mount / "t"
            first = install(target, manifest, *ARGS, fast=False, env=index_env(big.url))
            assert_clean_exit(first, 0)  # the small install fits
            good_stamp = (target / "venv" / python_deps.STAMP_NAME).read_bytes()
            filler = mount / "filler"
            with filler.open("wb") as handle:
                os.posix_fallocate(
                    handle.fileno(), 0, psutil.disk_usage(str(mount)).free - 150 * 2**20
                )
            # A manifest update: a lock that adds the big requirement.
            requirements = (target / "ComfyUI" / "requirements.txt").read_text()
            (manifest.parent / "lock.txt").write_text(requirements + "big-blob\n")
            data["comfyui"]["lock"] = "lock.txt"
            manifest.write_text(json.dumps(data))
            result = install(target, manifest, *ARGS, fast=False, env=index_env(big.url),
                             timeout=300)  # fmt: skip
            assert_clean_exit(result, 1)
            assert "step 'python_deps' failed (system)" in result.stderr
            assert "ran out of disk space" in result.stderr
            # The failed install wrote no stamp: the next run installs again.
            assert (target / "venv" / python_deps.STAMP_NAME).read_bytes() == good_stamp
            filler.unlink()
            again = install(target, manifest, *ARGS, fast=False, env=index_env(big.url),
                            timeout=300)  # fmt: skip
            assert_clean_exit(again, 0)
