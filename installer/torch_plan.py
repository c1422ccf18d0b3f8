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
from .manifest import Manifest, TorchBuild

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

    @property
    def index_overridden(self) -> bool:
        return self.index != self.build.index

    def describe(self) -> str:
        where = f"{self.index} (--torch-index)" if self.index_overridden else self.index
        text = f"torch build {self.build.name} ({', '.join(self.build.requirements)}) from {where}"
        extra = [part for part in (self.note, self.reason) if part]
        return "; ".join([text, *extra])

    def describe_flags(self) -> str:
        if not self.flags:
            return "none (the card needs no special flags)"
        return f"{' '.join(self.flags)} ({'; '.join(self.flag_reasons)})"


def plan_torch(
    manifest: Manifest, hardware: Hardware, torch_index: str | None = None
) -> TorchPlan | None:
    """The build to install, or None when the manifest has no ``torch`` section."""
    builds = manifest.torch_builds
    if not builds:
        return None
    build, rule, reason, note = _choose(builds, hardware)
    flags, why = launch_flags(manifest, hardware, build)
    return TorchPlan(build, torch_index or build.index, reason, rule, note, flags, why)


def working_builds(manifest: Manifest, hw: Hardware) -> list[str]:
    """Names of the builds that have kernels for the card and that its driver runs, newest
    first: what verify suggests when the build that arrived cannot run."""
    mine = [b for b in manifest.torch_builds if b.accelerator == hw.accelerator]
    if hw.accelerator == "nvidia":
        mine.sort(key=lambda b: version(b.cuda), reverse=True)
        return [
            b.name for b in mine if has_kernels(b, hw.compute_capability) and driver_runs(b, hw)
        ]
    if hw.accelerator == "amd":
        mine.sort(key=lambda b: version(b.rocm), reverse=True)
        return [b.name for b in mine if not b.gfx or not hw.gfx_target or hw.gfx_target in b.gfx]
    return [b.name for b in mine]


def launch_flags(
    manifest: Manifest, hardware: Hardware, build: TorchBuild
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The manifest's launch rules that match the card and the build, in order, deduplicated."""
    flags: list[str] = []
    why: list[str] = []
    for rule in manifest.launch_rules:
        if rule.accelerator is not None and rule.accelerator != build.accelerator:
            continue
        if rule.vram_gib_max is not None and (
            build.accelerator == "cpu"
            or hardware.vram_gib is None
            or hardware.vram_gib > rule.vram_gib_max
        ):
            continue
        if rule.model is not None and not re.search(rule.model, hardware.gpu_model or ""):
            continue
        new = [flag for flag in rule.flags if flag not in flags]
        if new:
            flags.extend(new)
            why.append(f"{' '.join(new)}: {rule.why}" if rule.why else " ".join(new))
    if build.accelerator == "cpu" and "--cpu" not in flags:  # ComfyUI needs it, rule or not
        flags.insert(0, "--cpu")
        why.insert(0, "--cpu: the CPU build")
    return tuple(flags), tuple(why)


def _choose(
    builds: tuple[TorchBuild, ...], hw: Hardware
) -> tuple[TorchBuild, str, str | None, str | None]:
    cpu = next((b for b in builds if b.accelerator == "cpu"), builds[0])
    mine = [b for b in builds if b.accelerator == hw.accelerator]
    if hw.accelerator == "cpu":
        return cpu, "cpu", None, None
    if not mine:
        return cpu, "no_build", f"the manifest has no torch build for {hw.accelerator}", None
    if hw.accelerator == "nvidia":
        return _choose_nvidia(cpu, mine, hw)
    if hw.accelerator == "amd":
        return _choose_amd(cpu, mine, hw)
    return mine[0], "override" if hw.source == "option" else "vendor", None, None


def _choose_nvidia(
    cpu: TorchBuild, mine: list[TorchBuild], hw: Hardware
) -> tuple[TorchBuild, str, str | None, str | None]:
    newest_first = sorted(mine, key=lambda b: version(b.cuda), reverse=True)
    card = _card(hw)
    if hw.pinned:
        pinned = [b for b in newest_first if version(b.cuda) <= version(hw.pinned)]
        build = pinned[0] if pinned else newest_first[-1]
        return build, "override", _override_warning(build, newest_first, hw, card), build.note
    if hw.source == "option" and not hw.driver_version and not hw.cuda_version:
        return newest_first[0], "override", None, None  # --gpu nvidia on a machine we cannot see
    runnable = [b for b in newest_first if driver_runs(b, hw)]
    fitting = [b for b in runnable if has_kernels(b, hw.compute_capability)]
    if fitting:
        build = fitting[0]
        rule = "legacy_arch" if runnable[0] is not build else "driver_mvc"
        return build, rule, _unused(build, hw), build.note if rule == "legacy_arch" else None
    with_kernels = [b for b in newest_first if has_kernels(b, hw.compute_capability)]
    if with_kernels:
        need = with_kernels[-1]  # the one asking least of the driver
        wanted = dict(need.min_driver).get(_os_key(hw))
        needs = f"driver {wanted} or newer" if wanted else f"a driver for CUDA {need.cuda}"
        return (
            cpu,
            "no_build",
            (
                f"the {card} has driver {hw.driver_version or 'unknown'}, too old for every CUDA "
                f"build (the {need.name} build needs {needs}): update the NVIDIA driver to use "
                "the GPU; torch runs on the CPU"
            ),
            None,
        )
    return (
        cpu,
        "no_build",
        (
            f"the {card} is older than every CUDA build in the manifest ("
            f"{', '.join(b.name for b in newest_first)} have no kernels for compute "
            f"{hw.compute_capability}): torch runs on the CPU; a newer card would use the GPU"
        ),
        None,
    )


def _choose_amd(
    cpu: TorchBuild, mine: list[TorchBuild], hw: Hardware
) -> tuple[TorchBuild, str, str | None, str | None]:
    newest_first = sorted(mine, key=lambda b: version(b.rocm), reverse=True)
    if hw.pinned:
        pinned = [b for b in newest_first if version(b.rocm) <= version(hw.pinned)]
        build = pinned[0] if pinned else newest_first[-1]
        warning = None
        if hw.gfx_target and build.gfx and hw.gfx_target not in build.gfx:
            warning = (
                f"warning: {build.name} has no kernels for the {_card(hw)}: torch would fail "
                "at the first image"
            )
        return build, "override", warning, None
    fitting = [b for b in newest_first if not b.gfx or not hw.gfx_target or hw.gfx_target in b.gfx]
    if fitting:
        return fitting[0], "override" if hw.source == "option" else "vendor", None, None
    return (
        cpu,
        "no_build",
        (
            f"the {_card(hw)} has no kernels in any ROCm build in the manifest "
            f"({', '.join(b.name for b in newest_first)}): torch runs on the CPU"
        ),
        None,
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


def _unused(build: TorchBuild, hw: Hardware) -> str | None:
    left = [g for g in hw.gpus[1:] if not has_kernels(build, g.compute)]
    if not left:
        return None
    names = ", ".join(_gpu_name(g) for g in left)
    return f"{names}: no kernels in {build.name}, not used"


def _card(hw: Hardware) -> str:
    name = hw.gpu_model or hw.accelerator
    if hw.compute_capability:
        return f"{name} (compute {hw.compute_capability})"
    if hw.gfx_target:
        return f"{name} ({hw.gfx_target})"
    return name


def _gpu_name(gpu: Gpu) -> str:
    return f"{gpu.model} (compute {gpu.compute})" if gpu.compute else gpu.model


def _os_key(hw: Hardware) -> str:
    return "windows" if hw.os == "Windows" else "linux"


def version(text: str | None) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in (text or "0").split("."))
    except ValueError:
        return (0,)
