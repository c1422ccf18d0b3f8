"""What detection keeps of a machine: coarse facts about each GPU, never one that tells one card
(or one machine) from another (no UUID, serial, PCI bus id, subsystem id or VBIOS version)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

ACCELERATORS = ("nvidia", "amd", "intel", "apple", "cpu")
VERSION = re.compile(r"^\d+(\.\d+)*")


@dataclass(frozen=True)
class Gpu:
    """One GPU, coarse: what the build choice needs and nothing that tells one card from another."""

    vendor: str  # nvidia | amd | intel
    model: str
    vram_gib: int | None = None
    compute: str | None = None  # NVIDIA compute capability, "8.6"
    gfx: str | None = None  # AMD gfx target, "gfx1100"
    index: int | None = None  # the vendor tool's device number (nvidia-smi order): --cuda-device


@dataclass(frozen=True)
class Hardware:
    """What torch can use on this machine. ``reason`` says why it is ``cpu`` when not obvious."""

    accelerator: str = "cpu"
    gpu_model: str | None = None
    gpu_count: int = 0
    vram_gib: int | None = None
    driver_version: str | None = None
    cuda_version: str | None = None  # highest CUDA runtime the driver supports (or as pinned)
    rocm_version: str | None = None
    source: str = "detected"  # detected | option
    reason: str | None = None
    compute_capability: str | None = None  # of the GPU with the most VRAM
    gfx_target: str | None = None
    gpus: tuple[Gpu, ...] = ()  # every GPU of the accelerator's vendor, most VRAM first
    others: tuple[str, ...] = ()  # GPUs of other vendors, by model: named, not used
    os: str = "Linux"  # platform.system(): the minimum driver differs on Windows
    pinned: str | None = None  # --cuda-version / --rocm-version as given

    @classmethod
    def of_gpus(cls, accelerator: str, gpus: Iterable[Gpu], **fields: Any) -> Hardware:
        """The profile of one vendor's GPUs: ``gpus`` most VRAM first (a stable sort: the
        device numbers stay with each GPU), and the first one's model, VRAM, compute
        capability and gfx target as the profile's own."""
        ordered = tuple(sorted(gpus, key=lambda g: -(g.vram_gib or 0)))
        return cls(
            accelerator=accelerator,
            gpu_count=len(ordered),
            gpus=ordered,
            **_card_facts(ordered[0]),
            **fields,
        )

    def only(self, gpu: Gpu) -> Hardware:
        """This machine as the one GPU ComfyUI is given sees it (``--cuda-device N``)."""
        return replace(self, gpu_count=1, gpus=(gpu,), **_card_facts(gpu))

    @property
    def driver_major(self) -> int | None:
        match = VERSION.match(self.driver_version or "")
        return int(match.group(0).split(".")[0]) if match else None

    def describe(self) -> str:
        """One line for the screen: ``NVIDIA RTX 3090 x2, 24 GiB, driver 535.104, CUDA 12.2``.

        Several kinds of GPU are each named with their compute capability and VRAM; which one
        is used is the torch plan's to say (it depends on the builds)."""
        if self.accelerator == "cpu":
            text = "CPU only (no supported GPU found)"
            if self.source == "option":
                text = "CPU only (--gpu cpu)"
            return f"{text}; {self.reason}" if self.reason else text
        parts = [self.gpu_model or self.accelerator.upper()]
        kinds = {gpu.model for gpu in self.gpus}
        mixed = len(kinds) > 1
        if mixed:
            parts = [" + ".join(_gpu_detail(gpu) for gpu in self.gpus)]
        elif self.gpu_count > 1:
            parts[0] += f" x{self.gpu_count}"
        if self.compute_capability and not mixed:
            parts.append(f"compute {self.compute_capability}")
        if self.gfx_target and not mixed:
            parts.append(self.gfx_target)
        if self.vram_gib is not None and not mixed:
            parts.append(f"{self.vram_gib} GiB")
        elif not mixed and self.accelerator in _VRAM_VENDORS:
            parts.append("VRAM unknown")  # never a figure nothing reliable gave (WMI's cap)
        if self.driver_version:
            parts.append(f"driver {self.driver_version}")
        if self.cuda_version:
            parts.append(f"CUDA {self.cuda_version}")
        if self.rocm_version:
            parts.append(f"ROCm {self.rocm_version}")
        if self.source == "option":
            parts.append(f"chosen with --gpu {self.accelerator}")
        if self.others:
            parts.append(f"also {', '.join(self.others)} (not used)")
        text = ", ".join(parts)
        return f"{text}; {self.reason}" if self.reason else text


def _card_facts(gpu: Gpu) -> dict[str, Any]:
    """What a profile says of its first card: the one place a GPU's facts become the profile's."""
    return {
        "gpu_model": gpu.model,
        "vram_gib": gpu.vram_gib,
        "compute_capability": gpu.compute,
        "gfx_target": gpu.gfx,
    }


_VRAM_VENDORS = ("nvidia", "amd", "intel")  # cards with memory of their own (Apple's is shared)


def _gpu_detail(gpu: Gpu) -> str:
    facts = [fact for fact in (gpu.compute and f"compute {gpu.compute}", gpu.gfx) if fact]
    facts.append(f"{gpu.vram_gib} GiB" if gpu.vram_gib is not None else "VRAM unknown")
    return f"{gpu.model} ({', '.join(facts)})" if facts else gpu.model
