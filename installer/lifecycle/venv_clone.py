"""An update's new venv starts as a clone of the old one, so only the difference is installed.

Building the new release's venv from nothing costs a resolution and the linking of every package
(even from uv's cache), which is most of an update's time. The old venv already holds them: its
files are hard-linked into the new folder (a copy where links cannot be made, e.g. another file
system), then uv installs only what the new release's requirements change, and when they are the
same the requirements stamp copied with the venv says so and nothing is installed at all.

Hard links are safe here because neither uv nor pip writes a package file in place: an upgrade
removes the old file and writes or links a new one, and Python writes ``.pyc`` files by rename.
The few files that name the venv's own path (the scripts in ``bin/``: shebangs, ``activate``)
are rewritten as new files naming the new folder, so they never touch the old venv's copies.
The old venv is left exactly as it was: a rollback still has it, whole.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from ..fsutil import remove_tree

SCRIPTS = "Scripts" if os.name == "nt" else "bin"
_SCRIPT_LIMIT = 1 << 20  # a script naming the venv's path is small; a binary is left alone
# Never cloned: records that vouch for the old venv only (verify's stamp names its commit; the
# custom nodes' requirements are installed again into the new venv after an update).
SKIP = frozenset({".dinoair-verified.json", ".dinoair-custom-nodes.json"})


def clone_venv(source: Path, dest: Path) -> int:
    """Clone the venv ``source`` (a link to it is followed) into ``dest``; returns files cloned.

    ``dest`` must not exist. On any failure the partial clone is removed and the error raised:
    the caller then builds the venv from nothing, as before.
    """
    real = source.resolve()
    try:
        count = _clone_tree(real, dest)
        retarget_scripts(dest / SCRIPTS, [str(real), str(source)], str(dest))
    except BaseException:
        remove_tree(dest)
        raise
    return count


def _clone_tree(source: Path, dest: Path) -> int:
    count = 0
    for root, dirs, files in os.walk(source):
        here = Path(root)
        there = dest / here.relative_to(source)
        there.mkdir(parents=True, exist_ok=True)
        for name in list(dirs):
            if (here / name).is_symlink():  # a link to a folder is copied as a link
                dirs.remove(name)
                os.symlink(os.readlink(here / name), there / name)
        for name in files:
            if name in SKIP and here == source:
                continue
            src, out = here / name, there / name
            if src.is_symlink():  # bin/python -> the base interpreter, kept as it points
                os.symlink(os.readlink(src), out)
                continue
            try:
                os.link(src, out)
            except OSError:  # another file system, or links not allowed: a real copy
                shutil.copy2(src, out)
            count += 1
    return count


def retarget_scripts(scripts: Path, old_paths: list[str], new_path: str) -> None:
    """Point the scripts that name the old venv at the new one (longest old path first).

    Each changed script is written beside itself and renamed over it: that breaks a hard link
    (the old venv's script stays as it was), and a kill leaves the old script or the new one,
    so running this again (a recovery does) finishes the job."""
    olds = sorted({p.encode() for p in old_paths if p}, key=len, reverse=True)
    new = new_path.encode()
    if not scripts.is_dir():
        return
    for entry in scripts.iterdir():
        if entry.is_symlink() or not entry.is_file() or entry.stat().st_size > _SCRIPT_LIMIT:
            continue
        data = entry.read_bytes()
        changed = data
        for old in olds:
            changed = changed.replace(old + b"/", new + b"/").replace(old + b"'", new + b"'")
            changed = changed.replace(old + b'"', new + b'"').replace(old + b"\n", new + b"\n")
            changed = changed.replace(old + b"\\", new + b"\\")  # Windows paths
        if changed == data:
            continue
        temp = entry.with_name(f".{entry.name}.dinoair-new")
        temp.write_bytes(changed)
        os.chmod(temp, entry.stat().st_mode)
        os.replace(temp, entry)
