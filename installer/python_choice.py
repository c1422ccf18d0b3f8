"""Which Python the ComfyUI venv gets: this one when torch can use it, else one uv finds or fetches.

torch publishes wheels for a few CPython versions, 64-bit only; ComfyUI needs 3.10 or newer.
The versions that work are data, the manifest's ``python.supported`` (in order of preference),
so a new torch release is a manifest change, not a code change. The installer's own Python is
used when it is one of them (no download, what every install did before); otherwise the venv is
made with ``uv venv --python X.Y``, which takes a matching Python already on the machine or
downloads a uv-managed one. ``--python X.Y`` chooses the version.

Everything here is decided before anything is downloaded: preflight and the ``--dry-run`` plan
call :func:`choose_python` and :func:`locate`, and say what will happen.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .errors import ConfigurationError, SystemRequirementError
from .manifest import Manifest

if TYPE_CHECKING:
    from .context import InstallContext

# uv's switches that keep it from downloading a Python (its environment variables).
_NO_DOWNLOADS = ("never", "manual")
_TRUE = ("1", "true", "yes", "on")


@dataclass(frozen=True)
class PythonChoice:
    version: str  # "3.12": what the venv will run
    request: str  # what `uv venv --python` gets: this interpreter's path, or the version
    running: bool  # the installer's own interpreter
    why: str = ""  # why not the running one, in words ("" when it is the running one)


def running_version() -> str:
    return f"{sys.version_info[0]}.{sys.version_info[1]}"


def is_64bit() -> bool:
    return sys.maxsize > 2**32


def choose_python(
    manifest: Manifest,
    requested: str | None,
    version: str | None = None,
    wide: bool | None = None,
) -> PythonChoice:
    """The venv's Python; ConfigurationError when ``--python`` names one the manifest lacks.

    ``version`` and ``wide`` (64-bit) describe the running interpreter; tests pass them.
    """
    version = version or running_version()
    wide = is_64bit() if wide is None else wide
    supported = manifest.python_supported
    if requested is not None:
        if supported and requested not in supported:
            raise ConfigurationError(
                f"--python {requested} is not a version this release supports",
                hint=f"use one of {', '.join(supported)} (the manifest's python.supported)",
            )
        if requested == version and wide:
            return PythonChoice(version, sys.executable, running=True)
        return PythonChoice(requested, requested, running=False, why=f"--python {requested}")
    usable = wide and (not supported or version in supported)
    if usable:
        return PythonChoice(version, sys.executable, running=True)
    return PythonChoice(
        supported[0], supported[0], running=False, why=unusable_reason(version, wide, supported)
    )


def unusable_reason(version: str, wide: bool, supported: Sequence[str]) -> str:
    """Why torch cannot use this Python, in words (for the plan and preflight lines)."""
    if not wide:
        return f"this Python {version} is 32-bit and torch has 64-bit builds only"
    listed = ", ".join(supported)
    if _key(version) > max(_key(v) for v in supported):
        return f"this Python {version} is newer than any torch supports here ({listed})"
    if _key(version) < min(_key(v) for v in supported):
        return f"this Python {version} is older than ComfyUI and torch need ({listed})"
    return f"this Python {version} is not one torch supports here ({listed})"


def downloads_allowed(env: Mapping[str, str] | None = None) -> bool:
    """False when uv was told not to download a Python (``UV_PYTHON_DOWNLOADS``, ``UV_OFFLINE``)."""
    values: Mapping[str, str] = os.environ if env is None else env
    if values.get("UV_PYTHON_DOWNLOADS", "").lower() in _NO_DOWNLOADS:
        return False
    return values.get("UV_OFFLINE", "").lower() not in _TRUE


def locate(uv: str, version: str) -> str | None:
    """The path of a Python ``version`` uv would take without downloading, else None."""
    try:
        done = subprocess.run(
            [uv, "python", "find", "--no-python-downloads", version],
            capture_output=True,
            text=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    found = done.stdout.strip().splitlines()
    return found[-1] if done.returncode == 0 and found else None


def what_to_install(choice: PythonChoice, manifest: Manifest) -> str:
    """The hint when no such Python can be had: install it, or choose another listed one."""
    others = [v for v in manifest.python_supported if v != choice.version]
    also = f", or re-run with --python {others[0]}" if others else ""
    return (
        f"install Python {choice.version} (python.org or your package manager){also}; "
        "or allow uv to download one (unset UV_PYTHON_DOWNLOADS=never / UV_OFFLINE)"
    )


def check_available(uv: str, choice: PythonChoice, manifest: Manifest) -> str:
    """How the chosen Python will be had, in words; SystemRequirementError when it cannot be.

    Runs before anything is downloaded: a Python on this machine is found now; a download is
    possible only when uv may download (the download itself happens in ``python_deps``).
    """
    if choice.running:
        return f"Python {choice.version} (this one)"
    found = locate(uv, choice.version)
    if found:
        return f"Python {choice.version} found at {found}"
    if not downloads_allowed():
        raise SystemRequirementError(
            f"no Python {choice.version} on this machine and uv may not download one "
            f"({choice.why})",
            hint=what_to_install(choice, manifest),
        )
    return f"Python {choice.version}, a uv-managed download (about 30 MB)"


def _key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def uv_binary() -> str | None:
    """uv's binary (a dependency of the installer), or None where it cannot be found."""
    try:
        import uv

        return str(uv.find_uv_bin())
    except (ImportError, FileNotFoundError, OSError):
        return None


def venv_python_line(ctx: InstallContext) -> str:
    """What preflight and the plan say about the venv's Python; raises when it cannot be had.

    With ``--installer pip`` the venv is made by this Python's own ``venv``: no other Python
    can be had, so one torch cannot use is a configuration error.
    """
    choice = choose_python(ctx.manifest, ctx.options.python)
    if not choice.running and ctx.options.installer == "pip":
        raise ConfigurationError(
            f"the ComfyUI venv needs Python {choice.version} ({choice.why}), and pip cannot "
            "bring one",
            hint=f"re-run without --installer pip (uv brings Python {choice.version}), or "
            f"run the installer with Python {choice.version}",
        )
    # uv is asked only for a Python other than this one (finding it imports sysconfig: ~20 ms
    # of every preflight, a re-run's included, for nothing when this Python fits).
    uv = None if choice.running else uv_binary()
    if uv is None and not choice.running:  # python_deps would fall back to pip: no other Python
        raise SystemRequirementError(
            f"the ComfyUI venv needs Python {choice.version} ({choice.why}), and uv, which "
            "would bring it, cannot run here",
            hint=f"install Python {choice.version} (python.org or your package manager) and "
            "run the installer with it",
        )
    how = check_available(uv or "", choice, ctx.manifest)  # uv is only asked when not running
    return f"{how}: {choice.why}" if choice.why else how
