"""Knowing the machine: accelerator detection with real tool executables, the torch build it
leads to, what preflight and --dry-run show, and what telemetry keeps (coarse only)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from installer.hardware import Hardware, cuda_for_driver, detect
from installer.manifest import load_manifest
from installer.torch_plan import plan_torch
from otel_local_exporter import load_sessions
from tests.gpu_tools import (
    A100_X2_550,
    BUS_ID,
    GPU_UUID,
    GTX_1080_470,
    NO_DRIVER,
    ROCM_SMI_VRAM,
    ROCMINFO_7900XTX,
    RTX_3090_535,
    RTX_5090_580,
    install_tool,
    nvidia,
    use_path,
)

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


def test_a_hanging_tool_means_cpu_within_the_timeout(bin_dir: Path) -> None:
    install_tool(bin_dir, "nvidia-smi", hang=True)
    install_tool(bin_dir, "rocminfo", hang=True)
    found = detect(timeout=1, **LINUX)
    assert found.accelerator == "cpu"
    assert "nvidia-smi did not answer within 1 s" in (found.reason or "")
    assert "rocminfo did not answer within 1 s" in (found.reason or "")


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


def test_amd_on_windows_is_cpu(bin_dir: Path) -> None:
    install_tool(bin_dir, "rocminfo", plain=ROCMINFO_7900XTX)
    found = detect(system="Windows", machine="AMD64")
    assert found.accelerator == "cpu" and "Linux only" in (found.reason or "")


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
