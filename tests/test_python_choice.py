"""The ComfyUI venv's Python: this one when torch can use it, else one uv finds, never a guess.

Real parts only: real ``uv venv`` with real interpreters of this machine, the real CLI in a
subprocess. "Too new" and "too old" are made by a manifest whose ``python.supported`` leaves
out the running Python, not by fake interpreters. Nothing downloads: uv is told
``UV_PYTHON_DOWNLOADS=never``, its managed-Python folder is an empty temp folder, and ``PATH``
holds only the interpreters a test puts there (so pyenv shims cannot answer for them).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from fixtures.demo_fixture import Fixture, build_fixture
from installer.errors import CONFIGURATION, NETWORK, SYSTEM, ConfigurationError, InstallError
from installer.manifest import load_manifest
from installer.python_choice import choose_python, downloads_allowed, venv_python_line
from installer.steps import python_deps
from tests.contexts import Events, make_ctx

RUNNING = f"{sys.version_info[0]}.{sys.version_info[1]}"
OTHER_MINORS = [m for m in (10, 11, 12, 13) if m != sys.version_info[1]]


def other_interpreter() -> tuple[str, Path] | None:
    """A real CPython of another supported version on this machine (pyenv's or the system's)."""
    roots = [*sorted(Path.home().glob(".pyenv/versions/3.*/bin")), Path("/usr/bin")]
    for minor in OTHER_MINORS:
        for root in roots:
            exe = root / f"python3.{minor}"
            if exe.is_file() and os.access(exe, os.X_OK):
                return f"3.{minor}", exe.resolve()
    return None


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Fixture:
    return build_fixture(tmp_path_factory.mktemp("fixture"), model_base_url="http://127.0.0.1:9")


@pytest.fixture
def no_downloads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """uv may not download, has no managed Pythons, and PATH holds only ``bin/`` and git."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    git = shutil.which("git")
    assert git
    os.symlink(git, bin_dir / "git")
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.setenv("UV_PYTHON_DOWNLOADS", "never")
    monkeypatch.setenv("UV_PYTHON_INSTALL_DIR", str(tmp_path / "managed"))
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    return bin_dir


def manifest_with(demo: Fixture, folder: Path, supported: list[str]) -> Path:
    data = json.loads(demo.manifest.read_text())
    data["python"] = {"supported": supported}
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "manifest.json"
    path.write_text(json.dumps(data))
    return path


# -- the choice, as data --------------------------------------------------------------------------


def test_a_supported_python_is_used_as_it_is(demo: Fixture, tmp_path: Path) -> None:
    manifest = load_manifest(manifest_with(demo, tmp_path, ["3.12", "3.11", "3.10"]))
    choice = choose_python(manifest, None, version="3.11", wide=True)
    assert choice.running and choice.request == sys.executable and choice.why == ""


@pytest.mark.parametrize(
    ("version", "wide", "words"),
    [
        ("3.14", True, "newer than any torch supports here (3.12, 3.11, 3.10)"),
        ("3.9", True, "older than ComfyUI and torch need"),
        ("3.11", False, "32-bit and torch has 64-bit builds only"),
    ],
)
def test_a_python_torch_cannot_use_gets_the_first_supported(
    demo: Fixture, tmp_path: Path, version: str, wide: bool, words: str
) -> None:
    manifest = load_manifest(manifest_with(demo, tmp_path, ["3.12", "3.11", "3.10"]))
    choice = choose_python(manifest, None, version=version, wide=wide)
    assert (choice.version, choice.request, choice.running) == ("3.12", "3.12", False)
    assert words in choice.why


def test_python_option_chooses_and_must_be_listed(demo: Fixture, tmp_path: Path) -> None:
    manifest = load_manifest(manifest_with(demo, tmp_path, ["3.12", "3.11"]))
    chosen = choose_python(manifest, "3.12", version="3.11", wide=True)
    assert (chosen.version, chosen.running, chosen.why) == ("3.12", False, "--python 3.12")
    with pytest.raises(ConfigurationError) as caught:
        choose_python(manifest, "3.9", version="3.11", wide=True)
    assert "use one of 3.12, 3.11" in (caught.value.hint or "")


def test_manifest_without_the_field_takes_this_python(demo: Fixture) -> None:
    manifest = load_manifest(demo.manifest)
    assert manifest.python_supported == ()
    assert choose_python(manifest, None).running


def test_the_bundled_manifest_names_the_supported_versions() -> None:
    supported = load_manifest().python_supported
    assert supported and all(v.count(".") == 1 for v in supported)


@pytest.mark.parametrize("bad", [["3"], "3.12", [3.12], {"x": 1}])
def test_a_malformed_supported_list_is_a_configuration_error(
    demo: Fixture, tmp_path: Path, bad: object
) -> None:
    data = json.loads(demo.manifest.read_text())
    data["python"] = {"supported": bad}
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ConfigurationError, match=r"python\.supported"):
        load_manifest(path)


def test_uv_switches_that_forbid_downloads() -> None:
    assert downloads_allowed({})
    assert not downloads_allowed({"UV_PYTHON_DOWNLOADS": "never"})
    assert not downloads_allowed({"UV_OFFLINE": "1"})


# -- real uv venv ---------------------------------------------------------------------------------


def test_venv_gets_a_found_python_of_another_version(
    demo: Fixture, tmp_path: Path, no_downloads: Path
) -> None:
    other = other_interpreter()
    if other is None:
        pytest.skip("no CPython of another supported version on this machine")
    version, exe = other
    os.symlink(exe, no_downloads / f"python{version}")
    manifest = manifest_with(demo, tmp_path / "m", [version])  # the running one is left out
    events: Events = []
    ctx = make_ctx(tmp_path / "T", manifest, events)

    line = venv_python_line(ctx)
    assert line.startswith(f"Python {version} found at ") and f": this Python {RUNNING} is" in line

    assert python_deps._ensure_venv(ctx, python_deps.installer_for(ctx)) is True
    cfg = (tmp_path / "T" / "venv" / "pyvenv.cfg").read_text()
    assert f"version_info = {version}." in cfg
    created = dict(events)["venv_created"]
    assert created["python"] == version and created["managed"] is True
    # Next run: the venv fits, nothing is made again.
    assert python_deps._ensure_venv(ctx, python_deps.installer_for(ctx)) is False


def test_python_option_replaces_a_venv_of_another_version(
    demo: Fixture, tmp_path: Path, no_downloads: Path
) -> None:
    other = other_interpreter()
    if other is None:
        pytest.skip("no CPython of another supported version on this machine")
    version, exe = other
    os.symlink(exe, no_downloads / f"python{version}")
    manifest = manifest_with(demo, tmp_path / "m", [RUNNING, version])
    events: Events = []
    ctx = make_ctx(tmp_path / "T", manifest, events)
    assert python_deps._ensure_venv(ctx, python_deps.installer_for(ctx)) is True  # this Python
    ctx = make_ctx(tmp_path / "T", manifest, events, python=version)
    assert python_deps._ensure_venv(ctx, python_deps.installer_for(ctx)) is True
    assert ("venv_recreated", {"reason": "python_changed"}) in events
    assert f"version_info = {version}." in (tmp_path / "T" / "venv" / "pyvenv.cfg").read_text()
    # Without --python the 3.x venv stays: it is a supported version.
    ctx = make_ctx(tmp_path / "T", manifest, events)
    assert python_deps._ensure_venv(ctx, python_deps.installer_for(ctx)) is False


def test_no_python_to_be_had_stops_before_and_in_the_step(
    demo: Fixture, tmp_path: Path, no_downloads: Path
) -> None:
    manifest = manifest_with(demo, tmp_path / "m", ["3.99"])
    ctx = make_ctx(tmp_path / "T", manifest)
    with pytest.raises(InstallError) as before:
        venv_python_line(ctx)  # preflight's check: nothing downloaded yet
    assert before.value.category == SYSTEM
    assert "no Python 3.99 on this machine and uv may not download one" in str(before.value)
    assert "install Python 3.99 (python.org or your package manager)" in (before.value.hint or "")

    with pytest.raises(InstallError) as during:  # the step itself, had preflight been passed
        python_deps._ensure_venv(ctx, python_deps.installer_for(ctx))
    assert during.value.category == SYSTEM and "install Python 3.99" in (during.value.hint or "")
    assert not (tmp_path / "T" / "venv").exists()  # nothing half-made left behind


def test_a_download_that_cannot_connect_is_network_with_what_to_install(
    demo: Fixture, tmp_path: Path, no_downloads: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Downloads allowed, the mirror refuses (a closed port on loopback): one network line."""
    monkeypatch.delenv("UV_PYTHON_DOWNLOADS")
    monkeypatch.setenv("UV_PYTHON_INSTALL_MIRROR", "http://127.0.0.1:9")
    monkeypatch.setenv("UV_HTTP_RETRIES", "0")
    manifest = manifest_with(demo, tmp_path / "m", ["3.12" if RUNNING != "3.12" else "3.13"])
    ctx = make_ctx(tmp_path / "T", manifest)
    assert "a uv-managed download" in venv_python_line(ctx)  # preflight passes, says so
    with pytest.raises(InstallError) as caught:
        python_deps._ensure_venv(ctx, python_deps.installer_for(ctx))
    assert caught.value.category == NETWORK
    assert "could not be downloaded" in str(caught.value)
    assert "(python.org or your package manager)" in (caught.value.hint or "")
    assert not (tmp_path / "T" / "venv").exists()


def test_pip_cannot_bring_another_python(demo: Fixture, tmp_path: Path) -> None:
    manifest = manifest_with(demo, tmp_path / "m", ["3.99"])
    ctx = make_ctx(tmp_path / "T", manifest, installer="pip")
    with pytest.raises(InstallError) as caught:
        venv_python_line(ctx)
    assert caught.value.category == CONFIGURATION
    assert "re-run without --installer pip" in (caught.value.hint or "")


# -- the CLI: the plan line and the one-line failure ----------------------------------------------


def cli(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DINOAIR_HOME": str(tmp_path / "home")}
    return subprocess.run(
        [sys.executable, "-m", "installer", "--target", str(tmp_path / "T"), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        stdin=subprocess.DEVNULL,
    )


def test_dry_run_says_which_python_and_why(
    demo: Fixture, tmp_path: Path, no_downloads: Path
) -> None:
    manifest = manifest_with(demo, tmp_path / "m", ["3.99"])
    done = cli(["--dry-run", "--manifest", str(manifest)], tmp_path)
    assert done.returncode == 0, done.stderr
    line = next(x for x in done.stdout.splitlines() if x.startswith("Python for the ComfyUI venv"))
    assert "preflight will stop: no Python 3.99 on this machine" in line
    assert "older than ComfyUI and torch need (3.99)" in line
    assert "install Python 3.99 (python.org or your package manager)" in line
    assert "create a Python 3.99 venv in venv/" in done.stdout
    assert not (tmp_path / "T").exists()

    listed = manifest_with(demo, tmp_path / "m2", [RUNNING])
    done = cli(["--dry-run", "--manifest", str(listed)], tmp_path)
    assert f"Python for the ComfyUI venv: Python {RUNNING} (this one)" in done.stdout


def test_install_stops_in_preflight_with_one_line(
    demo: Fixture, tmp_path: Path, no_downloads: Path
) -> None:
    manifest = manifest_with(demo, tmp_path / "m", ["3.99"])
    done = cli(["--manifest", str(manifest), "--no-models", "--disable-telemetry"], tmp_path)
    assert done.returncode == 1
    errors = [x for x in done.stderr.splitlines() if x.startswith("Error:")]
    assert len(errors) == 1 and "Traceback" not in done.stderr
    assert "step 'preflight' failed (system): no Python 3.99" in errors[0]
    assert "install Python 3.99 (python.org or your package manager)" in errors[0]
    assert not (tmp_path / "T" / "venv").exists() and not (tmp_path / "T" / "ComfyUI").exists()


def test_python_option_must_look_like_a_version(tmp_path: Path) -> None:
    done = cli(["--dry-run", "--python", "three"], tmp_path)
    assert done.returncode == 2 and "not a version like 3.12" in done.stderr
