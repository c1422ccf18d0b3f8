"""Which accelerator torch can use here: every vendor asked at once, under one deadline.

Detection never fails a run: a tool that is missing, exits non-zero, prints nonsense or hangs
means that vendor's GPUs are not seen, with the reason kept in :attr:`Hardware.reason` so
preflight can show and record it. ``--gpu`` overrides detection and ``--cuda-version`` /
``--rocm-version`` pin the version the torch build is chosen for.
"""

from __future__ import annotations

import os
import platform
import shutil
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

from .amd import probe_amd
from .intel import probe_intel
from .model import ACCELERATORS, Gpu, Hardware
from .nvidia import (
    compute_for_model,
    cuda_for_driver,
    driver_from_windows,
    nvidia_hardware,
    nvidia_smi,
    probe_nvidia,
)
from .pci import AMD_PCI, INTEL_NAMES, PCI_AMD, PCI_NVIDIA, is_arc, pci_gpus
from .run import DETECT_LIMIT, PLATFORM_ENV, Deadline
from .windows import Adapter, video_controllers

VENDORS = ("nvidia", "amd", "intel")  # in order of preference: CUDA, then ROCm, then XPU


def detect(
    gpu: str = "auto",
    *,
    cuda_version: str | None = None,
    rocm_version: str | None = None,
    system: str | None = None,
    machine: str | None = None,
    timeout: float = DETECT_LIMIT,
) -> Hardware:
    """The accelerator torch should be built for, within ``timeout`` seconds; never raises.

    ``gpu`` is ``auto`` or one of :data:`ACCELERATORS`; a forced kind is still probed for its
    details (model, VRAM, driver) but is used even when the probe finds nothing.
    ``system``/``machine`` stand for ``platform.system()``/``platform.machine()``.
    """
    fake_system, _, fake_machine = os.environ.get(PLATFORM_ENV, "").partition("/")
    system = system or fake_system or platform.system()
    machine = (machine or fake_machine or platform.machine()).lower()
    try:
        found = _probe(gpu, system, machine, Deadline(timeout))
    except Exception as exc:  # detection must never fail the install
        found = Hardware(reason=f"detection failed: {type(exc).__name__}")
    if gpu != "auto" and gpu in ACCELERATORS:
        if found.accelerator != gpu:
            found = Hardware(accelerator=gpu, reason=found.reason if gpu != "cpu" else None)
        found = replace(found, source="option")
    if found.accelerator == "nvidia" and cuda_version:
        found = replace(found, cuda_version=cuda_version, pinned=cuda_version)
    if found.accelerator == "amd" and rocm_version:
        found = replace(found, rocm_version=rocm_version, pinned=rocm_version)
    return replace(found, os=system)


def _probe(gpu: str, system: str, machine: str, deadline: Deadline) -> Hardware:
    if gpu == "cpu":
        return Hardware()
    if gpu in ("auto", "apple") and system == "Darwin":
        if machine in ("arm64", "aarch64"):
            return Hardware(accelerator="apple", gpu_model="Apple Silicon", gpu_count=1)
        return Hardware(reason="an Intel Mac: torch has no GPU build for it")
    wanted = [vendor for vendor in VENDORS if gpu in ("auto", vendor)]
    if system == "Windows":
        results = _windows(wanted, deadline)
    else:
        pci = pci_gpus()
        probes: dict[str, Callable[[], Hardware]] = {
            "nvidia": lambda: probe_nvidia(deadline, pci=pci),
            "amd": lambda: probe_amd(deadline, pci=pci),
            "intel": lambda: probe_intel(pci),
        }
        # Threads only when two probes run tools: one alone (or none) needs no company.
        at_once = nvidia_smi() is not None and shutil.which("rocminfo") is not None
        asked = {vendor: probes[vendor] for vendor in wanted}
        results = _at_once(asked) if at_once else {v: probe() for v, probe in asked.items()}
    found: list[Hardware] = []
    reasons: list[str] = []
    for vendor in wanted:
        result = results[vendor]
        if result.accelerator == vendor or gpu == vendor:
            found.append(result)
        elif result.reason:
            reasons.extend(part for part in result.reason.split("; ") if part not in reasons)
    if not found:
        return Hardware(reason="; ".join(reasons) or None)
    chosen = found[0]
    others = tuple(g.model for other in found[1:] for g in other.gpus or () if g.model)
    return replace(chosen, others=others) if others else chosen


def _at_once(probes: dict[str, Callable[[], Hardware]]) -> dict[str, Hardware]:
    """Run the probes concurrently: each tool gets the shared deadline, so hanging tools cost
    the deadline once, not once each."""
    if len(probes) <= 1:
        return {vendor: probe() for vendor, probe in probes.items()}
    with ThreadPoolExecutor(max_workers=len(probes), thread_name_prefix="dinoair-hw") as pool:
        futures = {vendor: pool.submit(probe) for vendor, probe in probes.items()}
        return {vendor: future.result() for vendor, future in futures.items()}


def _windows(wanted: list[str], deadline: Deadline) -> dict[str, Hardware]:
    """nvidia-smi.exe and WMI at the same time; AMD and Intel cards (and NVIDIA cards without
    nvidia-smi.exe) are known from WMI's adapters."""
    smi: Hardware | None = None
    if "nvidia" in wanted and nvidia_smi():
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="dinoair-hw") as pool:
            asked = pool.submit(probe_nvidia, deadline)
            adapters, problem = video_controllers(deadline)
            smi = asked.result()
    else:
        adapters, problem = video_controllers(deadline)
    results: dict[str, Hardware] = {}
    if "nvidia" in wanted:
        results["nvidia"] = (
            smi
            if smi is not None and smi.accelerator == "nvidia"
            else _nvidia_from_wmi(adapters, smi, problem)
        )
    if "amd" in wanted:
        results["amd"] = _amd_from_wmi(adapters, problem)
    if "intel" in wanted:
        arcs = [a for a in adapters if is_arc(a.vendor, a.device)]
        results["intel"] = probe_intel([(a.vendor, a.device) for a in arcs], _vram(arcs))
        if arcs and results["intel"].gpus:
            named = tuple(
                replace(g, model=INTEL_NAMES.get(a.device) or _name(a, g.model))
                for g, a in zip(results["intel"].gpus, arcs, strict=True)
            )
            results["intel"] = replace(results["intel"], gpus=named, gpu_model=named[0].model)
    return results


def _nvidia_from_wmi(
    adapters: list[Adapter], smi: Hardware | None, problem: str | None
) -> Hardware:
    cards = [a for a in adapters if a.vendor == PCI_NVIDIA]
    if not cards:
        reason = smi.reason if smi is not None and smi.reason else "nvidia-smi not found"
        return Hardware(reason=f"{reason}; {problem}" if problem else reason)
    gpus = [
        Gpu("nvidia", _name(a, "NVIDIA GPU"), a.vram_gib, compute_for_model(a.name), index=n)
        for n, a in enumerate(cards)
    ]
    driver = driver_from_windows(cards[0].driver)
    why = smi.reason if smi is not None and smi.reason else "nvidia-smi.exe not found"
    return nvidia_hardware(
        gpus,
        driver,
        cuda_for_driver(driver or ""),
        reason=f"{why}: card and driver read from WMI",
    )


def _amd_from_wmi(adapters: list[Adapter], problem: str | None) -> Hardware:
    cards = [a for a in adapters if a.vendor == PCI_AMD]
    if not cards:
        return Hardware(reason=problem)
    gpus = tuple(
        Gpu("amd", _name(a, "AMD GPU"), a.vram_gib, gfx=_gfx(a.device), index=number)
        for number, a in enumerate(cards)
    )
    return Hardware.of_gpus("amd", gpus)


def _gfx(device: str) -> str | None:
    known = AMD_PCI.get(device)
    return known[1] if known else None


def _name(adapter: Adapter, fallback: str) -> str:
    return adapter.name or fallback


def _vram(adapters: list[Adapter]) -> int | None:
    return adapters[0].vram_gib if adapters else None
