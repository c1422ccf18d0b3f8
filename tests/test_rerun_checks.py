"""What a re-run over a finished install still notices, now that it reads cheaply.

A re-run reads the checkout with plain ``git`` (no GitPython), trusts a verified model by its
size and mtime stamp, and trusts the venv by its stamp plus a few stats of the torch build's
files. Each shortcut is proven here against real parts: the fixture's local git repository, a
real venv made by uv from the fixture's offline torch index, a loopback model server.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from fixtures.demo_fixture import Fixture, build_fixture
from fixtures.model_server import ModelServer
from installer.context import StepSkipped
from installer.download import DownloadSpec, download_all
from installer.lifecycle.checkout import head_commit, tracked_files
from installer.steps import comfyui, python_deps
from tests.contexts import Events, make_ctx
from tests.fresh_python import imported_by

UNUSED_MODEL_URL = "http://127.0.0.1:9"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Fixture:
    return build_fixture(tmp_path_factory.mktemp("fixture"), model_base_url=UNUSED_MODEL_URL)


def git_in(path: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(path), *args], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_a_rerun_imports_no_gitpython_and_no_tqdm(tmp_path: Path, demo: Fixture) -> None:
    target = tmp_path / "dinoair"
    comfyui.run(make_ctx(target, demo.manifest))
    code = (
        "from pathlib import Path\n"
        "from installer.steps import comfyui\n"
        "from tests.contexts import make_ctx\n"
        f"ctx = make_ctx(Path({str(target)!r}), Path({str(demo.manifest)!r}))\n"
        "assert 'reuse' in comfyui.describe(ctx)\n"
        "comfyui.run(ctx)\n"
    )
    assert imported_by(code, ("git", "tqdm", "multiprocessing")) == []


def test_a_checkout_moved_to_another_commit_is_noticed(tmp_path: Path, demo: Fixture) -> None:
    target = tmp_path / "dinoair"
    checkout = target / "ComfyUI"
    comfyui.run(make_ctx(target, demo.manifest))
    repo, ref = str(demo.repo), demo.tag
    assert comfyui.inspect_checkout(checkout, repo, ref) == (None, demo.commit)
    assert head_commit(checkout) == demo.commit

    # A new commit on top of the release (what a user's `git commit` or `git pull` does).
    (checkout / "main.py").write_text("print('changed')\n")
    git_in(checkout, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qam", "mine")
    moved = git_in(checkout, "rev-parse", "HEAD")
    assert moved != demo.commit
    assert comfyui.inspect_checkout(checkout, repo, ref) == ("wrong_ref", moved)
    assert head_commit(checkout) == moved  # verify's stamp key changes with it
    assert "update the ComfyUI checkout in place" in comfyui.describe(
        make_ctx(target, demo.manifest)
    )

    # Back on the release, a local edit to a tracked file: kept, and said.
    git_in(checkout, "checkout", "-q", demo.commit)
    (checkout / "main.py").write_text("print('edited')\n")
    assert comfyui.inspect_checkout(checkout, repo, ref) == ("modified", demo.commit)
    git_in(checkout, "checkout", "-q", "--", "main.py")
    (checkout / "my-untracked-notes.txt").write_text("mine")  # untracked files do not count
    assert comfyui.inspect_checkout(checkout, repo, ref) == (None, demo.commit)


def test_a_broken_checkout_is_noticed_without_gitpython(tmp_path: Path, demo: Fixture) -> None:
    target = tmp_path / "dinoair"
    checkout = target / "ComfyUI"
    comfyui.run(make_ctx(target, demo.manifest))
    repo, ref = str(demo.repo), demo.tag

    git_in(checkout, "remote", "set-url", "origin", "https://example.invalid/other.git")
    assert comfyui.inspect_checkout(checkout, repo, ref) == ("wrong_origin", None)
    git_in(checkout, "remote", "set-url", "origin", repo)

    objects = checkout / ".git" / "objects"
    kept = tmp_path / "objects"
    shutil.move(objects, kept)
    objects.mkdir()
    assert comfyui.inspect_checkout(checkout, repo, ref) == ("corrupt", None)
    assert head_commit(checkout) is None
    shutil.rmtree(objects)
    shutil.move(kept, objects)

    shutil.rmtree(checkout / ".git")
    # No repository at the folder itself: the target's own repository above it does not count.
    subprocess.run(["git", "init", "-q", str(target)], check=True)
    assert comfyui.inspect_checkout(checkout, repo, ref) == ("not_a_repo", None)
    assert head_commit(checkout) is None
    assert tracked_files(checkout, "models") == set()


def test_a_venv_that_lost_torch_is_installed_again(tmp_path: Path, demo: Fixture) -> None:
    target = tmp_path / "dinoair"
    events: Events = []
    ctx = make_ctx(target, demo.manifest, events)
    comfyui.run(ctx)
    python_deps.run(ctx)
    assert python_deps.describe(ctx).startswith("skip")
    with pytest.raises(StepSkipped):
        python_deps.run(make_ctx(target, demo.manifest))

    site = next((target / "venv").glob("lib/python*/site-packages"))
    for path in [site / "torch", *site.glob("torch-*.dist-info")]:  # as `pip uninstall torch`
        shutil.rmtree(path)
    again = make_ctx(target, demo.manifest, events)
    assert not python_deps.describe(again).startswith("skip")
    python_deps.run(again)  # not skipped: torch comes back
    assert [n for n, _ in events].count("requirements_installed") == 2
    assert (site / "torch" / "__init__.py").is_file()
    assert any(site.glob("torch-*.dist-info"))
    with pytest.raises(StepSkipped):
        python_deps.run(make_ctx(target, demo.manifest))


def test_a_model_truncated_after_the_first_run_is_fetched_again(tmp_path: Path) -> None:
    models = tmp_path / "served"
    models.mkdir()
    data = os.urandom(300_000)
    (models / "m.safetensors").write_bytes(data)
    sha = hashlib.sha256(data).hexdigest()
    dest = tmp_path / "models" / "m.safetensors"
    with ModelServer(models) as server:
        spec = DownloadSpec("m.safetensors", f"{server.base_url}/m.safetensors", dest, 300_000, sha)
        assert [r.status for r in download_all([spec], progress=False)] == ["downloaded"]
        server.clear_log()
        assert [r.status for r in download_all([spec], progress=False)] == ["verified"]
        assert server.requests == []  # the stamp answered: nothing fetched, nothing hashed

        with dest.open("r+b") as fh:  # truncated behind the installer's back
            fh.truncate(100_000)
        assert [r.status for r in download_all([spec], progress=False)] == ["downloaded"]
        assert dest.read_bytes() == data
        assert server.requests, "the truncated file was fetched again"

        # Same size, other bytes, mtime put back: the stamp no longer vouches (size + mtime +
        # sha of what it recorded), so the file is hashed and replaced.
        stat = dest.stat()
        dest.write_bytes(b"x" * 300_000)
        os.utime(dest, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1))
        server.clear_log()
        assert [r.status for r in download_all([spec], progress=False)] == ["downloaded"]
        assert dest.read_bytes() == data


VERSION_PROBE = (
    "import sys\n"
    "import installer\n"
    "fast = installer._dist_info_version()\n"
    "assert fast is None or 'importlib.metadata' not in sys.modules, 'imported anyway'\n"
    "import importlib.metadata as m\n"
    "try:\n"
    "    want = m.version('dinoair-installer')\n"
    "except m.PackageNotFoundError:\n"
    "    want = '0+unknown'\n"
    "print(installer.__version__, want, fast)\n"
)


def _version_in(folder: Path, extra_path: list[Path]) -> list[str]:
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(str(p) for p in [*extra_path, root])}
    done = subprocess.run(
        [sys.executable, "-c", VERSION_PROBE], capture_output=True, text=True, cwd=folder, env=env
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def test_the_version_is_read_without_importlib_metadata_and_agrees(tmp_path: Path) -> None:
    # As installed (here: the editable install's .dist-info in site-packages).
    got, want, fast = _version_in(tmp_path, [])
    assert got == want == fast
    # A .dist-info earlier on the path wins, for both readers.
    site = tmp_path / "site"
    info = site / "dinoair_installer-9.8.7.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: dinoair-installer\nVersion: 9.8.7\n"
    )
    assert _version_in(tmp_path, [site]) == ["9.8.7", "9.8.7", "9.8.7"]
    # Two versions side by side: importlib.metadata decides, and is used.
    other = site / "dinoair_installer-9.8.8.dist-info"
    other.mkdir()
    (other / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: dinoair-installer\nVersion: 9.8.8\n"
    )
    got, want, fast = _version_in(tmp_path, [site])
    assert got == want and fast == "None"
