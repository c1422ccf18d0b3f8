"""verify's stack check: ComfyUI and the web GUI really answer once started, not only import.

ComfyUI's quick test exits before ComfyUI listens, so this starts ComfyUI on a free loopback port
with the launch scripts' device flags and reads ``/system_stats`` (the device type it reports,
coarse: ``cuda``, ``cpu``, ``mps``..., joins the telemetry, and must be the one the torch build
was chosen for), then serves the web GUI bundle with the venv's Python and reads its page and
``/api/config``, and, when an Ollama is already there (an earlier run installed it under
ollama/; this run's ollama_models step checks its own), reads its ``/api/version``. Everything
it starts it stops. All of it stays within the deadline verify passes (``--verify-timeout``
covers the whole step).

Each failure is its own category and hint (the table is in docs/stack.md): a part that exits at
start is ``installation`` (its files are broken: re-install them), one that cannot bind its port
or never answers is ``system`` (the machine: another program, a firewall, a slow disk), a device
other than the one the build was chosen for is ``system``, a wrong answer is ``installation``.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

from . import ollama
from .bind_failure import IN_USE, bind_failure, output_since
from .context import InstallContext
from .errors import INSTALLATION, SYSTEM, InstallError
from .launch import device_env
from .process_group import own_group, stop

LOG_NAME = "verify-stack.log"
_DEVICES = frozenset({"cuda", "cpu", "mps", "xpu", "npu", "mlu", "directml"})
_LABELS = {"comfyui": "ComfyUI", "webgui": "the web GUI", "ollama": "Ollama"}
_NAMES = {"comfyui": "ComfyUI", "webgui": "The web GUI", "ollama": "Ollama"}
# What re-installs a part whose files are broken.
_REINSTALL = {
    "comfyui": "delete the venv folder in the install folder and re-run the installer to "
    "reinstall ComfyUI's dependencies",
    "webgui": "re-run the installer to restore the web GUI's files",
    "ollama": f"delete the {ollama.FOLDER} folder in the install folder and re-run the "
    "installer to install Ollama again",
}


class StackCheckError(InstallError):
    """One part of the stack did not answer: ``part`` says which (comfyui, webgui, ollama),
    ``cause`` why (exited, cannot_listen, no_answer, wrong_answer, wrong_device)."""

    def __init__(self, part: str, cause: str, message: str, category: str, hint: str):
        super().__init__(message, category=category, hint=hint)
        self.part = part
        self.cause = cause


def check_stack(
    ctx: InstallContext,
    python: Path,
    flags: list[str],
    deadline: float,
    device: str | None = None,
) -> dict[str, Any]:
    """Start, read and stop each part; returns what was seen (for outcomes and the event).
    ``device`` is the device type ComfyUI must report (``cuda`` for a CUDA or ROCm build,
    ``cpu`` with ``--cpu``...), None when any will do."""
    ctx.logs_dir.mkdir(parents=True, exist_ok=True)
    log = ctx.logs_dir / LOG_NAME
    budget = ctx.options.verify_timeout
    seen: dict[str, Any] = {}
    with ctx.phase("stack_check") as phase:
        port = ollama.free_port()
        command = [str(python), "main.py", "--listen", "127.0.0.1", "--port", str(port), *flags]
        stats = _Server("comfyui", command, ctx.comfyui_dir, port, log, budget).read(
            "/system_stats", deadline, env=device_env(flags)
        )
        seen["comfyui_device"] = coarse_device(stats)
        if device is not None and seen["comfyui_device"] in _DEVICES - {device}:
            raise StackCheckError(
                "comfyui",
                "wrong_device",
                f"ComfyUI runs on {seen['comfyui_device']}, not on {device}, the device its "
                "torch build was chosen for",
                SYSTEM,
                hint=f"ComfyUI's output is in {log}; check that nothing hides the GPU from it "
                "(CUDA_VISIBLE_DEVICES, HIP_VISIBLE_DEVICES), or re-run with --gpu cpu to run "
                "on the processor",
            )
        gui_dir = ctx.manifest.webgui_dir
        if (gui_dir / "server.py").is_file():
            port = ollama.free_port()
            command = [str(python), "server.py", "--port", str(port)]
            _Server("webgui", command, gui_dir, port, log, budget).read(
                "/api/config", deadline, page="/"
            )
            seen["webgui"] = "answered"
        with ollama.install_folder(wait=False) as free:
            # Held: this run's ollama_models is unpacking or serving it, and checks it itself.
            binary = ollama.installed_binary(ctx.target) if free else None
            if binary is not None:
                seen["ollama"] = _read_ollama(ctx, binary, log, budget, deadline)
        phase.attributes.update(seen)
    ctx.event("stack_checked", **seen)
    return seen


def _read_ollama(
    ctx: InstallContext, binary: Path, log: Path, budget: float, deadline: float
) -> str:
    """Serve the install's Ollama on a free port and read its ``/api/version``."""
    port = ollama.free_port()
    models = ctx.target / ollama.FOLDER / "models"
    models.mkdir(parents=True, exist_ok=True)
    env = {"OLLAMA_HOST": f"127.0.0.1:{port}", "OLLAMA_MODELS": str(models)}
    answer = _Server("ollama", [str(binary), "serve"], ctx.target, port, log, budget).read(
        "/api/version", deadline, env=env
    )
    if not isinstance(answer, dict) or not isinstance(answer.get("version"), str):
        raise StackCheckError(
            "ollama",
            "wrong_answer",
            "the Ollama under ollama/ answered /api/version without a version",
            INSTALLATION,
            hint=_REINSTALL["ollama"],
        )
    return "answered"


def coarse_device(stats: Any) -> str:
    """The first device's type as ComfyUI reports it, from a short known list (else "other"):
    a device name can carry a machine's own label, its type cannot."""
    devices = stats.get("devices") if isinstance(stats, dict) else None
    first = devices[0] if isinstance(devices, list) and devices else {}
    kind = str(first.get("type", "")).lower() if isinstance(first, dict) else ""
    return kind if kind in _DEVICES else ("unknown" if not kind else "other")


class _Server:
    """One part started for the check: its command, where it listens, and its failures told
    apart (exited, cannot listen, no answer in time, a wrong answer)."""

    def __init__(
        self, part: str, command: list[str], cwd: Path, port: int, log: Path, budget: float
    ):
        self.part, self.command, self.cwd, self.port = part, command, cwd, port
        self.log, self.budget = log, budget
        self.label = _LABELS[part]
        self.base = f"http://127.0.0.1:{port}"
        self.offset = 0  # where this part's output starts in the shared log

    def read(
        self, path: str, deadline: float, page: str | None = None, env: dict[str, str] | None = None
    ) -> Any:
        """Run the part until ``path`` answers with JSON (and ``page`` with HTML), then stop it."""
        with self.log.open("ab") as out:
            out.write(f"$ {' '.join(self.command)}\n".encode())
            out.flush()
            self.offset = out.tell()
            process = subprocess.Popen(
                self.command,
                cwd=self.cwd,
                env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                **own_group(),
            )
        try:
            while True:
                answer = _get(self.base + path)
                if answer is not None:
                    return self._answer(path, *answer, page)
                if process.poll() is not None:
                    raise self._exited(process.returncode)
                if time.monotonic() > deadline:
                    raise StackCheckError(
                        self.part,
                        "no_answer",
                        f"{self.label} did not answer on {self.base} within the verify timeout "
                        f"({self.budget:.0f} s for the whole check)",
                        SYSTEM,
                        hint=f"{_NAMES[self.part]}'s output is in {self.log}; "
                        f"{longer_timeout(self.budget)}",
                    )
                time.sleep(0.1)
        finally:
            stop(process)

    def _answer(self, path: str, status: int, body: str, page: str | None) -> Any:
        try:
            data = json.loads(body) if status == 200 else None
        except ValueError:
            data = None
        if data is None:
            what = "something not JSON" if status == 200 else f"HTTP {status}"
            raise StackCheckError(
                self.part,
                "wrong_answer",
                f"{self.label} answered {path} with {what}",
                INSTALLATION,
                hint=f"see {self.log}, then {_REINSTALL[self.part]}",
            )
        html = _get(self.base + page) if page is not None else None
        if page is not None and (html is None or "<html" not in html[1].lower()):
            raise StackCheckError(
                self.part,
                "wrong_answer",
                f"{self.label} answered its config but not its page",
                INSTALLATION,
                hint=_REINSTALL[self.part],
            )
        return data

    def _exited(self, code: int) -> StackCheckError:
        output = output_since(self.log, self.offset)  # its own: the log is shared
        reason = bind_failure(output)
        where = f"127.0.0.1:{self.port}"
        if reason is not None:
            why = (
                "another program holds that port"
                if reason == IN_USE
                else "this machine does not let it listen there"
            )
            hint = (
                "re-run the installer: the check picks a free port each time; if it happens "
                f"again, see {self.log}"
                if reason == IN_USE
                else "a firewall, sandbox or security policy stops programs from listening on "
                "127.0.0.1: allow it for the install folder's Python and Ollama, then re-run"
            )
            return StackCheckError(
                self.part,
                "cannot_listen",
                f"{self.label} could not listen on {where}: {why} (exit code {code})",
                SYSTEM,
                hint=hint,
            )
        return StackCheckError(
            self.part,
            "exited",
            f"{self.label} stopped before it answered (exit code {code}): {_last_line(output)}",
            INSTALLATION,
            hint=f"its output is in {self.log}; {_REINSTALL[self.part]}",
        )


def longer_timeout(budget: float) -> str:
    """What to do about a part that did not answer within verify's budget (the machine's)."""
    return (
        f"on a slow or busy machine re-run with a longer --verify-timeout (it was {budget:.0f} s)"
    )


def _get(url: str) -> tuple[int, str] | None:
    """The status and body at ``url`` (an HTTP error is an answer too), None when nothing
    answers there yet."""
    import urllib.error  # here: a run that checks no stack never loads the HTTP client
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return int(response.status), response.read().decode(errors="replace")
    except urllib.error.HTTPError as exc:
        with exc:
            return int(exc.code), exc.read().decode(errors="replace")
    except (OSError, ValueError):
        return None


def _last_line(output: str) -> str:
    lines = [line.strip() for line in output.strip().splitlines() if line.strip()]
    return lines[-1][:300] if lines else "no output"
