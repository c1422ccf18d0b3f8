"""Move a ComfyUI checkout to another release without losing what the user put in it.

An update is ``git fetch`` of the new ref plus ``git checkout``: files git does not track
(``custom_nodes/``, ``models/``, ``input/``, ``output/``, ``user/``, anything else) are left
exactly where they are, and local edits to tracked files are stashed first and re-applied after,
so they are never lost: when they do not apply to the new release they stay in ``git stash``.
Only a checkout that cannot be updated (not a repository, another origin, corrupt) is moved aside
by the caller, and then :func:`carry_over` brings the user's folders into the fresh checkout.
"""

from __future__ import annotations

import contextlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

import git

# What a user keeps inside ComfyUI/: carried from a checkout moved aside into the new one.
CARRY_OVER = (
    "custom_nodes",
    "custom_nodes.disabled",
    "models",
    "input",
    "output",
    "user",
    "extra_model_paths.yaml",
)

_FULL_SHA = re.compile(r"^[0-9a-fA-F]{40}$")
STASH_MESSAGE = "dinoair update"


@dataclass(frozen=True)
class UpdateResult:
    """What an update did: the commits from and to, and what happened to local edits."""

    from_commit: str
    to_commit: str
    edited_files: int  # tracked files with local edits before the update
    edits_reapplied: bool  # True when the edits are back in the work tree on the new release
    stash_ref: str | None  # the stash entry holding the edits (kept either way), if any


def update_in_place(path: Path, ref: str, env: dict[str, str]) -> UpdateResult:
    """Fetch ``ref`` from origin and check it out in ``path``; raises ``git.GitCommandError``.

    On any failure the checkout is back at the commit it had, with the user's edits in place.
    """
    with git.Repo(path) as repo:
        repo.git.update_environment(**env)
        before = repo.head.commit.hexsha
        target = _fetch(repo, ref)
        edited_count = len(repo.git.status("--porcelain", "--untracked-files=no").splitlines())
        stash_ref: str | None = None
        if edited_count:
            repo.git.stash("push", "-m", f"{STASH_MESSAGE} {before[:12]} -> {ref}")
            stash_ref = repo.git.rev_parse("refs/stash")
        try:
            repo.git.checkout(target, quiet=True, detach=True)
        except git.GitCommandError:
            if stash_ref is not None:
                repo.git.stash("pop", "--index")
            raise
        reapplied = False
        if stash_ref is not None:
            try:
                repo.git.stash("apply", stash_ref)
                reapplied = True
            except git.GitCommandError:
                # A conflict: the new release as released, the edits safe in the stash.
                repo.git.reset("--hard", "--quiet", target)
        return UpdateResult(before, target, edited_count, reapplied, stash_ref)


def _fetch(repo: git.Repo, ref: str) -> str:
    """Fetch ``ref`` (tag, branch or full sha) shallowly, keeping a local ref for reuse checks."""
    depth = ["--depth", "1"] if repo.git.rev_parse("--is-shallow-repository") == "true" else []
    if _FULL_SHA.match(ref):
        repo.git.fetch("origin", ref, *depth)
        return ref.lower()
    try:
        repo.git.fetch("origin", "--force", *depth, f"refs/tags/{ref}:refs/tags/{ref}")
        return repo.git.rev_parse(f"refs/tags/{ref}^{{commit}}")
    except git.GitCommandError as exc:
        if "couldn't find remote ref" not in str(exc.stderr).lower():
            raise
    repo.git.fetch("origin", *depth, f"+refs/heads/{ref}:refs/remotes/origin/{ref}")
    return repo.git.rev_parse(f"refs/remotes/origin/{ref}^{{commit}}")


def carry_over(old: Path, new: Path) -> list[str]:
    """Move the user's folders from a checkout moved aside into the fresh one; returns their names.

    Renames only (same folder, same file system). Where the fresh checkout already has a file
    of that name (a placeholder the release tracks), the user's file stays in ``old``.
    """
    moved: list[str] = []
    for name in CARRY_OVER:
        source = old / name
        if not source.exists() and not source.is_symlink():
            continue
        if _merge(source, new / name):
            moved.append(name)
    return moved


def _merge(source: Path, dest: Path) -> bool:
    if not dest.exists() and not dest.is_symlink():
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.rename(source, dest)
        return True
    if source.is_symlink() or not source.is_dir() or dest.is_symlink() or not dest.is_dir():
        return False  # both have a file of that name: the release's stays, the user's is kept aside
    any_moved = False
    for child in sorted(source.iterdir()):
        any_moved |= _merge(child, dest / child.name)
    with contextlib.suppress(OSError):
        source.rmdir()  # only when everything in it moved
    return any_moved
