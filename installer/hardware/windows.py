"""Windows: the display adapters WMI lists (``Win32_VideoController``), for AMD and Intel cards and
for NVIDIA cards whose ``nvidia-smi.exe`` is missing.

PowerShell's ``Get-CimInstance`` answers as JSON; ``wmic`` (gone from new Windows 11 builds) as
CSV. Of each adapter only the name, the PCI vendor and device id out of ``PNPDeviceID``, the
memory and the driver version are kept: never the rest of the device id (subsystem, instance
path) or wmic's ``Node`` column, the computer's name.

WMI's ``AdapterRAM`` is 32 bits wide: a card of 4 GiB or more reports about 4 GiB. The same
PowerShell call (one process, within detection's one deadline) therefore also reads the display
class's registry keys, where the driver writes the 64-bit ``HardwareInformation.qwMemorySize``,
and matches each key to its adapter by the PCI ids of ``MatchingDeviceId`` (else by
``DriverDesc``, the adapter's name). A card at the cap whose keys give no size, or disagree,
has its VRAM unknown rather than a wrong figure; so has every card read through wmic.
"""

from __future__ import annotations

import io
import json
import shutil
from dataclasses import dataclass, replace

from .pci import ids_from_pnp
from .run import Deadline, run_tool

_FIELDS = "Name,PNPDeviceID,AdapterRAM,DriverVersion"
_MEMORY = "HardwareInformation.qwMemorySize"
# The display adapter class: one numbered subkey (0000, 0001...) per adapter driver installed.
_DISPLAY_CLASS = (
    r"HKLM:\SYSTEM\ControlSet001\Control\Class\{4d36e968-e325-11ce-bfc1-08002be10318}\0*"
)
_MARKER = "DINOAIR-DISPLAY-REGISTRY"  # printed between the two JSON documents
_POWERSHELL = (
    "-NoProfile",
    "-NonInteractive",
    "-Command",
    f"Get-CimInstance Win32_VideoController | Select-Object {_FIELDS} | ConvertTo-Json; "
    f"'{_MARKER}'; "
    f"Get-ItemProperty -Path '{_DISPLAY_CLASS}' -ErrorAction SilentlyContinue | "
    f"Select-Object MatchingDeviceId,DriverDesc,'{_MEMORY}' | ConvertTo-Json",
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
    capped: bool = False  # AdapterRAM at its 32-bit cap: 4 GiB or more, how much unknown


def video_controllers(deadline: Deadline) -> tuple[list[Adapter], str | None]:
    """The display adapters with a PCI id, and the problem when WMI could not be asked."""
    powershell = shutil.which("powershell") or shutil.which("pwsh")
    if powershell:
        output, problem = run_tool([powershell, *_POWERSHELL], deadline)
        if problem is None:
            adapters, _, registry = output.partition(_MARKER)
            return with_registry_vram(_from_json(adapters), _from_registry(registry)), None
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


@dataclass(frozen=True)
class _Key:
    """One display-class registry key: the adapter it is for and the memory its driver wrote."""

    ids: tuple[str, str] | None  # (vendor, device) from MatchingDeviceId
    name: str  # DriverDesc
    memory: int | None  # bytes, HardwareInformation.qwMemorySize


def _from_registry(text: str) -> list[_Key]:
    try:
        data = json.loads(text.strip() or "null")
    except json.JSONDecodeError:
        return []
    rows = data if isinstance(data, list) else [data]
    return [
        _Key(
            ids_from_pnp(str(row.get("MatchingDeviceId") or "")),
            str(row.get("DriverDesc") or "").strip(),
            _bytes(row.get(_MEMORY)),
        )
        for row in rows
        if isinstance(row, dict)
    ]


def _bytes(value: object) -> int | None:
    """A REG_QWORD as PowerShell's JSON gives it (a number), or as 8 little-endian bytes."""
    if isinstance(value, list) and len(value) == 8 and all(isinstance(b, int) for b in value):
        value = int.from_bytes(bytes(b & 0xFF for b in value), "little")
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if value > 0 else None


def with_registry_vram(adapters: list[Adapter], keys: list[_Key]) -> list[Adapter]:
    """Adapters at AdapterRAM's 32-bit cap (or without it) get the VRAM their registry key
    gives, when exactly one size is found for them: by PCI ids, else by name. Keys left by an
    old card stay in the registry after it is removed, so a size that disagrees with another,
    or one below the cap (the card has at least that), is not believed: the VRAM stays
    unknown."""
    found = []
    for adapter in adapters:
        if adapter.vram_gib is None:
            ids = (adapter.vendor, adapter.device)
            sizes = {k.memory for k in keys if k.ids == ids and k.memory is not None}
            if not sizes:
                named = (k for k in keys if k.name and k.name == adapter.name)
                sizes = {k.memory for k in named if k.memory is not None}
            memory = sizes.pop() if len(sizes) == 1 else None
            if memory is not None and (memory >= _RAM_CAP or not adapter.capped):
                adapter = replace(adapter, vram_gib=round(memory / 2**30))
        found.append(adapter)
    return found


def _from_csv(text: str) -> list[Adapter]:
    import csv  # here: only Windows without PowerShell reads wmic's CSV

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
    driver = str(row.get("DriverVersion") or "").strip()
    return Adapter(name, ids[0], ids[1], vram, driver, capped=ram >= _RAM_CAP)
