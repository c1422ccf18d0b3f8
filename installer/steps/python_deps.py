"""Python dependencies: a venv next to ComfyUI with its ``requirements.txt`` installed.

ComfyUI gets its own virtual environment at ``<target>/venv`` so its pins (torch and friends)
never touch the user's Python. A stamp in the venv records the sha256 of the requirements that
were installed; while it matches and the venv's python exists the step is skipped, so a re-run
costs milliseconds instead of a pip resolve. The stamp is written only after pip succeeded.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import time
from pathlib import Path

from ..context import InstallContext, Step
from ..errors import InstallError, NetworkError, SystemRequirementError
from ..fsutil import write_atomic

STAMP_NAME = ".dinoair-requirements.json"
VENV_MARKER = ".dinoair-venv-complete"  # written once venv + ensurepip finished
PIP_LOG = "pip-install.log"
VENV_LOG = "venv.log"

# pip's wording when the index could not be reached (the log tail is what we have to go on).
_NETWORK_MARKERS = (
    "NewConnectionError",
    "Failed to establish a new connection",
    "Temporary failure in name resolution",
    "Name or service not known",
    "Max retries exceeded",
    "ReadTimeoutError",
    "ConnectTimeoutError",
    "Read timed out",
    "ProxyError",
    "Connection reset by peer",
    "Connection broken",
)
_DISK_FULL_MARKERS = ("No space left on device", "[Errno 28]")


def venv_dir(ctx: InstallContext) -> Path:
    return ctx.target / "venv"


def venv_python(ctx: InstallContext) -> Path:
    if os.name == "nt":
        return venv_dir(ctx) / "Scripts" / "python.exe"
    return venv_dir(ctx) / "bin" / "python"


def requirements_file(ctx: InstallContext) -> Path:
    return ctx.comfyui_dir / "requirements.txt"


def run(ctx: InstallContext) -> None:
    requirements = requirements_file(ctx)
    digest = _sha256(requirements)
    if digest is None:
        raise InstallError(
            "ComfyUI/requirements.txt is missing, so its Python dependencies cannot be installed",
            hint="the ComfyUI checkout looks incomplete: rename or delete the ComfyUI folder "
            "and re-run to clone it again",
        )
    if _stamp_matches(ctx, digest):
        ctx.skip("already_installed", "requirements unchanged since the last successful install")

    created = _ensure_venv(ctx)
    count = len(_requirement_lines(requirements))
    started = time.monotonic()
    _pip_install(ctx, requirements)
    seconds = round(time.monotonic() - started, 3)
    ctx.event("requirements_installed", requirements=count, seconds=seconds)
    _write_stamp(ctx, digest)
    ctx.outcomes["python_deps"] = {
        "venv_created": created,
        "requirements": count,
        "pip_seconds": seconds,
    }


def skip_if(ctx: InstallContext) -> str | None:
    digest = _sha256(requirements_file(ctx))
    return "already_installed" if digest is not None and _stamp_matches(ctx, digest) else None


def describe(ctx: InstallContext) -> str:
    requirements = requirements_file(ctx)
    digest = _sha256(requirements)
    if digest is None:
        return (
            "create a Python venv in venv/ (~25 MB with pip) and pip install ComfyUI's "
            "requirements.txt (cloned by the comfyui step)"
        )
    if _stamp_matches(ctx, digest):
        return "skip: the venv already has this requirements.txt installed"
    lines = _requirement_lines(requirements)
    heavy = any(line.lower().startswith("torch") for line in lines)
    size = "; includes torch, expect several GB of downloads" if heavy else ""
    venv = "reuse venv/" if venv_python(ctx).exists() else "create a Python venv in venv/"
    return f"{venv} and pip install {len(lines)} requirements from ComfyUI/requirements.txt{size}"


# -- the venv ------------------------------------------------------------------------------------


def _ensure_venv(ctx: InstallContext) -> bool:
    """Create the venv (with pip) unless a complete one exists; True when it was created."""
    folder = venv_dir(ctx)
    marker = folder / VENV_MARKER
    if venv_python(ctx).exists() and marker.exists():
        return False
    if folder.exists() or folder.is_symlink():
        # A venv without its python (Python upgraded or removed) or without the marker (killed
        # while ensurepip ran, so pip may be half there) cannot be trusted or repaired in place;
        # it holds nothing but re-installable packages, so start over.
        reason = "incomplete" if venv_python(ctx).exists() else "no_python"
        ctx.event("venv_recreated", reason=reason)
        if folder.is_dir() and not folder.is_symlink():
            shutil.rmtree(folder)
        else:
            folder.unlink()
    log = ctx.logs_dir / VENV_LOG
    start = log.stat().st_size if log.exists() else 0
    started = time.monotonic()
    try:
        ctx.run(
            [sys.executable, "-m", "venv", str(folder)],
            log_name=VENV_LOG,
            what="creating the Python venv",
        )
    except InstallError as exc:
        shutil.rmtree(folder, ignore_errors=True)
        if _log_mentions(log, start, ("ensurepip",)):
            raise SystemRequirementError(
                f"this Python cannot create a venv with pip: {exc}",
                hint="install the venv support for this Python (Debian/Ubuntu: "
                f"apt install python3-venv), see {log}, then re-run",
            ) from exc
        raise
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)  # never leave a venv without pip behind
        raise
    marker.write_text("created by the DinoAir installer\n", encoding="utf-8")
    ctx.event("venv_created", seconds=round(time.monotonic() - started, 3))
    return True


def _pip_install(ctx: InstallContext, requirements: Path) -> None:
    log = ctx.logs_dir / PIP_LOG
    start = log.stat().st_size if log.exists() else 0  # the log appends across runs
    cmd = [
        str(venv_python(ctx)),
        "-m",
        "pip",
        "install",
        "--disable-pip-version-check",
        "--progress-bar",
        "off",
        "--no-input",
        "--timeout",
        str(max(1, int(ctx.options.timeout))),
        "--retries",
        str(max(0, ctx.options.retries)),
        "-r",
        str(requirements),
    ]
    try:
        ctx.run(cmd, log_name=PIP_LOG, cwd=ctx.comfyui_dir, what="pip install")
    except InstallError as exc:
        # ctx.run says "installation"; the log often knows better.
        if _log_mentions(log, start, _DISK_FULL_MARKERS):
            raise SystemRequirementError(
                f"pip ran out of disk space: {exc}",
                hint=f"free disk space on the target drive (see {log}), then re-run",
            ) from exc
        if _log_mentions(log, start, _NETWORK_MARKERS):
            raise NetworkError(
                f"pip could not reach the package index: {exc}",
                hint=f"check your connection or proxy (pip honours PIP_INDEX_URL and "
                f"HTTPS_PROXY), see {log}, then re-run",
            ) from exc
        raise


# -- the stamp -----------------------------------------------------------------------------------


def _stamp_matches(ctx: InstallContext, digest: str) -> bool:
    if not (venv_python(ctx).exists() and (venv_dir(ctx) / VENV_MARKER).exists()):
        return False
    try:
        stamp = json.loads((venv_dir(ctx) / STAMP_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(stamp, dict) and stamp.get("requirements_sha256") == digest


def _write_stamp(ctx: InstallContext, digest: str) -> None:
    data = {
        "requirements_sha256": digest,
        "python": ".".join(str(part) for part in sys.version_info[:3]),
        "installed_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    write_atomic(venv_dir(ctx) / STAMP_NAME, json.dumps(data))


def _sha256(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return None


def _requirement_lines(path: Path) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    lines = (line.split("#", 1)[0].strip() for line in text.splitlines())
    return [line for line in lines if line and not line.startswith("-")]


def _log_mentions(log: Path, start: int, markers: tuple[str, ...]) -> bool:
    try:
        with log.open("rb") as handle:
            handle.seek(start)
            text = handle.read().decode(errors="replace")
    except OSError:
        return False
    return any(marker in text for marker in markers)


STEP = Step(name="python_deps", run=run, describe=describe, skip_if=skip_if)
