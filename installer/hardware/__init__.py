"""Know the machine: which accelerator torch can use here, and what its driver supports.

Detection asks the vendors' own tools (``nvidia-smi``, ``rocminfo``/``rocm-smi``, WMI on
Windows), the kernel's files (``/proc``, ``/sys``) and the platform (Apple Silicon), all at once
under one deadline (:mod:`.run`). Only coarse facts are kept (model name, VRAM in whole GiB,
driver version, compute capability or gfx target): never a GPU UUID, serial number, PCI bus id,
subsystem id or VBIOS version, which would tell one machine from another.
"""

from __future__ import annotations

from .amd import probe_amd, rocm_installed_version
from .detect import detect
from .intel import probe_intel
from .model import ACCELERATORS, Gpu, Hardware
from .nvidia import (
    compute_for_model,
    cuda_for_driver,
    driver_from_windows,
    nvidia_smi,
    probe_nvidia,
)
from .pci import PCI_AMD, PCI_INTEL, PCI_NVIDIA, pci_gpus
from .run import DETECT_LIMIT, PLATFORM_ENV, ROOT_ENV, TOOL_TIMEOUT, Deadline, hw_root

__all__ = [
    "ACCELERATORS",
    "DETECT_LIMIT",
    "PCI_AMD",
    "PCI_INTEL",
    "PCI_NVIDIA",
    "PLATFORM_ENV",
    "ROOT_ENV",
    "TOOL_TIMEOUT",
    "Deadline",
    "Gpu",
    "Hardware",
    "compute_for_model",
    "cuda_for_driver",
    "detect",
    "driver_from_windows",
    "hw_root",
    "nvidia_smi",
    "pci_gpus",
    "probe_amd",
    "probe_intel",
    "probe_nvidia",
    "rocm_installed_version",
]
