"""Start DinoAir: ComfyUI, Ollama (unless one already answers) and the web GUI; stop them together.

start.sh and start.bat run this with the install's venv Python, so one program does the work on
every OS: it checks the ports first (a taken port is one line saying which option moves it),
starts each part in its own process group, waits until each answers (ComfyUI /system_stats,
Ollama /api/version, the GUI /api/config) within --timeout, prints the three URLs, opens the GUI
unless --no-browser, and on Ctrl-C, or when ComfyUI exits, stops exactly what it started: an
Ollama that was already running is left alone. It runs from the install folder, so it imports
nothing but the standard library. Written by the DinoAir installer; re-running it rewrites it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import webbrowser
from dataclasses import dataclass
from pathlib import Path

COMFYUI_FLAGS: list[str] = []  # the installer writes the device flags verify used here
HERE = Path(__file__).resolve().parent
HOST = "127.0.0.1"
WINDOWS = os.name == "nt"
SUMMARY = "install_summary.json"  # written by the installer's last completed run


@dataclass
class Part:
    """One program of the stack: its name, where it answers, its process if we started it."""

    name: str
    option: str
    port: int
    check: str
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"


class StartError(Exception):
    """One line for the user: what went wrong and what to do."""


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="start.sh", description="Start ComfyUI, Ollama and the DinoAir web GUI."
    )
    parser.add_argument("--comfyui-port", type=int, default=8188)
    parser.add_argument("--ollama-port", type=int, default=11434)
    parser.add_argument("--gui-port", type=int, default=3000)
    parser.add_argument("--no-browser", action="store_true", help="do not open the web GUI")
    parser.add_argument(
        "--timeout", type=float, default=180.0, help="seconds each part may take to answer"
    )
    return parser.parse_args(argv)


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except (OSError, ValueError):
        return False


def port_taken(port: int, windows: bool = WINDOWS) -> bool:
    """Whether another program holds ``port`` on 127.0.0.1. Windows lets a plain bind of
    127.0.0.1 succeed beside a program listening on every address (0.0.0.0), so there the probe
    binds exclusively (``SO_EXCLUSIVEADDRUSE``); elsewhere such a bind fails by itself, and
    ``SO_REUSEADDR`` only lets the probe ignore connections still closing."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        if windows:
            exclusive = getattr(socket, "SO_EXCLUSIVEADDRUSE", None)
            if exclusive is not None:
                probe.setsockopt(socket.SOL_SOCKET, exclusive, 1)
        else:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((HOST, port))
        except OSError:
            return True
    return False


def require_free(part: Part) -> None:
    if port_taken(part.port):
        raise StartError(
            f"port {part.port} for {part.name} is taken by another program: stop it, "
            f"or start DinoAir with {part.option} <another port>"
        )


def spawn(part: Part, command: list[str], env: dict[str, str] | None = None) -> None:
    """Start ``command`` in its own process group, so stopping it stops its children too."""
    log = HERE / "logs" / f"start-{part.name.split()[0].lower()}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    extra: dict[str, object] = (
        {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP}  # type: ignore[attr-defined]
        if WINDOWS
        else {"start_new_session": True}
    )
    with open(log, "ab") as out:
        part.process = subprocess.Popen(
            command,
            cwd=HERE,
            env={**os.environ, **(env or {})},
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            **extra,  # type: ignore[call-overload]
        )


def ollama_binary(windows: bool = WINDOWS) -> str | None:
    """The installer's Ollama (under the install folder: ``bin/ollama`` from the Linux archive,
    ``ollama.exe`` or ``ollama`` at the top from the Windows and macOS ones) first, then a
    system one."""
    name = "ollama.exe" if windows else "ollama"
    for candidate in (HERE / "ollama" / "bin" / name, HERE / "ollama" / name):
        if candidate.is_file():
            return str(candidate)
    return shutil.which("ollama")


# What gets Ollama, by what the last install recorded (install_summary.json): the installer
# downloads it only where its manifest names an Ollama archive for this platform.
_NO_OLLAMA = {
    "no_models_flag": "install it from ollama.com, or re-run the installer without --no-models "
    "to get it",
    "no_ollama_models": "install it from ollama.com (this install names no chat model, so the "
    "installer did not install Ollama)",
    "none": "the installer has no Ollama download for this platform: install it from "
    "ollama.com, then re-run the installer to pull the chat model",
    "running": "the Ollama the installer used is not running and not on PATH: start it, or "
    "install it from ollama.com",
    "archive": "the ollama folder is gone: re-run the installer to download Ollama again (when "
    "it can reach the download), or install it from ollama.com",
    "unknown": "install it from ollama.com, or re-run the installer when it can download Ollama "
    "(it can where its manifest names an Ollama download for this platform)",
}


def missing_ollama(summary: Path | None = None) -> str:
    """What gets Ollama here, as far as the last install knows, so that "re-run the installer"
    is said only where it can help (a platform the manifest has an Ollama archive for)."""
    data: dict = {}
    with contextlib.suppress(OSError, ValueError):
        loaded = json.loads((summary or HERE / SUMMARY).read_text(encoding="utf-8"))
        data = loaded if isinstance(loaded, dict) else {}
    steps = [s for s in data.get("steps") or [] if isinstance(s, dict)]
    step = next((s for s in steps if s.get("name") == "ollama_models"), {})
    installed = data.get("installed")
    known = installed.get("ollama") if isinstance(installed, dict) else None
    source = known.get("source") if isinstance(known, dict) else None
    if step.get("reason") in ("no_models_flag", "no_ollama_models"):
        return _NO_OLLAMA[step["reason"]]
    if step.get("reason") == "ollama_not_found" or source == "none":
        return _NO_OLLAMA["none"]
    if source in ("running", "system"):
        return _NO_OLLAMA["running"]
    if source in ("archive", "install_folder"):
        return _NO_OLLAMA["archive"]
    return _NO_OLLAMA["unknown"]


def wait_until_answering(parts: list[Part], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    waiting = [p for p in parts if p.process is not None]
    while waiting:
        for part in list(waiting):
            assert part.process is not None
            if answers(part.url + part.check):
                waiting.remove(part)
            elif part.process.poll() is not None:
                raise StartError(
                    f"{part.name} stopped before it answered (exit code "
                    f"{part.process.returncode}): see logs/{logname(part)}, then start again"
                )
        if waiting and time.monotonic() > deadline:
            part = waiting[0]
            raise StartError(
                f"{part.name} did not answer at {part.url}{part.check} within {timeout:.0f} s: "
                f"see logs/{logname(part)}, or start with a longer --timeout"
            )
        if waiting:
            time.sleep(0.2)


def logname(part: Part) -> str:
    return f"start-{part.name.split()[0].lower()}.log"


def stop(parts: list[Part]) -> None:
    """Stop what we started (its whole process group), politely first, then for good."""
    running = [p.process for p in parts if p.process is not None and p.process.poll() is None]
    for process in running:
        try:
            if WINDOWS:
                # The group's Ctrl-Break: Ctrl-C is off in a new process group on Windows.
                process.send_signal(signal.CTRL_BREAK_EVENT)  # type: ignore[attr-defined]
            else:
                os.killpg(process.pid, signal.SIGTERM)
        except OSError:
            pass
    deadline = time.monotonic() + 10
    for process in running:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            kill_tree(process)
            process.wait()


def kill_tree(process: subprocess.Popen[bytes], windows: bool = WINDOWS) -> None:
    """Stop ``process`` and everything it started, for good. On Windows a venv's python.exe is
    a launcher that runs the real Python as its child, and TerminateProcess would stop only the
    launcher: ``taskkill /T`` ends the whole tree (``process.kill()`` when taskkill fails)."""
    try:
        if not windows:
            os.killpg(process.pid, signal.SIGKILL)
            return
        done = subprocess.run(
            ["taskkill", "/F", "/T", "/PID", str(process.pid)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=False,
        )
        if done.returncode != 0 and process.poll() is None:
            process.kill()
    except OSError:
        pass


def wait_for_exit(process: subprocess.Popen[bytes]) -> int:
    """ComfyUI's exit code, waiting in short steps: on Windows a plain ``wait()`` cannot be
    interrupted, so Ctrl-C would go unheard until ComfyUI (deaf to it in its own process group)
    exits by itself."""
    while True:
        try:
            return process.wait(timeout=0.5)
        except subprocess.TimeoutExpired:
            continue


def start(args: argparse.Namespace, parts: list[Part]) -> Part:
    comfyui, ollama, gui = parts
    for part in (comfyui, gui):
        require_free(part)
    if not (HERE / "ComfyUI" / "main.py").is_file():
        raise StartError("ComfyUI/main.py is missing: re-run the DinoAir installer")
    spawn(
        comfyui,
        [
            sys.executable,
            "ComfyUI/main.py",
            "--listen",
            HOST,
            "--port",
            str(comfyui.port),
            *COMFYUI_FLAGS,
        ],
    )
    ollama_note = ""
    if answers(ollama.url + ollama.check):
        ollama_note = " (already running: left as it is)"
    elif (binary := ollama_binary()) is not None:
        require_free(ollama)
        env = {"OLLAMA_HOST": f"{HOST}:{ollama.port}"}
        if (HERE / "ollama" / "models").is_dir():
            env["OLLAMA_MODELS"] = str(HERE / "ollama" / "models")
        spawn(ollama, [binary, "serve"], env)
    else:
        ollama_note = f" (not installed: the chat needs Ollama: {missing_ollama()})"
    gui_env = {"DINOAIR_COMFYUI_URL": comfyui.url, "DINOAIR_OLLAMA_URL": ollama.url}
    if (HERE / "webgui" / "server.py").is_file():
        spawn(gui, [sys.executable, "webgui/server.py", "--port", str(gui.port)], gui_env)
    elif (HERE / "webgui" / "server.js").is_file() and (node := shutil.which("node")):
        spawn(gui, [node, "webgui/server.js"], {**gui_env, "PORT": str(gui.port)})
    else:
        raise StartError("the web GUI is missing (webgui/): re-run the DinoAir installer")
    print("Starting DinoAir...", flush=True)
    wait_until_answering(parts, args.timeout)
    print(f"ComfyUI:     {comfyui.url}")
    print(f"Ollama:      {ollama.url}{ollama_note}")
    print(f"DinoAir GUI: {gui.url}", flush=True)
    if not args.no_browser and not webbrowser.open(gui.url):
        print(f"No web browser found here: open {gui.url} in one.")
    print("Press Ctrl-C to stop.", flush=True)
    return comfyui


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    parts = [
        Part("ComfyUI", "--comfyui-port", args.comfyui_port, "/system_stats"),
        Part("Ollama", "--ollama-port", args.ollama_port, "/api/version"),
        Part("DinoAir GUI", "--gui-port", args.gui_port, "/api/config"),
    ]

    def terminated(*_: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, terminated)
    code = 0
    try:
        comfyui = start(args, parts)
        assert comfyui.process is not None
        code = wait_for_exit(comfyui.process)
    except StartError as exc:
        print(f"DinoAir did not start: {exc}", file=sys.stderr)
        code = 1
    except KeyboardInterrupt:
        code = 130
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the cleanup
        if any(p.process is not None for p in parts):
            print("Stopping DinoAir...", flush=True)
        stop(parts)
    return code


if __name__ == "__main__":
    sys.exit(main())
