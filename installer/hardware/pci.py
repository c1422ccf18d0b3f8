"""Cards known by their PCI vendor and device id, for machines whose vendor tools are missing.

Linux lists display controllers in ``/sys/bus/pci/devices``; Windows names them in WMI's
``PNPDeviceID`` (``PCI\\VEN_10DE&DEV_2204&...``). Only the two ids are read: never the bus
address, the subsystem ids or the instance path, which tell one machine from another.

The tables hold the cards the torch matrix names, with the names pci.ids gives them (as read in
torchruntime's PCI database, easydiffusion/torchruntime ``gpu_pci_ids.db``) and the gfx target of
each AMD chip (Navi 31 is gfx1100, per AMD's LLVM processor table). They are small on purpose:
an unknown card is still found by its vendor, and its vendor tool, once installed, says more.
"""

from __future__ import annotations

import re

from .run import hw_root, read

PCI_NVIDIA, PCI_AMD, PCI_INTEL = "0x10de", "0x1002", "0x8086"

# NVIDIA device id -> model, for Linux without nvidia-smi (compute capability then by name).
NVIDIA_PCI = {
    "0x2b85": "NVIDIA GeForce RTX 5090",
    "0x2c02": "NVIDIA GeForce RTX 5080",
    "0x2c05": "NVIDIA GeForce RTX 5070 Ti",
    "0x2d04": "NVIDIA GeForce RTX 5060 Ti",
    "0x2bb1": "NVIDIA RTX PRO 6000 Blackwell",
    "0x2684": "NVIDIA GeForce RTX 4090",
    "0x2704": "NVIDIA GeForce RTX 4080",
    "0x2786": "NVIDIA GeForce RTX 4070",
    "0x2882": "NVIDIA GeForce RTX 4060",
    "0x26b5": "NVIDIA L40",
    "0x2330": "NVIDIA H100 SXM5 80GB",
    "0x20b2": "NVIDIA A100-SXM4-80GB",
    "0x2204": "NVIDIA GeForce RTX 3090",
    "0x2206": "NVIDIA GeForce RTX 3080",
    "0x2484": "NVIDIA GeForce RTX 3070",
    "0x2503": "NVIDIA GeForce RTX 3060",
    "0x2504": "NVIDIA GeForce RTX 3060",
    "0x1e04": "NVIDIA GeForce RTX 2080 Ti",
    "0x1f08": "NVIDIA GeForce RTX 2060",
    "0x2184": "NVIDIA GeForce GTX 1660",
    "0x1f82": "NVIDIA GeForce GTX 1650",
    "0x1db4": "NVIDIA Tesla V100-PCIE-16GB",
    "0x1d81": "NVIDIA TITAN V",
    "0x1b06": "NVIDIA GeForce GTX 1080 Ti",
    "0x1b80": "NVIDIA GeForce GTX 1080",
    "0x1b81": "NVIDIA GeForce GTX 1070",
    "0x1c03": "NVIDIA GeForce GTX 1060 6GB",
    "0x17c8": "NVIDIA GeForce GTX 980 Ti",
    "0x13c0": "NVIDIA GeForce GTX 980",
    "0x1004": "NVIDIA GeForce GTX 780",
    "0x1184": "NVIDIA GeForce GTX 770",
    "0x102d": "NVIDIA Tesla K80",
}
# AMD device id -> (model, gfx target): the ROCm build is chosen by gfx target.
AMD_PCI = {
    "0x7551": ("AMD Radeon AI PRO R9700", "gfx1201"),
    "0x7550": ("AMD Radeon RX 9070 XT", "gfx1201"),
    "0x7590": ("AMD Radeon RX 9060 XT", "gfx1200"),
    "0x744c": ("AMD Radeon RX 7900 XTX", "gfx1100"),
    "0x7448": ("AMD Radeon PRO W7900", "gfx1100"),
    "0x747e": ("AMD Radeon RX 7800 XT", "gfx1101"),
    "0x7480": ("AMD Radeon RX 7600", "gfx1102"),
    "0x73bf": ("AMD Radeon RX 6900 XT", "gfx1030"),
    "0x73df": ("AMD Radeon RX 6700 XT", "gfx1031"),
    "0x73ff": ("AMD Radeon RX 6600", "gfx1032"),
    "0x743f": ("AMD Radeon RX 6500 XT", "gfx1034"),
    "0x731f": ("AMD Radeon RX 5700 XT", "gfx1010"),
    "0x7340": ("AMD Radeon RX 5500 XT", "gfx1012"),
    "0x687f": ("AMD Radeon RX Vega 64", "gfx900"),
    "0x66af": ("AMD Radeon VII", "gfx906"),
    "0x74a5": ("AMD Instinct MI325X", "gfx942"),
    "0x74a1": ("AMD Instinct MI300X", "gfx942"),
    "0x74a0": ("AMD Instinct MI300A", "gfx942"),
    "0x740c": ("AMD Instinct MI250X", "gfx90a"),
    "0x740f": ("AMD Instinct MI210", "gfx90a"),
    "0x738c": ("AMD Instinct MI100", "gfx908"),
    "0x66a1": ("AMD Instinct MI50", "gfx906"),
}
# Intel discrete GPUs (Arc A-series "Alchemist" 0x56xx, B-series "Battlemage" 0xe20x/0xe21x):
# the ones torch's ``xpu`` build is for. Integrated UHD/Iris graphics are not worth it.
INTEL_ARC = re.compile(r"^0x(56[0-9a-f]{2}|e2[01][0-9a-f])$")
INTEL_NAMES = {
    "0x56a0": "Intel Arc A770",
    "0x56a1": "Intel Arc A750",
    "0x56a5": "Intel Arc A380",
    "0x56a6": "Intel Arc A310",
    "0xe20b": "Intel Arc B580",
    "0xe20c": "Intel Arc B570",
    "0xe211": "Intel Arc Pro B60",
    "0xe212": "Intel Arc Pro B50",
}
_PNP = re.compile(r"VEN_([0-9A-F]{4})&DEV_([0-9A-F]{4})", re.IGNORECASE)


def pci_gpus() -> list[tuple[str, str]]:
    """(vendor id, device id) of each display controller in ``/sys/bus/pci/devices``.

    Only the two ids are read: never the bus address (the folder name) or the subsystem ids,
    which tell one machine from another.
    """
    found = []
    try:
        devices = sorted((hw_root() / "sys" / "bus" / "pci" / "devices").iterdir())
    except OSError:
        return []
    for device in devices:
        if read(device / "class").strip().startswith("0x03"):
            found.append(
                (read(device / "vendor").strip().lower(), read(device / "device").strip().lower())
            )
    return found


def ids_from_pnp(pnp_device_id: str) -> tuple[str, str] | None:
    """``("0x10de", "0x2204")`` from WMI's ``PCI\\VEN_10DE&DEV_2204&SUBSYS_...``; the rest of
    the id (subsystem, revision, instance path) is dropped here."""
    match = _PNP.search(pnp_device_id or "")
    if not match:
        return None
    return f"0x{match.group(1).lower()}", f"0x{match.group(2).lower()}"


def is_arc(vendor: str, device: str) -> bool:
    return vendor == PCI_INTEL and bool(INTEL_ARC.match(device))
