"""The front door (``python3 install.py`` with only the stdlib), run as real processes.

Each test copies the checkout into a temp folder (so it may change the lock there) and runs its
``install.py`` / ``telemetry_cli.py`` with this machine's base Python, outside any venv, as a new
user would. uv is a stub executable (``tests/frontdoor_uv.py``): it makes a real venv without pip
and, instead of downloading the locked packages, points that venv at this test run's own
site-packages. The uv-wheel route is real too: a wheel holding that stub, served by a real HTTP
server on 127.0.0.1 as a package index, its sha256 written into the copied lock. No network.
"""

from __future__ import annotations

import errno
import functools
import hashlib
import http.server
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import sysconfig
import threading
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from frontdoor import _version, index, lock
from frontdoor.errors import from_os_error
from installer.cli import frontdoor_attributes
from otel_local_exporter.schema import SYSTEM_INSTALLER_ENV, SYSTEM_INSTALLER_ENV_SECONDS

from .mounts import remount_read_only, tmpfs

REPO = Path(__file__).resolve().parent.parent
STUB_UV = Path(__file__).resolve().parent / "frontdoor_uv.py"
BASE_PYTHON = str(Path(sys.base_prefix) / "bin" / f"python{sys.version_info[0]}")
COPIED = ("install.py", "telemetry_cli.py", "pyproject.toml")
PACKAGES = ("frontdoor", "requirements", "installer", "otel_local_exporter", "telemetry_cli")
UV_VERSION = lock.pins()["uv"].version

pytestmark = pytest.mark.skipif(os.name != "posix", reason="the stub uv is a POSIX script")


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A copy of the front door and the packages it hands over to."""
    root = tmp_path / "checkout"
    root.mkdir()
    for name in COPIED:
        shutil.copy2(REPO / name, root / name)
    for name in PACKAGES:
        shutil.copytree(REPO / name, root / name, ignore=shutil.ignore_patterns("__pycache__"))
    return root


@pytest.fixture
def stub_uv(tmp_path: Path) -> Path:
    """The stub uv as an executable whose shebang is this test run's Python."""
    path = tmp_path / "bin" / "uv"
    path.parent.mkdir()
    path.write_text(f"#!{sys.executable}\n" + STUB_UV.read_text(encoding="utf-8"))
    path.chmod(0o755)
    return path


def env_for(home: Path, **extra: str) -> dict[str, str]:
    """A user's environment: no venv active, no uv on PATH, this test's DINOAIR_HOME."""
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env["PATH"] = "/usr/bin:/bin"
    env["DINOAIR_HOME"] = str(home)
    env["STUB_UV_SITE"] = sysconfig.get_path("purelib")
    env.pop("DINOAIR_FRONTDOOR_ENV", None)
    env.update(extra)
    return env


def run(checkout: Path, env: dict[str, str], *args: str, script: str = "install.py"):
    return subprocess.run(
        [BASE_PYTHON, str(checkout / script), *args],
        cwd=checkout,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if not line.startswith("DinoAir: ")]


# -- the whole route -----------------------------------------------------------------------


def test_first_run_builds_then_reuses_and_hands_over(
    checkout: Path, stub_uv: Path, dinoair_home: Path
) -> None:
    env = env_for(dinoair_home, DINOAIR_UV=str(stub_uv))
    first = run(checkout, env, "--help")
    assert first.returncode == 0, first.stderr
    assert "Usage: install.py" in first.stdout and "installer-env" in first.stdout
    folder = dinoair_home / "installer-env"
    assert f"setting up the installer's own environment in {folder}" in first.stderr
    assert "ready in" in first.stderr and "Traceback" not in first.stderr
    stamp = json.loads((folder / "dinoair-frontdoor.json").read_text())
    assert (
        stamp["lock_sha256"]
        == hashlib.sha256((checkout / "requirements" / "installer.lock").read_bytes()).hexdigest()
    )

    second = run(checkout, env, "--help")
    assert second.returncode == 0 and second.stderr == ""  # reused: not a word
    status = run(checkout, env, "status", script="telemetry_cli.py")
    assert status.returncode == 0, status.stderr
    assert "Telemetry is OFF" in status.stdout
    # The real CLI's metadata comes from the checkout: the version, not 0+unknown.
    version = run(checkout, env, "--version")
    assert re.search(r"version \d+\.\d+\.\d+", version.stdout), version.stdout


def test_exit_codes_pass_through(checkout: Path, stub_uv: Path, dinoair_home: Path) -> None:
    env = env_for(dinoair_home, DINOAIR_UV=str(stub_uv))
    usage = run(checkout, env, "--no-such-option")
    assert usage.returncode == 2 and "No such option" in usage.stderr


def test_ctrl_c_is_the_real_clis_own(checkout: Path, stub_uv: Path, dinoair_home: Path) -> None:
    """exec keeps the process: SIGINT reaches the real CLI, which answers as when run directly."""
    env = env_for(dinoair_home, DINOAIR_UV=str(stub_uv))
    assert run(checkout, env, "--help").returncode == 0

    def interrupted(argv: list[str]) -> tuple[int, str]:
        proc = subprocess.Popen(
            argv, cwd=checkout, env=env, stdin=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        time.sleep(2)  # waiting at the [y/N] prompt
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=20)
        return proc.returncode, stderr

    python = dinoair_home / "installer-env" / "bin" / "python"
    direct = interrupted([str(python), "-m", "telemetry_cli.cli", "enable"])
    door = interrupted([BASE_PYTHON, str(checkout / "telemetry_cli.py"), "enable"])
    assert door == direct and "Traceback" not in door[1]


def test_lock_change_rebuilds(checkout: Path, stub_uv: Path, dinoair_home: Path) -> None:
    env = env_for(dinoair_home, DINOAIR_UV=str(stub_uv))
    assert run(checkout, env, "--help").returncode == 0
    lockfile = checkout / "requirements" / "installer.lock"
    lockfile.write_text(lockfile.read_text() + "# changed\n")
    again = run(checkout, env, "--help")
    assert again.returncode == 0
    assert "rebuilding the installer's own environment" in again.stderr


def test_deleted_interpreter_rebuilds(checkout: Path, stub_uv: Path, dinoair_home: Path) -> None:
    env = env_for(dinoair_home, DINOAIR_UV=str(stub_uv))
    assert run(checkout, env, "--help").returncode == 0
    for python in (dinoair_home / "installer-env" / "bin").glob("python*"):
        python.unlink()
    again = run(checkout, env, "--help")
    assert again.returncode == 0 and "rebuilding" in again.stderr


def test_killed_first_run_leaves_nothing_and_the_next_run_works(
    checkout: Path, stub_uv: Path, dinoair_home: Path
) -> None:
    env = env_for(dinoair_home, DINOAIR_UV=str(stub_uv))
    hanging = subprocess.Popen(
        [BASE_PYTHON, str(checkout / "install.py"), "--help"],
        cwd=checkout,
        env={**env, "STUB_UV_HANG": "1"},
        stderr=subprocess.PIPE,
        text=True,
    )
    folder = dinoair_home / "installer-env"
    deadline = time.monotonic() + 30
    while not (folder / "pyvenv.cfg").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert (folder / "pyvenv.cfg").exists()
    hanging.kill()  # SIGKILL: no clean-up ran
    hanging.wait(timeout=10)
    assert not (folder / "dinoair-frontdoor.json").exists()  # half-made: never trusted

    after = run(checkout, env, "--help")
    assert after.returncode == 0, after.stderr
    assert "rebuilding" in after.stderr and "Usage: install.py" in after.stdout


def test_uv_wheel_from_the_index_checked_against_the_lock(
    checkout: Path, stub_uv: Path, dinoair_home: Path, tmp_path: Path
) -> None:
    """No uv on PATH: the locked wheel comes from the configured index, hash-checked."""
    served = tmp_path / "served"
    wheel = fake_uv_wheel(served / "simple" / "uv", stub_uv)
    write_uv_hashes(checkout, hashlib.sha256(wheel.read_bytes()).hexdigest())
    with http_index(served) as url:
        result = run(checkout, env_for(dinoair_home, PIP_INDEX_URL=url), "--help")
    assert result.returncode == 0, result.stderr
    assert f"fetching uv {UV_VERSION} from {url}" in result.stderr
    assert (dinoair_home / f"uv-{UV_VERSION}" / "uv").is_file()


# -- every failure: one line, its exit code, nothing half-made ------------------------------


def test_python_too_old_is_one_line() -> None:
    line = _version.too_old((3, 9, 18))
    assert line is not None and "3.9.18" in line and "3.10" in line and "\n" not in line
    assert _version.too_old((3, 10, 0)) is None
    old = next(iter(sorted(Path(sys.base_prefix).parent.glob("3.9*/bin/python3.9"))), None)
    if old is None:
        pytest.skip("no Python 3.9 next to this one to run install.py with")
    result = subprocess.run(
        [old, str(REPO / "install.py"), "--help"], capture_output=True, text=True
    )
    assert result.returncode == 1 and result.stdout == ""
    [said] = result.stderr.splitlines()
    assert said.startswith("error: DinoAir's installer needs Python 3.10 or newer")


def test_hash_mismatch_is_one_line_and_leaves_nothing(
    checkout: Path, stub_uv: Path, dinoair_home: Path, tmp_path: Path
) -> None:
    served = tmp_path / "served"
    fake_uv_wheel(served / "simple" / "uv", stub_uv)
    write_uv_hashes(checkout, "0" * 64)
    with http_index(served) as url:
        result = run(checkout, env_for(dinoair_home, PIP_INDEX_URL=url), "--help")
    assert result.returncode == 1
    [line] = error_lines(result.stderr)
    assert line.startswith("error: hash mismatch for uv-") and "PIP_INDEX_URL" in line
    assert not (dinoair_home / "installer-env").exists()
    assert not (dinoair_home / f"uv-{UV_VERSION}").exists()


def test_index_unreachable_on_first_run(checkout: Path, dinoair_home: Path) -> None:
    url = "http://127.0.0.1:9/simple"  # discard port: nothing listens
    result = run(checkout, env_for(dinoair_home, PIP_INDEX_URL=url), "--help")
    assert result.returncode == 1
    [line] = error_lines(result.stderr)
    assert line.startswith("error: cannot reach the package index, and no installer environment")
    assert "connect to the network" in line
    assert not (dinoair_home / "installer-env").exists()


@pytest.mark.parametrize(
    ("uv_says", "starts"),
    [
        ("error: Hash mismatch for `click==8.5.1`", "error: hash mismatch: a package"),
        ("error: Failed to fetch: `https://pypi.org/simple/click/`", "error: cannot reach"),
        ("error: No space left on device (os error 28)", "error: the disk is full"),
    ],
)
def test_uv_failures_are_one_line(
    checkout: Path, stub_uv: Path, dinoair_home: Path, uv_says: str, starts: str
) -> None:
    env = env_for(dinoair_home, DINOAIR_UV=str(stub_uv), STUB_UV_FAIL=uv_says)
    result = run(checkout, env, "--help")
    assert result.returncode == 1
    [line] = error_lines(result.stderr)
    assert line.startswith(starts) and "then re-run" in line
    assert not (dinoair_home / "installer-env").exists()


def test_disk_full_and_read_only_folders(checkout: Path, stub_uv: Path, tmp_path: Path) -> None:
    """Real file-system faults: a tiny tmpfs fills up; a read-only one refuses writes."""
    assert "disk is full" in from_os_error(OSError(errno.ENOSPC, "full"), "/x").line()
    assert "read-only" in from_os_error(OSError(errno.EROFS, "ro"), "/x").line()
    mount = tmp_path / "mnt"
    with tmpfs(mount, size="64k") as mounted:
        if not mounted:
            pytest.skip("cannot mount a tmpfs here (needs root on Linux)")
        served = tmp_path / "served"
        wheel = fake_uv_wheel(served / "simple" / "uv", stub_uv, padding=256 * 1024)
        write_uv_hashes(checkout, hashlib.sha256(wheel.read_bytes()).hexdigest())
        with http_index(served) as url:
            full = run(checkout, env_for(mount / "home", PIP_INDEX_URL=url), "--help")
        assert full.returncode == 1
        [line] = error_lines(full.stderr)
        assert line.startswith("error: the disk is full"), line
        assert not (mount / "home" / "installer-env").exists()

        assert remount_read_only(mount)
        read_only = run(checkout, env_for(mount / "home", DINOAIR_UV=str(stub_uv)), "--help")
        assert read_only.returncode == 1
        [line] = error_lines(read_only.stderr)
        assert "read-only file system" in line and "DINOAIR_INSTALLER_ENV" in line


# -- index settings, the lock, the root-span attribute ---------------------------------------


def test_index_settings_honour_pip_conf_pip_env_and_uv_env(tmp_path: Path) -> None:
    conf = tmp_path / "pip.conf"
    conf.write_text(
        "[global]\nindex-url = https://mirror.example/simple\ncert = /etc/corp-ca.pem\n"
        "[install]\nextra-index-url = https://extra.example/simple\n"
    )
    from_file = index.settings({"PIP_CONFIG_FILE": str(conf), "XDG_CONFIG_DIRS": str(tmp_path)})
    assert from_file.index_url == "https://mirror.example/simple"
    assert from_file.extra_index_urls == ("https://extra.example/simple",)
    assert from_file.uv_env()["SSL_CERT_FILE"] == "/etc/corp-ca.pem"
    assert from_file.uv_env()["UV_SYSTEM_CERTS"] == "1"
    assert "unsafe-best-match" in from_file.uv_args()

    env_wins = index.settings(
        {"PIP_CONFIG_FILE": str(conf), "PIP_INDEX_URL": "https://env.example/simple"}
    )
    assert env_wins.index_url == "https://env.example/simple"
    uv_wins = index.settings({"PIP_CONFIG_FILE": str(conf), "UV_DEFAULT_INDEX": "https://u/s"})
    assert uv_wins.index_url == "https://u/s" and "--index-url" not in uv_wins.uv_args()


def test_lock_matches_pyprojects_dependencies() -> None:
    """Regenerate with `make lock` when this fails."""
    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    pins = lock.pins()
    for requirement in project["dependencies"]:
        name = re.split(r"[<>=!~ \[;]", requirement, maxsplit=1)[0].lower().replace("_", "-")
        assert name in pins, f"{name} is in pyproject.toml but not in requirements/installer.lock"
        assert pins[name].hashes, f"{name} has no hashes in the lock"
    header = (REPO / "requirements" / "installer.lock").read_text().splitlines()[1]
    assert "--generate-hashes" in header
    assert "lock:" in (REPO / "Makefile").read_text()


def test_root_span_attribute_says_how_the_environment_came() -> None:
    assert frontdoor_attributes("created:12.5") == {
        SYSTEM_INSTALLER_ENV: "created",
        SYSTEM_INSTALLER_ENV_SECONDS: 12.5,
    }
    assert frontdoor_attributes("") == {}
    assert frontdoor_attributes("/home/alice:3") == {}  # never anything but the known words
    assert SYSTEM_INSTALLER_ENV.startswith("installer.system.")  # gated as usage analytics


# -- helpers -------------------------------------------------------------------------------


def fake_uv_wheel(folder: Path, binary: Path, padding: int = 0) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    wheel = folder / f"uv-{UV_VERSION}-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
    if not wheel.name.endswith(f"_{_arch()}.whl"):
        wheel = folder / f"uv-{UV_VERSION}-py3-none-manylinux_2_17_{_arch()}.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr(f"uv-{UV_VERSION}.data/scripts/uv", binary.read_bytes() + b"#" * padding)
    (folder / "index.html").write_text(f'<a href="{wheel.name}#sha256=ignored">{wheel.name}</a>')
    return wheel


def _arch() -> str:
    import platform

    return {"amd64": "x86_64", "arm64": "aarch64"}.get(platform.machine().lower(), "x86_64")


def write_uv_hashes(checkout: Path, sha: str) -> None:
    path = checkout / "requirements" / "installer.lock"
    text = path.read_text()
    start = text.index(f"uv=={UV_VERSION}")
    end = text.index("# via", start)
    path.write_text(
        text[:start] + f"uv=={UV_VERSION} \\\n    --hash=sha256:{sha}\n    " + text[end:]
    )


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def http_index(root: Path) -> Iterator[str]:
    """A real HTTP server on 127.0.0.1 serving ``root``; yields the simple index's URL."""
    handler = functools.partial(_Quiet, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/simple"
    finally:
        server.shutdown()
        server.server_close()
