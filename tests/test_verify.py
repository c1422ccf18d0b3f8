"""verify: torch's device and ComfyUI's own quick test, with the stand-in ComfyUI whose quick
test passes, fails and hangs; a GPU machine whose torch sees no GPU; re-verification only when
the venv or the checkout changed; a torch build other than the chosen one, as torch reports it."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import git
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from fixtures.demo_fixture import Fixture, add_untagged_torch, build_fixture, torch_section
from fixtures.package_index import PackageIndex
from installer.context import InstallContext, StepSkipped
from installer.errors import INSTALLATION, SYSTEM, InstallError
from installer.hardware import Hardware
from installer.runner import ROOT_SPAN, run_install
from installer.steps import comfyui, finalize, preflight, python_deps, verify
from tests.contexts import Events, make_ctx


def _only_index(patch: pytest.MonkeyPatch, url: str, cache: Path) -> None:
    """conftest's package_settings for a module-scoped install (it runs before that fixture):
    the machine's pip/uv configuration hidden, ``url`` the only index."""
    for name in list(os.environ):
        if name.startswith(("PIP_", "UV_")):
            patch.delenv(name)
    patch.setenv("PIP_CONFIG_FILE", os.devnull)
    patch.setenv("PIP_INDEX_URL", url)
    patch.setenv("UV_CACHE_DIR", str(cache))


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Fixture, Path]]:
    """A real checkout and venv (stand-in torch), installed once for the module."""
    root = tmp_path_factory.mktemp("verify")
    demo = build_fixture(root / "fixture", model_base_url="http://127.0.0.1:9")
    target = root / "DinoAir"
    with pytest.MonkeyPatch.context() as patch:
        _only_index(patch, demo.torch_index, root / "uv-cache")
        ctx = make_ctx(target, demo.manifest)
        comfyui.run(ctx)
        python_deps.run(ctx)
    yield demo, target


@pytest.fixture(scope="module")
def untagged(
    installed: tuple[Fixture, Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Path, Path, str]]:
    """Installed as `make real-install` does here: the cpu build chosen, the index (PyPI, via
    --torch-index) serving plain `torch 2.8.0`, which imports as `2.8.0+cu128`."""
    demo, _ = installed
    root = tmp_path_factory.mktemp("untagged")
    index = PackageIndex()
    add_untagged_torch(index)
    url = index.write_directory(root / "pypi")
    data = json.loads(demo.manifest.read_text())
    data["torch"] = torch_section("https://download.pytorch.org/whl/cpu")  # replaced: --torch-index
    for build in data["torch"]["builds"]:
        build["requirements"] = ["torch", "torchvision", "torchaudio"]
    manifest = root / "manifest.json"
    manifest.write_text(json.dumps(data))
    with pytest.MonkeyPatch.context() as patch:
        _only_index(patch, url, root / "uv-cache")
        ctx = make_ctx(root / "DinoAir", manifest, torch_index=url)
        comfyui.run(ctx)
        python_deps.run(ctx)  # the build check passes: uv reports plain 2.8.0
    assert ctx.outcomes["python_deps"]["torch"]["torch"] == "2.8.0"
    yield root / "DinoAir", manifest, url


@pytest.fixture
def ctx(installed: tuple[Fixture, Path], monkeypatch: pytest.MonkeyPatch) -> InstallContext:
    demo, target = installed
    (python_deps.venv_dir(make_ctx(target, demo.manifest)) / verify.VERIFIED_NAME).unlink(
        missing_ok=True
    )
    monkeypatch.delenv("DINOAIR_DEMO_QUICK_TEST", raising=False)
    monkeypatch.delenv("DINOAIR_DEMO_TORCH_DEVICE", raising=False)
    return make_ctx(target, demo.manifest, [], verify_timeout=20)


def test_a_working_install_passes_and_is_not_verified_again(ctx: InstallContext) -> None:
    events: Events = []
    ctx._sink = lambda n, a: events.append((n, a))
    verify.run(ctx)
    outcome = ctx.outcomes["verify"]
    assert outcome["device"] == "cpu" and outcome["torch"] == "2.8.0+cpu"
    assert outcome["quick_test"] == "passed" and outcome["flags"] == ["--cpu"]
    assert ctx.system["installer.system.torch_device"] == "cpu"
    assert ctx.system["installer.system.torch_build"] == "cpu"
    assert outcome["torch_build"] == outcome["torch_build_chosen"] == "cpu"
    assert [n for n, _ in events] == ["torch_checked", "quick_test_passed", "stack_checked"]
    assert outcome["stack"] == {"comfyui_device": "cpu", "webgui": "answered"}
    log = (ctx.logs_dir / verify.LOG_NAME).read_text()
    assert "quick test passed --quick-test-for-ci --cpu" in log
    assert verify.describe(ctx).startswith("skip")
    with pytest.raises(StepSkipped) as info:
        verify.run(ctx)
    assert info.value.reason == "already_verified"


def test_a_changed_checkout_is_verified_again(ctx: InstallContext) -> None:
    verify.run(ctx)
    with git.Repo(ctx.comfyui_dir) as repo:  # another commit in place (an update by hand)
        repo.git.update_environment(
            GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@t.invalid",
            GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@t.invalid",
        )  # fmt: skip
        repo.git.commit("-q", "--allow-empty", "-m", "local change")
    try:
        assert not verify.describe(ctx).startswith("skip")
        verify.run(ctx)  # runs, does not skip
    finally:
        with git.Repo(ctx.comfyui_dir) as repo:
            repo.git.reset("-q", "--hard", "v0.0.1-demo")


def test_a_comfyui_that_cannot_start_is_installation_with_a_sanitized_tail(
    ctx: InstallContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DINOAIR_DEMO_QUICK_TEST", "fail")
    with pytest.raises(InstallError) as info:
        verify.run(ctx)
    assert info.value.category == INSTALLATION
    message = str(info.value)
    assert "ComfyUI cannot start (quick test exit code 1)" in message
    assert "ModuleNotFoundError: No module named 'requests'" in message
    assert str(Path.home()) not in message or str(Path.home()) == "/"
    assert not (python_deps.venv_dir(ctx) / verify.VERIFIED_NAME).exists()


def test_a_hanging_comfyui_is_stopped_at_the_timeout(
    installed: tuple[Fixture, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    demo, target = installed
    monkeypatch.setenv("DINOAIR_DEMO_QUICK_TEST", "hang")
    ctx = make_ctx(target, demo.manifest, verify_timeout=2)
    started = time.monotonic()
    with pytest.raises(InstallError) as info:
        verify.run(ctx)
    assert time.monotonic() - started < 15
    # A part that never answers within --verify-timeout is the machine's, as in the stack
    # check's table (docs/stack.md): the hint names the part, its log and the flag.
    assert info.value.category == SYSTEM
    assert "ComfyUI's quick test did not finish within 2 s" in str(info.value)
    hint = info.value.hint or ""
    assert f"the quick test's output is in {ctx.logs_dir / verify.LOG_NAME}" in hint
    assert "re-run with a longer --verify-timeout (it was 2 s)" in hint


def test_a_gpu_machine_whose_torch_sees_no_gpu_is_a_system_failure(
    installed: tuple[Fixture, Path], tmp_path: Path
) -> None:
    demo, target = installed
    data = json.loads(demo.manifest.read_text())
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps(data))
    ctx = make_ctx(target, manifest)
    # The driver reports CUDA 12.8, so the cu128 build is the plan; its torch sees no GPU.
    ctx.hardware = Hardware(
        accelerator="nvidia",
        gpu_model="NVIDIA GeForce GTX 1080",
        driver_version="470.256.02",
        cuda_version="12.8",
    )
    with pytest.raises(InstallError) as info:
        verify.run(ctx)
    assert info.value.category == SYSTEM
    assert "sees no GPU (cpu) although this machine has NVIDIA GeForce GTX 1080" in str(info.value)
    # The venv holds torch 2.8.0+cpu: the hint names the build that arrived, not the driver.
    hint = info.value.hint or ""
    assert "torch 2.8.0+cpu is the cpu build, not the cu128 build chosen" in hint
    assert "served a different build" in hint and "--torch-index" in hint
    assert "update the NVIDIA driver" not in hint
    assert ctx.system["installer.system.torch_device"] == "cpu"
    assert ctx.system["installer.system.torch_build"] == "cpu"


def test_a_cuda_torch_where_the_cpu_build_was_chosen_warns_and_tells_the_truth(
    untagged: tuple[Path, Path, str],
) -> None:
    target, manifest, url = untagged
    (python_deps.venv_dir(make_ctx(target, manifest)) / verify.VERIFIED_NAME).unlink(
        missing_ok=True
    )
    events: Events = []
    lines: list[str] = []
    ctx = make_ctx(target, manifest, events, torch_index=url)
    ctx.echo = lines.append
    ctx.outcomes["python_deps"] = {"torch_build": "cpu"}  # as python_deps recorded it
    verify.run(ctx)  # runs on the processor: not a failure
    outcome = ctx.outcomes["verify"]
    assert outcome["torch"] == "2.8.0+cu128" and outcome["device"] == "cpu"
    assert outcome["torch_build"] == "cu128" and outcome["torch_build_chosen"] == "cpu"
    assert outcome["flags"] == ["--cpu"]
    assert ("torch_build_mismatch", {"chosen_build": "cpu", "seen_build": "cu128"}) in events
    warning = next(line for line in lines if "warning" in line)
    assert "the cpu torch build was chosen but cu128 arrived" in warning
    assert f"the torch index {url} (--torch-index) served a different build" in warning
    assert "GB of GPU libraries" in warning
    assert ctx.system["installer.system.torch_build"] == "cu128"
    finalize.run(ctx)
    summary = json.loads((target / finalize.SUMMARY).read_text())
    assert summary["installed"]["python_deps"]["torch_build"] == "cu128"
    assert summary["installed"]["verify"]["torch_build"] == "cu128"
    again = make_ctx(
        target, manifest, torch_index=url
    )  # a re-run skips verify and still tells the truth
    with pytest.raises(StepSkipped):
        verify.run(again)
    assert again.system["installer.system.torch_build"] == "cu128"


def test_the_root_span_records_the_build_that_arrived_not_the_one_chosen(
    untagged: tuple[Path, Path, str],
) -> None:
    target, manifest, url = untagged
    (python_deps.venv_dir(make_ctx(target, manifest)) / verify.VERIFIED_NAME).unlink(
        missing_ok=True
    )
    spans = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    ctx = make_ctx(target, manifest, torch_index=url)
    result = run_install((preflight.STEP, verify.STEP), ctx, provider.get_tracer("t"))
    provider.shutdown()
    assert result.exit_code == 0
    finished = {span.name: span for span in spans.get_finished_spans()}
    root = finished[ROOT_SPAN].attributes or {}
    assert root["installer.system.torch_build"] == "cu128"  # preflight said cpu, the plan
    events = [e for e in finished["dinoair.step.verify"].events if e.name == "torch_build_mismatch"]
    assert [dict(e.attributes or {}) for e in events] == [
        {"chosen_build": "cpu", "seen_build": "cu128"}
    ]


def test_a_cuda_torch_without_the_gpu_on_an_nvidia_machine_points_at_the_driver(
    untagged: tuple[Path, Path, str],
) -> None:
    target, manifest, url = untagged
    events: Events = []
    ctx = make_ctx(target, manifest, events, torch_index=url)
    ctx.hardware = Hardware(accelerator="nvidia", cuda_version="12.8", gpu_model="GPU X")
    with pytest.raises(InstallError) as info:
        verify.run(ctx)  # cu128 chosen and arrived, but the stand-in sees no GPU
    assert info.value.category == SYSTEM
    assert "update the NVIDIA driver" in (info.value.hint or "")
    assert ctx.system["installer.system.torch_build"] == "cu128"
    assert "torch_build_mismatch" not in [name for name, _ in events]


def test_a_gpu_that_torch_sees_passes_without_cpu_flag(
    installed: tuple[Fixture, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    demo, target = installed
    monkeypatch.setenv("DINOAIR_DEMO_TORCH_DEVICE", "cuda")
    ctx = make_ctx(target, demo.manifest)
    ctx.hardware = Hardware(accelerator="nvidia", cuda_version="12.8")
    verify.run(ctx)
    assert ctx.outcomes["verify"]["device"] == "cuda"
    assert ctx.outcomes["verify"]["flags"] == []


def test_nothing_to_verify_when_the_install_steps_were_left_out(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path / "t", None)  # the bundled manifest
    assert verify.skip_if(ctx) == "nothing_installed"
    # The reason is the skip's to give (the run's line, the dry-run plan in words); describe
    # says what verify does, which the plan shows when comfyui and python_deps run first.
    assert verify.describe(ctx).startswith("import torch in the venv")


_NO_KERNEL_TORCH = '''\
"""A CUDA 13.0 torch on a Pascal card: it imports, sees the GPU, and has no kernel for it."""
import types

__version__ = "2.9.0+cu130"
version = types.SimpleNamespace(cuda="13.0", hip=None)
float16, float32 = "float16", "float32"
cuda = types.SimpleNamespace(
    is_available=lambda: True, device_count=lambda: 1, get_device_capability=lambda i=0: (6, 1)
)
backends = types.SimpleNamespace(mps=None)


def matmul(*args):
    raise AssertionError("not reached")


def Generator():
    raise RuntimeError("CUDA error: no kernel image is available for execution on the device")
'''


def _with_bundled_torch(
    demo: Fixture, target: Path, tmp_path: Path, **options: object
) -> InstallContext:
    """A context for the installed target whose manifest has the bundled torch builds, not yet
    verified."""
    data = json.loads(demo.manifest.read_text())
    data["torch"] = json.loads(
        (Path(__file__).parent.parent / "installer" / "data" / "manifest.json").read_text()
    )["torch"]
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps(data))
    ctx = make_ctx(target, manifest, **options)
    (python_deps.venv_dir(ctx) / verify.VERIFIED_NAME).unlink(missing_ok=True)
    return ctx


def test_a_build_without_kernels_for_the_card_is_a_system_failure_naming_both_builds(
    installed: tuple[Fixture, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`torch.cuda.is_available()` is true, the matmul on the device fails: verify names the card,
    its compute capability, the build that arrived and the one that would work."""
    demo, target = installed
    shadow = tmp_path / "shadow" / "torch"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text(_NO_KERNEL_TORCH)
    monkeypatch.setenv("PYTHONPATH", str(shadow.parent))  # imported before the venv's torch
    ctx = _with_bundled_torch(demo, target, tmp_path)
    ctx.hardware = Hardware(
        accelerator="nvidia",
        gpu_model="NVIDIA GeForce GTX 1070",
        driver_version="580.65.06",
        compute_capability="6.1",
    )
    with pytest.raises(InstallError) as info:
        verify.run(ctx)
    assert info.value.category == SYSTEM
    assert str(info.value) == (
        "torch cu130 cannot run on the NVIDIA GeForce GTX 1070 (compute 6.1): RuntimeError: "
        "CUDA error: no kernel image is available for execution on the device"
    )
    assert (info.value.hint or "").startswith("the cu126 build would work")
    assert ctx.system["installer.system.kernel_test_passed"] is False


_TWO_CARDS_TORCH = '''\
"""Two GPUs, by PCI bus: 0 a GTX 1070 (compute 6.1), 1 an RTX 5090 (compute 12.0). torch sees the
5090 only when CUDA counts as nvidia-smi does and only card 1 is visible (then this shadow gives
way to the venv's torch); otherwise it sees the 1070, which a CUDA 13.0 torch has no kernels for."""
import os
import sys

_HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if os.environ.get("CUDA_DEVICE_ORDER") == "PCI_BUS_ID" and (
    os.environ.get("CUDA_VISIBLE_DEVICES") == "1"
):
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _HERE]
    del sys.modules[__name__]
    import torch  # noqa: F401  (the venv's torch takes this module's place)
else:
    exec(compile(open(os.path.join(_HERE, "no_kernel.py")).read(), "no_kernel", "exec"))
'''


def test_the_kernel_test_runs_on_the_card_comfyui_will_use(
    installed: tuple[Fixture, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With two kinds of GPU the plan names one (``--cuda-device 1``); verify's torch probe and
    quick test see exactly that card (CUDA_DEVICE_ORDER=PCI_BUS_ID, CUDA_VISIBLE_DEVICES=1), so
    the GTX 1070 the cu130 build has no kernels for does not fail an install that will not use
    it."""
    from installer.hardware import Gpu

    demo, target = installed
    shadow = tmp_path / "shadow"
    (shadow / "torch").mkdir(parents=True)
    (shadow / "torch" / "__init__.py").write_text(_TWO_CARDS_TORCH)
    (shadow / "no_kernel.py").write_text(_NO_KERNEL_TORCH)
    monkeypatch.setenv("PYTHONPATH", str(shadow))
    monkeypatch.setenv("DINOAIR_DEMO_TORCH_DEVICE", "cuda")
    monkeypatch.delenv("CUDA_DEVICE_ORDER", raising=False)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    ctx = _with_bundled_torch(demo, target, tmp_path)
    rtx, gtx = (
        Gpu("nvidia", "NVIDIA GeForce RTX 5090", 32, "12.0", index=1),
        Gpu("nvidia", "NVIDIA GeForce GTX 1070", 8, "6.1", index=0),
    )
    ctx.hardware = Hardware(
        accelerator="nvidia",
        gpu_model=rtx.model,
        gpu_count=2,
        vram_gib=32,
        driver_version="580.65.06",
        compute_capability="12.0",
        gpus=(rtx, gtx),
    )
    verify.run(ctx)
    assert ctx.outcomes["verify"]["flags"] == ["--cuda-device", "1"]
    assert ctx.outcomes["verify"]["device"] == "cuda"


_SECOND_CARD_NO_KERNEL = (
    _NO_KERNEL_TORCH.replace(
        "A CUDA 13.0 torch on a Pascal card", "A CUDA 12.8 torch on a GTX 1080 Ti"
    )
    .replace("2.9.0+cu130", "2.9.0+cu128")
    .replace('cuda="13.0"', 'cuda="12.8"')
)


def test_verify_names_the_card_comfyui_uses_not_the_biggest(
    installed: tuple[Fixture, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two NVIDIA cards from the stubbed nvidia-smi: an RTX 5090 (32 GiB, GPU 0) and a GTX 1080
    Ti (11 GiB, GPU 1), ``--cuda-version 12.6``. The cu126 build has no sm_120 kernels, so the
    plan gives ComfyUI the 1080 Ti (``--cuda-device 1``), not the card with the most VRAM. When
    the index serves cu128 instead and the kernel test fails on the 1080 Ti, every line names
    the 1080 Ti, its compute capability and the build that runs on it (cu126), not the 5090."""
    from installer.steps.preflight import detect_hardware
    from tests.gpu_tools import install_tool, use_path

    demo, target = installed
    bin_dir = tmp_path / "bin"
    use_path(monkeypatch, bin_dir)
    install_tool(
        bin_dir,
        "nvidia-smi",
        query="NVIDIA GeForce RTX 5090, 32607, 580.65.06, 12.0\n"
        "NVIDIA GeForce GTX 1080 Ti, 11264, 580.65.06, 6.1\n",
        plain="| NVIDIA-SMI 580.65.06   Driver Version: 580.65.06   CUDA Version: 13.0 |\n",
    )
    shadow = tmp_path / "shadow" / "torch"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text(_SECOND_CARD_NO_KERNEL)
    monkeypatch.setenv("PYTHONPATH", str(shadow.parent))
    ctx = _with_bundled_torch(demo, target, tmp_path, cuda_version="12.6")
    ctx.hardware = detect_hardware(ctx.options)
    assert ctx.hardware.gpu_model == "NVIDIA GeForce RTX 5090"  # the most VRAM, described first
    assert verify.device_flags(ctx) == ["--cuda-device", "1"]
    with pytest.raises(InstallError) as info:
        verify.run(ctx)
    assert info.value.category == SYSTEM
    assert str(info.value) == (
        "torch cu128 cannot run on the NVIDIA GeForce GTX 1080 Ti (compute 6.1): RuntimeError: "
        "CUDA error: no kernel image is available for execution on the device"
    )
    assert (info.value.hint or "").startswith("the cu126 build would work")
    assert "5090" not in str(info.value) + (info.value.hint or "")
