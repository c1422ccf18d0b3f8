"""Write the launch scripts and ``install_summary.json`` into the target folder.

``start.sh`` (POSIX) and ``start.bat`` (Windows) start ComfyUI on 127.0.0.1:8188 from the
installer's ``venv`` and, when Node.js is there, the web GUI on 127.0.0.1:3000; Ctrl-C stops
both. The summary says what this run installed, with paths relative to the target only: an
absolute path would carry the user's name into a file people paste into bug reports. It also
carries the manifest's ``project.issue_tracker``, where ``dinoair-telemetry report-issue
--install-dir`` finds the tracker without importing the installer.
"""

from __future__ import annotations

import contextlib
import json
import re
import time
from datetime import datetime, timezone
from pathlib import Path, PurePath
from typing import Any

from otel_local_exporter import STEP_COMPLETED, STEP_SKIPPED

from .. import __version__
from ..context import InstallContext, Step
from ..fsutil import write_atomic
from .verify import device_flags

SUMMARY = "install_summary.json"
_ABSOLUTE = re.compile(r"^(/|[A-Za-z]:[\\/]|\\\\)")  # /x, C:\x, \\server\share
COMFYUI_PORT = 8188
WEBGUI_PORT = 3000

START_SH = f"""\
#!/usr/bin/env bash
# Start DinoAir: ComfyUI on http://127.0.0.1:{COMFYUI_PORT} and, when Node.js is installed, the
# web GUI on http://127.0.0.1:${{PORT:-{WEBGUI_PORT}}}. Ctrl-C stops both; so does ComfyUI exiting.
# Written by the DinoAir installer; re-running the installer rewrites it.
set -u
cd "$(dirname "$0")" || exit 1

if [ ! -f venv/bin/activate ]; then
    echo "venv/ is missing: re-run the DinoAir installer" >&2
    exit 1
fi
# shellcheck disable=SC1091
. venv/bin/activate

pids=""
stop() {{
    trap - INT TERM EXIT
    echo "Stopping DinoAir..."
    # shellcheck disable=SC2086
    [ -n "$pids" ] && kill $pids 2>/dev/null
    wait
}}
trap 'stop; exit 130' INT
trap 'stop; exit 143' TERM
trap stop EXIT

python ComfyUI/main.py --listen 127.0.0.1 --port {COMFYUI_PORT}{{flags}} &
comfyui=$!
pids="$comfyui"
echo "ComfyUI:     http://127.0.0.1:{COMFYUI_PORT}"

if command -v node >/dev/null 2>&1 && [ -f webgui/server.js ]; then
    PORT="${{PORT:-{WEBGUI_PORT}}}" node webgui/server.js &
    pids="$pids $!"
    echo "DinoAir GUI: http://127.0.0.1:${{PORT:-{WEBGUI_PORT}}}"
else
    echo "Node.js not found: the web GUI is not started (install Node.js to use it)"
fi

echo "Press Ctrl-C to stop."
wait "$comfyui"
"""

START_BAT = f"""\
@echo off
rem Start DinoAir: ComfyUI on http://127.0.0.1:{COMFYUI_PORT} and, when Node.js is installed,
rem the web GUI on http://127.0.0.1:{WEBGUI_PORT}. Ctrl-C stops both; so does ComfyUI exiting.
rem Written by the DinoAir installer; re-running the installer rewrites it.
setlocal
cd /d "%~dp0"

if not exist "venv\\Scripts\\activate.bat" (
    echo venv\\ is missing: re-run the DinoAir installer
    exit /b 1
)
call "venv\\Scripts\\activate.bat"

if not defined PORT set "PORT={WEBGUI_PORT}"
set "DINOAIR_PID_FILE=%~dp0webgui\\.server.pid"
if exist "%DINOAIR_PID_FILE%" del "%DINOAIR_PID_FILE%"
where node >nul 2>nul
if errorlevel 1 (
    echo Node.js not found: the web GUI is not started ^(install Node.js to use it^)
) else if exist "webgui\\server.js" (
    rem Same console, so Ctrl-C reaches the web GUI too.
    start "" /b node webgui\\server.js
    echo DinoAir GUI: http://127.0.0.1:%PORT%
)

echo ComfyUI:     http://127.0.0.1:{COMFYUI_PORT}
echo Press Ctrl-C to stop.
python ComfyUI\\main.py --listen 127.0.0.1 --port {COMFYUI_PORT}{{flags}}

rem ComfyUI has stopped: stop the web GUI too.
set "WEBGUI_PID="
if exist "%DINOAIR_PID_FILE%" set /p WEBGUI_PID=<"%DINOAIR_PID_FILE%"
if defined WEBGUI_PID taskkill /pid %WEBGUI_PID% /f >nul 2>nul
if exist "%DINOAIR_PID_FILE%" del "%DINOAIR_PID_FILE%"
endlocal
"""


def describe(ctx: InstallContext) -> str:
    return f"write start.sh, start.bat and {SUMMARY} into the target folder"


def run(ctx: InstallContext) -> None:
    started = time.monotonic()
    target = ctx.target
    target.mkdir(parents=True, exist_ok=True)
    flags = "".join(f" {flag}" for flag in device_flags(ctx))  # the flags verify used
    start_sh = START_SH.replace("{flags}", flags)
    start_bat = START_BAT.replace("{flags}", flags).replace("\n", "\r\n")
    write_atomic(target / "start.sh", start_sh.encode(), mode=0o755)
    write_atomic(target / "start.bat", start_bat.encode(), mode=0o644)
    ctx.outcomes["finalize"] = {"scripts": ["start.sh", "start.bat"], "summary": SUMMARY}

    steps = [dict(s) for s in ctx.outcomes.get("steps", []) if s.get("name") != "finalize"]
    steps.append(
        {
            "name": "finalize",
            "status": STEP_COMPLETED,
            "duration_ms": round((time.monotonic() - started) * 1000),
        }
    )
    summary = {
        "installer_version": __version__,
        "created_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "success": all(s.get("status") in (STEP_COMPLETED, STEP_SKIPPED) for s in steps),
        "steps": steps,
        "installed": _installed(ctx),
        "bytes_downloaded": ctx.bytes_downloaded,
        "paths": {
            "comfyui": "ComfyUI",
            "workflows": "ComfyUI/workflows",
            "webgui": "webgui",
            "venv": "venv",
            "logs": "logs",
            "start": ["start.sh", "start.bat"],
        },
    }
    summary = relative_paths(summary, target)
    if ctx.manifest.issue_tracker:  # a URL, not a path: kept as the manifest spells it
        summary["project"] = {"issue_tracker": ctx.manifest.issue_tracker}
    write_atomic(target / SUMMARY, (json.dumps(summary, indent=2) + "\n").encode(), mode=0o644)
    ctx.event("summary_written", steps=len(steps), success=summary["success"])


def _installed(ctx: InstallContext) -> dict[str, Any]:
    """The installation as it now stands: what this run did, over what earlier runs recorded.

    A re-run skips what is already in place (the venv, a verified checkout); the summary must
    still describe it, so an earlier run's entry stays until this run replaces it.
    """
    earlier: dict[str, Any] = {}
    with contextlib.suppress(OSError, ValueError, AttributeError):
        data = json.loads((ctx.target / SUMMARY).read_text(encoding="utf-8"))
        earlier = {k: v for k, v in data.get("installed", {}).items() if isinstance(k, str)}
    now = {k: v for k, v in ctx.outcomes.items() if k != "steps"}
    return {**earlier, **now}


def relative_paths(value: Any, root: Path) -> Any:
    """``value`` with every path made relative to ``root``: no absolute path survives.

    Steps record what they like in ``ctx.outcomes``; this walk makes sure no absolute path
    (which names the user) reaches the summary, whether as a ``Path`` or inside a string: the
    target becomes relative (``.`` itself), the home folder ``~``, and a string that is an
    absolute path elsewhere keeps only its last part.
    """
    if isinstance(value, dict):
        return {str(k): relative_paths(v, root) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value, key=str) if isinstance(value, (set, frozenset)) else value
        return [relative_paths(v, root) for v in items]
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, PurePath):
        for base in _roots(root):
            with contextlib.suppress(ValueError):
                return value.relative_to(base).as_posix() or "."
    return _relative_text(str(value), root)


def _roots(root: Path) -> list[str]:
    """The spellings of ``root`` a step may have used, longest first (``/a/b`` before ``/a``)."""
    roots = {str(root), str(root.absolute())}
    with contextlib.suppress(OSError):
        roots.add(str(root.resolve()))
    return sorted(roots, key=len, reverse=True)


def _relative_text(text: str, root: Path) -> str:
    end = r"(?![\w.-])"  # a whole path component: /t must not eat /tmp
    for prefix in _roots(root):
        text = re.sub(re.escape(prefix) + r"[\\/]", "", text)
        text = re.sub(re.escape(prefix) + end, ".", text)
    home = str(Path.home())
    if len(home) > 1:
        text = re.sub(re.escape(home) + end, "~", text)
    if _ABSOLUTE.match(text) and not any(c.isspace() for c in text):
        text = "<outside>/" + re.split(r"[\\/]", text.rstrip("\\/"))[-1]
    return text


STEP = Step(
    name="finalize",
    run=run,
    describe=describe,
    needs=("comfyui", "python_deps", "verify", "workflows", "ollama_models", "models", "webgui"),
)
