"""Reuse models the user already has: found by size, proven by SHA-256, linked, not downloaded.

Places searched: every ``--models-from DIR`` (in the order given), then a short list of
well-known ones (another ComfyUI's ``models/``, AUTOMATIC1111's ``models/Stable-diffusion``, the
Hugging Face cache). A file is a candidate only when its size is exactly a missing checkpoint's
size (cheap: one ``stat`` a file); a candidate is used only when its SHA-256 is the manifest's,
so a file of the right size but other content is ignored (and the checkpoint downloaded).

A match is hard-linked into ``models/`` (no space used, instant); across file systems it is
cloned (a reflink, where the file system has them) or copied and checked again. The user's file
is never moved or changed: a hard link shares it, read-only use by ComfyUI is all it gets.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

_CHUNK = 1 << 20
_FICLONE = 0x40049409  # Linux ioctl: clone a whole file (btrfs, XFS, bcachefs...)


def well_known_places(home: Path, env: dict[str, str] | None = None) -> list[Path]:
    """The folders other tools keep models in, below ``home`` (those that exist)."""
    env = dict(os.environ) if env is None else env
    hf = env.get("HF_HUB_CACHE") or env.get("HUGGINGFACE_HUB_CACHE")
    hf_home = env.get("HF_HOME")
    places = [
        home / "ComfyUI" / "models",
        home / "Documents" / "ComfyUI" / "models",
        home / "stable-diffusion-webui" / "models" / "Stable-diffusion",
        Path(hf) if hf else (Path(hf_home) / "hub" if hf_home else home / ".cache/huggingface/hub"),
    ]
    return [p for p in places if p.is_dir()]


@dataclass(frozen=True)
class Wanted:
    name: str
    size: int
    sha256: str
    dest: Path


@dataclass
class Reuse:
    """What reusing did (or, from :func:`candidates`, may do)."""

    files: list[tuple[Wanted, Path]] = field(default_factory=list)  # (checkpoint, source)
    linked: int = 0
    copied: int = 0
    mismatched: int = 0  # right size, other content: ignored

    @property
    def bytes_saved(self) -> int:
        return sum(wanted.size for wanted, _ in self.files)


def candidates(wanted: Sequence[Wanted], places: Iterable[Path]) -> dict[str, list[Path]]:
    """Files of exactly a wanted checkpoint's size, by checkpoint name (size only, no hashing).

    The folders are walked without following links to folders (a loop cannot trap the walk);
    a link to a file (the Hugging Face cache's snapshots) counts as the file it names."""
    by_size: dict[int, list[Wanted]] = {}
    for item in wanted:
        by_size.setdefault(item.size, []).append(item)
    found: dict[str, list[Path]] = {item.name: [] for item in wanted}
    seen: set[tuple[int, int]] = set()
    for place in places:
        for root, _dirs, files in os.walk(place):
            for name in files:
                path = Path(root) / name
                try:
                    info = path.stat()
                except OSError:
                    continue
                matches = by_size.get(info.st_size)
                if not matches or (info.st_dev, info.st_ino) in seen:
                    continue
                seen.add((info.st_dev, info.st_ino))
                for item in matches:
                    if path.resolve() != item.dest.resolve():
                        found[item.name].append(path)
    return found


def reuse(wanted: Sequence[Wanted], places: Sequence[Path]) -> Reuse:
    """Link every wanted checkpoint that is missing and found (SHA-256 match) in ``places``."""
    missing = [item for item in wanted if not item.dest.exists()]
    result = Reuse()
    if not missing or not places:
        return result
    found = candidates(missing, places)
    for item in missing:
        for source in found[item.name]:
            if sha256(source) != item.sha256.lower():
                result.mismatched += 1
                continue
            item.dest.parent.mkdir(parents=True, exist_ok=True)
            if link_or_copy(source, item.dest, item.sha256.lower()):
                result.linked += 1
            else:
                result.copied += 1
            result.files.append((item, source))
            break
    return result


def link_or_copy(source: Path, dest: Path, digest: str) -> bool:
    """Hard link ``source`` at ``dest`` (True); else clone or copy it, verified (False)."""
    real = source.resolve()
    try:
        os.link(real, dest)
        return True
    except OSError as exc:
        if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP):
            raise
    partial = dest.with_name(dest.name + ".reusing")
    try:
        with real.open("rb") as src, partial.open("wb") as out:
            if not _reflink(src.fileno(), out.fileno()):  # no reflinks here: a real copy
                out.seek(0)
                out.truncate()
                while chunk := src.read(_CHUNK):
                    out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        if sha256(partial) != digest:
            raise OSError(errno.EIO, f"the copy of {source.name} does not match its SHA-256")
        os.replace(partial, dest)
    except BaseException:
        with contextlib.suppress(OSError):
            partial.unlink()
        raise
    return False


def _reflink(source_fd: int, dest_fd: int) -> bool:
    try:
        import fcntl  # not on Windows

        fcntl.ioctl(dest_fd, _FICLONE, source_fd)
        return True
    except (ImportError, OSError):
        return False


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()
