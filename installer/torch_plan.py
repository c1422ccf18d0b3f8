"""Which torch build, from which index, fits the machine: the manifest's ``torch`` data + hardware.

The builds live in the manifest (a new CUDA release is a data change). For an NVIDIA GPU the
newest build whose CUDA version the driver supports wins; a driver too old for every build, or a
machine the manifest has no build for, gets the CPU build with a reason, said on screen. A
``--torch-index`` replaces the index of the chosen build, never the choice itself.
"""

from __future__ import annotations

from dataclasses import dataclass

from .hardware import Hardware
from .manifest import Manifest, TorchBuild


@dataclass(frozen=True)
class TorchPlan:
    build: TorchBuild
    index: str  # the build's index, or --torch-index
    reason: str | None = None  # why the build does not match the accelerator, when it does not

    @property
    def index_overridden(self) -> bool:
        return self.index != self.build.index

    def describe(self) -> str:
        where = f"{self.index} (--torch-index)" if self.index_overridden else self.index
        text = f"torch build {self.build.name} ({', '.join(self.build.requirements)}) from {where}"
        return f"{text}; {self.reason}" if self.reason else text


def plan_torch(
    manifest: Manifest, hardware: Hardware, torch_index: str | None = None
) -> TorchPlan | None:
    """The build to install, or None when the manifest has no ``torch`` section."""
    builds = manifest.torch_builds
    if not builds:
        return None
    build, reason = _choose(builds, hardware)
    return TorchPlan(build, torch_index or build.index, reason)


def _choose(builds: tuple[TorchBuild, ...], hw: Hardware) -> tuple[TorchBuild, str | None]:
    cpu = next((b for b in builds if b.accelerator == "cpu"), builds[0])
    mine = [b for b in builds if b.accelerator == hw.accelerator]
    if hw.accelerator == "nvidia":
        fitting = sorted(mine, key=lambda b: _version(b.cuda), reverse=True)
        if hw.cuda_version:
            supported = _version(hw.cuda_version)
            fitting = [b for b in fitting if _version(b.cuda) <= supported]
        if fitting:
            return fitting[0], None
        if mine:
            return cpu, (
                f"the driver supports CUDA {hw.cuda_version}, older than every CUDA build "
                "in the manifest: update the NVIDIA driver to use the GPU"
            )
    elif hw.accelerator == "amd" and mine:
        fitting = sorted(mine, key=lambda b: _version(b.rocm), reverse=True)
        if hw.rocm_version:
            pinned = [b for b in fitting if _version(b.rocm) <= _version(hw.rocm_version)]
            fitting = pinned or fitting
        return fitting[0], None
    elif mine:
        return mine[0], None
    if hw.accelerator != "cpu":
        return cpu, f"the manifest has no torch build for {hw.accelerator}"
    return cpu, None


def _version(text: str | None) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in (text or "0").split("."))
    except ValueError:
        return (0,)
