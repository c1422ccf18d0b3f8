"""Real executables named like the vendors' GPU tools, for tests on machines without a GPU.

Each one is a small script put first on ``PATH``; it prints output recorded from the real tool
(the query form or the full table of ``nvidia-smi``, ``rocminfo``, ``rocm-smi``), exits with a
chosen code, or hangs. Detection runs them for real, as it would run the vendor's tools.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from installer.hardware import ROOT_ENV

# nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader,nounits
RTX_3090_535 = "NVIDIA GeForce RTX 3090, 24576, 535.104.05\n"
A100_X2_550 = "NVIDIA A100-SXM4-80GB, 81920, 550.54.15\nNVIDIA A100-SXM4-80GB, 81920, 550.54.15\n"
GTX_1080_470 = "NVIDIA GeForce GTX 1080, 8192, 470.256.02\n"
RTX_5090_580 = "NVIDIA GeForce RTX 5090, 32607, 580.65.06\n"

# The first lines of a plain `nvidia-smi` (the table), with the Bus-Id a machine is told by.
TABLE = """\
Mon Nov 30 01:00:00 2026
+---------------------------------------------------------------------------------------+
| NVIDIA-SMI {driver}             Driver Version: {driver}   CUDA Version: {cuda}     |
|-----------------------------------------+----------------------+----------------------+
| GPU  Name                 Persistence-M | Bus-Id        Disp.A | Volatile Uncorr. ECC |
|=========================================+======================+======================|
|   0  {name}        Off | 00000000:65:00.0  On |                  N/A |
+-----------------------------------------+----------------------+----------------------+
"""
NO_DRIVER = (
    "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. Make sure "
    "that the latest NVIDIA driver is installed and running.\n"
)
GPU_UUID = "GPU-4b0f5e4e-93c8-1d0c-6bfa-17a2d5e0c1aa"
BUS_ID = "00000000:65:00.0"

ROCMINFO_7900XTX = """\
ROCk module version 6.8.5 is loaded
=====================
HSA System Attributes
=====================
Runtime Version:         1.14
Runtime Ext Version:     1.6
==========
HSA Agents
==========
*******
Agent 1
*******
  Name:                    AMD Ryzen 9 7950X 16-Core Processor
  Uuid:                    CPU-XX
  Marketing Name:          AMD Ryzen 9 7950X 16-Core Processor
  Vendor Name:             CPU
  Device Type:             CPU
*******
Agent 2
*******
  Name:                    gfx1100
  Uuid:                    GPU-6e8b6c4c2a5d1e2f
  Marketing Name:          AMD Radeon RX 7900 XTX
  Vendor Name:             AMD
  Device Type:             GPU
*** Done ***
"""
ROCM_SMI_VRAM = (
    "device,VRAM Total Memory (B),VRAM Total Used Memory (B)\ncard0,25753026560,1073741824\n"
)

_SCRIPT = """\
#!{python}
import json, os, subprocess, sys, time
spec = json.load(open({spec!r}))
if spec.get("reject") and any(spec["reject"] in arg for arg in sys.argv[1:]):
    sys.stderr.write('Field "%s" is not a valid field to query.\\n' % spec["reject"])
    sys.exit(2)
if spec.get("hang"):
    # A child that inherits the pipes, as a real tool's helper would: killing only the tool
    # would leave the reader waiting for it. Both pids are written down for the test.
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    with open(spec["pidfile"], "a") as out:
        out.write("%d %d\\n" % (os.getpid(), child.pid))
    time.sleep(600)
query = any(arg.startswith(("--query-gpu", "--showmeminfo")) for arg in sys.argv[1:])
sys.stdout.write(spec["query"] if query else spec["plain"])
sys.stderr.write(spec.get("stderr", ""))
sys.exit(spec.get("code", 0))
"""


def install_tool(
    bin_dir: Path,
    name: str,
    *,
    query: str = "",
    plain: str = "",
    code: int = 0,
    stderr: str = "",
    hang: bool = False,
    reject: str = "",
) -> Path:
    """An executable ``bin_dir/name``: ``query`` for a query form, ``plain`` otherwise."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    spec = bin_dir / f"{name}.json"
    spec.write_text(
        json.dumps(
            {
                "query": query,
                "plain": plain,
                "code": code,
                "stderr": stderr,
                "hang": hang,
                "reject": reject,
                "pidfile": str(bin_dir / f"{name}.pids"),
            }
        )
    )
    tool = bin_dir / name
    tool.write_text(_SCRIPT.format(python=sys.executable, spec=str(spec)))
    tool.chmod(0o755)
    return tool


def started_pids(bin_dir: Path, name: str) -> list[int]:
    """The pids a hanging stub (and its child) wrote down, each time it was started."""
    try:
        text = (bin_dir / f"{name}.pids").read_text()
    except OSError:
        return []
    return [int(pid) for pid in text.split()]


def running(pid: int) -> bool:
    """Whether the process exists and is not a zombie waiting to be reaped."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in status


def nvidia(bin_dir: Path, query: str, cuda: str | None) -> None:
    """nvidia-smi for the GPUs in ``query``; its table says ``CUDA Version: cuda`` if given."""
    name, _, driver = (cell.strip() for cell in query.splitlines()[0].split(","))
    table = TABLE.format(driver=driver, cuda=cuda, name=name) if cuda else "no table\n"
    install_tool(bin_dir, "nvidia-smi", query=query, plain=table + f"GPU 0: {GPU_UUID}\n")


def use_path(monkeypatch: pytest.MonkeyPatch, bin_dir: Path) -> None:
    """Only ``bin_dir`` and the basics (git, python) on PATH: no real vendor tool leaks in, and
    an empty fake ``/proc``/``/sys`` root so the machine's own PCI devices do not either."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    root = bin_dir.parent / "hwroot"
    root.mkdir(exist_ok=True)
    monkeypatch.setenv(ROOT_ENV, str(root))
    monkeypatch.setenv("PATH", os.pathsep.join([str(bin_dir), os.environ.get("PATH", "")]))


def fake_root(
    root: Path,
    *,
    pci: tuple[tuple[str, str], ...] = (),
    proc_driver: str | None = None,
    sys_driver: str | None = None,
) -> Path:
    """A fake ``/`` for detection: display controllers in ``sys/bus/pci/devices`` (vendor,
    device), the NVIDIA kernel module's version in ``proc`` or ``sys``. Each PCI folder also
    holds a subsystem id, which detection must never read into what it keeps."""
    for number, (vendor, device) in enumerate(pci):
        folder = root / "sys" / "bus" / "pci" / "devices" / f"0000:0{number + 1}:00.0"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "vendor").write_text(vendor + "\n")
        (folder / "device").write_text(device + "\n")
        (folder / "class").write_text("0x030000\n")
        (folder / "subsystem_device").write_text(SUBSYSTEM_ID + "\n")
    if proc_driver:
        path = root / "proc" / "driver" / "nvidia" / "version"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(
            f"NVRM version: NVIDIA UNIX x86_64 Kernel Module  {proc_driver}  Release Build  "
            "(dvs-builder@U16-I3-B03-4-3)  Thu Jun 26 2025\nGCC version:  gcc version 12.3.0\n"
        )
    if sys_driver:
        path = root / "sys" / "module" / "nvidia" / "version"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(sys_driver + "\n")
    return root


SUBSYSTEM_ID = "0x3a7f"


# Windows: what `Get-CimInstance Win32_VideoController | Select-Object Name,PNPDeviceID,
# AdapterRAM,DriverVersion | ConvertTo-Json` prints (PowerShell 5.1 escapes & as \u0026; one
# adapter is an object, several a list), and `wmic path win32_VideoController get ... /format:csv`
# (lines end in \r\r\n, a blank line first, and a Node column holding the computer's name).
PNP_SUBSYS = "SUBSYS_38861462"
PNP_INSTANCE = "4&2A7B2A7E&0&0008"
COMPUTER_NAME = "DESKTOP-JANE42"


def pnp(vendor: str, device: str) -> str:
    """A PNPDeviceID as Windows writes it, with the subsystem and instance path detection drops."""
    ids = f"VEN_{vendor[2:].upper()}&DEV_{device[2:].upper()}"
    return f"PCI\\{ids}&{PNP_SUBSYS}&REV_A1\\{PNP_INSTANCE}"


def wmi_json(adapters: tuple[tuple[str, str, int, str], ...]) -> str:
    """PowerShell's JSON for (name, PNPDeviceID, AdapterRAM, DriverVersion) adapters."""
    rows = [
        {"Name": name, "PNPDeviceID": pnp_id, "AdapterRAM": ram, "DriverVersion": driver}
        for name, pnp_id, ram, driver in adapters
    ]
    text = json.dumps(rows[0] if len(rows) == 1 else rows, indent=4)
    return text.replace("&", "\\u0026") + "\n"


def wmic_csv(adapters: tuple[tuple[str, str, int, str], ...]) -> str:
    lines = ["", "Node,AdapterRAM,DriverVersion,Name,PNPDeviceID"]
    lines += [
        f"{COMPUTER_NAME},{ram},{driver},{name},{pnp_id}" for name, pnp_id, ram, driver in adapters
    ]
    return "\r\r\n".join(lines) + "\r\r\n"


def install_wmi(
    bin_dir: Path, adapters: tuple[tuple[str, str, int, str], ...], *, wmic: bool = False
) -> None:
    """A ``powershell`` (or, with ``wmic``, only a ``wmic``) answering with these adapters."""
    if wmic:
        install_tool(bin_dir, "wmic", plain=wmic_csv(adapters))
    else:
        install_tool(bin_dir, "powershell", plain=wmi_json(adapters))
