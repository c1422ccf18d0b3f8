"""Preflight: fail in the first second, not after a 2 GB download, when the machine cannot work.

Checks what every later step relies on (a supported Python, git, pip, a writable target, enough
free disk) and records which optional tools exist in ``ctx.tools``, so the steps that need node,
npm or ollama can skip themselves instead of failing. It also finds the accelerator
(:mod:`installer.hardware`), which decides the torch build and so the disk space needed.
"""

from __future__ import annotations

import errno
import importlib.util
import os
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import psutil

from otel_local_exporter import attributes as attr

from .. import ollama
from ..context import CPU, InstallContext, Options, Step
from ..errors import ConfigurationError, SystemRequirementError
from ..hardware import Hardware, detect
from ..lifecycle import checkpoint_in_place
from ..python_choice import venv_python_line
from ..torch_plan import TorchPlan, plan_torch
from ..units import size

MIN_PYTHON = (3, 10)
REQUIRED_TOOLS = ("git",)
OPTIONAL_TOOLS = ("node", "npm", "ollama")
GIB = 1024**3
MB = 1000**2
# ComfyUI's checkout, the venv with pip, the logs and the installer's download cache, on top of
# what the manifest says the torch build and ComfyUI's other requirements take in the venv.
BASE_MARGIN_BYTES = 1 * GIB
# Wheels are downloaded (and unpacked in the cache) before they are installed: the disk holds
# them twice for a while. Measured: a 6.1 GB venv peaked 9.1 GiB above the start.
DOWNLOAD_FACTOR = 1.5
# Logs, stamps and launch scripts once ComfyUI and the venv already exist (a re-run).
RERUN_MARGIN_BYTES = 100 * 1024**2
# Ollama, when ollama_models installs it from the manifest's archive (docs/stack.md, "Disk
# space"). Estimates, used only where the manifest gives no figure: the archive (Ollama's Linux
# .tgz was 1.6 GB at 0.7.0, cashapp/hermit-packages#616, and at 0.3.x, ollama/ollama#5631), what
# it unpacks to (3x the archive: its CUDA libraries compress about 2:1 to 5:1, #5631 measured
# 1.6 GB -> 7.8 GB with ROCm inside), and a chat model (a 7-8 B model at 4-bit quantization, as
# Ollama serves most: 7.7e9 weights x ~4.9 bits / 8 = 4.7 GB for the bundled qwen 7B Q4_K_M).
OLLAMA_ARCHIVE_ESTIMATE = 2 * GIB
OLLAMA_UNPACK_FACTOR = 3
OLLAMA_MODEL_ESTIMATE = 5 * GIB

_TOOL_HINTS = {
    "git": "install git (apt install git, brew install git, or the installer from git-scm.com), "
    "make sure `git --version` works in a new terminal, then re-run",
}


def detect_hardware(options: Options) -> Hardware:
    return detect(options.gpu, cuda_version=options.cuda_version, rocm_version=options.rocm_version)


def run(ctx: InstallContext) -> None:
    hardware = ctx.hardware = detect_hardware(ctx.options)
    ctx.echo(f"  hardware: {hardware.describe()}")
    plan = plan_torch(ctx.manifest, hardware, ctx.options.torch_index)
    if plan is not None:
        ctx.echo(f"  torch: {plan.describe()}")
        ctx.echo(f"  launch flags: {plan.describe_flags()}")
    ctx.system.update(system_attributes(hardware, plan))
    ctx.event(
        "hardware_detected",
        accelerator=hardware.accelerator,
        source=hardware.source,
        gpu_count=hardware.gpu_count,
        reason=hardware.reason or "",
        torch_build=plan.build.name if plan else "",
        build_rule=plan.rule if plan else "",
    )
    check_python(sys.version_info[:3])
    ctx.event("python_checked", version=f"{sys.version_info[0]}.{sys.version_info[1]}")
    ctx.echo(f"  venv python: {venv_python_line(ctx)}")  # torch cannot use every Python

    for tool in find_tools(ctx):
        ctx.event("tool_detected", tool=tool, found=ctx.tools[tool] is not None)
    for tool in REQUIRED_TOOLS:
        if ctx.tools[tool] is None:
            raise SystemRequirementError(
                f"missing tool: {tool} is not on PATH", hint=_TOOL_HINTS[tool]
            )
    if ctx.options.installer == "pip":  # uv makes venvs and installs without pip or ensurepip
        _check_pip()

    _check_writable(ctx.target)
    needed = required_bytes(ctx)
    free = psutil.disk_usage(str(ctx.target)).free
    ctx.event("disk_checked", free_gib=_gib(free), needed_gib=_gib(needed), enough=free >= needed)
    if free < needed:
        raise SystemRequirementError(
            f"not enough disk space: need {_gib(needed)} GiB, {_gib(free)} GiB free "
            "on the target drive",
            hint="free some space, choose another --target, or use --no-models to skip the "
            "checkpoint downloads, then re-run",
        )

    ctx.outcomes["preflight"] = {
        "python": f"{sys.version_info[0]}.{sys.version_info[1]}.{sys.version_info[2]}",
        "tools": {tool: path is not None for tool, path in ctx.tools.items()},
        "free_gib": _gib(free),
        "needed_gib": _gib(needed),
        "hardware": {
            "accelerator": hardware.accelerator,
            "gpu_model": hardware.gpu_model,
            "gpu_count": hardware.gpu_count,
            "vram_gib": hardware.vram_gib,
            "driver_version": hardware.driver_version,
            "cuda_version": hardware.cuda_version,
            "rocm_version": hardware.rocm_version,
            "source": hardware.source,
            "reason": hardware.reason,
            "compute_capability": hardware.compute_capability,
            "gfx_target": hardware.gfx_target,
            "others": list(hardware.others),
            "gpus": [
                {"model": g.model, "compute": g.compute, "gfx": g.gfx, "vram_gib": g.vram_gib}
                for g in hardware.gpus
            ],
        },
        "gpu_used": plan.device.model if plan and plan.device else None,
        "gpu_plan": plan.devices if plan else None,
        "torch_build": plan.build.name if plan else None,
        "build_rule": plan.rule if plan else None,
        "launch_flags": list(plan.flags) if plan else [],
    }


def system_attributes(hardware: Hardware, plan: TorchPlan | None) -> dict[str, Any]:
    """The coarse hardware profile for telemetry (usage analytics); None values are left out."""
    values = {
        attr.SYSTEM_ACCELERATOR: hardware.accelerator,
        attr.SYSTEM_GPU_MODEL: hardware.gpu_model,
        attr.SYSTEM_VRAM_GIB: hardware.vram_gib,
        attr.SYSTEM_DRIVER_MAJOR: hardware.driver_major,
        attr.SYSTEM_CUDA_VERSION: hardware.cuda_version,
        attr.SYSTEM_ROCM_VERSION: hardware.rocm_version,
        attr.SYSTEM_TORCH_BUILD: plan.build.name if plan else None,
        attr.SYSTEM_COMPUTE_CAPABILITY: hardware.compute_capability or hardware.gfx_target,
        attr.SYSTEM_BUILD_RULE: plan.rule if plan else None,
    }
    return {key: value for key, value in values.items() if value is not None}


def find_tools(ctx: InstallContext) -> dict[str, str | None]:
    """Which tools are on PATH, into ``ctx.tools``: the steps (and the dry-run plan) read it."""
    for tool in (*REQUIRED_TOOLS, *OPTIONAL_TOOLS):
        ctx.tools[tool] = shutil.which(tool)
    return ctx.tools


def describe(ctx: InstallContext) -> str:
    parts = ollama_parts(ctx)  # once: it asks whether an Ollama answers
    return (
        f"check Python >= {MIN_PYTHON[0]}.{MIN_PYTHON[1]}, "
        f"{'git and pip' if ctx.options.installer == 'pip' else 'git'}, that the target "
        f"folder is writable and has {size(required_bytes(ctx, parts))} free"
        f"{_ollama_part(parts)}; "
        f"look for {', '.join(OPTIONAL_TOOLS)}"
    )


def _ollama_part(parts: list[tuple[str, int, bool]]) -> str:
    """``, 13.0 GiB of it for Ollama (the release archive 2.0 GiB, estimated; ...)``: what of
    the plan's figure is Ollama's, each part marked where it is an estimate."""
    if not parts:
        return ""
    total = size(sum(count for _, count, _ in parts))
    named = "; ".join(
        f"{what} {size(count)}{', estimated' if guess else ''}" for what, count, guess in parts
    )
    return f", {total} of it for Ollama ({named})"


def check_python(version: Sequence[int]) -> None:
    """Refuse interpreters older than :data:`MIN_PYTHON` (ComfyUI needs 3.10 too)."""
    if tuple(version[:2]) < MIN_PYTHON:
        found = ".".join(str(part) for part in version[:3])
        wanted = ".".join(str(part) for part in MIN_PYTHON)
        raise ConfigurationError(
            f"Python {found} is not supported; DinoAir needs Python {wanted} or newer",
            hint=f"install Python {wanted}+ and run the installer with it "
            f"(for example `python{wanted} install.py`)",
        )


def required_bytes(
    ctx: InstallContext, ollama_bytes: list[tuple[str, int, bool]] | None = None
) -> int:
    """Free space this run still needs: missing checkpoints plus room for ComfyUI and its venv.

    Checkpoints already in place at their full size and an existing installation do not count
    again, so a re-run on a nearly full disk is not refused for space it will not use.
    ``ollama_bytes``: :func:`ollama_parts`, when the caller has them already.
    """
    installed = ctx.comfyui_dir.is_dir() and (ctx.target / "venv").is_dir()
    needed = RERUN_MARGIN_BYTES if installed else BASE_MARGIN_BYTES + venv_bytes(ctx)
    if not ctx.options.no_models:
        for checkpoint in ctx.manifest.checkpoints:
            if not checkpoint_in_place(ctx.target, ctx.comfyui_dir, checkpoint):
                needed += checkpoint.size
    if ollama_bytes is None:
        ollama_bytes = ollama_parts(ctx)
    return needed + sum(count for _, count, _ in ollama_bytes)


def ollama_parts(ctx: InstallContext) -> list[tuple[str, int, bool]]:
    """What ollama_models will put into the install folder: (what, bytes, estimated).

    Mirrors the step's choice (installer/steps/ollama_models.py): a running Ollama pulls into
    its own model folder, wherever that is, so nothing counts here; the install's own Ollama or
    a system ``ollama`` pulls into ``ollama/models`` (the models not there yet count); with no
    Ollama but an archive for this platform, the archive and what it unpacks to count too.
    """
    if ctx.options.no_models or not ctx.manifest.ollama_models:
        return []  # the step is skipped
    if ollama.version(ollama.default_url(), timeout=1.0) is not None:
        return []
    parts: list[tuple[str, int, bool]] = []
    if ollama.installed_binary(ctx.target) is None and not ctx.tools.get("ollama"):
        archive = ctx.manifest.ollama_archive(*ollama.platform_key())
        if archive is None:
            return []  # skipped: no way to get Ollama here
        packed = archive.size or OLLAMA_ARCHIVE_ESTIMATE
        unpacked = archive.unpacked_size or packed * OLLAMA_UNPACK_FACTOR
        parts.append(("the release archive", packed, not archive.size))
        parts.append(("its files unpacked", unpacked, not archive.unpacked_size))
    missing = [m for m in ctx.manifest.ollama_models if not ollama.pulled_here(ctx.target, m)]
    if missing:
        sizes = [ctx.manifest.ollama_model_size(m) for m in missing]
        count = sum(known or OLLAMA_MODEL_ESTIMATE for known in sizes)
        what = f"the chat model{'s' if len(missing) > 1 else ''} to pull"
        parts.append((what, count, any(known is None for known in sizes)))
    return parts


def venv_bytes(ctx: InstallContext) -> int:
    """What the venv will need at its peak: the torch build's and the other requirements'
    installed size from the manifest, times :data:`DOWNLOAD_FACTOR` for the downloads."""
    hardware = ctx.hardware or detect_hardware(ctx.options)
    plan = plan_torch(ctx.manifest, hardware, ctx.options.torch_index)
    size_mb = ctx.manifest.requirements_mb + (plan.build.size_mb if plan else 0)
    return int(size_mb * MB * DOWNLOAD_FACTOR)


def _check_pip() -> None:
    """For ``--installer pip`` only: pip here, and ensurepip so ``venv`` can put pip in the venv."""
    if importlib.util.find_spec("pip") is None:
        raise SystemRequirementError(
            f"missing tool: pip is not available for this Python ({_python_name()})",
            hint="re-run without --installer pip (uv needs no pip), or install pip for this "
            "Python (Debian/Ubuntu: apt install python3-pip python3-venv)",
        )
    if importlib.util.find_spec("ensurepip") is None:
        raise SystemRequirementError(
            f"missing tool: this Python ({_python_name()}) cannot create virtual environments "
            "with pip (no ensurepip)",
            hint="re-run without --installer pip (uv needs no ensurepip), or install the venv "
            "support for this Python (Debian/Ubuntu: apt install python3-venv)",
        )


def _check_writable(target: Path) -> None:
    """Create the target and prove we can write there, before anything is downloaded."""
    probe = target / f".dinoair-write-test-{os.getpid()}"
    try:
        target.mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"ok")
        probe.unlink()
    except OSError as exc:
        reason = {
            errno.EACCES: "permission denied",
            errno.EPERM: "permission denied",
            errno.EROFS: "read-only file system",
            errno.ENOTDIR: "a parent of it is a file, not a folder",
            errno.EEXIST: "a file with that name exists",
            errno.ENOSPC: "the disk is full",
        }.get(exc.errno or 0, exc.strerror or type(exc).__name__)
        raise SystemRequirementError(
            f"cannot write to the target folder {target.name!r}: {reason}",
            hint="choose a folder you may write to with --target, or fix its permissions, "
            "then re-run",
        ) from exc


def _gib(count: int) -> float:
    return round(count / GIB, 2)


def _python_name() -> str:
    return f"Python {sys.version_info[0]}.{sys.version_info[1]}"


STEP = Step(
    name="preflight",
    run=run,
    describe=describe,
    uses=frozenset({CPU}),
)
