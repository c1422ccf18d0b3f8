"""AMD: GPU agents and gfx targets from ``rocminfo``, VRAM from ``rocm-smi``, the ROCm version
from ROCm's own file; without ROCm installed, the card and its gfx target from its PCI id."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from .model import VERSION, Gpu, Hardware
from .pci import AMD_PCI, PCI_AMD
from .run import Deadline, run_tool


def probe_amd(deadline: Deadline, *, pci: list[tuple[str, str]] | None = None) -> Hardware:
    """The AMD GPUs ROCm sees (Linux); without ``rocminfo``, the ones the PCI table knows."""
    tool = shutil.which("rocminfo")
    if tool is None:
        return amd_from_pci(pci or [], "rocminfo not found")
    output, problem = run_tool([tool], deadline)
    if problem:
        return Hardware(reason=f"rocminfo {problem}")
    agents = _rocm_gpus(output)
    if not agents:
        return Hardware(reason="rocminfo listed no GPU")
    sizes = _rocm_vram(deadline)
    if len(sizes) != len(agents):  # rocm-smi's cards cannot be matched to rocminfo's agents
        sizes = [None] * len(agents)
    found = [
        Gpu("amd", name, size, gfx=gfx, index=number)
        for number, ((name, gfx), size) in enumerate(zip(agents, sizes, strict=True))
    ]
    return Hardware.of_gpus(
        "amd", found, driver_version=_rocm_driver(output), rocm_version=rocm_installed_version()
    )


def amd_from_pci(pci: list[tuple[str, str]], missing: str, vram: int | None = None) -> Hardware:
    """AMD cards the PCI table knows (Linux ``/sys`` or Windows WMI), with their gfx target."""
    known = [AMD_PCI[device] for vendor, device in pci if vendor == PCI_AMD and device in AMD_PCI]
    if not known:
        return Hardware(reason=missing)
    gpus = tuple(
        Gpu("amd", name, vram, gfx=gfx, index=number) for number, (name, gfx) in enumerate(known)
    )
    return Hardware.of_gpus("amd", gpus, reason=f"{missing}: card known by its PCI id")


def rocm_installed_version() -> str | None:
    """``major.minor`` from ``$ROCM_PATH/.info/version`` (``/opt/rocm`` by default)."""
    root = Path(os.environ.get("ROCM_PATH") or "/opt/rocm")
    try:
        text = (root / ".info" / "version").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    match = VERSION.match(text.strip())
    return ".".join(match.group(0).split(".")[:2]) if match else None


def _rocm_gpus(output: str) -> list[tuple[str, str | None]]:
    """rocminfo prints one block per agent; keep the GPU agents' marketing names and gfx."""
    agents = []
    for block in re.split(r"\n\*{5,}\s*\nAgent \d+\s*\n\*{5,}", output):
        if not re.search(r"Device Type:\s*GPU", block):
            continue
        match = re.search(r"Marketing Name:\s*(.+)", block)
        gfx = re.search(r"^\s*Name:\s*(gfx[0-9a-f]+)", block, re.MULTILINE)
        agents.append(
            (match.group(1).strip() if match else "AMD GPU", gfx.group(1) if gfx else None)
        )
    return agents


def _rocm_driver(output: str) -> str | None:
    match = re.search(r"ROCk module(?: version)?\s+([0-9][0-9.]*)", output)
    return match.group(1).rstrip(".") if match else None


def _rocm_vram(deadline: Deadline) -> list[int | None]:
    """Each card's VRAM in GiB from ``rocm-smi --showmeminfo vram --csv``, in its card order."""
    tool = shutil.which("rocm-smi")
    if tool is None:
        return []
    output, problem = run_tool([tool, "--showmeminfo", "vram", "--csv"], deadline)
    if problem:
        return []
    sizes: list[int | None] = []
    for line in output.splitlines()[1:]:
        cells = [cell.strip() for cell in line.split(",")]
        if len(cells) >= 2 and cells[1].isdigit():
            sizes.append(round(int(cells[1]) / 2**30))
    return sizes
