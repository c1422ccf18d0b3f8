"""The installer's own environment: found, reused, or (re)built with uv from the hash lock.

It lives in ``$DINOAIR_INSTALLER_ENV``, else ``<DINOAIR_HOME or ~/.dinoair>/installer-env``: a
private venv, never the user's Python. A stamp written last records the lock's digest and the
checkout it serves, so an environment from a killed run (no stamp), an old lock or a deleted
interpreter is rebuilt from scratch rather than trusted.

The checkout itself is not built into the environment (that would need a build backend fetched
from the index, unhashed): a ``.pth`` file puts the checkout on ``sys.path`` and a small
``dist-info`` carries the name, version and URLs that ``importlib.metadata`` answers with.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from . import lock
from .errors import FrontDoorError, from_os_error

if TYPE_CHECKING:
    from .index import Index

# Only what the reuse check needs is imported at the top: it runs on every start (see
# benchmarks/frontdoor.py); building imports subprocess, shutil, urllib and the rest when needed.

ENV_VAR = "DINOAIR_INSTALLER_ENV"
STAMP = "dinoair-frontdoor.json"
LOG = "dinoair-frontdoor.log"
CHECKOUT = Path(__file__).resolve().parent.parent
DIST = "dinoair_installer"


def location(environ: dict[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    if env.get(ENV_VAR):
        return Path(env[ENV_VAR]).expanduser().absolute()
    home = Path(env["DINOAIR_HOME"]).expanduser() if env.get("DINOAIR_HOME") else None
    return ((home or Path.home() / ".dinoair") / "installer-env").absolute()


def python_in(folder: Path) -> Path:
    if sys.platform == "win32":
        return folder / "Scripts" / "python.exe"
    return folder / "bin" / "python"


class Ready:
    """The environment to hand over to, and how it was obtained (for the root span)."""

    def __init__(self, python: Path, how: str, seconds: float) -> None:
        self.python = python
        self.how = how  # reused / created / rebuilt
        self.seconds = seconds


def _wanted() -> dict[str, str]:
    return {"lock_sha256": lock.digest(), "checkout": str(CHECKOUT)}


def current(folder: Path) -> bool:
    """A complete environment for this lock and checkout whose interpreter still exists."""
    try:
        stamp = json.loads((folder / STAMP).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return stamp == _wanted() and python_in(folder).exists()


def ensure(say) -> Ready:
    """Reuse the environment if current, else build it; raises :class:`FrontDoorError`."""
    started = time.monotonic()
    folder = location()
    if current(folder):
        return Ready(python_in(folder), "reused", round(time.monotonic() - started, 3))
    how = "rebuilt" if folder.exists() else "created"
    what = "rebuilding" if how == "rebuilt" else "setting up"
    say(f"{what} the installer's own environment in {folder} (once; later runs reuse it)")
    from .index import settings

    try:
        _build(folder, settings(), say)
    except FrontDoorError:
        _remove(folder)
        raise
    except OSError as exc:
        _remove(folder)
        raise from_os_error(exc, str(folder)) from None
    except BaseException:
        _remove(folder)  # Ctrl-C: nothing half-made stays behind
        raise
    seconds = round(time.monotonic() - started, 3)
    say(f"ready in {seconds:.1f} s")
    return Ready(python_in(folder), how, seconds)


def _remove(folder: Path) -> None:
    import shutil

    shutil.rmtree(folder, ignore_errors=True)


def _build(folder: Path, index: Index, say) -> None:
    _remove(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    pins = lock.pins()
    uv = _uv(pins["uv"], index, folder.parent, say)
    log = folder.parent / LOG
    env = {**os.environ, **index.uv_env()}
    with log.open("w", encoding="utf-8") as out:
        _uv_run([uv, "venv", "--quiet", "--python", sys.executable, str(folder)], env, out, log)
        say("installing the installer's packages from requirements/installer.lock")
        cmd = [uv, "pip", "install", "--python", str(python_in(folder)), "--require-hashes"]
        cmd += ["--no-deps", *index.uv_args(), "-r", str(lock.LOCK)]
        _uv_run(cmd, env, out, log)
    _link_checkout(folder)
    (folder / STAMP).write_text(json.dumps(_wanted()), encoding="utf-8")  # last: it means done


def _uv(pin: lock.Pin, index: Index, home: Path, say) -> str:
    """uv on PATH if there is one, else the locked wheel's binary (fetched once, verified)."""
    import shutil

    from . import uvwheel

    return (
        os.environ.get("DINOAIR_UV") or shutil.which("uv") or uvwheel.ensure(pin, index, home, say)
    )


def _uv_run(cmd: list[str], env: dict[str, str], out, log: Path) -> None:
    import subprocess

    out.write("$ " + " ".join(cmd) + "\n")
    out.flush()
    result = subprocess.run(cmd, env=env, stdout=out, stderr=subprocess.PIPE, text=True)
    out.write(result.stderr)
    if result.returncode != 0:
        raise _classify(result.stderr, log)


def _classify(stderr: str, log: Path) -> FrontDoorError:
    """uv's failure, as the one line that says what to do."""
    import re

    text = stderr.lower()
    last = next((ln.strip() for ln in reversed(stderr.splitlines()) if ln.strip()), "")
    if "hash mismatch" in text:
        return FrontDoorError(
            "hash mismatch: a package from the index is not the one requirements/installer.lock "
            f"names (see {log})",
            "check the index or proxy you configured (PIP_INDEX_URL, pip.conf, UV_DEFAULT_INDEX), "
            "then re-run",
        )
    if "no space left" in text:
        return FrontDoorError(
            f"the disk is full while installing the installer's packages (see {log})",
            "free some space (about 80 MB) or set DINOAIR_INSTALLER_ENV to another drive, then "
            "re-run",
        )
    if "read-only file system" in text or "permission denied" in text:
        return FrontDoorError(
            f"cannot write the installer's environment (see {log})",
            "set DINOAIR_INSTALLER_ENV (or DINOAIR_HOME) to a folder you can write, then re-run",
        )
    if re.search(r"failed to fetch|error sending request|connect|dns|timed out|offline", text):
        return FrontDoorError(
            "cannot reach the package index, and no installer environment is set up yet "
            f"(see {log})",
            "connect to the network, or point PIP_INDEX_URL / pip.conf / UV_DEFAULT_INDEX at an "
            "index you can reach, then re-run",
        )
    return FrontDoorError(
        f"uv could not set up the installer's environment: {last[:200]} (see {log})",
        "fix what it names, then re-run",
    )


def _project() -> tuple[str, list[str]]:
    """The version and URLs from pyproject.toml, read with a regex (no tomllib on 3.10)."""
    import re

    text = (CHECKOUT / "pyproject.toml").read_text(encoding="utf-8")
    version = re.search(r'^version\s*=\s*"([^"]+)"', text, re.MULTILINE)
    urls = re.findall(r'^(\w+)\s*=\s*"(https?://[^"]+)"', text, re.MULTILINE)
    return (version.group(1) if version else "0"), [f"{k}, {v}" for k, v in urls]


def _link_checkout(folder: Path) -> None:
    import subprocess

    result = subprocess.run(
        [str(python_in(folder)), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        capture_output=True,
        text=True,
        check=True,
    )
    site = Path(result.stdout.strip())
    (site / "dinoair-checkout.pth").write_text(str(CHECKOUT) + "\n", encoding="utf-8")
    version, urls = _project()
    info = site / f"{DIST}-{version}.dist-info"
    info.mkdir(exist_ok=True)
    lines = ["Metadata-Version: 2.1", "Name: dinoair-installer", f"Version: {version}"]
    lines += [f"Project-URL: {url}" for url in urls]
    (info / "METADATA").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (info / "entry_points.txt").write_text(
        "[console_scripts]\ndinoair-install = installer.cli:main\n"
        "dinoair-telemetry = telemetry_cli.cli:main\n",
        encoding="utf-8",
    )
    (info / "INSTALLER").write_text("dinoair-frontdoor\n", encoding="utf-8")
