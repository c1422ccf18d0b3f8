"""verify's stack check: ComfyUI and the web GUI really answer once started, not only import.

ComfyUI's quick test exits before ComfyUI listens, so this starts ComfyUI on a free loopback port
with the launch scripts' device flags and reads ``/system_stats`` (the device type it reports,
coarse: ``cuda``, ``cpu``, ``mps``..., joins the telemetry), then serves the web GUI bundle with
the venv's Python and reads its page and ``/api/config``, and, when an Ollama is already there
(an earlier run installed it under ollama/; this run's ollama_models step checks its own), reads
its ``/api/version``. Everything it starts it stops. All of it stays within the deadline verify
passes (``--verify-timeout`` covers the whole step). Each failure says which part failed, why,
and what to do.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

from . import ollama
from .context import InstallContext
from .errors import InstallError
from .launch import device_env
from .process_group import own_group, stop

LOG_NAME = "verify-stack.log"
_DEVICES = frozenset({"cuda", "cpu", "mps", "xpu", "npu", "mlu", "directml"})


class StackCheckError(InstallError):
    """One part of the stack did not answer: ``part`` says which (comfyui, webgui, ollama)."""

    def __init__(self, part: str, message: str, hint: str):
        super().__init__(message, hint=hint)
        self.part = part


def check_stack(
    ctx: InstallContext, python: Path, flags: list[str], deadline: float
) -> dict[str, Any]:
    """Start, read and stop each part; returns what was seen (for outcomes and the event)."""
    ctx.logs_dir.mkdir(parents=True, exist_ok=True)
    log = ctx.logs_dir / LOG_NAME
    seen: dict[str, Any] = {}
    with ctx.phase("stack_check") as phase:
        port = ollama.free_port()
        command = [str(python), "main.py", "--listen", "127.0.0.1", "--port", str(port), *flags]
        stats = _serve_and_read(
            "comfyui",
            command,
            ctx.comfyui_dir,
            f"http://127.0.0.1:{port}/system_stats",
            log,
            deadline,
            ctx.options.verify_timeout,
        )
        seen["comfyui_device"] = coarse_device(stats)
        gui_dir = ctx.manifest.webgui_dir
        if (gui_dir / "server.py").is_file():
            port = ollama.free_port()
            command = [str(python), "server.py", "--port", str(port)]
            _serve_and_read(
                "webgui",
                command,
                gui_dir,
                f"http://127.0.0.1:{port}/api/config",
                log,
                deadline,
                ctx.options.verify_timeout,
                page=f"http://127.0.0.1:{port}/",
            )
            seen["webgui"] = "answered"
        binary = ollama.installed_binary(ctx.target)
        if binary is not None:
            remaining = max(deadline - time.monotonic(), 0.1)
            try:
                with ollama.serving(
                    binary, ctx.target / ollama.FOLDER / "models", log, remaining
                ) as url:
                    seen["ollama"] = "answered" if ollama.version(url) else "no_version"
            except InstallError as exc:
                raise StackCheckError("ollama", str(exc), exc.hint) from None
        phase.attributes.update(seen)
    ctx.event("stack_checked", **seen)
    return seen


def coarse_device(stats: Any) -> str:
    """The first device's type as ComfyUI reports it, from a short known list (else "other"):
    a device name can carry a machine's own label, its type cannot."""
    devices = stats.get("devices") if isinstance(stats, dict) else None
    first = devices[0] if isinstance(devices, list) and devices else {}
    kind = str(first.get("type", "")).lower() if isinstance(first, dict) else ""
    return kind if kind in _DEVICES else ("unknown" if not kind else "other")


def _serve_and_read(
    part: str,
    command: list[str],
    cwd: Path,
    url: str,
    log: Path,
    deadline: float,
    budget: float,
    page: str | None = None,
) -> Any:
    """Run ``command`` until ``url`` answers with JSON (and ``page`` with HTML), then stop it."""
    label = {"comfyui": "ComfyUI", "webgui": "the web GUI"}[part]
    with log.open("ab") as out:
        out.write(f"$ {' '.join(command)}\n".encode())
        out.flush()
        process = subprocess.Popen(
            command,
            cwd=cwd,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **device_env(command)},
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            **own_group(),
        )
    try:
        while True:
            body = _get(url)
            if body is not None:
                try:
                    data = json.loads(body)
                except ValueError:
                    raise StackCheckError(
                        part,
                        f"{label} answered {url.rsplit('/', 1)[-1]} with something not JSON",
                        hint=f"see logs/{log.name}, then re-run the installer",
                    ) from None
                if page is not None and "<html" not in (_get(page) or "").lower():
                    raise StackCheckError(
                        part,
                        f"{label} answered its config but not its page",
                        hint="re-run the installer to restore the web GUI's files",
                    )
                return data
            if process.poll() is not None:
                raise StackCheckError(
                    part,
                    f"{label} stopped before it answered (exit code {process.returncode}): "
                    f"{_tail(log)}",
                    hint=f"see logs/{log.name} for its output, then re-run the installer",
                )
            if time.monotonic() > deadline:
                raise StackCheckError(
                    part,
                    f"{label} did not answer on {url.rsplit(':', 1)[0]} within the verify "
                    f"timeout ({budget:.0f} s for the whole check)",
                    hint="re-run with a longer --verify-timeout; "
                    f"see logs/{log.name} for its output",
                )
            time.sleep(0.1)
    finally:
        stop(process)


def _get(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return str(response.read().decode(errors="replace"))
    except (OSError, ValueError):
        return None


def _tail(log: Path) -> str:
    try:
        lines = log.read_text(encoding="utf-8", errors="replace").strip().splitlines()
    except OSError:
        return "no output"
    return lines[-1][:300] if lines else "no output"
