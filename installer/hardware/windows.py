"""Windows: the display adapters WMI lists (``Win32_VideoController``), for AMD and Intel cards and
for NVIDIA cards whose ``nvidia-smi.exe`` is missing.

PowerShell's ``Get-CimInstance`` answers as JSON; ``wmic`` (gone from new Windows 11 builds) as
CSV. Of each adapter only the name, the PCI vendor and device id out of ``PNPDeviceID``, the
memory and the driver version are kept: never the rest of the device id (subsystem, instance
path) or wmic's ``Node`` column, the computer's name.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
from dataclasses import dataclass

from .pci import ids_from_pnp
from .run import Deadline, run_tool

_FIELDS = "Name,PNPDeviceID,AdapterRAM,DriverVersion"
_POWERSHELL = (
    "-NoProfile",
    "-NonInteractive",
    "-Command",
    f"Get-CimInstance Win32_VideoController | Select-Object {_FIELDS} | ConvertTo-Json",
)
_WMIC = ("path", "win32_VideoController", "get", _FIELDS, "/format:csv")
# AdapterRAM is a 32-bit count of bytes: a card with 4 GiB or more reports (about) 4 GiB.
_RAM_CAP = 4 * 2**30 - 2**20


@dataclass(frozen=True)
class Adapter:
    name: str
    vendor: str  # "0x10de"
    device: str  # "0x2206"
    vram_gib: int | None
    driver: str


def video_controllers(deadline: Deadline) -> tuple[list[Adapter], str | None]:
    """The display adapters with a PCI id, and the problem when WMI could not be asked."""
    powershell = shutil.which("powershell") or shutil.which("pwsh")
    if powershell:
        output, problem = run_tool([powershell, *_POWERSHELL], deadline)
        if problem is None:
            return _from_json(output), None
        problem = f"powershell {problem}"
    else:
        problem = "powershell not found"
    wmic = shutil.which("wmic")
    if wmic:
        output, wmic_problem = run_tool([wmic, *_WMIC], deadline)
        if wmic_problem is None:
            return _from_csv(output), None
        problem = f"{problem}; wmic {wmic_problem}"
    return [], problem


def _from_json(text: str) -> list[Adapter]:
    try:
        data = json.loads(text or "null")
    except json.JSONDecodeError:
        return []
    rows = data if isinstance(data, list) else [data]
    return [adapter for row in rows if isinstance(row, dict) and (adapter := _adapter(row))]


def _from_csv(text: str) -> list[Adapter]:
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return [
        adapter
        for row in csv.DictReader(io.StringIO("\n".join(lines)))
        if (adapter := _adapter(row))
    ]


def _adapter(row: dict) -> Adapter | None:
    ids = ids_from_pnp(str(row.get("PNPDeviceID") or ""))
    if ids is None:
        return None
    try:
        ram = int(row.get("AdapterRAM") or 0)
    except (TypeError, ValueError):
        ram = 0
    vram = round(ram / 2**30) if 0 < ram < _RAM_CAP else None
    name = str(row.get("Name") or "").strip()
    return Adapter(name, ids[0], ids[1], vram, str(row.get("DriverVersion") or "").strip())
