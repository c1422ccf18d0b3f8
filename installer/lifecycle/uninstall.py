"""Remove a DinoAir install: say what goes with sizes first, never leave the folder by a link.

Only a folder the installer wrote an ``install_summary.json`` into is removed (a JSON object with
``installer_version`` and ``paths``), so a mistyped ``--target`` cannot wipe someone's documents.
Sizes are counted and entries removed without following symbolic links: a link inside the
install that points elsewhere is removed as a link, and what it points to stays untouched.
``--keep-models`` keeps ``models/`` (and the ``ComfyUI/extra_model_paths.yaml`` that finds
them); the telemetry home goes only with ``--remove-telemetry-data``.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ConfigurationError
from ..fsutil import remove_tree
from .models_home import YAML_NAME, models_to_migrate

SUMMARY = "install_summary.json"
# Kept with --keep-models: the models and what points ComfyUI at them (old-layout models too).
KEPT_WITH_MODELS = ("models", f"ComfyUI/{YAML_NAME}", "ComfyUI/models")


@dataclass(frozen=True)
class Entry:
    path: Path
    size: int
    link: bool = False  # a symbolic link: only the link goes


@dataclass
class UninstallPlan:
    target: Path
    remove: list[Entry] = field(default_factory=list)
    keep: list[Entry] = field(default_factory=list)

    @property
    def remove_bytes(self) -> int:
        return sum(entry.size for entry in self.remove)


def check_install(target: Path) -> None:
    """Raise :class:`ConfigurationError` unless ``target`` is a DinoAir install folder."""
    if target.is_symlink():
        raise ConfigurationError(
            f"{target} is a symbolic link; uninstall removes only a real install folder",
            hint="pass the folder the link points to as --target, if that is the DinoAir install",
        )
    summary = target / SUMMARY
    data: object = None
    if summary.is_file() and not summary.is_symlink():
        try:
            data = json.loads(summary.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            data = None
    if not (isinstance(data, dict) and "installer_version" in data and "paths" in data):
        raise ConfigurationError(
            f"{target} is not a DinoAir install (no {SUMMARY} written by the installer); "
            "nothing was removed",
            hint="pass the install folder as --target (the one holding start.sh)",
        )


def plan_uninstall(
    target: Path, *, keep_models: bool, telemetry_home: Path | None = None
) -> UninstallPlan:
    """What an uninstall removes and keeps, with sizes; changes nothing."""
    check_install(target)
    plan = UninstallPlan(target)
    kept = {target / name for name in KEPT_WITH_MODELS} if keep_models else set()
    if not models_to_migrate(target / "ComfyUI"):
        kept.discard(target / "ComfyUI/models")  # only the release's placeholders in it
    for path in sorted(target.iterdir()):
        if path in kept:
            plan.keep.append(_entry(path))
        elif keep_models and path == target / "ComfyUI" and not path.is_symlink():
            for child in sorted(path.iterdir()):  # keep only the yaml and models inside it
                (plan.keep if child in kept else plan.remove).append(_entry(child))
        else:
            plan.remove.append(_entry(path))
    if telemetry_home is not None and (telemetry_home.exists() or telemetry_home.is_symlink()):
        plan.remove.append(_entry(telemetry_home))
    return plan


def execute(plan: UninstallPlan) -> None:
    for entry in plan.remove:
        remove_tree(entry.path)
    for folder in (plan.target / "ComfyUI", plan.target):
        if folder.is_dir() and not folder.is_symlink() and not any(folder.iterdir()):
            folder.rmdir()


def _entry(path: Path) -> Entry:
    if path.is_symlink():
        return Entry(path, 0, link=True)
    return Entry(path, tree_size(path))


def tree_size(path: Path) -> int:
    """Bytes on disk below ``path``, never following a link (a link counts as nothing)."""
    try:
        info = path.lstat()
    except OSError:
        return 0
    if not path.is_dir() or path.is_symlink():
        return info.st_size
    total = 0
    for root, _dirs, files in os.walk(path, followlinks=False):  # linked folders: not entered
        for name in files:
            with contextlib.suppress(OSError):
                info = os.lstat(os.path.join(root, name))
                if not stat.S_ISLNK(info.st_mode):
                    total += info.st_size
    return total


def human(size: int) -> str:
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} B"
