"""Reusing models the user already has (issue 18, point 3), against a counting model server.

A file of the right size and SHA-256 in a ``--models-from`` folder is hard-linked into
``models/`` and never downloaded; a file of the right size but other content in a well-known
place (AUTOMATIC1111's folder below a temporary HOME) is ignored, and that checkpoint is
downloaded. The plan (``--dry-run``) says what may be reused and how much it saves.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from fixtures.commands import install_command
from fixtures.demo_fixture import build_fixture, write_manifest
from fixtures.model_server import ModelServer
from installer.lifecycle.reuse import Wanted, link_or_copy, reuse, sha256, well_known_places

REPO = Path(__file__).resolve().parent.parent
FAST = ["--skip", "python_deps", "--skip", "verify", "--skip", "webgui", "--retries", "0"]


def run(cmd: list[str], home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HOME": str(home)}
    for name in ("HF_HOME", "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        env.pop(name, None)
    return subprocess.run(cmd, cwd=REPO, env=env, text=True, capture_output=True, timeout=240)


def test_models_from_links_a_match_and_a_same_size_mismatch_is_downloaded(tmp_path: Path) -> None:
    fixture = build_fixture(tmp_path / "fixture")
    base, vae = fixture.models  # demo_base (3 MiB), demo_vae (1 MiB)
    mine = tmp_path / "my-models" / "sd"
    mine.mkdir(parents=True)
    shutil.copy(base.path, mine / "renamed-by-me.safetensors")
    home = tmp_path / "home"
    a1111 = home / "stable-diffusion-webui/models/Stable-diffusion"
    a1111.mkdir(parents=True)
    (a1111 / "same-size-other-bytes.safetensors").write_bytes(b"\0" * vae.size)
    target = tmp_path / "DinoAir"
    with ModelServer(fixture.models_dir) as server:
        manifest = write_manifest(fixture, server.base_url)
        args = ["--models-from", str(tmp_path / "my-models"), *FAST]

        plan = run(install_command(target, manifest, "--dry-run", *args), home)
        assert plan.returncode == 0, plan.stdout + plan.stderr
        # by size only: the same-size mismatch counts until its SHA-256 is read
        assert "may reuse 2 files (4.0 MiB) of the right size found in 2 folder(s)" in plan.stdout
        assert server.requests == []

        done = run(install_command(target, manifest, *args), home)

        assert done.returncode == 0, done.stdout + done.stderr
        fetched = {r.path.rsplit("/", 1)[-1] for r in server.requests if r.method == "GET"}
    assert fetched == {vae.name}  # the match was not downloaded; the mismatch was ignored
    dest = target / "models/checkpoints" / base.name
    assert os.stat(dest).st_ino == os.stat(mine / "renamed-by-me.safetensors").st_ino
    assert (target / "models/checkpoints" / vae.name).read_bytes() == vae.path.read_bytes()
    assert (a1111 / "same-size-other-bytes.safetensors").read_bytes() == b"\0" * vae.size
    assert "reused 1 model file (3.0 MiB saved, hard-linked) from your folders" in done.stdout


def test_a_copy_across_file_systems_is_verified(tmp_path: Path) -> None:
    # /dev/shm is another file system than the temp folder here, when both exist
    shm = Path("/dev/shm")
    source = tmp_path / "model.bin"
    source.write_bytes(os.urandom(1 << 16))
    digest = sha256(source)
    if not shm.is_dir() or os.stat(shm).st_dev == os.stat(tmp_path).st_dev:
        dest_dir = tmp_path / "same-fs"
        dest_dir.mkdir()
        assert link_or_copy(source, dest_dir / "m.bin", digest) is True
        return
    dest_dir = Path(shm) / f"dinoair-test-{os.getpid()}"
    dest_dir.mkdir()
    try:
        assert link_or_copy(source, dest_dir / "m.bin", digest) is False  # copied, not linked
        assert sha256(dest_dir / "m.bin") == digest
        assert not (dest_dir / "m.bin.reusing").exists()
    finally:
        shutil.rmtree(dest_dir)


def test_the_hugging_face_cache_is_searched_through_its_snapshot_links(tmp_path: Path) -> None:
    home = tmp_path / "home"
    blobs = home / ".cache/huggingface/hub/models--x--y/blobs"
    snap = home / ".cache/huggingface/hub/models--x--y/snapshots/abc"
    blobs.mkdir(parents=True)
    snap.mkdir(parents=True)
    data = os.urandom(4096)
    (blobs / "deadbeef").write_bytes(data)
    (snap / "model.safetensors").symlink_to("../../blobs/deadbeef")
    places = well_known_places(home, env={})
    assert places == [home / ".cache/huggingface/hub"]
    dest = tmp_path / "models/checkpoints/model.safetensors"
    wanted = Wanted("model.safetensors", len(data), sha256(blobs / "deadbeef"), dest)

    done = reuse([wanted], places)

    assert done.bytes_saved == len(data) and done.linked == 1 and done.mismatched == 0
    assert dest.read_bytes() == data and not dest.is_symlink()
