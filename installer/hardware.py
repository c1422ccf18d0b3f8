"""Know the machine: which accelerator torch can use here, and what its driver supports.

Detection asks the vendors' own tools (``nvidia-smi``, ``rocminfo``/``rocm-smi`` and the ROCm
version file) and the platform (Apple Silicon). It never fails a run: a tool that is missing,
exits non-zero, prints nonsense or hangs means ``cpu``, with the reason kept in
:attr:`Hardware.reason` so preflight can show and record it. ``--gpu`` overrides detection and
``--cuda-version``/``--rocm-version`` pin the version the torch build is chosen for.

Only coarse facts are kept (model name, VRAM in whole GiB, driver version): never a GPU UUID,
serial number, PCI bus id or VBIOS version, which would tell one machine from another.
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
from dataclasses import dataclass, replace
from pathlib import Path

ACCELERATORS = ("nvidia", "amd", "apple", "cpu")
TOOL_TIMEOUT = 10.0  # seconds a vendor tool may take before it counts as hanging

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
_CUDA_HEADER = re.compile(r"CUDA Version:\s*([0-9]+\.[0-9]+)")
_VERSION = re.compile(r"^\d+(\.\d+)*")


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

    @property
    def driver_major(self) -> int | None:
        match = _VERSION.match(self.driver_version or "")
        return int(match.group(0).split(".")[0]) if match else None

    def describe(self) -> str:
        """One line for the screen: ``NVIDIA RTX 3090 x2, 24 GiB, driver 535.104, CUDA 12.2``."""
        if self.accelerator == "cpu":
            text = "CPU only (no supported GPU found)"
            if self.source == "option":
                text = "CPU only (--gpu cpu)"
            return f"{text}; {self.reason}" if self.reason else text
        parts = [self.gpu_model or self.accelerator.upper()]
        if self.gpu_count > 1:
            parts[0] += f" x{self.gpu_count}"
        if self.vram_gib is not None:
            parts.append(f"{self.vram_gib} GiB")
        if self.driver_version:
            parts.append(f"driver {self.driver_version}")
        if self.cuda_version:
            parts.append(f"CUDA {self.cuda_version}")
        if self.rocm_version:
            parts.append(f"ROCm {self.rocm_version}")
        if self.source == "option":
            parts.append(f"chosen with --gpu {self.accelerator}")
        text = ", ".join(parts)
        return f"{text}; {self.reason}" if self.reason else text


def detect(
    gpu: str = "auto",
    *,
    cuda_version: str | None = None,
    rocm_version: str | None = None,
    system: str | None = None,
    machine: str | None = None,
    timeout: float = TOOL_TIMEOUT,
) -> Hardware:
    """The accelerator torch should be built for; never raises.

    ``gpu`` is ``auto`` or one of :data:`ACCELERATORS`; a forced kind is still probed for its
    details (model, VRAM, driver) but is used even when the probe finds nothing.
    ``system``/``machine`` stand for ``platform.system()``/``platform.machine()``.
    """
    system = system or platform.system()
    machine = (machine or platform.machine()).lower()
    try:
        found = _probe(gpu, system, machine, timeout)
    except Exception as exc:  # detection must never fail the install
        found = Hardware(reason=f"detection failed: {type(exc).__name__}")
    if gpu != "auto" and gpu in ACCELERATORS:
        if found.accelerator != gpu:
            found = Hardware(accelerator=gpu, reason=found.reason if gpu != "cpu" else None)
        found = replace(found, source="option")
    if found.accelerator == "nvidia" and cuda_version:
        found = replace(found, cuda_version=cuda_version)
    if found.accelerator == "amd" and rocm_version:
        found = replace(found, rocm_version=rocm_version)
    return found


def _probe(gpu: str, system: str, machine: str, timeout: float) -> Hardware:
    if gpu == "cpu":
        return Hardware()
    if gpu in ("auto", "apple") and system == "Darwin":
        if machine in ("arm64", "aarch64"):
            return Hardware(accelerator="apple", gpu_model="Apple Silicon", gpu_count=1)
        return Hardware(reason="an Intel Mac: torch has no GPU build for it")
    reasons = []
    if gpu in ("auto", "nvidia"):
        found = probe_nvidia(timeout)
        if found.accelerator == "nvidia" or gpu == "nvidia":
            return found
        reasons.append(found.reason)
    if gpu in ("auto", "amd"):
        found = probe_amd(timeout, windows=system == "Windows")
        if found.accelerator == "amd" or gpu == "amd":
            return found
        reasons.append(found.reason)
    return Hardware(reason="; ".join(r for r in reasons if r) or None)


# -- NVIDIA --------------------------------------------------------------------------------------


def probe_nvidia(timeout: float = TOOL_TIMEOUT) -> Hardware:
    """Ask ``nvidia-smi`` for each GPU's name, memory and driver, and its header for CUDA."""
    tool = shutil.which("nvidia-smi")
    if tool is None:
        return Hardware(reason="nvidia-smi not found")
    query = [tool, "--query-gpu=name,memory.total,driver_version", "--format=csv,noheader,nounits"]
    output, problem = _run(query, timeout)
    if problem:
        return Hardware(reason=f"nvidia-smi {problem}")
    rows = [[cell.strip() for cell in line.split(",")] for line in output.splitlines() if line]
    rows = [row for row in rows if len(row) >= 3 and row[0]]
    if not rows:
        return Hardware(reason="nvidia-smi listed no GPU")
    name, memory, driver = rows[0][:3]
    header, _ = _run([tool], timeout)
    match = _CUDA_HEADER.search(header or "")
    cuda = match.group(1) if match else cuda_for_driver(driver)
    return Hardware(
        accelerator="nvidia",
        gpu_model=name,
        gpu_count=len(rows),
        vram_gib=_gib_from_mib(memory),
        driver_version=driver if _VERSION.match(driver) else None,
        cuda_version=cuda,
    )


def cuda_for_driver(driver: str) -> str | None:
    """The highest CUDA runtime an NVIDIA driver version supports, from NVIDIA's table."""
    match = _VERSION.match(driver or "")
    if not match:
        return None
    parts = tuple(int(p) for p in match.group(0).split(".")[:2])
    for minimum, cuda in _DRIVER_CUDA:
        if parts >= minimum:
            return cuda
    return None


# -- AMD -----------------------------------------------------------------------------------------


def probe_amd(timeout: float = TOOL_TIMEOUT, *, windows: bool = False) -> Hardware:
    """GPU agents from ``rocminfo``, VRAM from ``rocm-smi``, the version from ROCm's own file."""
    if windows:
        return Hardware(reason="ROCm builds of torch are for Linux only")
    tool = shutil.which("rocminfo")
    if tool is None:
        return Hardware(reason="rocminfo not found")
    output, problem = _run([tool], timeout)
    if problem:
        return Hardware(reason=f"rocminfo {problem}")
    names = _rocm_gpu_names(output)
    if not names:
        return Hardware(reason="rocminfo listed no GPU")
    return Hardware(
        accelerator="amd",
        gpu_model=names[0],
        gpu_count=len(names),
        vram_gib=_rocm_vram(timeout),
        driver_version=_rocm_driver(output),
        rocm_version=rocm_installed_version(),
    )


def rocm_installed_version() -> str | None:
    """``major.minor`` from ``$ROCM_PATH/.info/version`` (``/opt/rocm`` by default)."""
    root = Path(os.environ.get("ROCM_PATH") or "/opt/rocm")
    try:
        text = (root / ".info" / "version").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    match = _VERSION.match(text.strip())
    return ".".join(match.group(0).split(".")[:2]) if match else None


def _rocm_gpu_names(output: str) -> list[str]:
    """rocminfo prints one block per agent; keep the GPU agents' marketing names."""
    names = []
    for block in re.split(r"\n\*{5,}\s*\nAgent \d+\s*\n\*{5,}", output):
        if not re.search(r"Device Type:\s*GPU", block):
            continue
        match = re.search(r"Marketing Name:\s*(.+)", block)
        names.append(match.group(1).strip() if match else "AMD GPU")
    return names


def _rocm_driver(output: str) -> str | None:
    match = re.search(r"ROCk module(?: version)?\s+([0-9][0-9.]*)", output)
    return match.group(1).rstrip(".") if match else None


def _rocm_vram(timeout: float) -> int | None:
    tool = shutil.which("rocm-smi")
    if tool is None:
        return None
    output, problem = _run([tool, "--showmeminfo", "vram", "--csv"], timeout)
    if problem:
        return None
    for line in output.splitlines()[1:]:
        cells = [cell.strip() for cell in line.split(",")]
        if len(cells) >= 2 and cells[1].isdigit():
            return round(int(cells[1]) / 2**30)
    return None


# -- helpers -------------------------------------------------------------------------------------


def _run(cmd: list[str], timeout: float) -> tuple[str, str | None]:
    """A vendor tool's stdout, or the problem with it in a few words (never raises)."""
    try:
        done = subprocess.run(
            cmd,
            capture_output=True,
            text=True,
            errors="replace",
            stdin=subprocess.DEVNULL,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return "", f"did not answer within {timeout:g} s"
    except OSError as exc:
        return "", f"could not be started ({exc.strerror or type(exc).__name__})"
    if done.returncode != 0:
        first = (done.stderr or done.stdout).strip().splitlines()
        detail = f": {first[0][:120]}" if first else ""
        return "", f"exited with code {done.returncode}{detail}"
    return done.stdout, None


def _gib_from_mib(text: str) -> int | None:
    try:
        return round(float(text) / 1024)
    except ValueError:
        return None
