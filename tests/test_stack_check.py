"""verify's stack check: real processes on loopback, started, read and stopped.

ComfyUI is a small server answering /system_stats as ComfyUI does (tests/stack_target.py), the
web GUI is the real bundle served by the real server.py, Ollama the stand-in installed where the
installer puts it.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from pathlib import Path

import psutil
import pytest

from installer.context import InstallContext
from installer.stack_check import StackCheckError, check_stack, coarse_device
from tests.contexts import Events, make_ctx
from tests.stack_target import FAKE_COMFYUI, install_standin_ollama


def setup(tmp_path: Path, main_py: str = FAKE_COMFYUI) -> tuple[InstallContext, Events]:
    events: Events = []
    ctx = make_ctx(tmp_path / "t", None, events)
    ctx.comfyui_dir.mkdir(parents=True)
    (ctx.comfyui_dir / "main.py").write_text(main_py)
    return ctx, events


def no_children() -> bool:
    return not [p for p in psutil.Process().children(recursive=True) if p.status() != "zombie"]


def test_comfyui_and_the_gui_answer_and_the_device_joins_telemetry(tmp_path: Path) -> None:
    ctx, events = setup(tmp_path)
    install_standin_ollama(ctx.target)  # an earlier run's Ollama: its /api/version is read too
    seen = check_stack(ctx, Path(sys.executable), ["--cpu"], time.monotonic() + 60)
    assert seen == {"comfyui_device": "cpu", "webgui": "answered", "ollama": "answered"}
    assert ("stack_checked", seen) in events
    assert "--cpu" in (ctx.comfyui_dir / "started").read_text()  # the launch scripts' flags
    assert no_children()


@pytest.mark.parametrize(
    ("stats", "device"),
    [
        ({"devices": [{"type": "cuda", "name": "cuda:0 NVIDIA RTX of Alice"}]}, "cuda"),
        ({"devices": [{"type": "Weird-Accelerator"}]}, "other"),
        ({"devices": []}, "unknown"),
        ("not a dict", "unknown"),
    ],
)
def test_the_device_is_coarse(stats: object, device: str) -> None:
    assert coarse_device(stats) == device  # never the device's name (it may carry a person's)


def test_a_comfyui_that_exits_is_its_own_failure(tmp_path: Path) -> None:
    ctx, _ = setup(tmp_path, "import sys\nsys.exit('ImportError: no module named torch')\n")
    with pytest.raises(StackCheckError) as raised:
        check_stack(ctx, Path(sys.executable), [], time.monotonic() + 30)
    assert raised.value.part == "comfyui"
    assert str(raised.value) == (
        "ComfyUI stopped before it answered (exit code 1): ImportError: no module named torch"
    )
    assert "logs/verify-stack.log" in raised.value.hint
    assert no_children()


def test_a_comfyui_that_never_answers_times_out_within_the_verify_timeout(tmp_path: Path) -> None:
    ctx, _ = setup(tmp_path, "import time\ntime.sleep(60)\n")
    started = time.monotonic()
    with pytest.raises(StackCheckError) as raised:
        check_stack(ctx, Path(sys.executable), [], time.monotonic() + 1.5)
    assert time.monotonic() - started < 15
    assert raised.value.part == "comfyui"
    assert "did not answer on http://127.0.0.1 within the verify timeout" in str(raised.value)
    assert "--verify-timeout" in raised.value.hint
    assert no_children()


def test_a_gui_that_cannot_serve_is_its_own_failure(tmp_path: Path) -> None:
    ctx, _ = setup(tmp_path)
    bundle = tmp_path / "gui"
    bundle.mkdir()
    (bundle / "server.py").write_text("raise SystemExit('cannot listen')\n")
    ctx.manifest = dataclasses.replace(ctx.manifest, webgui_dir=bundle)
    with pytest.raises(StackCheckError) as raised:
        check_stack(ctx, Path(sys.executable), [], time.monotonic() + 30)
    assert raised.value.part == "webgui"
    assert str(raised.value).startswith("the web GUI stopped before it answered (exit code 1)")
    assert no_children()
