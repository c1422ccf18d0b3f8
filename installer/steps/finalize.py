"""Write the launch scripts and ``install_summary.json`` into the target folder.

``start.sh`` (POSIX) and ``start.bat`` (Windows) start the stack from the installer's ``venv``
(installer/launch.py writes them). The summary says what this run installed, with paths relative
to the target only: an absolute path would carry the user's name into a file people paste into
bug reports. It also carries the manifest's ``project.issue_tracker``, where ``dinoair-telemetry
report-issue --install-dir`` finds the tracker without importing the installer.
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
from ..launch import SCRIPTS, write_scripts
from .verify import device_flags

SUMMARY = "install_summary.json"
_ABSOLUTE = re.compile(r"^(/|[A-Za-z]:[\\/]|\\\\)")  # /x, C:\x, \\server\share


def describe(ctx: InstallContext) -> str:
    return f"write start.sh, start.bat, start.py and {SUMMARY} into the target folder"


def run(ctx: InstallContext) -> None:
    started = time.monotonic()
    target = ctx.target
    target.mkdir(parents=True, exist_ok=True)
    scripts = write_scripts(target, device_flags(ctx))  # the flags verify used
    ctx.outcomes["finalize"] = {"scripts": scripts, "summary": SUMMARY}

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
            "start": list(SCRIPTS),
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
