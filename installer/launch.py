"""The launch scripts written into the install folder: start.sh, start.bat and start.py.

start.sh and start.bat only activate the venv and hand over to start.py, which starts ComfyUI,
Ollama (unless one already answers) and the web GUI, waits until each answers, and stops what it
started (see installer/data/start.py). One Python program instead of a bash and a batch copy of
the same logic: ports as options, the readiness checks and the clean stop then behave alike on
every OS. The device flags (``--cpu`` and the like) arrive as one list, baked into start.py.
"""

from __future__ import annotations

from pathlib import Path

from .fsutil import write_atomic

LAUNCHER = "start.py"
SCRIPTS = ("start.sh", "start.bat", LAUNCHER)
COMFYUI_PORT = 8188
WEBGUI_PORT = 3000
OLLAMA_PORT = 11434
_TEMPLATE = Path(__file__).with_name("data") / LAUNCHER
_FLAGS_LINE = "COMFYUI_FLAGS: list[str] = []"
CUDA_DEVICE_FLAG = "--cuda-device"
_DEVICE_ORDER_LINE = (
    'os.environ.setdefault("CUDA_DEVICE_ORDER", "PCI_BUS_ID")  # as nvidia-smi counts'
)

START_SH = """\
#!/usr/bin/env bash
# Start DinoAir: ComfyUI, Ollama (unless one already answers) and the web GUI; Ctrl-C stops what
# it started. Options (ports, --no-browser, --timeout): ./start.sh --help
# Written by the DinoAir installer; re-running the installer rewrites it.
set -u
cd "$(dirname "$0")" || exit 1

if [ ! -f venv/bin/activate ]; then
    echo "venv/ is missing: re-run the DinoAir installer" >&2
    exit 1
fi
# shellcheck disable=SC1091
. venv/bin/activate
exec python start.py "$@"
"""

START_BAT = """\
@echo off
rem Start DinoAir: ComfyUI, Ollama (unless one already answers) and the web GUI; Ctrl-C stops
rem what it started. Options (ports, --no-browser, --timeout): start.bat --help
rem Written by the DinoAir installer; re-running the installer rewrites it.
setlocal
cd /d "%~dp0"

if not exist "venv\\Scripts\\activate.bat" (
    echo venv\\ is missing: re-run the DinoAir installer
    exit /b 1
)
call "venv\\Scripts\\activate.bat"
python start.py %*
set "CODE=%ERRORLEVEL%"
endlocal & exit /b %CODE%
"""


def device_env(flags: list[str]) -> dict[str, str]:
    """What a process that runs torch for ComfyUI needs so ``--cuda-device N`` means the card the
    plan chose: CUDA counting GPUs as nvidia-smi does, and only that card visible (verify's
    probe and quick test, the stack check); nothing without the flag."""
    if CUDA_DEVICE_FLAG not in flags[:-1]:
        return {}
    number = flags[flags.index(CUDA_DEVICE_FLAG) + 1]
    return {"CUDA_DEVICE_ORDER": "PCI_BUS_ID", "CUDA_VISIBLE_DEVICES": number}


def launcher(flags: list[str]) -> str:
    """start.py with ComfyUI's device flags in place.

    ``--cuda-device N`` counts GPUs as nvidia-smi does (PCI bus order, the plan's numbers);
    CUDA counts fastest first unless ``CUDA_DEVICE_ORDER=PCI_BUS_ID``, so start.py sets that
    (unless the user did) whenever it passes the flag.
    """
    text = _TEMPLATE.read_text(encoding="utf-8")
    if _FLAGS_LINE not in text:
        raise RuntimeError(f"{_TEMPLATE.name} lost its {_FLAGS_LINE!r} line")
    line = f"COMFYUI_FLAGS: list[str] = {flags!r}"
    if CUDA_DEVICE_FLAG in flags:
        line += f"\n{_DEVICE_ORDER_LINE}"
    return text.replace(_FLAGS_LINE, line, 1)


def write_scripts(target: Path, flags: list[str]) -> list[str]:
    """Write the three scripts into ``target``; returns their names."""
    write_atomic(target / "start.sh", START_SH.encode(), mode=0o755)
    write_atomic(target / "start.bat", START_BAT.replace("\n", "\r\n").encode(), mode=0o644)
    write_atomic(target / LAUNCHER, launcher(flags).encode(), mode=0o644)
    return list(SCRIPTS)
