"""Intel Arc: discrete Intel GPUs by PCI id (Linux ``/sys``, Windows WMI), torch's ``xpu`` build."""

from __future__ import annotations

from .model import Gpu, Hardware
from .pci import INTEL_NAMES, is_arc


def probe_intel(pci: list[tuple[str, str]], vram: int | None = None) -> Hardware:
    """Intel Arc cards among these display controllers (integrated graphics are left out)."""
    arcs = [device for vendor, device in pci if is_arc(vendor, device)]
    if not arcs:
        return Hardware()
    gpus = tuple(
        Gpu("intel", INTEL_NAMES.get(device, "Intel Arc GPU"), vram, index=number)
        for number, device in enumerate(arcs)
    )
    return Hardware.of_gpus("intel", gpus)
