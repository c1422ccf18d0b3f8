"""start.py's Windows paths, as far as they run here: the pure parts and the generated start.bat.

No Windows machine is at hand, so what only Windows does (Ctrl-Break to a process group, a venv
python.exe that is a launcher) is checked through the functions that decide it, each called with
``windows=True`` where that changes what they do, and ``taskkill`` as a stub on PATH that
records its arguments and ends the process tree as the real one does.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import ModuleType

import pytest

from installer import process_group
from installer.launch import write_scripts
from tests.stack_target import pid_alive, wait_for


@pytest.fixture
def start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """start.py as the installer writes it into an install folder, imported from there."""
    target = tmp_path / "DinoAir"
    target.mkdir()
    write_scripts(target, ["--cpu"])
    spec = importlib.util.spec_from_file_location("dinoair_start", target / "start.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)  # its dataclass looks itself up there
    spec.loader.exec_module(module)
    return module


def a_tree(tmp_path: Path) -> tuple[subprocess.Popen[bytes], int]:
    """A process in its own group that started a child, as the venv's python.exe launcher
    starts the real Python; returns it and the child's pid."""
    pid_file = tmp_path / "child.pid"
    process = subprocess.Popen(
        ["sh", "-c", f"sleep 60 & echo $! > {pid_file}; wait"], start_new_session=True
    )
    child = int(wait_for(lambda: (pid_file.is_file() and pid_file.read_text().strip()) or None))
    return process, child


def stub_taskkill(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int = 0) -> Path:
    """``taskkill`` on PATH: records its arguments; with code 0 it ends the tree (/T) as
    Windows' does, otherwise it fails and ends nothing."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    record = tmp_path / "taskkill.args"
    script = bin_dir / "taskkill"
    end = 'kill -KILL -"$4"' if code == 0 else ":"
    script.write_text(f'#!/bin/sh\necho "$@" > "{record}"\n{end}\nexit {code}\n')
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return record


def test_the_hard_stop_on_windows_ends_the_whole_tree_with_taskkill(
    start: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    record = stub_taskkill(tmp_path, monkeypatch)
    process, child = a_tree(tmp_path)
    start.kill_tree(process, windows=True)
    assert process.wait(timeout=10) != 0
    assert record.read_text().split() == ["/F", "/T", "/PID", str(process.pid)]
    wait_for(lambda: not pid_alive(child))  # the launcher's child too, not only the launcher


def test_the_hard_stop_falls_back_to_kill_when_taskkill_fails(
    start: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stub_taskkill(tmp_path, monkeypatch, code=1)
    process, child = a_tree(tmp_path)
    try:
        start.kill_tree(process, windows=True)
        assert process.wait(timeout=10) != 0
    finally:  # kill() ends the launcher only: its child is this test's to end
        if pid_alive(child):
            os.kill(child, signal.SIGKILL)


def test_waiting_for_comfyui_hears_ctrl_c(start: ModuleType) -> None:
    """ComfyUI is waited for in short steps, so Ctrl-C (here SIGINT to this process) is raised
    at once: on Windows a plain wait() would not return until ComfyUI exits."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT))
    started = time.monotonic()
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            start.wait_for_exit(process)
        assert time.monotonic() - started < 5
    finally:
        timer.cancel()
        process.kill()
        process.wait()
    done = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    assert start.wait_for_exit(done) == 3


@pytest.mark.parametrize("windows", [False, True])
def test_a_port_held_on_every_address_is_taken(start: ModuleType, windows: bool) -> None:
    with socket.socket() as holder:  # a server on 0.0.0.0, as Docker's port forwards listen
        holder.bind(("0.0.0.0", 0))
        holder.listen(1)
        port = holder.getsockname()[1]
        assert start.port_taken(port, windows=windows)
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    assert not start.port_taken(port, windows=windows)


def test_the_windows_archives_ollama_exe_is_found(start: ModuleType) -> None:
    here = Path(start.__file__).parent
    assert start.ollama_binary(windows=True) != str(here / "ollama" / "ollama.exe")
    (here / "ollama").mkdir()
    (here / "ollama" / "ollama.exe").write_bytes(b"MZ")  # the zip has it at its top
    assert start.ollama_binary(windows=True) == str(here / "ollama" / "ollama.exe")


def test_start_bat_runs_the_venvs_python_from_its_folder_and_passes_the_exit_code(
    tmp_path: Path,
) -> None:
    write_scripts(tmp_path, [])
    bat = (tmp_path / "start.bat").read_bytes().decode("ascii")
    lines = bat.split("\r\n")
    assert "\n" not in bat.replace("\r\n", "")  # CRLF only: cmd.exe misreads bare LF labels
    assert 'cd /d "%~dp0"' in lines  # from any folder, any drive
    assert 'if not exist "venv\\Scripts\\activate.bat" (' in lines
    assert 'call "venv\\Scripts\\activate.bat"' in lines
    assert "python start.py %*" in lines  # the venv's python.exe: activate put it first
    assert lines.index('call "venv\\Scripts\\activate.bat"') < lines.index("python start.py %*")
    assert lines[-2:] == ["endlocal & exit /b %CODE%", ""]  # start.py's exit code, kept


def test_the_installers_hard_stop_on_windows_ends_the_whole_tree_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """verify's stack check and quick test, ollama_models' server: the same on Windows."""
    record = stub_taskkill(tmp_path, monkeypatch)
    process, child = a_tree(tmp_path)
    process_group.kill_tree(process, windows=True)
    assert process.wait(timeout=10) != 0
    assert record.read_text().split() == ["/F", "/T", "/PID", str(process.pid)]
    wait_for(lambda: not pid_alive(child))
