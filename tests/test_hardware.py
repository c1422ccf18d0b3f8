"""Knowing the machine: accelerator detection with real tool executables, the torch build it
leads to, what preflight and --dry-run show, and what telemetry keeps (coarse only)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from installer.hardware import (
    DETECT_LIMIT,
    PLATFORM_ENV,
    Hardware,
    cuda_for_driver,
    detect,
    driver_from_windows,
)
from installer.manifest import load_manifest
from installer.torch_plan import plan_torch
from otel_local_exporter import load_sessions
from tests.gpu_tools import (
    A100_X2_550,
    BUS_ID,
    COMPUTER_NAME,
    GPU_UUID,
    GTX_1080_470,
    NO_DRIVER,
    PNP_INSTANCE,
    PNP_SUBSYS,
    ROCM_SMI_VRAM,
    ROCMINFO_7900XTX,
    RTX_3090_535,
    RTX_5090_580,
    install_tool,
    install_wmi,
    nvidia,
    pnp,
    running,
    started_pids,
    use_path,
    wmi_json,
)

GIB = 2**30
LINUX = {"system": "Linux", "machine": "x86_64"}


@pytest.fixture
def bin_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "bin"
    use_path(monkeypatch, folder)
    monkeypatch.setenv("ROCM_PATH", str(tmp_path / "no-rocm"))
    return folder


@pytest.mark.parametrize(
    ("query", "cuda", "model", "count", "vram", "driver_major", "expected_cuda"),
    [
        (RTX_3090_535, "12.2", "NVIDIA GeForce RTX 3090", 1, 24, 535, "12.2"),
        (A100_X2_550, "12.4", "NVIDIA A100-SXM4-80GB", 2, 80, 550, "12.4"),
        (GTX_1080_470, "11.4", "NVIDIA GeForce GTX 1080", 1, 8, 470, "11.4"),
        (RTX_5090_580, "13.0", "NVIDIA GeForce RTX 5090", 1, 32, 580, "13.0"),
        (RTX_3090_535, None, "NVIDIA GeForce RTX 3090", 1, 24, 535, "12.2"),  # from the table
    ],
)
def test_nvidia_detected_from_nvidia_smi(
    bin_dir: Path,
    query: str,
    cuda: str | None,
    model: str,
    count: int,
    vram: int,
    driver_major: int,
    expected_cuda: str,
) -> None:
    nvidia(bin_dir, query, cuda)
    found = detect(**LINUX)
    assert found.accelerator == "nvidia" and found.source == "detected"
    assert (found.gpu_model, found.gpu_count, found.vram_gib) == (model, count, vram)
    assert found.driver_major == driver_major
    assert found.cuda_version == expected_cuda
    assert GPU_UUID not in repr(found) and BUS_ID not in repr(found)


def test_a_failing_nvidia_smi_means_cpu_with_the_reason(bin_dir: Path) -> None:
    install_tool(bin_dir, "nvidia-smi", stderr=NO_DRIVER, plain=NO_DRIVER, code=9)
    found = detect(**LINUX)
    assert found.accelerator == "cpu"
    assert "nvidia-smi exited with code 9" in (found.reason or "")
    assert "communicate with the NVIDIA driver" in (found.reason or "")


def test_hanging_tools_share_one_deadline_and_are_killed_with_their_children(
    bin_dir: Path,
) -> None:
    """Two tools that never answer cost the deadline once (they are asked at the same time),
    and each is killed together with the child it started: nothing is left running."""
    install_tool(bin_dir, "nvidia-smi", hang=True)
    install_tool(bin_dir, "rocminfo", hang=True)
    started = time.monotonic()
    found = detect(timeout=1, **LINUX)
    took = time.monotonic() - started
    assert found.accelerator == "cpu"
    assert "nvidia-smi did not answer within detection's 1 s" in (found.reason or "")
    assert "rocminfo did not answer within detection's 1 s" in (found.reason or "")
    assert took < 1.0 + 0.5, took  # one deadline, not one per tool (2 s)
    pids = started_pids(bin_dir, "nvidia-smi") + started_pids(bin_dir, "rocminfo")
    assert len(pids) == 4  # each tool once (a hanging nvidia-smi is not asked again), + child
    deadline = time.monotonic() + 2
    while any(running(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [pid for pid in pids if running(pid)]


def test_the_default_deadline_holds_on_windows_with_wmi_and_nvidia_smi_hanging(
    bin_dir: Path,
) -> None:
    install_tool(bin_dir, "nvidia-smi", hang=True)
    install_tool(bin_dir, "powershell", hang=True)
    install_tool(bin_dir, "wmic", hang=True)
    started = time.monotonic()
    found = detect(system="Windows", machine="AMD64")
    took = time.monotonic() - started
    assert found.accelerator == "cpu" and took < 2.0, (took, found.reason)
    assert DETECT_LIMIT < 2.0
    assert "powershell did not answer" in (found.reason or "")
    assert "wmic not asked: detection's" in (found.reason or "")  # the deadline was used up


def test_nonsense_output_means_cpu(bin_dir: Path) -> None:
    install_tool(bin_dir, "nvidia-smi", query="No devices were found\n")
    found = detect(**LINUX)
    assert (
        found.accelerator == "cpu"
        and found.reason == "nvidia-smi listed no GPU; rocminfo not found"
    )


def test_amd_detected_from_rocminfo_rocm_smi_and_the_version_file(
    bin_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_tool(bin_dir, "rocminfo", plain=ROCMINFO_7900XTX)
    install_tool(bin_dir, "rocm-smi", query=ROCM_SMI_VRAM)
    rocm = tmp_path / "rocm"
    (rocm / ".info").mkdir(parents=True)
    (rocm / ".info" / "version").write_text("6.4.1-120\n")
    monkeypatch.setenv("ROCM_PATH", str(rocm))
    found = detect(**LINUX)
    assert found.accelerator == "amd"
    assert (found.gpu_model, found.gpu_count, found.vram_gib) == ("AMD Radeon RX 7900 XTX", 1, 24)
    assert found.rocm_version == "6.4" and found.driver_version == "6.8.5"
    assert "GPU-6e8b" not in repr(found)


WMI_ADAPTERS = (
    ("AMD Radeon RX 7900 XTX", pnp("0x1002", "0x744c"), 4293918720, "32.0.12033.1030"),
    ("Intel(R) UHD Graphics 770", pnp("0x8086", "0x4680"), 2147483648, "31.0.101.4502"),
)


@pytest.mark.parametrize("wmic", [False, True], ids=["powershell-json", "wmic-csv"])
def test_windows_adapters_from_wmi_keep_only_coarse_facts(bin_dir: Path, wmic: bool) -> None:
    """AMD on Windows is found through WMI (card, gfx target from its PCI id), and the torch
    plan says why it gets the CPU build; the device id's subsystem and instance path and
    wmic's computer name are never kept."""
    install_wmi(bin_dir, WMI_ADAPTERS, wmic=wmic)
    found = detect(system="Windows", machine="AMD64")
    assert (found.accelerator, found.gpu_model, found.gfx_target) == (
        "amd",
        "AMD Radeon RX 7900 XTX",
        "gfx1100",
    )
    assert found.vram_gib is None  # AdapterRAM stops at 4 GiB: not a size to believe
    for secret in (PNP_SUBSYS, PNP_INSTANCE, COMPUTER_NAME, "4680"):
        assert secret not in repr(found)
    plan = plan_torch(load_manifest(), found)
    assert plan is not None and plan.build.name == "cpu" and plan.rule == "no_build"
    assert "PyTorch publishes rocm6.4 for Linux only" in (plan.reason or "")


def test_nvidia_driver_number_from_the_windows_driver_version() -> None:
    assert driver_from_windows("32.0.15.6094") == "560.94"
    assert driver_from_windows("31.0.15.2849") == "528.49"
    assert driver_from_windows("32.0.15.8115") == "581.15"
    assert driver_from_windows("garbage") is None


def test_platform_can_be_played_from_the_environment(
    bin_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_wmi(bin_dir, (("Intel(R) Arc(TM) A770 Graphics", pnp("0x8086", "0x56a0"), 0, "32"),))
    monkeypatch.setenv(PLATFORM_ENV, "Windows/AMD64")
    found = detect()
    assert (found.accelerator, found.gpu_model, found.os) == ("intel", "Intel Arc A770", "Windows")


@pytest.mark.parametrize(("machine", "accelerator"), [("arm64", "apple"), ("x86_64", "cpu")])
def test_apple_silicon_from_the_platform(bin_dir: Path, machine: str, accelerator: str) -> None:
    found = detect(system="Darwin", machine=machine)
    assert found.accelerator == accelerator


def test_gpu_option_overrides_and_versions_pin(bin_dir: Path) -> None:
    nvidia(bin_dir, RTX_3090_535, "12.2")
    forced_cpu = detect("cpu", **LINUX)
    assert forced_cpu.accelerator == "cpu" and forced_cpu.source == "option"
    assert forced_cpu.describe() == "CPU only (--gpu cpu)"
    pinned = detect(cuda_version="12.6", **LINUX)
    assert pinned.cuda_version == "12.6" and pinned.gpu_model == "NVIDIA GeForce RTX 3090"
    assert detect("amd", **LINUX).accelerator == "amd"  # forced, though rocminfo is absent


def test_cuda_for_driver_follows_nvidias_table() -> None:
    assert cuda_for_driver("580.65.06") == "13.0"
    assert cuda_for_driver("570.86.10") == "12.8"
    assert cuda_for_driver("535.104.05") == "12.2"
    assert cuda_for_driver("390.12") is None
    assert cuda_for_driver("garbage") is None


# -- the torch build ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("hardware", "build", "reason"),
    [
        (Hardware(), "cpu", None),
        (Hardware(accelerator="nvidia", cuda_version="13.0"), "cu130", None),
        (Hardware(accelerator="nvidia", cuda_version="12.9"), "cu128", None),
        # NVIDIA's minor-version compatibility: any 12.x driver runs every 12.x build.
        (Hardware(accelerator="nvidia", cuda_version="12.6"), "cu128", None),
        (Hardware(accelerator="nvidia", cuda_version="12.2"), "cu128", None),
        (Hardware(accelerator="nvidia", cuda_version="11.8"), "cpu", "update the NVIDIA driver"),
        (Hardware(accelerator="nvidia"), "cu130", None),  # no version known: the newest
        (Hardware(accelerator="amd", rocm_version="6.4"), "rocm6.4", None),
        (Hardware(accelerator="apple"), "mps", None),
    ],
)
def test_default_manifest_picks_the_build_the_driver_supports(
    hardware: Hardware, build: str, reason: str | None
) -> None:
    plan = plan_torch(load_manifest(), hardware)
    assert plan is not None and plan.build.name == build
    if reason:
        assert reason in (plan.reason or "")
    else:
        assert plan.reason is None
    assert plan.index == plan.build.index and not plan.index_overridden


def test_torch_index_option_replaces_only_the_index() -> None:
    hardware = Hardware(accelerator="nvidia", cuda_version="12.8")
    plan = plan_torch(load_manifest(), hardware, "https://mirror.example/simple")
    assert plan is not None and plan.build.name == "cu128"
    assert plan.index == "https://mirror.example/simple" and plan.index_overridden
    assert "(--torch-index)" in plan.describe()


def test_default_manifest_points_at_comfy_org_with_a_release_date() -> None:
    manifest = load_manifest()
    assert manifest.comfyui_repo == "https://github.com/Comfy-Org/ComfyUI.git"
    assert manifest.comfyui_released is not None
    assert {b.accelerator for b in manifest.torch_builds} == {
        "cpu",
        "nvidia",
        "amd",
        "intel",
        "apple",
    }


# -- on screen and in telemetry ------------------------------------------------------------------


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "installer", *args], capture_output=True, text=True, timeout=120
    )


def test_dry_run_shows_hardware_and_the_torch_build(bin_dir: Path, tmp_path: Path) -> None:
    nvidia(bin_dir, A100_X2_550, "12.8")
    done = run_cli("--dry-run", "--target", str(tmp_path / "t"))
    assert done.returncode == 0, done.stderr
    assert (
        "Hardware: NVIDIA A100-SXM4-80GB x2, compute 8.0, 80 GiB, driver 550.54.15, CUDA 12.8"
        in done.stdout
    )
    assert "Torch: torch build cu128" in done.stdout
    assert "https://download.pytorch.org/whl/cu128" in done.stdout
    assert not (tmp_path / "t").exists()
    pinned = run_cli("--dry-run", "--target", str(tmp_path / "t"), "--gpu", "cpu")
    assert "Hardware: CPU only (--gpu cpu)" in pinned.stdout
    assert "Torch: torch build cpu" in pinned.stdout


def test_preflight_records_a_coarse_profile_never_uuid_or_bus_id(
    bin_dir: Path, tmp_path: Path, consented_home: Path
) -> None:
    nvidia(bin_dir, RTX_3090_535, "12.2")
    done = run_cli("--target", str(tmp_path / "t"), "--only", "preflight", "--no-models")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "hardware: NVIDIA GeForce RTX 3090, compute 8.6, 24 GiB" in done.stdout
    assert "torch: torch build cu128" in done.stdout  # driver 535 runs CUDA 12.8 (MVC)
    [stored] = load_sessions(consented_home).files
    text = stored.path.read_text()
    system = json.loads(text)["events"][0]["system_info"]
    assert system["accelerator"] == "nvidia"
    assert system["gpu_model"] == "NVIDIA GeForce RTX 3090"
    assert (system["vram_gib"], system["driver_major"], system["cuda_version"]) == (24, 535, "12.2")
    assert system["torch_build"] == "cu128"
    assert (system["compute_capability"], system["build_rule"]) == ("8.6", "driver_mvc")
    for secret in (GPU_UUID, BUS_ID, "535.104.05"):  # full driver version is not kept either
        assert secret not in text


def test_usage_analytics_off_keeps_no_hardware(
    bin_dir: Path, tmp_path: Path, consented_home: Path
) -> None:
    from otel_local_exporter import TelemetryConfig

    config = TelemetryConfig.load(consented_home)
    config.usage_analytics_enabled = False
    config.save()
    nvidia(bin_dir, RTX_3090_535, "12.2")
    run_cli("--target", str(tmp_path / "t"), "--only", "preflight", "--no-models")
    [stored] = load_sessions(consented_home).files
    text = stored.path.read_text()
    assert "RTX 3090" not in text and "installer.system.accelerator" not in text


def test_windows_nvidia_smi_hanging_the_card_still_comes_from_wmi(bin_dir: Path) -> None:
    """nvidia-smi.exe and WMI are asked at the same time: a hanging nvidia-smi.exe does not
    keep WMI from answering, and the line says which of the two told what."""
    install_tool(bin_dir, "nvidia-smi", hang=True)
    adapter = ("NVIDIA GeForce RTX 4070", pnp("0x10de", "0x2786"), 4293918720, "32.0.15.6094")
    install_wmi(bin_dir, (adapter,))
    found = detect(timeout=1, system="Windows", machine="AMD64")
    assert (found.accelerator, found.gpu_model, found.compute_capability) == (
        "nvidia",
        "NVIDIA GeForce RTX 4070",
        "8.9",
    )
    assert found.driver_version == "560.94" and found.cuda_version == "12.6"
    assert (found.reason or "").startswith(
        "nvidia-smi did not answer within detection's 1 s: card and"
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda t: t["builds"][1].update(os=["beos"]), "os must be a list"),
        (lambda t: t.update(retired={"3.7": "2.7"}), "torch.retired must be a list"),
        (lambda t: t["retired"][0].update(compute="Kepler"), "compute must look like 3.7"),
        (lambda t: t["retired"][0].pop("source"), "source"),
    ],
)
def test_the_manifest_checks_build_oses_and_retired_cards(
    tmp_path: Path, change: object, message: str
) -> None:
    from installer.errors import ConfigurationError

    bundled = Path(__file__).parent.parent / "installer" / "data" / "manifest.json"
    data = json.loads(bundled.read_text())
    change(data["torch"])  # type: ignore[operator]
    path = tmp_path / "manifest.json"
    for name in ("webgui", "workflows"):  # relative to the manifest: point back at the bundle
        data[name] = str(bundled.parent / data[name])
    path.write_text(json.dumps(data))
    with pytest.raises(ConfigurationError, match=message):
        load_manifest(path)


# -- Windows: VRAM above AdapterRAM's 32-bit cap, from the display class's registry keys -------

CAPPED = 4293918720  # what WMI's AdapterRAM says for any card of 4 GiB or more
RTX_4070_WMI = ("NVIDIA GeForce RTX 4070", pnp("0x10de", "0x2786"), CAPPED, "32.0.15.6094")


def _registry(*keys: tuple[str, str, object]) -> str:
    """What the registry half of the PowerShell call prints: (MatchingDeviceId, DriverDesc,
    HardwareInformation.qwMemorySize) per display-class key; one key is an object."""
    rows = [
        {"MatchingDeviceId": ids, "DriverDesc": name, "HardwareInformation.qwMemorySize": size}
        for ids, name, size in keys
    ]
    return json.dumps(rows[0] if len(rows) == 1 else rows, indent=4).replace("&", "\\u0026")


def _powershell(bin_dir: Path, adapters: tuple, registry: str) -> None:
    """PowerShell answering the one call detection makes: the adapters' JSON, the marker line,
    the registry keys' JSON (empty when no key has the fields)."""
    text = wmi_json(adapters) + "DINOAIR-DISPLAY-REGISTRY\n" + (registry + "\n" if registry else "")
    install_tool(bin_dir, "powershell", plain=text)


def test_windows_vram_above_4_gib_comes_from_the_registry_matched_by_pci_id(
    bin_dir: Path,
) -> None:
    """An RTX 4070 known only through WMI (no nvidia-smi.exe): AdapterRAM stops at 4 GiB, the
    driver's 64-bit qwMemorySize says 12 GiB. The key of a card removed long ago (another
    device id, 6 GiB) stays in the registry and is not taken; the subsystem id in
    MatchingDeviceId is never kept."""
    registry = _registry(
        (f"pci\\ven_10de&dev_1f08&{PNP_SUBSYS.lower()}", "NVIDIA GeForce RTX 2060", 6 * GIB),
        ("pci\\ven_10de&dev_2786", "NVIDIA GeForce RTX 4070", 12 * GIB),
    )
    _powershell(bin_dir, (RTX_4070_WMI,), registry)
    found = detect(system="Windows", machine="AMD64")
    assert (found.gpu_model, found.vram_gib) == ("NVIDIA GeForce RTX 4070", 12)
    assert "12 GiB" in found.describe()
    assert PNP_SUBSYS not in repr(found) and PNP_SUBSYS.lower() not in repr(found)


def test_windows_vram_by_the_adapters_name_when_the_key_has_no_pci_id(bin_dir: Path) -> None:
    adapter = ("AMD Radeon RX 7900 XTX", pnp("0x1002", "0x744c"), CAPPED, "32.0.12033.1030")
    _powershell(bin_dir, (adapter,), _registry(("", "AMD Radeon RX 7900 XTX", 24 * GIB)))
    assert detect(system="Windows", machine="AMD64").vram_gib == 24


@pytest.mark.parametrize(
    "registry",
    [
        "",  # no key has the value (an older driver writes only the 32-bit MemorySize)
        _registry(  # two keys for the same card that disagree: which is this one?
            ("pci\\ven_10de&dev_2786", "NVIDIA GeForce RTX 4070", 12 * GIB),
            ("pci\\ven_10de&dev_2786", "NVIDIA GeForce RTX 4070", 8 * GIB),
        ),
        _registry(("pci\\ven_10de&dev_2786", "NVIDIA GeForce RTX 4070", 2 * GIB)),  # < the cap
        _registry(("pci\\ven_10de&dev_2786", "NVIDIA GeForce RTX 4070", "garbage")),
    ],
    ids=["no-value", "keys-disagree", "below-the-cap", "not-a-number"],
)
def test_windows_vram_is_unknown_rather_than_wrong(
    bin_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, registry: str
) -> None:
    """Nothing reliable for a capped card: the VRAM is unknown, and the plan says so (no
    ``4 GiB``, no ``--lowvram`` for a card at that cap), through the real ``--dry-run``."""
    from click.testing import CliRunner

    from installer.cli import cli

    _powershell(bin_dir, (RTX_4070_WMI,), registry)
    found = detect(system="Windows", machine="AMD64")
    assert found.vram_gib is None
    monkeypatch.setenv(PLATFORM_ENV, "Windows/AMD64")
    target = tmp_path / "target"
    result = CliRunner().invoke(cli, ["--dry-run", "--target", str(target), "--disable-telemetry"])
    assert result.exit_code == 0, result.output
    line = next(x for x in result.output.splitlines() if x.startswith("Hardware: "))
    assert line.startswith("Hardware: NVIDIA GeForce RTX 4070, compute 8.9, VRAM unknown, driver")
    assert "4 GiB" not in result.output and "--lowvram" not in result.output


def test_windows_wmic_gives_no_vram_above_the_cap(bin_dir: Path) -> None:
    """wmic (no PowerShell) cannot read the registry's size: above the cap the VRAM is unknown."""
    install_wmi(bin_dir, (RTX_4070_WMI,), wmic=True)
    found = detect(system="Windows", machine="AMD64")
    assert found.vram_gib is None and "VRAM unknown" in found.describe()
