"""The torch build for real machines: card, compute capability, driver, OS, number of GPUs.

Each row plays one machine with stubbed vendor tools on PATH and a fake ``/proc``/``/sys`` root
(``DINOAIR_HW_ROOT``), and runs the real ``dinoair-install --dry-run`` against the packaged
default manifest. Expected builds follow two published tables:

* PyTorch's support matrix (RELEASE.md, "Release Compatibility Matrix", and the CUDA
  architectures each wheel is built for): CUDA 12.6 wheels carry sm_50-sm_90 (Maxwell to
  Hopper), CUDA 12.8 sm_75-sm_120, CUDA 13.0 sm_75-sm_120 with sm_110; ROCm 6.4 wheels carry
  gfx900/906/908/90a/942/1030/1100/1101/1102/1200/1201; https://github.com/pytorch/pytorch/blob/main/RELEASE.md
* NVIDIA's CUDA compatibility guide ("Minor Version Compatibility", table 2 of the CUDA
  Toolkit release notes): a CUDA 12.x application runs on a driver >= 525.60.13 (Linux) or
  >= 528.33 (Windows), 13.x on >= 580; https://docs.nvidia.com/deploy/cuda-compatibility/

A Gpu row is ``(name, MiB, driver, compute capability)``; compute ``None`` plays a driver older
than 510, whose nvidia-smi refuses the ``compute_cap`` field (the model-name table answers).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from click.testing import CliRunner

from fixtures.bundles import Truth, json_bundle, session_doc
from installer.cli import cli
from installer.hardware import PLATFORM_ENV
from otel_local_exporter import NOTICE_VERSION
from telemetry_cli.cli import cli as telemetry
from tests.gpu_tools import (
    BUS_ID,
    COMPUTER_NAME,
    GPU_UUID,
    PNP_INSTANCE,
    PNP_SUBSYS,
    ROCM_SMI_VRAM,
    SUBSYSTEM_ID,
    fake_root,
    install_tool,
    install_wmi,
    pnp,
    use_path,
)

NV, AMD, INTEL = "0x10de", "0x1002", "0x8086"


@dataclass(frozen=True)
class Machine:
    gpus: tuple[tuple[str, int, str, str | None], ...] = ()  # nvidia-smi rows
    platform: str = "Linux/x86_64"
    rocm_agents: tuple[tuple[str, str], ...] = ()  # rocminfo: (marketing name, gfx)
    rocm_vram_gib: tuple[int, ...] = (24,)  # rocm-smi: each card's VRAM
    pci: tuple[tuple[str, str], ...] = ()
    proc_driver: str | None = None
    sys_driver: str | None = None
    wsl: bool = False  # nvidia-smi only at /usr/lib/wsl/lib
    args: tuple[str, ...] = ()
    wmi: tuple[tuple[str, str, int, str], ...] = ()  # Windows adapters: name, PNP id, RAM, driver
    wmic: bool = False  # WMI answers through wmic (CSV) instead of PowerShell (JSON)


@dataclass(frozen=True)
class Case:
    id: str
    machine: Machine
    build: str
    lines: tuple[str, ...] = field(default=())
    absent: tuple[str, ...] = field(default=())


def nv(*rows: tuple[str, int, str, str | None], **kw: object) -> Machine:
    return Machine(gpus=rows, **kw)  # type: ignore[arg-type]


LEGACY = "held below torch 2.15"
WIN = "Windows/AMD64"
GIB = 2**30
DEVICE = "--cuda-device"


def win(*adapters: tuple[str, str, str, int, str], **kw: object) -> Machine:
    """A Windows machine whose WMI lists (name, vendor, device, AdapterRAM, DriverVersion)."""
    rows = tuple(
        (name, pnp(vendor, device), ram, driver) for name, vendor, device, ram, driver in adapters
    )
    return Machine(platform=WIN, wmi=rows, **kw)  # type: ignore[arg-type]


CASES = [
    # -- NVIDIA, Linux: Maxwell to Blackwell ----------------------------------------------------
    Case("gtx980-maxwell-580", nv(("NVIDIA GeForce GTX 980", 4096, "580.65.06", "5.2")), "cu126",
         ("compute 5.2", LEGACY)),
    Case("gtx1070-pascal-580", nv(("NVIDIA GeForce GTX 1070", 8192, "580.65.06", "6.1")), "cu126",
         (LEGACY,)),
    Case("gtx1080ti-pascal-550", nv(("NVIDIA GeForce GTX 1080 Ti", 11264, "550.54.15", "6.1")),
         "cu126", (LEGACY,)),
    Case("titanv-volta-580", nv(("NVIDIA TITAN V", 12288, "580.65.06", "7.0")), "cu126", (LEGACY,)),
    Case("gtx1060-driver470-too-old", nv(("NVIDIA GeForce GTX 1060 6GB", 6144, "470.256.02", None)),
         "cpu", ("compute 6.1", "the cu126 build needs driver 525.60.13 or newer",
                 "update the NVIDIA driver")),
    # Kepler and older: the CPU build, naming the last torch (and its CUDA build) with kernels
    # for the card, from the manifest's torch.retired (PyTorch's wheel build scripts).
    Case("gtx780-kepler", nv(("NVIDIA GeForce GTX 780", 3072, "470.256.02", None)), "cpu",
         ("older than every CUDA build", "no kernels for compute 3.5",
          "the last torch with kernels for it was 1.2.0 (its cu100 build)")),
    Case("k80-kepler-470", nv(("Tesla K80", 11441, "470.256.02", None),
                              ("Tesla K80", 11441, "470.256.02", None)), "cpu",
         ("compute 3.7", "the last torch with kernels for it was 2.7 (its cu118 build)",
          "a card of compute 5.0 or newer would use the GPU")),
    Case("gtx770-kepler-3.0", nv(("NVIDIA GeForce GTX 770", 2048, "470.256.02", None)), "cpu",
         ("compute 3.0", "the last torch with kernels for it was 0.3.0 (its cu90 build)")),
    Case("gtx780-kepler-580-smi-answers", nv(("NVIDIA GeForce GTX 780", 3072, "580.65.06", "3.5")),
         "cpu", ("the last torch with kernels for it was 1.2.0",)),
    Case("gtx1650-4gib-535", nv(("NVIDIA GeForce GTX 1650", 4096, "535.104.05", "7.5")), "cu128",
         ("Launch flags: --lowvram --fp32-vae",)),
    Case("rtx2080ti-580", nv(("NVIDIA GeForce RTX 2080 Ti", 11264, "580.65.06", "7.5")), "cu130"),
    Case("rtx3060-535-mvc", nv(("NVIDIA GeForce RTX 3060", 12288, "535.104.05", "8.6")), "cu128",
         ("compute 8.6", "Launch flags: none")),
    Case("rtx3060-525.60.13-mvc", nv(("NVIDIA GeForce RTX 3060", 12288, "525.60.13", "8.6")),
         "cu128"),
    Case("rtx3060-520-too-old", nv(("NVIDIA GeForce RTX 3060", 12288, "520.61.05", "8.6")), "cpu",
         ("driver 520.61.05, too old", "needs driver 525.60.13 or newer")),
    Case("rtxa4000-545", nv(("NVIDIA RTX A4000", 16376, "545.23.08", "8.6")), "cu128"),
    Case("a100-x2-550", nv(*[("NVIDIA A100-SXM4-80GB", 81920, "550.54.15", "8.0")] * 2), "cu128",
         ("A100-SXM4-80GB x2",)),
    Case("rtx4090-570", nv(("NVIDIA GeForce RTX 4090", 24564, "570.86.10", "8.9")), "cu128"),
    Case("rtx4090-580", nv(("NVIDIA GeForce RTX 4090", 24564, "580.65.06", "8.9")), "cu130"),
    Case("h100-580", nv(("NVIDIA H100 80GB HBM3", 81559, "580.65.06", "9.0")), "cu130"),
    Case("rtx5090-570-blackwell", nv(("NVIDIA GeForce RTX 5090", 32607, "570.133.07", "12.0")),
         "cu128", ("compute 12.0",)),
    Case("rtx5090-580-blackwell", nv(("NVIDIA GeForce RTX 5090", 32607, "580.65.06", "12.0")),
         "cu130"),
    Case("b200-580", nv(("NVIDIA B200", 183359, "580.65.06", "10.0")), "cu130"),
    # -- NVIDIA on Windows (528.33 is the 12.x minimum there) and WSL2 --------------------------
    Case("win-rtx3080-528.49", nv(("NVIDIA GeForce RTX 3080", 10240, "528.49", "8.6"),
                                  platform="Windows/AMD64"), "cu128"),
    Case("win-rtx3080-527.56-too-old", nv(("NVIDIA GeForce RTX 3080", 10240, "527.56", "8.6"),
                                          platform="Windows/AMD64"), "cpu",
         ("needs driver 528.33 or newer",)),
    Case("win-gtx1660-581", nv(("NVIDIA GeForce GTX 1660 SUPER", 6144, "581.15", "7.5"),
                               platform="Windows/AMD64"), "cu130", ("--fp32-vae",)),
    Case("wsl2-rtx4070", nv(("NVIDIA GeForce RTX 4070", 12282, "576.02", "8.9"), wsl=True),
         "cu128"),
    # -- NVIDIA without nvidia-smi: the kernel module's version ---------------------------------
    Case("no-smi-proc-550", Machine(proc_driver="550.54.15", pci=((NV, "0x2204"),)), "cu128",
         ("driver read from the kernel module",)),
    Case("no-smi-sys-580", Machine(sys_driver="580.65.06", pci=((NV, "0x2684"),)), "cu130"),
    # -- several GPUs ---------------------------------------------------------------------------
    # Several NVIDIA GPUs of different generations: the newest build with kernels for all of
    # them; else the card with the most VRAM a build runs on, named to ComfyUI (--cuda-device
    # counts as nvidia-smi does), and the cards left out named with the reason.
    Case("rtx3090-and-gtx1070-cu126-covers-both",
         nv(("NVIDIA GeForce GTX 1070", 8192, "580.65.06", "6.1"),
            ("NVIDIA GeForce RTX 3090", 24576, "580.65.06", "8.6")),
         "cu126", ("NVIDIA GeForce RTX 3090 (compute 8.6, 24 GiB) + NVIDIA GeForce GTX 1070",
                   LEGACY, "ComfyUI uses the NVIDIA GeForce RTX 3090 (compute 8.6, 24 GiB)",
                   "Launch flags: --cuda-device 1 ("), ("left out",)),
    Case("rtx5090-and-gtx1070-no-build-for-both",
         nv(("NVIDIA GeForce RTX 5090", 32607, "580.65.06", "12.0"),
            ("NVIDIA GeForce GTX 1070", 8192, "580.65.06", "6.1")),
         "cu130", ("ComfyUI uses the NVIDIA GeForce RTX 5090 (compute 12.0, 32 GiB)",
                   "left out: NVIDIA GeForce GTX 1070 (compute 6.1), which cu130 has no kernels",
                   "Launch flags: --cuda-device 0 (")),
    Case("gtx1070-8g-and-rtx5060ti-16g",
         nv(("NVIDIA GeForce GTX 1070", 8192, "570.133.07", "6.1"),
            ("NVIDIA GeForce RTX 5060 Ti", 16311, "570.133.07", "12.0")),
         "cu128", ("ComfyUI uses the NVIDIA GeForce RTX 5060 Ti", "--cuda-device 1 (",
                   "left out: NVIDIA GeForce GTX 1070 (compute 6.1)")),
    Case("rtx4090-and-rtx3060-580", nv(("NVIDIA GeForce RTX 3060", 12288, "580.65.06", "8.6"),
                                       ("NVIDIA GeForce RTX 4090", 24564, "580.65.06", "8.9")),
         "cu130", ("ComfyUI uses the NVIDIA GeForce RTX 4090", "--cuda-device 1 ("),
         ("left out",)),
    Case("titanv-and-rtx2080ti-580", nv(("NVIDIA TITAN V", 12288, "580.65.06", "7.0"),
                                        ("NVIDIA GeForce RTX 2080 Ti", 11264, "580.65.06", "7.5")),
         "cu126", ("ComfyUI uses the NVIDIA TITAN V", "--cuda-device 0 (", LEGACY)),
    Case("gtx780-and-rtx3060-kepler-left-out",
         nv(("NVIDIA GeForce GTX 780", 3072, "470.256.02", None),
            ("NVIDIA GeForce RTX 3060", 12288, "470.256.02", None)),
         "cpu", ("driver 470.256.02, too old for every CUDA build",)),
    Case("gtx780-and-rtx3060-580", nv(("NVIDIA GeForce GTX 780", 3072, "580.65.06", "3.5"),
                                      ("NVIDIA GeForce RTX 3060", 12288, "580.65.06", "8.6")),
         "cu130", ("ComfyUI uses the NVIDIA GeForce RTX 3060", "--cuda-device 1 (",
                   "left out: NVIDIA GeForce GTX 780 (compute 3.5)")),
    Case("rtx4090-and-arc-a770", nv(("NVIDIA GeForce RTX 4090", 24564, "580.65.06", "8.9"),
                                    pci=((NV, "0x2684"), (INTEL, "0x56a0"))), "cu130",
         ("also Intel Arc A770 (not used)",)),
    # -- overrides ------------------------------------------------------------------------------
    Case("gtx1070-forced-cu130", nv(("NVIDIA GeForce GTX 1070", 8192, "580.65.06", "6.1"),
                                    args=("--cuda-version", "13.0")), "cu130",
         ("warning: cu130 (--cuda-version 13.0) has no kernels for the NVIDIA GeForce GTX 1070 "
          "(compute 6.1)", "cu126 would work")),
    # A pin that leaves the biggest card out: the plan (and verify) speak of the card used.
    Case("rtx5090-and-gtx1080ti-forced-cu126",
         nv(("NVIDIA GeForce RTX 5090", 32607, "580.65.06", "12.0"),
            ("NVIDIA GeForce GTX 1080 Ti", 11264, "580.65.06", "6.1"),
            args=("--cuda-version", "12.6")), "cu126",
         ("ComfyUI uses the NVIDIA GeForce GTX 1080 Ti (compute 6.1, 11 GiB)", "--cuda-device 1 (",
          "left out: NVIDIA GeForce RTX 5090 (compute 12.0), which cu126 has no kernels for"),
         ("warning:",)),
    Case("rtx3090-forced-cpu", nv(("NVIDIA GeForce RTX 3090", 24576, "580.65.06", "8.6"),
                                  args=("--gpu", "cpu")), "cpu", ("CPU only (--gpu cpu)",
                                                                  "Launch flags: --cpu")),
    # -- AMD: RDNA1-4 and Instinct --------------------------------------------------------------
    Case("rx7900xtx-rocminfo", Machine(rocm_agents=(("AMD Radeon RX 7900 XTX", "gfx1100"),)),
         "rocm6.4", ("gfx1100", "24 GiB")),
    Case("mi300x-rocminfo", Machine(rocm_agents=(("AMD Instinct MI300X", "gfx942"),) * 8),
         "rocm6.4", ("MI300X x8",)),
    Case("rx9070xt-rdna4-pci", Machine(pci=((AMD, "0x7550"),)), "rocm6.4",
         ("gfx1201", "card known by its PCI id")),
    Case("rx6900xt-rdna2-pci", Machine(pci=((AMD, "0x73bf"),)), "rocm6.4", ("gfx1030",)),
    Case("rx5700xt-rdna1-pci", Machine(pci=((AMD, "0x731f"),)), "cpu",
         ("(gfx1010) has no kernels in any ROCm build",)),
    Case("rx7900xtx-and-rx5700xt-rocminfo",
         Machine(rocm_agents=(("AMD Radeon RX 5700 XT", "gfx1010"),
                              ("AMD Radeon RX 7900 XTX", "gfx1100"))),
         "rocm6.4", ("ComfyUI uses the AMD Radeon RX 7900 XTX (gfx1100): the first of the GPUs",
                     "left out: AMD Radeon RX 5700 XT (gfx1010), which rocm6.4 has no kernels for",
                     "--cuda-device 1 (")),
    Case("rx7600-and-rx7900xtx-rocm-smi",
         Machine(rocm_agents=(("AMD Radeon RX 7600", "gfx1102"),
                              ("AMD Radeon RX 7900 XTX", "gfx1100")), rocm_vram_gib=(8, 24)),
         "rocm6.4", ("RX 7900 XTX (gfx1100, 24 GiB) + AMD Radeon RX 7600 (gfx1102, 8 GiB)",
                     "ComfyUI uses the AMD Radeon RX 7900 XTX (gfx1100, 24 GiB): the most VRAM",
                     "--cuda-device 1 ("), ("left out",)),
    Case("mi250x-pci", Machine(pci=((AMD, "0x740c"),)), "rocm6.4", ("gfx90a",)),
    # -- Windows without nvidia-smi.exe, AMD and Intel there: WMI (PowerShell, or wmic) ----------
    Case("win-rtx4070-wmi-no-smi",
         win(("NVIDIA GeForce RTX 4070", NV, "0x2786", 4293918720, "32.0.15.6094")), "cu128",
         ("card and driver read from WMI", "driver 560.94", "compute 8.9")),
    Case("win-gtx1080-wmi-no-smi-old-driver",
         win(("NVIDIA GeForce GTX 1080", NV, "0x1b80", 4293918720, "31.0.15.2802")), "cpu",
         ("driver 528.02, too old", "needs driver 528.33 or newer")),
    Case("win-gtx1080-wmi-no-smi", win(("NVIDIA GeForce GTX 1080", NV, "0x1b80", 4293918720,
                                        "32.0.15.6094")), "cu126", (LEGACY, "compute 6.1")),
    Case("win-rx7900xtx-wmi", win(("AMD Radeon RX 7900 XTX", AMD, "0x744c", 4293918720,
                                   "32.0.12033.1030")), "cpu",
         ("AMD Radeon RX 7900 XTX (gfx1100): PyTorch publishes rocm6.4 for Linux only",
          "install DinoAir on Linux", "Launch flags: --cpu")),
    Case("win-rx6600-wmic", win(("AMD Radeon RX 6600", AMD, "0x73ff", 4293918720,
                                 "31.0.21921.1000"), wmic=True), "cpu", ("for Linux only",)),
    Case("win-arc-a770-wmi", win(("Intel(R) Arc(TM) A770 Graphics", INTEL, "0x56a0", 4293918720,
                                  "32.0.101.6647")), "xpu", ("Intel Arc A770",)),
    Case("win-arc-b580-wmic", win(("Intel(R) Arc(TM) B580 Graphics", INTEL, "0xe20b", 4293918720,
                                   "32.0.101.6647"), wmic=True), "xpu", ("Intel Arc B580",)),
    Case("win-uhd-igpu-wmi", win(("Intel(R) UHD Graphics 770", INTEL, "0x4680", 2147483648,
                                  "31.0.101.4502")), "cpu", ("CPU only",)),
    Case("win-rtx3060-smi-and-arc-wmi",
         nv(("NVIDIA GeForce RTX 3060", 12288, "581.15", "8.6"), platform=WIN,
            wmi=(("Intel(R) Arc(TM) A380 Graphics", pnp(INTEL, "0x56a5"), 4293918720, "32.0"),)),
         "cu130", ("also Intel Arc A380 (not used)",)),
    Case("win-no-wmi-no-smi", Machine(platform=WIN), "cpu",
         ("CPU only (no supported GPU found)", "powershell not found")),
    # -- Intel Arc, Apple, nothing --------------------------------------------------------------
    Case("arc-a770-pci", Machine(pci=((INTEL, "0x56a0"),)), "xpu", ("Intel Arc A770",)),
    Case("arc-b580-pci", Machine(pci=((INTEL, "0xe20b"),)), "xpu", ("Intel Arc B580",)),
    Case("intel-uhd-igpu", Machine(pci=((INTEL, "0x9a49"),)), "cpu", ("CPU only",)),
    Case("apple-m2", Machine(platform="Darwin/arm64"), "mps", ("Apple Silicon",)),
    Case("intel-mac", Machine(platform="Darwin/x86_64"), "cpu", ("an Intel Mac",)),
    Case("no-gpu", Machine(), "cpu", ("CPU only (no supported GPU found)", "Launch flags: --cpu")),
]  # fmt: skip


def _rocminfo(agents: tuple[tuple[str, str], ...]) -> str:
    blocks = ["ROCk module version 6.8.5 is loaded\n=====\nHSA Agents\n=========="]
    for number, (name, gfx) in enumerate(agents, 1):
        blocks.append(
            f"*******\nAgent {number}\n*******\n  Name:                    {gfx}\n"
            f"  Uuid:                    GPU-6e8b6c4c2a5d1e2{number}\n"
            f"  Marketing Name:          {name}\n  Device Type:             GPU"
        )
    return "\n".join(blocks) + "\n*** Done ***\n"


def _play(machine: Machine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    bin_dir = tmp_path / "bin"
    use_path(monkeypatch, bin_dir)
    root = fake_root(
        tmp_path / "hwroot",
        pci=machine.pci,
        proc_driver=machine.proc_driver,
        sys_driver=machine.sys_driver,
    )
    monkeypatch.setenv(PLATFORM_ENV, machine.platform)
    monkeypatch.setenv("ROCM_PATH", str(tmp_path / "rocm"))
    if machine.gpus:
        new_driver = all(cc for *_, cc in machine.gpus)
        query = "".join(
            f"{name}, {mib}, {driver}" + (f", {cc}" if new_driver else "") + "\n"
            for name, mib, driver, cc in machine.gpus
        )
        table = f"| NVIDIA-SMI  Driver Version: {machine.gpus[0][2]} | Bus-Id {BUS_ID} |\n"
        where = root / "usr" / "lib" / "wsl" / "lib" if machine.wsl else bin_dir
        install_tool(
            where,
            "nvidia-smi",
            query=query,
            plain=table + f"GPU 0: {GPU_UUID}\n",
            reject="" if new_driver else "compute_cap",
        )
    if machine.wmi:
        install_wmi(bin_dir, machine.wmi, wmic=machine.wmic)
    if machine.rocm_agents:
        install_tool(bin_dir, "rocminfo", plain=_rocminfo(machine.rocm_agents))
        rows = "".join(
            f"card{n},{gib * 2**30},1073741824\n" for n, gib in enumerate(machine.rocm_vram_gib)
        )
        install_tool(bin_dir, "rocm-smi", query=ROCM_SMI_VRAM.splitlines()[0] + "\n" + rows)
        (tmp_path / "rocm" / ".info").mkdir(parents=True)
        (tmp_path / "rocm" / ".info" / "version").write_text("6.4.1-123\n")
    return root


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_the_build_and_the_line_the_user_sees(
    case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _play(case.machine, tmp_path, monkeypatch)
    target = tmp_path / "target"
    result = CliRunner().invoke(
        cli, ["--dry-run", "--target", str(target), "--disable-telemetry", *case.machine.args]
    )
    assert result.exit_code == 0, result.output
    out = result.output
    assert f"Torch: torch build {case.build} (" in out, out
    for line in case.lines:
        assert line in out, out
    for line in case.absent:
        assert line not in out, out
    if DEVICE not in " ".join(case.lines):
        assert DEVICE not in out, out  # one kind of GPU: ComfyUI needs no device number
    if case.build != "cu126":
        assert LEGACY not in out  # an RTX 50xx (or anything newer than Volta) never gets 12.6
    for secret in (
        GPU_UUID,
        BUS_ID,
        SUBSYSTEM_ID,
        "GPU-6e8b",
        PNP_SUBSYS,
        PNP_INSTANCE,
        COMPUTER_NAME,
    ):
        assert secret not in out
    assert not target.exists()


def test_at_least_thirty_machines_from_maxwell_to_blackwell_and_every_vendor() -> None:
    assert len(CASES) >= 30
    builds = {case.build for case in CASES}
    assert builds >= {"cpu", "cu126", "cu128", "cu130", "rocm6.4", "xpu", "mps"}


def _consented_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("DINOAIR_HOME", str(home))
    for name in ("DINOAIR_DISABLE_TELEMETRY", "DO_NOT_TRACK", "OTEL_SDK_DISABLED"):
        monkeypatch.delenv(name, raising=False)
    home.mkdir()
    (home / "telemetry_config.json").write_text(
        json.dumps(
            {
                "telemetry_enabled": True,
                "error_reporting_enabled": True,
                "usage_analytics_enabled": True,
                "consent_notice_version": NOTICE_VERSION,
            }
        )
    )
    return home


PRIVACY_MACHINES = {
    "linux-gtx1070-and-pci": (
        nv(("NVIDIA GeForce GTX 1070", 8192, "580.65.06", "6.1"),
           pci=((NV, "0x1b81"), (AMD, "0x744c"))),
        ("6.1", "legacy_arch", "cu126"),
    ),
    "linux-rtx5090-and-gtx1070": (
        nv(("NVIDIA GeForce RTX 5090", 32607, "580.65.06", "12.0"),
           ("NVIDIA GeForce GTX 1070", 8192, "580.65.06", "6.1")),
        ("12.0", "driver_mvc", "cu130"),
    ),
    "windows-smi-and-wmi": (
        nv(("NVIDIA GeForce RTX 3060", 12288, "581.15", "8.6"), platform=WIN,
           wmi=(("NVIDIA GeForce RTX 3060", pnp(NV, "0x2503"), 4293918720, "32.0.15.8115"),
                ("AMD Radeon RX 7900 XTX", pnp(AMD, "0x744c"), 4293918720, "32.0.12033.1030"))),
        ("8.6", "driver_mvc", "cu130"),
    ),
    "windows-wmic-only": (
        win(("AMD Radeon RX 7900 XTX", AMD, "0x744c", 4293918720, "32.0.12033.1030"), wmic=True),
        ("gfx1100", "no_build", "cpu"),
    ),
}  # fmt: skip


@pytest.mark.parametrize("name", list(PRIVACY_MACHINES))
def test_preflight_keeps_compute_capability_and_rule_never_ids(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Telemetry: compute capability ``major.minor`` and the rule, never a UUID, bus id, PCI
    subsystem id, Windows device instance path or computer name, though each is in what the
    stubbed tools, WMI and /sys show; install_summary.json names the card ComfyUI uses."""
    home = _consented_home(tmp_path, monkeypatch)
    machine, (compute, rule, build) = PRIVACY_MACHINES[name]
    _play(machine, tmp_path, monkeypatch)
    result = CliRunner().invoke(
        cli, ["--target", str(tmp_path / "t"), "--only", "preflight", "--no-models"]
    )
    assert result.exit_code == 0, result.output
    [session] = (home / "telemetry").glob("session_*.json")
    text = session.read_text()
    system = json.loads(text)["events"][0]["system_info"]
    assert system["compute_capability"] == compute
    assert system["build_rule"] == rule
    assert system["torch_build"] == build
    ids = (GPU_UUID, BUS_ID, SUBSYSTEM_ID, "0000:01:00.0", PNP_SUBSYS, PNP_INSTANCE, COMPUTER_NAME)
    for secret in (*ids, "VEN_", "0x1b81", "0x744c", "580.65.06"):
        assert secret not in text
    for secret in ids:  # the screen shows the driver, never what tells one machine apart
        assert secret not in result.output


def test_install_summary_names_the_gpu_comfyui_uses_and_the_flag(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The card that will be used, the ones left out, and ``--cuda-device`` are in
    install_summary.json (preflight's outcome) and in the start.py the launch flags go to."""
    machine, _ = PRIVACY_MACHINES["linux-rtx5090-and-gtx1070"]
    _play(machine, tmp_path, monkeypatch)
    target = tmp_path / "t"
    result = CliRunner().invoke(
        cli,
        ["--target", str(target), "--only", "finalize", "--no-models", "--disable-telemetry"],
    )
    assert result.exit_code == 0, result.output
    assert "launch flags: --cuda-device 0 (" in result.output
    summary = json.loads((target / "install_summary.json").read_text())
    preflight = summary["installed"]["preflight"]
    assert preflight["launch_flags"] == ["--cuda-device", "0"]
    assert preflight["gpu_used"] == "NVIDIA GeForce RTX 5090"
    assert "left out: NVIDIA GeForce GTX 1070 (compute 6.1)" in preflight["gpu_plan"]
    assert [g["compute"] for g in preflight["hardware"]["gpus"]] == ["12.0", "6.1"]
    # start.py, loaded as Python loads it, passes the flag and counts GPUs as nvidia-smi does.
    probe = (
        "import os, runpy; ns = runpy.run_path('start.py');"
        "print(ns['COMFYUI_FLAGS'], os.environ['CUDA_DEVICE_ORDER'])"
    )
    env = {k: v for k, v in os.environ.items() if k != "CUDA_DEVICE_ORDER"}
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=target, env=env, capture_output=True, text=True
    )
    assert done.stdout.strip() == "['--cuda-device', '0'] PCI_BUS_ID", done.stderr


def test_report_from_groups_failures_by_compute_capability(tmp_path: Path) -> None:
    """`report --from` over exported bundles: one row per compute capability, with its results."""
    steps = (("preflight", "completed", 10.0), ("verify", "failed", 20.0))
    machines = [("6.1", "failed"), ("6.1", "failed"), ("8.6", "success"), ("gfx1100", "success")]
    docs = []
    for number, (compute, result) in enumerate(machines):
        truth = Truth(
            session_id=f"{number + 1:032x}",
            version="0.1.0",
            os="linux",
            accelerator="nvidia",
            result=result,
            steps=steps if result == "failed" else (("preflight", "completed", 10.0),),
            failure=("verify", "system", "SystemRequirementError", "no kernel image", "sig")
            if result == "failed"
            else None,
        )
        doc = session_doc(truth)
        root = next(span for span in doc["spans"] if span["parent_span_id"] is None)
        root["attributes"]["installer.system.compute_capability"] = compute
        docs.append(doc)
    (tmp_path / "bundle.json").write_bytes(json_bundle(docs))
    result = CliRunner().invoke(
        telemetry, ["report", "--from", str(tmp_path), "--json", "--min-group", "1"]
    )
    assert result.exit_code == 0, result.output
    rows = {row["name"]: row for row in json.loads(result.output)["by_compute_capability"]}
    assert (rows["6.1"]["sessions"], rows["6.1"]["failed"]) == (2, 2)
    assert (rows["8.6"]["success"], rows["gfx1100"]["success"]) == (1, 1)
    text = (
        CliRunner()
        .invoke(telemetry, ["report", "--from", str(tmp_path), "--min-group", "1"])
        .output
    )
    assert "By GPU compute capability" in text


README_PLANS = ("rtx3060-535-mvc", "gtx1070-pascal-580", "rtx5090-and-gtx1070-no-build-for-both")


def _readme_plans() -> list[list[str]]:
    """The example plans in the README's hardware section: blocks of Hardware/Torch lines."""
    text = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    block = text.split("Three plans as `python3 install.py --dry-run` prints them", 1)[1]
    body = block.split("```", 2)[1]
    return [chunk.strip().splitlines() for chunk in body.strip().split("\n\n")]


@pytest.mark.parametrize("index", range(len(README_PLANS)))
def test_the_readmes_example_plans_are_what_the_dry_run_prints(
    index: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    case = next(c for c in CASES if c.id == README_PLANS[index])
    _play(case.machine, tmp_path, monkeypatch)
    result = CliRunner().invoke(
        cli, ["--dry-run", "--target", str(tmp_path / "t"), "--disable-telemetry"]
    )
    assert result.exit_code == 0, result.output
    printed = result.output.splitlines()
    for line in _readme_plans()[index]:
        assert line in printed, (line, result.output)
