"""Download the manifest's checkpoint models into the ComfyUI checkout, verified by SHA-256.

The work is :func:`installer.download.download_all`: resumable, parallel (files and, for a
large file, ranges over several connections), checksummed. This step
only turns the manifest into download specs and records what happened to each file, so the
summary can say which files came over the network and which were already in place.
"""

from __future__ import annotations

import sys
from pathlib import Path

from ..context import NETWORK, InstallContext, Step
from ..download import DownloadSpec, download_all, resumed_note
from ..errors import InstallError
from ..units import size


def skip_if(ctx: InstallContext) -> str | None:
    if ctx.options.no_models:
        return "no_models_flag"
    if not ctx.manifest.checkpoints:
        return "no_checkpoints"
    return None


def describe(ctx: InstallContext) -> str:
    count = len(ctx.manifest.checkpoints)
    return (
        f"download {count} checkpoint file{'s' if count != 1 else ''} "
        f"({size(ctx.manifest.download_bytes)}) into ComfyUI/models, "
        f"{ctx.options.jobs} at a time, resuming partial files and checking SHA-256"
    )


def run(ctx: InstallContext) -> None:
    if not ctx.comfyui_dir.is_dir():
        raise InstallError(
            "ComfyUI is not installed in the target folder, so there is no place for its models",
            hint="re-run the installer so the comfyui step installs ComfyUI first",
        )
    specs = [DownloadSpec.from_checkpoint(c, ctx.comfyui_dir) for c in ctx.manifest.checkpoints]
    results = download_all(
        specs,
        jobs=ctx.options.jobs,
        connections=ctx.options.connections,
        timeout=ctx.options.timeout,
        retries=ctx.options.retries,
        progress=sys.stderr.isatty(),
        on_event=lambda name, attrs: ctx.event(name, **attrs),
        on_bytes=ctx.add_bytes,
    )
    for r, spec in zip(results, specs, strict=True):
        note = resumed_note(r.resumed_from, spec.size) if r.status == "downloaded" else ""
        if note:  # the bar says it too, but only on a terminal
            ctx.echo(f"  {r.name}{note}")
    ctx.outcomes["models"] = [
        {
            "name": r.name,
            "status": r.status,
            "bytes_transferred": r.bytes_transferred,
            "path": _relative(r.path, ctx.target),
        }
        for r in results
    ]
    counts = {
        status: sum(r.status == status for r in results)
        for status in ("downloaded", "verified", "hashed")
    }
    ctx.event(
        "models_ready",
        files=len(results),
        bytes_transferred=sum(r.bytes_transferred for r in results),
        **counts,
    )


def _relative(path: Path, root: Path) -> str:
    """A path below the target as ``ComfyUI/models/...``: summaries never hold absolute paths."""
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.name


STEP = Step(
    name="models",
    run=run,
    describe=describe,
    skip_if=skip_if,
    needs=("comfyui",),  # the files go into ComfyUI/models, so the checkout must exist
    uses=frozenset({NETWORK}),
)
