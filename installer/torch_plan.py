"""Which torch build, from which index, fits the machine: the manifest's ``torch`` data + hardware.

The choice is a function of (GPU and its compute capability or gfx target, driver, OS) over the
builds in the manifest, so a new CUDA release is a data change. For NVIDIA: the newest build that
has kernels for the card (its compute capability, CUDA binary compatibility: same major, equal or
lower minor) and that the driver can run under NVIDIA's minor-version compatibility (each build's
``min_driver`` per OS: any 12.x on >= 525.60.13 on Linux, 13.x on >= 580). The CPU build only when
no build fits, with one line naming the card, what it lacks and what to do. ``--cuda-version`` /
``--rocm-version`` pin the build, with a warning when it cannot run on the card. A
``--torch-index`` replaces the index of the chosen build, never the choice itself.

``rule`` says which rule decided (telemetry, coarse): ``driver_mvc`` (the newest build the driver
runs), ``legacy_arch`` (an older build because the newer ones have no kernels for the card),
``override`` (pinned by an option), ``no_build`` (a GPU, but no build fits: CPU), ``vendor``
(AMD, Intel, Apple: the newest build for the vendor) and ``cpu`` (no GPU).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from otel_local_exporter import BUILD_RULES

from .hardware import Gpu, Hardware
from .launch import CUDA_DEVICE_FLAG
from .manifest import Manifest, RetiredArch, TorchBuild

RULES = BUILD_RULES


@dataclass(frozen=True)
class TorchPlan:
    build: TorchBuild
    index: str  # the build's index, or --torch-index
    reason: str | None = None  # why the build does not match the accelerator, or a warning
    rule: str = "cpu"  # one of RULES
    note: str | None = None  # said when the chosen build is a legacy or pinned one
    flags: tuple[str, ...] = ()  # ComfyUI launch flags for the card (manifest launch_flags)
    flag_reasons: tuple[str, ...] = ()
    device: Gpu | None = None  # the GPU ComfyUI is told to use (--cuda-device), if it must be
    devices: str | None = None  # which GPU is used and which are left out, and why

    @property
    def index_overridden(self) -> bool:
        return self.index != self.build.index

    def describe(self) -> str:
        where = f"{self.index} (--torch-index)" if self.index_overridden else self.index
        text = f"torch build {self.build.name} ({', '.join(self.build.requirements)}) from {where}"
        extra = [part for part in (self.note, self.devices, self.reason) if part]
        return "; ".join([text, *extra])

    def describe_flags(self) -> str:
        if not self.flags:
            return "none (the card needs no special flags)"
        return f"{' '.join(self.flags)} ({'; '.join(self.flag_reasons)})"


@dataclass(frozen=True)
class _Choice:
    build: TorchBuild
    rule: str
    reason: str | None = None
    note: str | None = None
    device: Gpu | None = None
    devices: str | None = None


def plan_torch(
    manifest: Manifest, hardware: Hardware, torch_index: str | None = None
) -> TorchPlan | None:
    """The build to install, or None when the manifest has no ``torch`` section."""
    builds = manifest.torch_builds
    if not builds:
        return None
    choice = _choose(builds, hardware, manifest.retired_archs)
    flags, why = launch_flags(manifest, hardware, choice.build, choice.device)
    return TorchPlan(
        choice.build,
        torch_index or choice.build.index,
        choice.reason,
        choice.rule,
        choice.note,
        flags,
        why,
        choice.device,
        choice.devices,
    )


def used_card(hw: Hardware, plan: TorchPlan | None) -> Hardware:
    """The machine as the card ComfyUI uses sees it: with several kinds of GPU the plan names
    one (``--cuda-device N``), which need not be the one with the most VRAM that ``hw``
    describes first; what is said about that card (its name, compute capability, the builds
    that run on it) must be said of it."""
    device = plan.device if plan is not None else None
    return hw if device is None else hw.only(device)


def working_builds(manifest: Manifest, hw: Hardware) -> list[str]:
    """Names of the builds that have kernels for the card and that its driver runs, newest
    first: what verify suggests when the build that arrived cannot run."""
    mine = [b for b in _for_os(manifest.torch_builds, hw) if b.accelerator == hw.accelerator]
    if hw.accelerator == "nvidia":
        mine.sort(key=lambda b: version(b.cuda), reverse=True)
        return [
            b.name for b in mine if has_kernels(b, hw.compute_capability) and driver_runs(b, hw)
        ]
    if hw.accelerator == "amd":
        mine.sort(key=lambda b: version(b.rocm), reverse=True)
        return [b.name for b in mine if has_gfx(b, hw.gfx_target)]
    return [b.name for b in mine]


def launch_flags(
    manifest: Manifest, hardware: Hardware, build: TorchBuild, device: Gpu | None = None
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The manifest's launch rules that match the card ComfyUI will use and the build, in order,
    deduplicated; ``--cuda-device N`` when ComfyUI must be told which GPU that is."""
    flags: list[str] = []
    why: list[str] = []
    vram = device.vram_gib if device is not None else hardware.vram_gib
    model = device.model if device is not None else hardware.gpu_model
    for rule in manifest.launch_rules:
        if rule.accelerator is not None and rule.accelerator != build.accelerator:
            continue
        if rule.vram_gib_max is not None and (
            build.accelerator == "cpu" or vram is None or vram > rule.vram_gib_max
        ):
            continue
        if rule.model is not None and not re.search(rule.model, model or ""):
            continue
        new = [flag for flag in rule.flags if flag not in flags]
        if new:
            flags.extend(new)
            why.append(f"{' '.join(new)}: {rule.why}" if rule.why else " ".join(new))
    if build.accelerator == "cpu" and "--cpu" not in flags:  # ComfyUI needs it, rule or not
        flags.insert(0, "--cpu")
        why.insert(0, "--cpu: the CPU build")
    if device is not None and device.index is not None and build.accelerator != "cpu":
        flags.extend([CUDA_DEVICE_FLAG, str(device.index)])
        why.append(f"{CUDA_DEVICE_FLAG} {device.index}: ComfyUI uses the {device.model} only")
    return tuple(flags), tuple(why)


def _choose(
    builds: tuple[TorchBuild, ...], hw: Hardware, retired: tuple[RetiredArch, ...] = ()
) -> _Choice:
    cpu = next((b for b in builds if b.accelerator == "cpu"), builds[0])
    everywhere = [b for b in builds if b.accelerator == hw.accelerator]
    mine = _for_os(everywhere, hw)
    if hw.accelerator == "cpu":
        return _Choice(cpu, "cpu")
    if not everywhere:
        return _Choice(cpu, "no_build", f"the manifest has no torch build for {hw.accelerator}")
    if not mine:
        oses = sorted({os for b in everywhere for os in b.os})
        names = ", ".join(b.name for b in everywhere)
        where = " and ".join(_OS_NAMES.get(os, os) for os in oses)
        return _Choice(
            cpu,
            "no_build",
            f"the {_card(hw)}: PyTorch publishes {names} for {where} only, no build of torch "
            f"for this GPU on {hw.os}: torch runs on the CPU; to use the GPU, install DinoAir "
            f"on {where}",
        )
    if hw.accelerator == "nvidia":
        return _choose_nvidia(cpu, mine, hw, retired)
    if hw.accelerator == "amd":
        return _choose_amd(cpu, mine, hw)
    return _Choice(mine[0], "override" if hw.source == "option" else "vendor")


def _choose_nvidia(
    cpu: TorchBuild, mine: list[TorchBuild], hw: Hardware, retired: tuple[RetiredArch, ...]
) -> _Choice:
    newest_first = sorted(mine, key=lambda b: version(b.cuda), reverse=True)
    card = _card(hw)
    gpus = hw.gpus or (
        Gpu("nvidia", hw.gpu_model or "NVIDIA GPU", hw.vram_gib, hw.compute_capability),
    )
    if hw.pinned:
        pinned = [b for b in newest_first if version(b.cuda) <= version(hw.pinned)]
        build = pinned[0] if pinned else newest_first[-1]
        device, devices = _devices(build, gpus)
        used = hw if device is None else hw.only(device)  # the card the warning is for
        warning = _override_warning(build, newest_first, used, _card(used))
        return _Choice(build, "override", warning, build.note, device, devices)
    if hw.source == "option" and not hw.driver_version and not hw.cuda_version:
        return _Choice(newest_first[0], "override")  # --gpu nvidia on a machine we cannot see
    runnable = [b for b in newest_first if driver_runs(b, hw)]
    # The newest build with kernels for every GPU; else the newest for the GPU with the most
    # VRAM that any build the driver runs has kernels for (the others are left out).
    covering = [b for b in runnable if all(has_kernels(b, g.compute) for g in gpus)]
    fitting = covering or next(
        (fits for g in gpus if (fits := [b for b in runnable if has_kernels(b, g.compute)])), []
    )
    if fitting:
        build = fitting[0]
        legacy = runnable[0] is not build
        device, devices = _devices(build, gpus)
        return _Choice(
            build,
            "legacy_arch" if legacy else "driver_mvc",
            None,
            build.note if legacy else None,
            device,
            devices,
        )
    with_kernels = [b for b in newest_first if any(has_kernels(b, g.compute) for g in gpus)]
    if with_kernels:
        need = with_kernels[-1]  # the one asking least of the driver
        wanted = dict(need.min_driver).get(_os_key(hw))
        needs = f"driver {wanted} or newer" if wanted else f"a driver for CUDA {need.cuda}"
        return _Choice(
            cpu,
            "no_build",
            f"the {card} has driver {hw.driver_version or 'unknown'}, too old for every CUDA "
            f"build (the {need.name} build needs {needs}): update the NVIDIA driver to use "
            "the GPU; torch runs on the CPU",
        )
    oldest = min((arch for b in newest_first for arch in b.compute), key=version, default=None)
    newer = f"; a card of compute {oldest} or newer would use the GPU" if oldest else ""
    return _Choice(
        cpu,
        "no_build",
        f"the {card} is older than every CUDA build in the manifest ("
        f"{', '.join(b.name for b in newest_first)} have no kernels for compute "
        f"{hw.compute_capability}){_last_torch(hw.compute_capability, retired)}: torch runs on "
        f"the CPU{newer}",
    )


def _devices(build: TorchBuild, gpus: tuple[Gpu, ...]) -> tuple[Gpu | None, str | None]:
    """The GPU ComfyUI uses (the one with the most VRAM the build has kernels for) when it must
    be named, and the plan's words for it; None when the GPUs are all alike (a build that has
    no kernels for them is the override warning's to say)."""
    if len({g.model for g in gpus}) <= 1:
        return None, None
    used = next((g for g in gpus if _runs_on(build, g)), gpus[0])
    left = [g for g in gpus if not _runs_on(build, g)]
    named = _gpu_name(used, vram=True)
    known = all(g.vram_gib is not None for g in gpus)
    which = "the most VRAM of" if known else "the first of"
    text = f"ComfyUI uses the {named}: {which} the GPUs {build.name} runs on"
    if left:
        names = ", ".join(_gpu_name(g) for g in left)
        text += f"; left out: {names}, which {build.name} has no kernels for"
    return used, text


def _last_torch(compute: str | None, retired: tuple[RetiredArch, ...]) -> str:
    """``; the last torch with kernels for it was 2.7 (its cu118 build)``, from the manifest."""
    if compute is None:
        return ""
    major, minor = (*version(compute), 0)[:2]
    fits = [
        arch
        for arch in retired
        if version(arch.compute)[0] == major and (*version(arch.compute), 0)[1] <= minor
    ]
    if not fits:
        return "; no torch release the manifest knows of had kernels for it"
    arch = max(fits, key=lambda a: version(a.compute))
    return f"; the last torch with kernels for it was {arch.last_torch} (its {arch.build} build)"


def _choose_amd(cpu: TorchBuild, mine: list[TorchBuild], hw: Hardware) -> _Choice:
    newest_first = sorted(mine, key=lambda b: version(b.rocm), reverse=True)
    gpus = hw.gpus or (Gpu("amd", hw.gpu_model or "AMD GPU", hw.vram_gib, gfx=hw.gfx_target),)
    if hw.pinned:
        pinned = [b for b in newest_first if version(b.rocm) <= version(hw.pinned)]
        build = pinned[0] if pinned else newest_first[-1]
        warning = None
        if not has_gfx(build, hw.gfx_target):
            warning = (
                f"warning: {build.name} has no kernels for the {_card(hw)}: torch would fail "
                "at the first image"
            )
        return _Choice(build, "override", warning)
    covering = [b for b in newest_first if all(has_gfx(b, g.gfx) for g in gpus)]
    fitting = covering or next(
        (fits for g in gpus if (fits := [b for b in newest_first if has_gfx(b, g.gfx)])), []
    )
    if fitting:
        device, devices = _devices(fitting[0], gpus)
        rule = "override" if hw.source == "option" else "vendor"
        return _Choice(fitting[0], rule, device=device, devices=devices)
    return _Choice(
        cpu,
        "no_build",
        f"the {_card(hw)} has no kernels in any ROCm build in the manifest "
        f"({', '.join(b.name for b in newest_first)}): torch runs on the CPU",
    )


def has_gfx(build: TorchBuild, gfx: str | None) -> bool:
    """Whether the ROCm ``build`` has kernels for an AMD card of this gfx target (unknown: yes)."""
    return not build.gfx or not gfx or gfx in build.gfx


def _runs_on(build: TorchBuild, gpu: Gpu) -> bool:
    return (
        has_gfx(build, gpu.gfx) if build.accelerator == "amd" else has_kernels(build, gpu.compute)
    )


def has_kernels(build: TorchBuild, compute: str | None) -> bool:
    """Whether ``build`` carries kernels a card of ``compute`` runs (unknown: assume yes).

    CUDA binary compatibility: code for ``X.y`` runs on ``X.z`` with ``z >= y``, never on
    another major.
    """
    if compute is None or not build.compute:
        return True
    major, minor = (*version(compute), 0)[:2]
    return any(
        (*version(arch), 0)[0] == major and (*version(arch), 0)[1] <= minor
        for arch in build.compute
    )


def driver_runs(build: TorchBuild, hw: Hardware) -> bool:
    """Whether the driver runs ``build`` under NVIDIA's minor-version compatibility."""
    wanted = dict(build.min_driver).get(_os_key(hw))
    if hw.driver_version and wanted:
        return version(hw.driver_version) >= version(wanted)
    if hw.cuda_version:  # no driver version: the highest CUDA it supports, same rule by major
        return version(hw.cuda_version)[:1] >= version(build.cuda)[:1]
    return True


def _override_warning(
    build: TorchBuild, builds: Iterable[TorchBuild], hw: Hardware, card: str
) -> str | None:
    problems = []
    if not has_kernels(build, hw.compute_capability):
        problems.append("has no kernels")
    if hw.driver_version and not driver_runs(build, hw):
        problems.append(f"needs a newer driver than {hw.driver_version}")
    if not problems:
        return None
    works = [b.name for b in builds if has_kernels(b, hw.compute_capability) and driver_runs(b, hw)]
    instead = f"; {works[0]} would work" if works else ""
    return (
        f"warning: {build.name} (--cuda-version {hw.pinned}) {' and '.join(problems)} for the "
        f"{card}: torch would fail at the first image{instead}"
    )


def _card(hw: Hardware) -> str:
    name = hw.gpu_model or hw.accelerator
    if hw.compute_capability:
        return f"{name} (compute {hw.compute_capability})"
    if hw.gfx_target:
        return f"{name} ({hw.gfx_target})"
    return name


def _gpu_name(gpu: Gpu, vram: bool = False) -> str:
    facts = [fact for fact in (gpu.compute and f"compute {gpu.compute}", gpu.gfx) if fact]
    if vram and gpu.vram_gib is not None:
        facts.append(f"{gpu.vram_gib} GiB")
    return f"{gpu.model} ({', '.join(facts)})" if facts else gpu.model


def _os_key(hw: Hardware) -> str:
    return {"Windows": "windows", "Darwin": "darwin"}.get(hw.os, "linux")


def _for_os(builds: Iterable[TorchBuild], hw: Hardware) -> list[TorchBuild]:
    """The builds PyTorch publishes for this OS (a build naming no OS: every OS)."""
    return [b for b in builds if not b.os or _os_key(hw) in b.os]


_OS_NAMES = {"linux": "Linux", "windows": "Windows", "darwin": "macOS"}


def version(text: str | None) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in (text or "0").split("."))
    except ValueError:
        return (0,)
