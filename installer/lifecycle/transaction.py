"""An update is all or nothing: a journal, a new venv beside the old, one atomic swap.

While an update runs, ``<target>/.dinoair-update.json`` (the journal) names the release that
worked (its commit and the stash holding the user's edits) and the new venv
(``venv-<commit>``), which python_deps and verify use instead of ``venv`` (``ctx.venv_override``).
The old ``venv`` is not touched until the run succeeded; then ``venv`` becomes a symbolic link to
the new venv by one ``os.replace`` (``start.sh`` goes through ``venv/``, so it follows). If the run
fails or is cancelled, the checkout goes back to the old commit, the user's edits are re-applied
and the new venv is removed: the previous release is installed and runs, exactly as before.

A run killed at any moment leaves a journal; the next run calls :func:`recover` first: in state
``updating`` it rolls back (nothing was swapped), in state ``swapping`` (verify had passed) it
completes the swap. Every step of both is idempotent, so a kill during recovery is fine too.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..fsutil import remove_tree, write_atomic
from .venv_clone import SCRIPTS, retarget_scripts

JOURNAL = ".dinoair-update.json"
VENV = "venv"
PREVIOUS = "venv.previous"  # a real venv folder from before the first swap, kept until it is done
SWAP_LINK = "venv.swap"  # the new link, made beside venv/ and renamed over it
LINK, RENAME = "link", "rename"  # how the swap is done (journaled)
UPDATING, SWAPPING = "updating", "swapping"


@dataclass
class Journal:
    state: str
    from_commit: str
    to_ref: str
    new_venv: str  # folder name below the target
    stash_ref: str | None = None
    old_venv: str | None = None  # what the venv link pointed at before (removed after the swap)
    swap: str = LINK  # RENAME once os.symlink was refused (Windows without Developer Mode)
    # custom nodes this update moved to custom_nodes.disabled/ ([name, name there]): a rollback
    # moves them back, as they worked with the release gone back to
    disabled_nodes: list[list[str]] = field(default_factory=list)

    def save(self, target: Path) -> None:
        write_atomic(target / JOURNAL, json.dumps(asdict(self)) + "\n")


def load(target: Path) -> Journal | None:
    try:
        data = json.loads((target / JOURNAL).read_text(encoding="utf-8"))
        return Journal(**data)
    except (OSError, ValueError, TypeError):
        return None


def new_venv_name(ref: str) -> str:
    return "venv-" + re.sub(r"[^A-Za-z0-9._-]", "_", ref)[:60]


def begin(target: Path, from_commit: str, to_ref: str) -> Journal:
    """Journal an update before the checkout moves; returns the journal to update."""
    name = new_venv_name(to_ref)
    venv = target / VENV
    if venv.is_symlink() and os.readlink(venv) == name:
        name += "-b"  # the venv in use already has that name: never build over it
    old = os.readlink(venv) if venv.is_symlink() else None
    journal = Journal(UPDATING, from_commit, to_ref, name, old_venv=old)
    remove_tree(target / journal.new_venv)  # a leftover of an earlier, killed attempt
    journal.save(target)
    return journal


def finish(target: Path, success: bool) -> str | None:
    """After the run: swap on success, roll back otherwise. Returns what happened, or None."""
    journal = load(target)
    if journal is None:
        return None
    if not success:
        rollback(target, journal)
        return "rolled_back"
    if not (target / journal.new_venv).is_dir():  # python_deps did not run (--skip): keep venv
        (target / JOURNAL).unlink()
        return "kept_venv"
    journal.state = SWAPPING
    journal.save(target)
    for _ in swap_steps(target, journal):
        pass
    return "swapped"


def recover(target: Path) -> str | None:
    """Finish what a killed run left: roll back an update, or complete a swap."""
    journal = load(target)
    if journal is None:
        return None
    if journal.state == SWAPPING:
        for _ in swap_steps(target, journal):
            pass
        return "swapped"
    rollback(target, journal)
    return "rolled_back"


def swap_steps(target: Path, journal: Journal) -> Iterator[str]:
    """The swap, one idempotent rename at a time (a generator, so tests can stop between).

    ``venv`` becomes a link to the new venv, replaced atomically. Where links cannot be made
    (Windows without Developer Mode refuses ``os.symlink``) it is a rename swap instead, journaled
    as such before its first rename so that recovery never mistakes the new venv, once renamed to
    ``venv``, for the old one."""
    if journal.swap != RENAME:
        try:
            yield from _link_steps(target, journal)
        except _NoLinks:
            journal.swap = RENAME
            journal.save(target)
    if journal.swap == RENAME:
        yield from _rename_steps(target, journal)
    with contextlib.suppress(FileNotFoundError):
        (target / SWAP_LINK).unlink()
    remove_tree(target / PREVIOUS)
    old = journal.old_venv
    if old and old != journal.new_venv and _plain_name(old):
        remove_tree(target / old)  # a venv-<release> of ours, by name, never a path elsewhere
    (target / JOURNAL).unlink(missing_ok=True)
    yield "done"


class _NoLinks(Exception):
    """``os.symlink`` was refused: the swap is done by renames."""


def _link_steps(target: Path, journal: Journal) -> Iterator[str]:
    venv, new = target / VENV, target / journal.new_venv
    if not new.is_dir() or (venv.is_symlink() and os.readlink(venv) == journal.new_venv):
        return
    link = target / SWAP_LINK
    with contextlib.suppress(FileNotFoundError):
        link.unlink()
    try:  # first, before anything moves: whether links can be made here at all
        link.symlink_to(journal.new_venv, target_is_directory=True)
    except OSError as exc:
        raise _NoLinks from exc
    if venv.is_dir() and not venv.is_symlink():
        os.rename(venv, target / PREVIOUS)  # the first swap: the real folder steps aside
        yield "previous_aside"
    os.replace(link, venv)  # atomic: venv/ is the old venv or the new one, never neither
    yield "linked"


def _rename_steps(target: Path, journal: Journal) -> Iterator[str]:
    """venv -> venv.previous, venv-<release> -> venv. Between the two renames there is no
    ``venv/`` (a directory cannot be replaced in one step on Windows): a kill there leaves the
    journal, and the next run completes the swap before anything else."""
    venv, new = target / VENV, target / journal.new_venv
    if new.is_dir():  # the new venv is not in place yet
        if venv.is_symlink():  # made by an earlier update where links worked
            venv.unlink()  # what it points at is journal.old_venv, removed after the swap
        elif venv.is_dir():
            os.rename(venv, target / PREVIOUS)
            yield "previous_aside"
        os.rename(new, venv)
        yield "renamed"
    # Its scripts name the folder it was built in: name venv/ now (each rewritten by a rename).
    retarget_scripts(venv / SCRIPTS, [str(new)], str(venv))


def note_disabled(target: Path, name: str, moved_to: str) -> None:
    """Journal a custom node the update disabled, so that a rollback puts it back."""
    journal = load(target)
    if journal is not None:
        journal.disabled_nodes.append([name, moved_to])
        journal.save(target)


def rollback(target: Path, journal: Journal) -> None:
    """Put the checkout back at the release that worked, edits and all; drop the new venv."""
    import git  # only here: a run that changes no checkout never imports GitPython

    checkout = target / "ComfyUI"
    remove_tree(target / journal.new_venv)  # first: on a full disk this frees the space git needs
    _clear_git_locks(checkout / ".git")
    with git.Repo(checkout) as repo:
        moved = repo.head.commit.hexsha != journal.from_commit
        if moved:  # the new release's files go; untracked user files are not git's to touch
            repo.git.reset("--hard", "--quiet", journal.from_commit)
        if journal.stash_ref and (moved or not repo.is_dirty(untracked_files=False)):
            with contextlib.suppress(git.GitCommandError):  # the edits stay in the stash anyway
                repo.git.stash("apply", journal.stash_ref)
    for name, moved_to in journal.disabled_nodes:  # the nodes worked with this release
        home = checkout / "custom_nodes" / name
        there = checkout / "custom_nodes.disabled" / moved_to
        if _plain_name(name) and _plain_name(moved_to) and there.exists() and not home.exists():
            os.rename(there, home)
    (target / JOURNAL).unlink(missing_ok=True)


def _clear_git_locks(git_dir: Path) -> None:
    """Remove the lock files a git killed with the run left (``index.lock``, ``HEAD.lock``,
    ``refs/tags/<tag>.lock``...): git never removes another process's lock, so each later git
    command on the checkout would fail with "File exists". Only this run's update used the
    checkout (the journal says so), and that run is over."""
    if not git_dir.is_dir() or git_dir.is_symlink():
        return
    candidates = list(git_dir.glob("*.lock"))
    for folder in ("refs", "logs"):
        if (git_dir / folder).is_dir():
            candidates += (git_dir / folder).rglob("*.lock")
    for lock in candidates:
        if lock.is_file() and not lock.is_symlink():
            with contextlib.suppress(FileNotFoundError):
                lock.unlink()


def _plain_name(name: str) -> bool:
    return bool(name) and name not in (".", "..") and "/" not in name and os.sep not in name
