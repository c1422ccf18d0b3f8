"""An install folder with the real launch scripts and web GUI, a fake ComfyUI and venv.

The launcher (start.sh -> start.py), the GUI server and the Ollama stand-in are the real
programs; only ComfyUI is a small HTTP server that answers ``/system_stats`` as ComfyUI does,
since the real one needs torch.
"""

from __future__ import annotations

import os
import shutil
import socket
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import fixtures.ollama_standin
from installer.launch import write_scripts
from installer.steps import webgui
from tests.contexts import make_ctx

T = TypeVar("T")

FAKE_COMFYUI = """\
import json, os, sys, time, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
port = int(sys.argv[sys.argv.index("--port") + 1])
open(os.path.join(os.path.dirname(__file__), "started"), "w").write(
    f"{os.getpid()} {' '.join(sys.argv[1:])} {os.environ.get('VIRTUAL_ENV', '')}")
class H(BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_GET(self):
        body = json.dumps({"system": {"comfyui_version": "0.0.0-fake"},
            "devices": [{"name": "cpu", "type": "cpu", "vram_total": 0}]}).encode()
        self.send_response(200 if self.path == "/system_stats" else 404)
        self.send_header("Content-Length", str(len(body))); self.end_headers()
        self.wfile.write(body)
time.sleep(float(os.environ.get("FAKE_COMFYUI_DELAY", "0")))
server = ThreadingHTTPServer(("127.0.0.1", port), H)
threading.Thread(target=server.serve_forever, daemon=True).start()
time.sleep(float(os.environ.get("FAKE_COMFYUI_SECONDS", "60")))
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http_get(url: str) -> tuple[int, str] | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return int(response.status), response.read().decode()
    except OSError:
        return None


def wait_for(probe: Callable[[], T | None], timeout: float = 20.0) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s")


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited, not yet reaped) counts as gone.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def install_standin_ollama(target: Path) -> Path:
    """The Ollama stand-in where the installer puts Ollama: ``ollama/bin/ollama``."""
    binary = target / "ollama" / "bin" / "ollama"
    binary.parent.mkdir(parents=True, exist_ok=True)
    script = Path(fixtures.ollama_standin.__file__)
    binary.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{script}" "$@"\n')
    binary.chmod(0o755)
    (target / "ollama" / "models").mkdir(exist_ok=True)
    return binary


def build_target(tmp_path: Path, flags: list[str] | None = None) -> Path:
    """A target with the real start.sh/start.py, the real web GUI, a fake venv and ComfyUI."""
    target = tmp_path / "t"
    ctx = make_ctx(target, None)
    webgui.run(ctx)
    write_scripts(target, ["--cpu"] if flags is None else flags)
    bin_dir = target / "venv" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "activate").write_text(
        f'VIRTUAL_ENV="{target / "venv"}"; export VIRTUAL_ENV\n'
        f'PATH="$VIRTUAL_ENV/bin:$PATH"; export PATH\n'
    )
    (bin_dir / "python").symlink_to(sys.executable)
    (target / "ComfyUI").mkdir()
    (target / "ComfyUI" / "main.py").write_text(FAKE_COMFYUI)
    return target


def hide_node(env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    """``env`` with a PATH on which no ``node``, ``npm`` or ``ollama`` can be found."""
    keep = tmp_path / "path-without-node"
    keep.mkdir(exist_ok=True)
    for tool in ("sh", "bash", "env", "dirname", "python3"):
        found = shutil.which(tool)
        if found and not (keep / tool).exists():
            (keep / tool).symlink_to(found)
    return {**env, "PATH": str(keep)}


def port_free(port: int) -> bool:
    """Whether a server could listen on ``port`` now (as servers do: TIME_WAIT does not count)."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True
