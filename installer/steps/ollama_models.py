"""Make Ollama available and pull the manifest's models that it does not have yet.

Which Ollama, in this order: one that already answers on 127.0.0.1:11434 is used as it is (its
own model folder, left running; ``OLLAMA_HOST`` moves that address, as for Ollama's own
client); else the one this installer unpacked under ``ollama/``; else a
system ``ollama`` that preflight found; else the manifest's release archive for this OS and
architecture is downloaded with the installer's downloader (resumable, SHA-256 verified) and
unpacked under ``ollama/`` (no root, no system service). An Ollama the step starts runs on a free
loopback port with ``ollama/models`` as its model folder, and is stopped when the pulls end;
start.py later serves the same folder. Pulls go through ``/api/pull``: the bar shows real bytes
and a failed pull says Ollama's reason. Without a way to get Ollama the step is skipped with a
reason the user can act on, and the rest of DinoAir still installs.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from .. import ollama
from ..context import NETWORK, InstallContext, Step
from ..download import DownloadSpec
from ..errors import InstallError
from ..manifest import OllamaArchive
from ._download import download

LOG_NAME = "ollama-pull.log"
normalize = ollama.normalize  # kept here too: the step's callers spell model names with it


def skip_if(ctx: InstallContext) -> str | None:
    if ctx.options.no_models:
        return "no_models_flag"
    if not ctx.manifest.ollama_models:
        return "no_ollama_models"
    return None


def describe(ctx: InstallContext) -> str:
    models = ", ".join(ctx.manifest.ollama_models) or "none"
    if ollama.version(ollama.default_url()) is not None:
        how = f"with the Ollama running at {ollama.default_url()}"
    elif ollama.installed_binary(ctx.target) or ctx.tools.get("ollama"):
        how = "with the Ollama that is there"
    elif _archive(ctx) is not None:
        how = f"after installing Ollama into {ollama.FOLDER}/ (from the manifest's archive)"
    else:
        return f"skip: no Ollama here and no Ollama archive for {'/'.join(ollama.platform_key())}"
    return f"check Ollama for the models {models} and pull those not present yet, {how}"


def run(ctx: InstallContext) -> None:
    results: list[dict[str, str]] = []
    ctx.outcomes["ollama_models"] = results  # filled as we go, so a failure still shows progress
    with _server(ctx) as url:
        present = ollama.tags(url, ctx.options.timeout)
        for model in ctx.manifest.ollama_models:
            if normalize(model) in present:
                ctx.event("model_present", model=model)
                results.append({"name": model, "status": "present"})
                continue
            started = time.monotonic()
            with ctx.phase("pull", model=model) as phase:
                pulled = _pull(ctx, url, model)
                phase.attributes["bytes"] = pulled
            ctx.event(
                "model_pulled",
                model=model,
                bytes=pulled,
                duration_ms=round((time.monotonic() - started) * 1000),
            )
            results.append({"name": model, "status": "pulled"})


@contextlib.contextmanager
def _server(ctx: InstallContext) -> Iterator[str]:
    """The URL of an Ollama to pull with, started (and later stopped) here when needed."""
    running = ollama.default_url()
    if ollama.version(running) is not None:
        _component(ctx, "present", source="running")
        yield running
        return
    with ollama.install_folder():  # verify's stack check leaves ollama/ alone meanwhile
        binary: Path | str | None = ollama.installed_binary(ctx.target)
        if binary is not None:
            _component(ctx, "present", source="install_folder")
        elif ctx.tools.get("ollama"):
            binary = ctx.tools["ollama"]
            _component(ctx, "present", source="system")
        else:
            binary = _install(ctx)
            _component(ctx, "installed", source="archive")
        assert binary is not None
        models = ctx.target / ollama.FOLDER / "models"
        timeout = ctx.options.timeout  # --timeout: how long a silent Ollama is waited for
        with (
            ctx.phase("serve"),
            ollama.serving(binary, models, ctx.logs_dir / ollama.SERVE_LOG, timeout) as url,
        ):
            yield url


def _archive(ctx: InstallContext) -> OllamaArchive | None:
    """The manifest's Ollama archive for this OS and architecture, if it names one."""
    system, arch = ollama.platform_key()
    return next((a for a in ctx.manifest.ollama_archives if (a.os, a.arch) == (system, arch)), None)


def _install(ctx: InstallContext) -> Path:
    """Download the manifest's Ollama archive for this machine and unpack it under ollama/."""
    archive = _archive(ctx)
    if archive is None:
        _component(ctx, "skipped", source="none")
        ctx.skip(
            "ollama_not_found",
            f"the manifest has no Ollama archive for {'/'.join(ollama.platform_key())}: "
            "install Ollama (from ollama.com), then re-run to pull "
            + ", ".join(ctx.manifest.ollama_models),
        )
    folder = ctx.target / ollama.FOLDER
    size = archive.size or ollama.archive_size(archive.url, ctx.options.timeout)
    spec = DownloadSpec(archive.name, archive.url, folder / archive.name, size, archive.sha256)
    with ctx.phase("install_ollama", archive=archive.name):
        download(ctx, [spec], jobs=1)
        ollama.unpack(spec.dest, folder)
        binary = ollama.installed_binary(ctx.target)
        if binary is None:
            raise InstallError(
                f"the Ollama archive {archive.name} has no ollama program in bin/",
                hint="the manifest's ollama archive is not an Ollama release: check its url",
            )
        spec.dest.unlink()  # unpacked: the archive is not needed again
    ctx.event("ollama_installed", archive=archive.name, size=size)
    return binary


def _pull(ctx: InstallContext, url: str, model: str) -> int:
    """Pull one model; returns the bytes Ollama reported receiving (also counted in the run)."""
    from tqdm import tqdm  # only a pull draws a bar

    ctx.logs_dir.mkdir(parents=True, exist_ok=True)
    seen = 0
    bar = tqdm(
        total=0,
        unit="B",
        unit_scale=True,
        desc=f"ollama pull {model}",
        disable=not sys.stderr.isatty() or ctx.live,  # live: the runner's line shows it
        leave=False,
    )

    def progress(completed: int, total: int) -> None:
        nonlocal seen
        if completed > seen:
            ctx.add_bytes(completed - seen)
            seen = completed
        ctx.progress(done=completed, total=total)
        bar.total = total
        bar.n = completed
        bar.refresh()

    with (ctx.logs_dir / LOG_NAME).open("a", encoding="utf-8") as log, bar:
        log.write(f"$ POST /api/pull {model}\n")
        ollama.pull(
            url,
            model,
            timeout=max(ctx.options.timeout, 60.0),
            on_progress=progress,
            log=lambda line: print(line, file=log),
        )
    return seen


def _component(ctx: InstallContext, status: str, *, source: str) -> None:
    """Which way Ollama came to be there: installed by this run, found present, or skipped."""
    ctx.outcomes["ollama"] = {"status": status, "source": source}
    ctx.event("component", component="ollama", status=status, source=source)


STEP = Step(
    name="ollama_models",
    run=run,
    describe=describe,
    skip_if=skip_if,
    needs=("preflight",),
    uses=frozenset({NETWORK}),
)
