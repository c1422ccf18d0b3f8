"""Ollama as the installer uses it: where its binary is, a private server, its HTTP API.

The installer talks to Ollama only over HTTP on loopback (``/api/version``, ``/api/tags``,
``/api/pull``), never through the ``ollama`` command's text output: the pull streams JSON with
real byte counts (the progress bar, the bytes in the telemetry) and a failed pull has Ollama's
own reason. When no Ollama is running, :func:`serving` starts one on a free loopback port with
the install's model folder and stops it afterwards, so an install never leaves a server behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path, PurePosixPath
from typing import Any

from .bind_failure import IN_USE, bind_failure, output_since
from .download import remote_size
from .errors import InstallError, NetworkError, SystemRequirementError
from .process_group import own_group, stop

DEFAULT_URL = "http://127.0.0.1:11434"
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
FOLDER = "ollama"  # under the install folder: bin/ollama (or ollama.exe), lib/, models/
SERVE_LOG = "ollama-serve.log"
MAX_ARCHIVE = 4 * 1024**3  # bytes: well above Ollama's base archives (1-2 GB)


# One server at a time on the install's Ollama folder: steps run side by side, and verify's stack
# check must not start that Ollama while ollama_models unpacks it or pulls with it.
_INSTALL_FOLDER = threading.Lock()


@contextlib.contextmanager
def install_folder(wait: bool = True) -> Iterator[bool]:
    """Hold the install's Ollama folder (``ollama/``: its binary, its models) while unpacking or
    serving it; yields False, at once, when ``wait`` is False and another step holds it."""
    held = _INSTALL_FOLDER.acquire(blocking=wait)
    try:
        yield held
    finally:
        if held:
            _INSTALL_FOLDER.release()


def default_url() -> str:
    """Where a running Ollama is looked for: ``OLLAMA_HOST`` as Ollama's client reads it."""
    host = os.environ.get("OLLAMA_HOST", "").strip()
    if not host:
        return DEFAULT_URL
    return host if "://" in host else f"http://{host}"


def platform_key() -> tuple[str, str]:
    """This machine as Ollama names its release archives: (linux|darwin|windows, amd64|arm64)."""
    system = {"win32": "windows", "cygwin": "windows"}.get(sys.platform, sys.platform)
    system = "linux" if system.startswith("linux") else system
    machine = platform.machine().lower()
    arch = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}
    return system, arch.get(machine, machine)


def installed_binary(target: Path) -> Path | None:
    """The Ollama this installer unpacked under ``target``, if any."""
    name = "ollama.exe" if os.name == "nt" else "ollama"
    for candidate in (target / FOLDER / "bin" / name, target / FOLDER / name):
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def unpack(archive: Path, dest: Path) -> None:
    """Unpack a .tgz/.tar.gz/.zip release archive into ``dest``, refusing paths that leave it."""
    import tarfile
    import zipfile

    dest.mkdir(parents=True, exist_ok=True)
    root = dest.resolve()

    def safe(name: str) -> Path:
        path = (root / name).resolve()
        if PurePosixPath(name).is_absolute() or (path != root and root not in path.parents):
            raise InstallError(
                f"the Ollama archive {archive.name} holds a path outside its folder: {name}",
                hint="the archive is not an Ollama release: check the manifest's ollama section",
            )
        return path

    try:
        if archive.name.endswith(".zip"):
            with zipfile.ZipFile(archive) as zipped:
                for info in zipped.infolist():
                    safe(info.filename)
                zipped.extractall(root)
        else:
            with tarfile.open(archive) as tar:
                members = []
                for member in tar.getmembers():
                    safe(member.name)
                    if member.issym():  # relative to the link's own folder
                        safe(str(PurePosixPath(member.name).parent / member.linkname))
                    elif member.islnk():  # a hard link names its target from the top
                        safe(member.linkname)
                    if member.isfile() or member.isdir() or member.issym() or member.islnk():
                        members.append(member)
                tar.extractall(root, members=members)
    except (tarfile.TarError, zipfile.BadZipFile, OSError) as exc:
        raise InstallError(
            f"the Ollama archive {archive.name} cannot be unpacked: {exc}",
            hint="delete the ollama folder in the install folder, then re-run",
        ) from None


def archive_size(url: str, timeout: float) -> int:
    """The size of the release archive at ``url`` as its server tells it, for a manifest entry
    that names none. One byte is asked for (``Range: bytes=0-0``, a GET: a signed download URL
    may refuse a HEAD) and the total read from ``Content-Range``. Safe because the size decides
    nothing about what is accepted: the manifest's SHA-256 does, before anything is unpacked; a
    size above :data:`MAX_ARCHIVE` is refused so a wrong server cannot fill the disk."""
    name = url.rsplit("/", 1)[-1].split("?", 1)[0]
    try:
        total = remote_size(url, timeout)
    except urllib.error.HTTPError as exc:
        error = NetworkError if exc.code >= 500 or exc.code in (408, 429) else InstallError
        raise error(
            f"the Ollama archive {name} is not there: HTTP {exc.code} from {_host(url)}",
            hint="check the url in the manifest's ollama section, then re-run",
        ) from None
    except (OSError, ValueError) as exc:
        raise NetworkError(
            f"the size of the Ollama archive {name} could not be asked of {_host(url)}: {exc}",
            hint="check your connection (or proxy) and re-run",
        ) from None
    if total is None or not 0 < total <= MAX_ARCHIVE:
        raise InstallError(
            f"{_host(url)} did not tell the size of the Ollama archive {name} "
            f"({total or 'no size'})",
            hint="add the archive's size in bytes to the manifest's ollama entry, then re-run",
        )
    return total


def _host(url: str) -> str:
    return urllib.parse.urlsplit(url).hostname or url


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def version(url: str, timeout: float = 2.0) -> str | None:
    """Ollama's version at ``url``, or None when nothing answers there as Ollama does."""
    if not _may_listen(url, timeout):
        return None
    try:
        body = _get_json(url + "/api/version", timeout)
    except (OSError, ValueError):
        return None
    found = body.get("version") if isinstance(body, dict) else None
    return found if isinstance(found, str) else None


def _may_listen(url: str, timeout: float) -> bool:
    """False when ``url`` is on this computer and nothing listens at its port: the kernel says
    so at once, and most runs (no Ollama running) then never load urllib's HTTP client. Any
    other host may sit behind a proxy: only a real request can tell."""
    parts = urllib.parse.urlsplit(url)
    if parts.hostname not in _LOOPBACK:
        return True
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        with socket.create_connection((parts.hostname, port), timeout=timeout):
            return True
    except ValueError:  # a port that is not a number: the request reports it
        return True
    except OSError:
        return False


def tags(url: str, timeout: float) -> set[str]:
    """The models the server at ``url`` has (``/api/tags``), as :func:`normalize` spells them."""
    try:
        body = _get_json(url + "/api/tags", timeout)
    except (OSError, ValueError) as exc:
        raise NetworkError(
            f"Ollama at {url} did not list its models: {exc}",
            hint="check that Ollama runs (`ollama list`), then re-run",
        ) from None
    models = body.get("models", []) if isinstance(body, dict) else []
    return {normalize(str(m.get("name", ""))) for m in models if isinstance(m, dict)}


def pull(
    url: str,
    model: str,
    *,
    timeout: float,
    on_progress: Callable[[int, int], None],
    log: Callable[[str], None],
) -> None:
    """Pull ``model`` through ``/api/pull``; ``on_progress(completed, total)`` in bytes, summed
    over the model's layers. Raises :class:`InstallError` with Ollama's reason on failure."""
    import urllib.request

    request = urllib.request.Request(
        url + "/api/pull",
        data=json.dumps({"model": model, "name": model, "stream": True}).encode(),  # new, old
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    layers: dict[str, tuple[int, int]] = {}
    status = ""
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            for raw in response:
                line = raw.decode(errors="replace").strip()
                if not line:
                    continue
                log(line)
                part = json.loads(line)
                if part.get("error"):
                    raise InstallError(
                        f"Ollama could not pull {model}: {part['error']}",
                        hint="check the model name in the manifest, then re-run "
                        "(see logs/ollama-pull.log)",
                    )
                status = str(part.get("status", status))
                if part.get("digest") and part.get("total"):
                    layers[str(part["digest"])] = (
                        int(part.get("completed") or 0),
                        int(part["total"]),
                    )
                    on_progress(
                        sum(c for c, _ in layers.values()), sum(t for _, t in layers.values())
                    )
    except urllib.error.HTTPError as exc:
        detail = _error_text(exc)
        raise InstallError(
            f"Ollama could not pull {model}: {detail}",
            hint="check the model name in the manifest, then re-run (see logs/ollama-pull.log)",
        ) from None
    except (OSError, ValueError) as exc:
        raise NetworkError(
            f"pulling {model} from Ollama broke off: {exc}",
            hint="check your connection, then re-run: Ollama resumes the pull",
        ) from None
    if status != "success":
        raise NetworkError(
            f"pulling {model} ended before Ollama said success (last: {status or 'nothing'})",
            hint="re-run the installer: Ollama resumes the pull",
        )


@contextlib.contextmanager
def serving(binary: Path | str, models: Path, log: Path, timeout: float) -> Iterator[str]:
    """Run ``ollama serve`` on a free loopback port with ``models`` as its model folder; yields
    its URL once ``/api/version`` answers, and stops it (and only it) afterwards."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    models.mkdir(parents=True, exist_ok=True)
    log.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "OLLAMA_HOST": f"127.0.0.1:{port}", "OLLAMA_MODELS": str(models)}
    with log.open("ab") as out:
        offset = out.tell()
        try:
            process = subprocess.Popen(
                [str(binary), "serve"],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                **own_group(),
            )
        except OSError as exc:
            raise InstallError(
                f"Ollama cannot be started: {exc.strerror or exc}",
                hint=f"delete the {FOLDER} folder in the install folder, then re-run",
            ) from None
    try:
        deadline = time.monotonic() + timeout
        while version(url) is None:
            if process.poll() is not None:
                raise _exited(process.returncode, binary, port, log, offset)
            if time.monotonic() > deadline:
                raise SystemRequirementError(
                    f"Ollama did not answer on {url} within {timeout:.0f} s",
                    hint=f"Ollama's output is in {log}; on a slow or busy machine re-run with "
                    "a longer --timeout",
                )
            time.sleep(0.1)
        yield url
    finally:
        stop(process)


def _exited(code: int, binary: Path | str, port: int, log: Path, offset: int) -> InstallError:
    """Ollama stopped as it started: it could not listen (``system``), or it is broken."""
    output = output_since(log, offset)
    reason = bind_failure(output)
    if reason is not None:
        why = "another program holds that port" if reason == IN_USE else "listening not allowed"
        return SystemRequirementError(
            f"Ollama could not listen on 127.0.0.1:{port}: {why} (exit code {code})",
            hint=f"re-run: a free port is picked each time; a firewall or sandbox may stop "
            f"programs from listening on 127.0.0.1 (see {log})",
        )
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    if FOLDER not in Path(binary).parts:
        fix = f"the system's Ollama ({binary}) is broken: reinstall it from ollama.com"
    else:
        fix = f"delete the {FOLDER} folder in the install folder and re-run to install it again"
    return InstallError(
        f"Ollama stopped as it started (exit code {code}): "
        f"{lines[-1][:300] if lines else 'no output'}",
        hint=f"its output is in {log}; {fix}",
    )


def normalize(model: str) -> str:
    """``llama3.2`` and ``llama3.2:latest`` name the same model; names are case-insensitive."""
    model = model.strip().lower()
    for prefix in ("registry.ollama.ai/library/", "library/"):
        if model.startswith(prefix):
            model = model[len(prefix) :]
    last = model.rsplit("/", 1)[-1]
    return model if ":" in last else f"{model}:latest"


def pulled_here(target: Path, model: str) -> bool:
    """Whether the install's Ollama (under :data:`FOLDER`) has ``model`` already: the manifest
    file Ollama keeps for each pulled model (``models/manifests/registry.ollama.ai/library/
    qwen/7b``; tags compare without case, as Ollama's names do)."""
    model = model.strip()
    last = model.rsplit("/", 1)[-1]
    name, tag = model.rsplit(":", 1) if ":" in last else (model, "latest")
    parts = name.split("/")
    parts = ["registry.ollama.ai", "library", *parts] if len(parts) == 1 else parts
    parts = ["registry.ollama.ai", *parts] if len(parts) == 2 else parts
    folder = target.joinpath(FOLDER, "models", "manifests", *parts)
    try:
        return any(e.name.lower() == tag.lower() and e.is_file() for e in folder.iterdir())
    except OSError:
        return False


def _get_json(url: str, timeout: float) -> Any:
    import urllib.request

    with urllib.request.urlopen(url, timeout=timeout) as response:
        return json.loads(response.read())


def _error_text(exc: urllib.error.HTTPError) -> str:
    try:
        body = json.loads(exc.read() or b"{}")
    except (OSError, ValueError):
        body = {}
    message = body.get("error") if isinstance(body, dict) else None
    return str(message) if message else f"HTTP {exc.code}"
