"""Download the manifest's checkpoint models into ``<target>/models/``, verified by SHA-256.

Models live beside the checkout (:mod:`installer.lifecycle.models_home`), so an update or a
replaced checkout never costs a download; an install from before that layout has its files moved
out of ``ComfyUI/models/`` first (a ``migrate_models`` phase), never fetched again.

The work is :func:`installer.download.download_all`: resumable, parallel (files and, for a
large file, ranges over several connections), checksummed. This step
only turns the manifest into download specs and records what happened to each file, so the
summary can say which files came over the network and which were already in place.
"""

from __future__ import annotations

from pathlib import Path

from ..context import NETWORK, InstallContext, Step
from ..download import DownloadSpec, resumed_note
from ..lifecycle import checkpoint_in_place, checkpoint_path, migrate_models, models_to_migrate
from ..lifecycle.reuse import Wanted, candidates, reuse, well_known_places
from ..units import size
from ._download import download


def skip_if(ctx: InstallContext) -> str | None:
    if ctx.options.no_models:
        return "no_models_flag"
    if not ctx.manifest.checkpoints:
        return "no_checkpoints"
    return None


def describe(ctx: InstallContext) -> str:
    checkpoints = ctx.manifest.checkpoints
    missing = [c for c in checkpoints if not checkpoint_in_place(ctx.target, ctx.comfyui_dir, c)]
    if not missing:  # a re-run: nothing to fetch, each file is checked
        return (
            f"check the {_files(len(checkpoints))} already in models/ "
            f"({size(ctx.manifest.download_bytes)}, SHA-256); nothing to download"
        )
    text = (
        f"download {_files(len(missing))} ({size(sum(c.size for c in missing))}) into models/, "
        f"{ctx.options.jobs} at a time, resuming partial files and checking SHA-256"
    )
    if len(missing) < len(checkpoints):
        text += f"; {len(checkpoints) - len(missing)} already in place are checked"
    places = _places(ctx)
    if not places:
        return text
    wanted = [w for w in _wanted(ctx) if not w.dest.exists()]
    found = candidates(wanted, places)
    hits = [w for w in wanted if found[w.name]]
    if not hits:
        return f"{text}; no file of a checkpoint's size in {len(places)} folder(s) to reuse"
    saved = sum(w.size for w in hits)
    return (
        f"{text}; may reuse {len(hits)} file{'s' if len(hits) != 1 else ''} ({size(saved)}) "
        f"of the right size found in {len(places)} folder(s), each if its SHA-256 matches"
    )


def _files(count: int) -> str:
    return f"{count} checkpoint file{'s' if count != 1 else ''}"


def run(ctx: InstallContext) -> None:
    _migrate(ctx)
    _reuse(ctx)
    specs = [
        DownloadSpec(
            c.name, c.url, checkpoint_path(ctx.target, ctx.comfyui_dir, c), c.size, c.sha256
        )
        for c in ctx.manifest.checkpoints
    ]
    results = download(ctx, specs, jobs=ctx.options.jobs)
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


def _migrate(ctx: InstallContext) -> None:
    """Move models an older install kept inside the checkout to ``<target>/models/``."""
    if not models_to_migrate(ctx.comfyui_dir):
        return
    with ctx.phase("migrate_models") as phase:
        moved = migrate_models(ctx.comfyui_dir, ctx.models_dir)
        phase.attributes.update(
            files=moved.files,
            bytes_saved=moved.bytes,
            renamed=moved.renamed,
            copied=moved.copied,
            conflicts=len(moved.kept),
            result="migrated",
        )
    ctx.echo(
        f"  moved {moved.files} model file{'s' if moved.files != 1 else ''} "
        f"({size(moved.bytes)}) from ComfyUI/models to models/ (no download)"
    )
    if moved.kept:
        ctx.echo(
            f"  left {len(moved.kept)} file(s) in ComfyUI/models: a different file of the same "
            "name is already in models/"
        )


def _places(ctx: InstallContext) -> list[Path]:
    """``--models-from`` folders first, then the well-known ones; never the install's own."""
    own = ctx.models_dir.resolve()
    places = [*ctx.options.models_from, *well_known_places(Path.home())]
    unique: list[Path] = []
    for place in places:
        real = place.resolve()
        if real != own and real not in unique and place.is_dir():
            unique.append(real)
    return unique


def _wanted(ctx: InstallContext) -> list[Wanted]:
    return [
        Wanted(c.name, c.size, c.sha256, checkpoint_path(ctx.target, ctx.comfyui_dir, c))
        for c in ctx.manifest.checkpoints
    ]


def _reuse(ctx: InstallContext) -> None:
    """Link missing checkpoints the user already has elsewhere (a ``reuse_models`` phase)."""
    places = _places(ctx)
    wanted = _wanted(ctx)
    if not places or all(w.dest.exists() for w in wanted):
        return
    with ctx.phase("reuse_models", folders=len(places)) as phase:
        done = reuse(wanted, places)
        phase.attributes.update(
            files=len(done.files),
            bytes_saved=done.bytes_saved,
            linked=done.linked,
            copied=done.copied,
            mismatched=done.mismatched,
            result="reused" if done.files else "none_found",
        )
    if done.files:
        how = "hard-linked" if not done.copied else f"{done.linked} linked, {done.copied} copied"
        count = len(done.files)
        ctx.echo(
            f"  reused {count} model file{'s' if count != 1 else ''} "
            f"({size(done.bytes_saved)} saved, {how}) from your folders"
        )
    if done.mismatched:
        ctx.echo(
            f"  ignored {done.mismatched} file(s) of a checkpoint's size whose SHA-256 differs"
        )


def _relative(path: Path, root: Path) -> str:
    """A path below the target as ``models/...``: summaries never hold absolute paths."""
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.name


STEP = Step(
    name="models",
    run=run,
    describe=describe,
    skip_if=skip_if,
    needs=("comfyui",),  # old-layout models move out of ComfyUI/models: the checkout is settled
    uses=frozenset({NETWORK}),
)
