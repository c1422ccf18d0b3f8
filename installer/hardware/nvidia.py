"""NVIDIA: each GPU's name, memory, compute capability and the driver, from ``nvidia-smi``
(``nvidia-smi.exe`` on Windows, WSL2's copy), else from the kernel module and the PCI ids."""

from __future__ import annotations

import os
import re
import shutil

from .model import VERSION, Gpu, Hardware
from .pci import NVIDIA_PCI, PCI_NVIDIA
from .run import Deadline, hw_root, read, run_tool

# The highest CUDA runtime a Linux/Windows driver supports (NVIDIA's CUDA release notes, table
# "CUDA Toolkit and Corresponding Driver Versions"), for drivers whose nvidia-smi does not print it.
_DRIVER_CUDA = (
    ((580, 0), "13.0"),
    ((575, 51), "12.9"),
    ((570, 26), "12.8"),
    ((560, 28), "12.6"),
    ((555, 42), "12.5"),
    ((550, 54), "12.4"),
    ((545, 23), "12.3"),
    ((535, 54), "12.2"),
    ((530, 30), "12.1"),
    ((525, 60), "12.0"),
    ((520, 61), "11.8"),
    ((450, 80), "11.0"),
)
# Compute capability by model name, for drivers whose nvidia-smi cannot answer ``compute_cap``
# (older than 510), for cards known only by name (WMI, PCI ids). From NVIDIA's "CUDA GPUs" table
# (developer.nvidia.com/cuda-gpus); the first match wins, so the narrower patterns come first.
_COMPUTE_BY_NAME = (
    (r"GB10\b|DGX Spark", "12.1"),
    (r"RTX (PRO )?50\d\d|RTX PRO \d+ Blackwell", "12.0"),
    (r"B200|B100|GB200|B300", "10.0"),
    (r"H100|H200|GH200|H800", "9.0"),
    (r"RTX 40\d\d|RTX \d+ Ada|L40|L4\b", "8.9"),
    (r"A100|A800|A30\b", "8.0"),
    (r"RTX 30\d\d|RTX A\d+|A40|A10G?\b|A16|A2\b", "8.6"),
    (r"RTX 20\d\d|GTX 16\d\d|TITAN RTX|Quadro RTX|T4\b|T\d00\b", "7.5"),
    (r"TITAN V|V100|Quadro GV100", "7.0"),
    (r"P100|Quadro GP100", "6.0"),
    (r"GTX 10\d\d|TITAN Xp|TITAN X \(Pascal\)|Quadro P\d+|P40|P4\b|GT 1030", "6.1"),
    (r"GTX (9[5-8]0|TITAN X)|TITAN X\b|Quadro M\d+|M40|M60", "5.2"),
    (r"GTX 750|GTX 745|Quadro K[12]200", "5.0"),
    (r"K80\b", "3.7"),
    (r"GTX 780|GTX TITAN( Black| Z)?$|K40|K20", "3.5"),
    (r"GTX (6\d\d|7[0-7]\d)|K10\b|GRID K", "3.0"),
)
_CUDA_HEADER = re.compile(r"CUDA Version:\s*([0-9]+\.[0-9]+)")
_PROC_DRIVER = re.compile(r"Kernel Module(?: for [^ ]+)?\s+([0-9]+\.[0-9.]+)")
_CSV = ("--format=csv,noheader,nounits",)


def nvidia_smi() -> str | None:
    """``nvidia-smi`` on PATH (``nvidia-smi.exe`` on Windows), or WSL2's copy of it."""
    found = shutil.which("nvidia-smi")
    if found:
        return found
    wsl = hw_root() / "usr" / "lib" / "wsl" / "lib" / "nvidia-smi"
    return str(wsl) if os.access(wsl, os.X_OK) else None


def probe_nvidia(deadline: Deadline, *, pci: list[tuple[str, str]] | None = None) -> Hardware:
    """Each GPU's name, memory, driver and compute capability from ``nvidia-smi``.

    Without ``nvidia-smi`` the driver is read where the kernel module puts it
    (``/proc/driver/nvidia/version``, ``/sys/module/nvidia/version``), as uv does.
    """
    tool = nvidia_smi()
    if tool is None:
        return _without_smi(pci or [])
    fields = "name,memory.total,driver_version"
    output, problem = run_tool([tool, f"--query-gpu={fields},compute_cap", *_CSV], deadline)
    if problem and problem.startswith("exited"):  # drivers before 510 lack compute_cap
        output, problem = run_tool([tool, f"--query-gpu={fields}", *_CSV], deadline)
    if problem:
        return Hardware(reason=f"nvidia-smi {problem}")
    rows = [[cell.strip() for cell in line.split(",")] for line in output.splitlines() if line]
    rows = [row for row in rows if len(row) >= 3 and row[0]]
    if not rows:
        return Hardware(reason="nvidia-smi listed no GPU")
    gpus = [
        Gpu(
            "nvidia",
            row[0],
            gib_from_mib(row[1]),
            _compute(row[3] if len(row) > 3 else "") or compute_for_model(row[0]),
            index=number,
        )
        for number, row in enumerate(rows)
    ]
    driver = rows[0][2]
    header, _ = run_tool([tool], deadline)
    match = _CUDA_HEADER.search(header or "")
    return nvidia_hardware(
        gpus,
        driver if VERSION.match(driver) else None,
        match.group(1) if match else cuda_for_driver(driver),
    )


def nvidia_hardware(
    gpus: list[Gpu], driver: str | None, cuda: str | None, **extra: str
) -> Hardware:
    """The profile of these GPUs, most VRAM first (the device numbers stay with each GPU)."""
    return Hardware.of_gpus("nvidia", gpus, driver_version=driver, cuda_version=cuda, **extra)


def _without_smi(pci: list[tuple[str, str]]) -> Hardware:
    root = hw_root()
    driver = None
    for path in (root / "proc/driver/nvidia/version", root / "sys/module/nvidia/version"):
        text = read(path)
        match = _PROC_DRIVER.search(text) or VERSION.match(text.strip())
        if match:
            driver = match.group(1) if match.re is _PROC_DRIVER else match.group(0)
            break
    if driver is None:
        return Hardware(reason="nvidia-smi not found")
    devices = [device for vendor, device in pci if vendor == PCI_NVIDIA] or [""]
    gpus = []
    for number, device in enumerate(devices):
        model = NVIDIA_PCI.get(device, "NVIDIA GPU")
        gpus.append(Gpu("nvidia", model, compute=compute_for_model(model), index=number))
    known = (
        "compute capability from the card's PCI id"
        if gpus[0].compute
        else ("compute capability unknown")
    )
    return nvidia_hardware(
        gpus,
        driver,
        cuda_for_driver(driver),
        reason=f"nvidia-smi not found: driver read from the kernel module, {known}",
    )


def compute_for_model(name: str) -> str | None:
    """The compute capability of a card by its name (NVIDIA's CUDA GPUs table), or None."""
    for pattern, compute in _COMPUTE_BY_NAME:
        if re.search(pattern, name, re.IGNORECASE):
            return compute
    return None


def cuda_for_driver(driver: str) -> str | None:
    """The highest CUDA runtime an NVIDIA driver version supports, from NVIDIA's table."""
    match = VERSION.match(driver or "")
    if not match:
        return None
    parts = tuple(int(p) for p in match.group(0).split(".")[:2])
    for minimum, cuda in _DRIVER_CUDA:
        if parts >= minimum:
            return cuda
    return None


def driver_from_windows(version: str) -> str | None:
    """NVIDIA's driver number from the Windows driver version WMI reports: the last five digits
    of ``32.0.15.6094`` are driver 560.94."""
    digits = "".join((version or "").split(".")[-2:])
    if len(digits) < 5 or not digits.isdigit():
        return None
    tail = digits[-5:]
    return f"{int(tail[:3])}.{tail[3:]}"


def gib_from_mib(text: str) -> int | None:
    try:
        return round(float(text) / 1024)
    except ValueError:
        return None


def _compute(text: str) -> str | None:
    return text if re.fullmatch(r"\d+\.\d+", text or "") else None
