"""verify's stack check: real processes on loopback, started, read and stopped.

ComfyUI is a small server answering /system_stats as ComfyUI does (tests/stack_target.py), the
web GUI is the real bundle served by the real server.py, Ollama the stand-in installed where the
installer puts it.
"""

from __future__ import annotations

import dataclasses
import shutil
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from installer import ollama
from installer.bind_failure import DENIED, IN_USE, bind_failure
from installer.context import InstallContext
from installer.errors import INSTALLATION, SYSTEM, InstallError
from installer.manifest import load_manifest
from installer.stack_check import StackCheckError, check_stack, coarse_device
from installer.steps.verify import expected_device
from installer.torch_plan import plan_torch
from tests.contexts import Events, make_ctx
from tests.stack_target import FAKE_COMFYUI, install_standin_ollama

# A ComfyUI stand-in that binds the port in FAKE_COMFYUI_PORT instead of the one it was given:
# the check's port, held by another program's real socket (the test's), as a race would.
BINDS_HELD_PORT = """\
import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
ThreadingHTTPServer(("127.0.0.1", int(os.environ["FAKE_COMFYUI_PORT"])), BaseHTTPRequestHandler)
"""
# The same for a machine that forbids listening (a sandbox, a firewall rule), in Ollama's words.
LISTEN_DENIED = """\
import sys
sys.exit("Error: listen tcp 127.0.0.1:11434: bind: permission denied")
"""
TRACEBACK = """\
import torch_that_is_not_there
"""


def setup(
    tmp_path: Path, main_py: str = FAKE_COMFYUI, verify_timeout: float = 30
) -> tuple[InstallContext, Events]:
    events: Events = []
    ctx = make_ctx(tmp_path / "t", None, events, verify_timeout=verify_timeout)
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


def fails(ctx: InstallContext, budget: float = 30, device: str | None = None) -> StackCheckError:
    """The check's failure, within ``budget`` seconds; nothing it started is left running."""
    started = time.monotonic()
    with pytest.raises(StackCheckError) as raised:
        check_stack(ctx, Path(sys.executable), [], started + budget, device=device)
    assert time.monotonic() - started < budget + 15
    assert no_children()
    return raised.value


@pytest.fixture
def held_port() -> Iterator[int]:
    """A loopback port another program listens on: a real socket, held for the test."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        yield int(holder.getsockname()[1])


def gui_bundle(tmp_path: Path, server_py: str | None = None, page: bool = True) -> Path:
    """A copy of the bundled web GUI, its server.py replaced or its page removed."""
    bundle = tmp_path / "gui"
    shutil.copytree(load_manifest(None).webgui_dir, bundle)
    if server_py is not None:
        (bundle / "server.py").write_text(server_py)
    if not page:
        (bundle / "public" / "index.html").unlink()
    return bundle


def test_a_comfyui_that_exits_with_a_traceback_is_installation(tmp_path: Path) -> None:
    ctx, _ = setup(tmp_path, TRACEBACK)
    failure = fails(ctx)
    assert (failure.part, failure.cause, failure.category) == ("comfyui", "exited", INSTALLATION)
    assert str(failure) == (
        "ComfyUI stopped before it answered (exit code 1): "
        "ModuleNotFoundError: No module named 'torch_that_is_not_there'"
    )
    assert f"its output is in {ctx.logs_dir / 'verify-stack.log'}" in failure.hint
    assert "delete the venv folder" in failure.hint


def test_a_comfyui_whose_port_another_program_holds_is_system(
    tmp_path: Path, held_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_COMFYUI_PORT", str(held_port))
    ctx, _ = setup(tmp_path, BINDS_HELD_PORT)
    failure = fails(ctx)
    assert (failure.part, failure.cause, failure.category) == ("comfyui", "cannot_listen", SYSTEM)
    assert "another program holds that port (exit code 1)" in str(failure)
    assert failure.hint.startswith("re-run the installer: the check picks a free port each time")


def test_a_part_that_may_not_listen_is_system(tmp_path: Path) -> None:
    ctx, _ = setup(tmp_path)
    binary = install_standin_ollama(ctx.target)
    binary.write_text(f"#!/bin/sh\nexec {sys.executable} -c '{LISTEN_DENIED}'\n")
    failure = fails(ctx)
    assert (failure.part, failure.cause, failure.category) == ("ollama", "cannot_listen", SYSTEM)
    assert "this machine does not let it listen there" in str(failure)
    assert "firewall, sandbox or security policy" in failure.hint


def test_a_comfyui_that_never_answers_is_system_and_names_its_log_and_the_flag(
    tmp_path: Path,
) -> None:
    ctx, _ = setup(tmp_path, "import time\ntime.sleep(60)\n", verify_timeout=1.5)
    failure = fails(ctx, budget=1.5)
    assert (failure.part, failure.cause, failure.category) == ("comfyui", "no_answer", SYSTEM)
    assert str(failure).startswith("ComfyUI did not answer on http://127.0.0.1:")
    assert str(failure).endswith("within the verify timeout (2 s for the whole check)")
    assert failure.hint == (
        f"ComfyUI's output is in {ctx.logs_dir / 'verify-stack.log'}; on a slow or busy machine "
        "re-run with a longer --verify-timeout (it was 2 s)"
    )


def test_an_ollama_that_accepts_but_never_answers_is_system(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DINOAIR_STANDIN_MUTE", "1")
    ctx, _ = setup(tmp_path, verify_timeout=4)
    install_standin_ollama(ctx.target)
    failure = fails(ctx, budget=4)
    assert (failure.part, failure.cause, failure.category) == ("ollama", "no_answer", SYSTEM)
    assert failure.hint.startswith("Ollama's output is in ")


def test_an_ollama_that_crashes_at_start_is_installation(tmp_path: Path) -> None:
    ctx, _ = setup(tmp_path)
    install_standin_ollama(ctx.target).write_text(
        "#!/bin/sh\necho 'panic: bad build' >&2\nexit 2\n"
    )
    failure = fails(ctx)
    assert (failure.part, failure.cause, failure.category) == ("ollama", "exited", INSTALLATION)
    assert str(failure) == "Ollama stopped before it answered (exit code 2): panic: bad build"
    assert "delete the ollama folder in the install folder" in failure.hint


def test_a_device_other_than_the_builds_is_system(tmp_path: Path) -> None:
    ctx, _ = setup(tmp_path)  # the stand-in ComfyUI reports cpu
    failure = fails(ctx, device="cuda")
    assert (failure.part, failure.cause, failure.category) == ("comfyui", "wrong_device", SYSTEM)
    assert str(failure) == (
        "ComfyUI runs on cpu, not on cuda, the device its torch build was chosen for"
    )
    assert "--gpu cpu" in failure.hint
    seen = check_stack(ctx, Path(sys.executable), [], time.monotonic() + 30, device="cpu")
    assert seen["comfyui_device"] == "cpu"


def test_the_device_expected_follows_the_flags_and_the_build() -> None:
    manifest = load_manifest(None)
    from installer.hardware import Hardware

    nvidia = plan_torch(manifest, Hardware(accelerator="nvidia", cuda_version="12.8"), None)
    assert expected_device([], nvidia) == "cuda"
    assert expected_device(["--cpu"], nvidia) == "cpu"
    assert expected_device([], None) is None


def test_a_gui_that_crashes_at_start_is_installation(tmp_path: Path) -> None:
    ctx, _ = setup(tmp_path)
    bundle = gui_bundle(tmp_path, "raise SystemExit('broken bundle')\n")
    ctx.manifest = dataclasses.replace(ctx.manifest, webgui_dir=bundle)
    failure = fails(ctx)
    assert (failure.part, failure.cause, failure.category) == ("webgui", "exited", INSTALLATION)
    assert str(failure) == "the web GUI stopped before it answered (exit code 1): broken bundle"
    assert "re-run the installer to restore the web GUI's files" in failure.hint


def test_a_gui_whose_port_another_program_holds_is_system(tmp_path: Path, held_port: int) -> None:
    ctx, _ = setup(tmp_path)
    real = (load_manifest(None).webgui_dir / "server.py").read_text()
    # The real server.py, made to listen on the held port whatever --port says.
    held = real.replace("(args.host, args.port)", f"(args.host, {held_port})")
    assert held != real
    ctx.manifest = dataclasses.replace(ctx.manifest, webgui_dir=gui_bundle(tmp_path, held))
    failure = fails(ctx)
    assert (failure.part, failure.cause, failure.category) == ("webgui", "cannot_listen", SYSTEM)


def test_a_gui_without_its_page_is_installation(tmp_path: Path) -> None:
    ctx, _ = setup(tmp_path)
    ctx.manifest = dataclasses.replace(ctx.manifest, webgui_dir=gui_bundle(tmp_path, page=False))
    failure = fails(ctx)
    assert (failure.part, failure.cause, failure.category) == (
        "webgui",
        "wrong_answer",
        INSTALLATION,
    )
    assert str(failure) == "the web GUI answered its config but not its page"


def test_a_gui_whose_config_is_wrong_is_installation(tmp_path: Path) -> None:
    ctx, _ = setup(tmp_path)
    real = (load_manifest(None).webgui_dir / "server.py").read_text()
    broken = real.replace('if path == "/api/config":', 'if path == "/api/config-moved":')
    assert broken != real
    ctx.manifest = dataclasses.replace(ctx.manifest, webgui_dir=gui_bundle(tmp_path, broken))
    failure = fails(ctx)
    assert (failure.part, failure.cause, failure.category) == (
        "webgui",
        "wrong_answer",
        INSTALLATION,
    )
    assert str(failure) == "the web GUI answered /api/config with HTTP 404"


@pytest.mark.parametrize(
    ("output", "reason"),
    [
        # aiohttp (ComfyUI), Python's http.server, Go (Ollama), Windows, macOS
        ("OSError: [Errno 98] error while attempting to bind on address "
         "('127.0.0.1', 8188): address already in use", IN_USE),
        ("  self.socket.bind(self.server_address)\nPermissionError: [Errno 13] Permission denied",
         DENIED),
        ("Error: listen tcp 127.0.0.1:11434: bind: address already in use", IN_USE),
        ("OSError: [WinError 10048] Only one usage of each socket address (protocol/network "
         "address/port) is normally permitted", IN_USE),
        ("OSError: [WinError 10013] An attempt was made to access a socket in a way forbidden "
         "by its access permissions", DENIED),
        ("OSError: [Errno 48] Address already in use", IN_USE),
        ("PermissionError: [Errno 13] Permission denied: 'models/vae.safetensors'", None),
        ("ModuleNotFoundError: No module named 'torch'", None),
    ],
)  # fmt: skip
def test_a_bind_failure_is_read_from_each_servers_words(output: str, reason: str | None) -> None:
    assert bind_failure(output) == reason


def test_an_ollama_this_runs_ollama_models_holds_is_left_to_it(tmp_path: Path) -> None:
    """Steps run side by side: while ollama_models unpacks or serves ollama/, the stack check
    does not start a second server on the same model folder (ollama_models checks its own)."""
    ctx, _ = setup(tmp_path)
    install_standin_ollama(ctx.target)
    with ollama.install_folder() as held:
        assert held
        seen = check_stack(ctx, Path(sys.executable), ["--cpu"], time.monotonic() + 60)
    assert seen == {"comfyui_device": "cpu", "webgui": "answered"}
    assert "bin/ollama serve" not in (ctx.logs_dir / "verify-stack.log").read_text()
    assert no_children()


def test_the_verify_timeout_covers_the_torch_probe_too(tmp_path: Path) -> None:
    """--verify-timeout is the whole step's: a torch import that hangs ends with it."""
    from installer.steps import verify
    from installer.steps.python_deps import venv_python

    ctx, _ = setup(tmp_path, verify_timeout=2)
    python = venv_python(ctx)
    python.parent.mkdir(parents=True)
    python.write_text("#!/bin/sh\nsleep 60\n")  # an import torch that never returns
    python.chmod(0o755)
    started = time.monotonic()
    with pytest.raises(InstallError) as raised:
        verify._probe_torch(ctx, started + 2)
    assert time.monotonic() - started < 12
    assert str(raised.value).startswith(
        "import torch did not finish within 2 s (--verify-timeout, for the whole step)"
    )
    assert raised.value.category == SYSTEM  # never answered: the machine's, as the table says
    assert "re-run with a longer --verify-timeout (it was 2 s)" in (raised.value.hint or "")
    assert no_children()
