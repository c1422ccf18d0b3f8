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

import contextlib
import os
import platform
import re
import shutil
import signal
import subprocess
from dataclasses import dataclass, replace
from pathlib import Path

ACCELERATORS = ("nvidia", "amd", "intel", "apple", "cpu")
TOOL_TIMEOUT = 1.5  # seconds a vendor tool may take before it counts as hanging (and is killed)
ROOT_ENV = "DINOAIR_HW_ROOT"  # a fake filesystem root for /proc, /sys, /usr/lib/wsl (tests)
PLATFORM_ENV = "DINOAIR_HW_PLATFORM"  # "Windows/AMD64": the platform detection assumes (tests)

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
# (older than 510) and for cards known only by name. From NVIDIA's "CUDA GPUs" table.
_COMPUTE_BY_NAME = (
    (r"RTX (PRO )?50\d\d|RTX PRO \d+ Blackwell", "12.0"),
    (r"B200|B100|GB200", "10.0"),
    (r"H100|H200|GH200", "9.0"),
    (r"RTX 40\d\d|RTX \d+ Ada|L40|L4\b", "8.9"),
    (r"RTX 30\d\d|RTX A\d+|A40|A10\b|A16|A2\b", "8.6"),
    (r"A100|A30\b", "8.0"),
    (r"RTX 20\d\d|GTX 16\d\d|TITAN RTX|Quadro RTX|T4\b|T\d00\b", "7.5"),
    (r"TITAN V|V100|Quadro GV100", "7.0"),
    (r"GTX 10\d\d|TITAN Xp|TITAN X \(Pascal\)|P100|Quadro P\d+|P40|P4\b|GT 1030", "6.1"),
    (r"GTX (9\d\d|750)|TITAN X\b|Quadro M\d+|M40|M60", "5.2"),
    (r"GTX (7[0-46-9]\d|6\d\d)|K80|K40|K20", "3.5"),
)
# PCI ids of display controllers (class 0x03xxxx) for cards whose vendor tool is not installed.
PCI_NVIDIA, PCI_AMD, PCI_INTEL = "0x10de", "0x1002", "0x8086"
# AMD device id -> (model, gfx target): the ROCm build is chosen by gfx target.
_AMD_PCI = {
    "0x7550": ("AMD Radeon RX 9070 XT", "gfx1201"),
    "0x7590": ("AMD Radeon RX 9060 XT", "gfx1200"),
    "0x744c": ("AMD Radeon RX 7900 XTX", "gfx1100"),
    "0x7448": ("AMD Radeon PRO W7900", "gfx1100"),
    "0x747e": ("AMD Radeon RX 7800 XT", "gfx1101"),
    "0x7480": ("AMD Radeon RX 7600", "gfx1102"),
    "0x73bf": ("AMD Radeon RX 6900 XT", "gfx1030"),
    "0x73df": ("AMD Radeon RX 6700 XT", "gfx1031"),
    "0x73ff": ("AMD Radeon RX 6600", "gfx1032"),
    "0x731f": ("AMD Radeon RX 5700 XT", "gfx1010"),
    "0x7340": ("AMD Radeon RX 5500 XT", "gfx1012"),
    "0x74a1": ("AMD Instinct MI300X", "gfx942"),
    "0x740c": ("AMD Instinct MI250X", "gfx90a"),
    "0x738c": ("AMD Instinct MI100", "gfx908"),
    "0x66a1": ("AMD Instinct MI50", "gfx906"),
}
# Intel discrete GPUs (Arc A-series "Alchemist" 0x56xx, B-series "Battlemage" 0xe20x/0xe21x):
# the ones torch's ``xpu`` build is for. Integrated UHD/Iris graphics are not worth it.
_INTEL_ARC = re.compile(r"^0x(56[0-9a-f]{2}|e2[01][0-9a-f])$")
_INTEL_NAMES = {
    "0x56a0": "Intel Arc A770",
    "0x56a1": "Intel Arc A750",
    "0x56a5": "Intel Arc A380",
    "0xe20b": "Intel Arc B580",
    "0xe20c": "Intel Arc B570",
}
_CUDA_HEADER = re.compile(r"CUDA Version:\s*([0-9]+\.[0-9]+)")
_VERSION = re.compile(r"^\d+(\.\d+)*")
_PROC_DRIVER = re.compile(r"Kernel Module(?: for [^ ]+)?\s+([0-9]+\.[0-9.]+)")


@dataclass(frozen=True)
class Gpu:
    """One GPU, coarse: what the build choice needs and nothing that tells one card from another."""

    vendor: str  # nvidia | amd | intel
    model: str
    vram_gib: int | None = None
    compute: str | None = None  # NVIDIA compute capability, "8.6"
    gfx: str | None = None  # AMD gfx target, "gfx1100"


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
    compute_capability: str | None = None  # of the GPU that will be used
    gfx_target: str | None = None
    gpus: tuple[Gpu, ...] = ()  # every GPU of the accelerator's vendor, most VRAM first
    others: tuple[str, ...] = ()  # GPUs of other vendors, by model: named, not used
    os: str = "Linux"  # platform.system(): the minimum driver differs on Windows
    pinned: str | None = None  # --cuda-version / --rocm-version as given

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
            models = {gpu.model for gpu in self.gpus}
            if len(models) > 1:  # several kinds: the one used first, then the others
                rest = [gpu.model for gpu in self.gpus[1:]]
                parts[0] += f" (used) + {', '.join(rest)}"
            else:
                parts[0] += f" x{self.gpu_count}"
        if self.compute_capability:
            parts.append(f"compute {self.compute_capability}")
        if self.gfx_target:
            parts.append(self.gfx_target)
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
        if self.others:
            parts.append(f"also {', '.join(self.others)} (not used)")
        text = ", ".join(parts)
        return f"{text}; {self.reason}" if self.reason else text


def hw_root() -> Path:
    """Where ``/proc`` and ``/sys`` are read: ``/``, or ``$DINOAIR_HW_ROOT`` in tests."""
    return Path(os.environ.get(ROOT_ENV) or "/")


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
    fake_system, _, fake_machine = os.environ.get(PLATFORM_ENV, "").partition("/")
    system = system or fake_system or platform.system()
    machine = (machine or fake_machine or platform.machine()).lower()
    try:
        found = _probe(gpu, system, machine, timeout)
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


def _probe(gpu: str, system: str, machine: str, timeout: float) -> Hardware:
    if gpu == "cpu":
        return Hardware()
    if gpu in ("auto", "apple") and system == "Darwin":
        if machine in ("arm64", "aarch64"):
            return Hardware(accelerator="apple", gpu_model="Apple Silicon", gpu_count=1)
        return Hardware(reason="an Intel Mac: torch has no GPU build for it")
    pci = pci_gpus() if system == "Linux" else []
    probes = {
        "nvidia": lambda: probe_nvidia(timeout, pci=pci),
        "amd": lambda: probe_amd(timeout, windows=system == "Windows", pci=pci),
        "intel": lambda: probe_intel(pci),
    }
    found: list[Hardware] = []
    reasons = []
    for vendor, probe in probes.items():
        if gpu not in ("auto", vendor):
            continue
        result = probe()
        if result.accelerator == vendor or gpu == vendor:
            found.append(result)
        elif result.reason:
            reasons.append(result.reason)
        if gpu == vendor:
            break
    if not found:
        return Hardware(reason="; ".join(reasons) or None)
    # Vendors in order of preference (CUDA, then ROCm, then XPU); the others are named.
    chosen = found[0]
    others = tuple(g.model for other in found[1:] for g in other.gpus or () if g.model)
    return replace(chosen, others=others) if others else chosen


# -- NVIDIA --------------------------------------------------------------------------------------


def nvidia_smi() -> str | None:
    """``nvidia-smi`` on PATH (``nvidia-smi.exe`` on Windows), or WSL2's copy of it."""
    found = shutil.which("nvidia-smi")
    if found:
        return found
    wsl = hw_root() / "usr" / "lib" / "wsl" / "lib" / "nvidia-smi"
    return str(wsl) if os.access(wsl, os.X_OK) else None


def probe_nvidia(
    timeout: float = TOOL_TIMEOUT, *, pci: list[tuple[str, str]] | None = None
) -> Hardware:
    """Each GPU's name, memory, driver and compute capability from ``nvidia-smi``.

    Without ``nvidia-smi`` the driver is read where the kernel module puts it
    (``/proc/driver/nvidia/version``, ``/sys/module/nvidia/version``), as uv does.
    """
    tool = nvidia_smi()
    if tool is None:
        return _nvidia_without_smi(pci or [])
    fields = "name,memory.total,driver_version"
    output, problem = _run([tool, f"--query-gpu={fields},compute_cap", *_CSV], timeout)
    if problem and "did not answer" not in problem:  # drivers before 510 lack compute_cap
        output, problem = _run([tool, f"--query-gpu={fields}", *_CSV], timeout)
    if problem:
        return Hardware(reason=f"nvidia-smi {problem}")
    rows = [[cell.strip() for cell in line.split(",")] for line in output.splitlines() if line]
    rows = [row for row in rows if len(row) >= 3 and row[0]]
    if not rows:
        return Hardware(reason="nvidia-smi listed no GPU")
    gpus = sorted(
        (
            Gpu(
                "nvidia",
                row[0],
                _gib_from_mib(row[1]),
                _compute(row[3] if len(row) > 3 else "") or compute_for_model(row[0]),
            )
            for row in rows
        ),
        key=lambda g: -(g.vram_gib or 0),
    )
    driver = rows[0][2]
    header, _ = _run([tool], timeout)
    match = _CUDA_HEADER.search(header or "")
    cuda = match.group(1) if match else cuda_for_driver(driver)
    return Hardware(
        accelerator="nvidia",
        gpu_model=gpus[0].model,
        gpu_count=len(gpus),
        vram_gib=gpus[0].vram_gib,
        driver_version=driver if _VERSION.match(driver) else None,
        cuda_version=cuda,
        compute_capability=gpus[0].compute,
        gpus=tuple(gpus),
    )


_CSV = ("--format=csv,noheader,nounits",)


def _nvidia_without_smi(pci: list[tuple[str, str]]) -> Hardware:
    root = hw_root()
    driver = None
    for path in (root / "proc/driver/nvidia/version", root / "sys/module/nvidia/version"):
        text = _read(path)
        match = _PROC_DRIVER.search(text) or _VERSION.match(text.strip())
        if match:
            driver = match.group(1) if match.re is _PROC_DRIVER else match.group(0)
            break
    if driver is None:
        return Hardware(reason="nvidia-smi not found")
    count = sum(1 for vendor, _ in pci if vendor == PCI_NVIDIA) or 1
    return Hardware(
        accelerator="nvidia",
        gpu_model="NVIDIA GPU",
        gpu_count=count,
        driver_version=driver,
        cuda_version=cuda_for_driver(driver),
        gpus=tuple(Gpu("nvidia", "NVIDIA GPU") for _ in range(count)),
        reason="nvidia-smi not found: driver read from the kernel module, compute "
        "capability unknown",
    )


def compute_for_model(name: str) -> str | None:
    """The compute capability of a card by its name (NVIDIA's CUDA GPUs table), or None."""
    for pattern, compute in _COMPUTE_BY_NAME:
        if re.search(pattern, name, re.IGNORECASE):
            return compute
    return None


def _compute(text: str) -> str | None:
    return text if re.fullmatch(r"\d+\.\d+", text or "") else None


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


# -- Intel ---------------------------------------------------------------------------------------


def probe_intel(pci: list[tuple[str, str]]) -> Hardware:
    """Intel Arc cards by PCI id (Linux ``/sys``): torch's ``xpu`` build runs on them."""
    arcs = [device for vendor, device in pci if vendor == PCI_INTEL and _INTEL_ARC.match(device)]
    if not arcs:
        return Hardware()
    gpus = tuple(Gpu("intel", _INTEL_NAMES.get(device, "Intel Arc GPU")) for device in arcs)
    return Hardware(accelerator="intel", gpu_model=gpus[0].model, gpu_count=len(gpus), gpus=gpus)


# -- AMD -----------------------------------------------------------------------------------------


def probe_amd(
    timeout: float = TOOL_TIMEOUT,
    *,
    windows: bool = False,
    pci: list[tuple[str, str]] | None = None,
) -> Hardware:
    """GPU agents and gfx targets from ``rocminfo``, VRAM from ``rocm-smi``, the version from
    ROCm's own file; without ROCm installed, the card and its gfx target from its PCI id."""
    if windows:
        return Hardware(reason="PyTorch publishes its ROCm (AMD) builds of torch for Linux only")
    tool = shutil.which("rocminfo")
    if tool is None:
        return _amd_from_pci(pci or [])
    output, problem = _run([tool], timeout)
    if problem:
        return Hardware(reason=f"rocminfo {problem}")
    agents = _rocm_gpus(output)
    if not agents:
        return Hardware(reason="rocminfo listed no GPU")
    vram = _rocm_vram(timeout)
    gpus = tuple(Gpu("amd", name, vram, gfx=gfx) for name, gfx in agents)
    return Hardware(
        accelerator="amd",
        gpu_model=gpus[0].model,
        gpu_count=len(gpus),
        vram_gib=vram,
        driver_version=_rocm_driver(output),
        rocm_version=rocm_installed_version(),
        gfx_target=gpus[0].gfx,
        gpus=gpus,
    )


def _amd_from_pci(pci: list[tuple[str, str]]) -> Hardware:
    known = [_AMD_PCI[device] for vendor, device in pci if vendor == PCI_AMD and device in _AMD_PCI]
    if not known:
        return Hardware(reason="rocminfo not found")
    gpus = tuple(Gpu("amd", name, gfx=gfx) for name, gfx in known)
    return Hardware(
        accelerator="amd",
        gpu_model=gpus[0].model,
        gpu_count=len(gpus),
        gfx_target=gpus[0].gfx,
        gpus=gpus,
        reason="rocminfo not found: card known by its PCI id",
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
        if _read(device / "class").strip().startswith("0x03"):
            found.append(
                (_read(device / "vendor").strip().lower(), _read(device / "device").strip().lower())
            )
    return found


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def _run(cmd: list[str], timeout: float) -> tuple[str, str | None]:
    """A vendor tool's stdout, or the problem with it in a few words (never raises).

    The tool runs in its own process group so that a hanging one is killed with whatever it
    started: a child holding the pipe open must not keep the installer waiting.
    """
    try:
        proc = subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            errors="replace",
            start_new_session=os.name != "nt",
        )
    except OSError as exc:
        return "", f"could not be started ({exc.strerror or type(exc).__name__})"
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill(proc)
        return "", f"did not answer within {timeout:g} s"
    if proc.returncode != 0:
        first = (stderr or stdout).strip().splitlines()
        detail = f": {first[0][:120]}" if first else ""
        return "", f"exited with code {proc.returncode}{detail}"
    return stdout, None


def _kill(proc: subprocess.Popen[str]) -> None:
    try:
        if os.name != "nt":
            os.killpg(proc.pid, signal.SIGKILL)
        else:
            proc.kill()
    except OSError:
        pass
    with contextlib.suppress(subprocess.TimeoutExpired, ValueError):
        proc.communicate(timeout=0.5)


def _gib_from_mib(text: str) -> int | None:
    try:
        return round(float(text) / 1024)
    except ValueError:
        return None
