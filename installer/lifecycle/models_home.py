"""Models live beside the checkout, not in it: ``<target>/models/<ComfyUI folder name>/``.

A checkout can then be updated, moved aside or replaced without touching gigabytes of models,
and the user can delete ComfyUI without losing them. ComfyUI finds them through
``ComfyUI/extra_model_paths.yaml``: the installer owns one marked block in that file and rewrites
only that block, so entries the user added (other model folders, another UI's) stay as written.
An install from before this layout is migrated by moving its files out of ``ComfyUI/models/``:
a rename on the same file system, else copy, verify (SHA-256) and delete. Never a download.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from ..fsutil import write_atomic
from ..manifest import Checkpoint
from .checkout import tracked_files
from .reuse import sha256 as _sha256

MODELS_PREFIX = "models/"
# ComfyUI's model folder names (folder_paths.py); each is mapped in the installer's block.
MODEL_FOLDERS = (
    "checkpoints",
    "vae",
    "loras",
    "embeddings",
    "controlnet",
    "upscale_models",
    "clip",
    "clip_vision",
    "text_encoders",
    "diffusion_models",
    "unet",
    "hypernetworks",
    "style_models",
    "gligen",
    "vae_approx",
    "photomaker",
)
YAML_NAME = "extra_model_paths.yaml"
BLOCK_START = "# >>> DinoAir: written by the installer on every run; add your own entries outside"
BLOCK_END = "# <<< DinoAir"
_CHUNK = 1 << 20


def checkpoint_path(target: Path, checkout: Path, checkpoint: Checkpoint) -> Path:
    """Where a manifest checkpoint lives: ``dest`` ``models/<folder>`` maps to the install's
    models folder; any other ``dest`` (a custom node's folder) stays below the checkout."""
    dest = checkpoint.dest.strip("/")
    if (dest + "/").startswith(MODELS_PREFIX):
        return target / dest / checkpoint.name
    return checkout / dest / checkpoint.name


def checkpoint_in_place(target: Path, checkout: Path, checkpoint: Checkpoint) -> bool:
    """At its full size where it lives, or still inside the checkout from before models moved
    out (moved by a rename, not fetched): what neither needs a download nor free space."""
    for path in (
        checkpoint_path(target, checkout, checkpoint),
        checkout / checkpoint.dest / checkpoint.name,
    ):
        try:
            if path.is_file() and path.stat().st_size == checkpoint.size:
                return True
        except OSError:
            continue
    return False


def render_block(models_home: Path) -> str:
    lines = [BLOCK_START, "dinoair:", f"    base_path: {_quote(str(models_home))}"]
    lines.append("    is_default: true")
    lines += [f"    {name}: {name}/" for name in MODEL_FOLDERS]
    lines.append(BLOCK_END)
    return "\n".join(lines) + "\n"


def write_extra_model_paths(checkout: Path, models_home: Path) -> bool:
    """Put the installer's block into ``extra_model_paths.yaml``; returns True if it changed.

    Everything outside the block is kept byte for byte. Also creates the model folders.
    """
    for name in MODEL_FOLDERS:
        (models_home / name).mkdir(parents=True, exist_ok=True)
    path = checkout / YAML_NAME
    try:
        old = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        old = ""
    new = _with_block(old, render_block(models_home))
    if new == old:
        return False
    write_atomic(path, new)
    return True


def _with_block(text: str, block: str) -> str:
    start = text.find(BLOCK_START)
    end = text.find(BLOCK_END, start) if start >= 0 else -1
    if start >= 0 and end >= 0:
        after = text.find("\n", end)
        rest = "" if after < 0 else text[after + 1 :]
        return text[:start] + block + rest
    if text and not text.endswith("\n"):
        text += "\n"
    return text + ("\n" if text else "") + block


def _quote(value: str) -> str:
    """A YAML double-quoted scalar (the JSON escapes are a subset of YAML's)."""
    return json.dumps(value)


@dataclass
class Migration:
    """What moving models out of the checkout did."""

    files: int = 0
    bytes: int = 0
    renamed: int = 0
    copied: int = 0
    kept: list[str] = field(default_factory=list)  # relative paths left where they were


def models_to_migrate(checkout: Path) -> list[Path]:
    """Files under ``ComfyUI/models/`` that the release does not track: the user's models."""
    root = checkout / "models"
    if not root.is_dir() or root.is_symlink():
        return []
    tracked = tracked_files(checkout, "models")  # not a repo: no placeholders
    found = []
    for path in sorted(root.rglob("*")):
        if path.is_symlink() or not path.is_file():
            continue
        rel = path.relative_to(checkout).as_posix()
        if rel in tracked or (not tracked and path.stat().st_size == 0):
            continue  # a placeholder the release ships (``.keep``, ``put_checkpoints_here``)
        found.append(path)
    return found


def migrate_models(checkout: Path, models_home: Path) -> Migration:
    """Move the user's files from ``ComfyUI/models/`` to ``models_home``, same relative names."""
    result = Migration()
    root = checkout / "models"
    for source in models_to_migrate(checkout):
        rel = source.relative_to(root)
        dest = models_home / rel
        size = source.stat().st_size
        if dest.exists():
            if dest.stat().st_size == size and _sha256(dest) == _sha256(source):
                source.unlink()  # the same file is already in place: keep one copy
                result.files += 1
                result.bytes += size
            else:
                result.kept.append(rel.as_posix())
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.rename(source, dest)
            result.renamed += 1
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise
            _copy_verified(source, dest)
            source.unlink()
            result.copied += 1
        result.files += 1
        result.bytes += size
    return result


def _copy_verified(source: Path, dest: Path) -> None:
    """Copy across file systems into ``<dest>.migrating``, compare SHA-256, then rename in place."""
    partial = dest.with_name(dest.name + ".migrating")
    try:
        with source.open("rb") as src, partial.open("wb") as out:
            shutil.copyfileobj(src, out, _CHUNK)
            out.flush()
            os.fsync(out.fileno())
        if _sha256(partial) != _sha256(source):
            raise OSError(errno.EIO, f"copy of {source.name} does not match the original")
        os.replace(partial, dest)
    except BaseException:
        with contextlib.suppress(OSError):
            partial.unlink()
        raise
