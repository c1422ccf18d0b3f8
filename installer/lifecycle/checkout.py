"""Move a ComfyUI checkout to another release without losing what the user put in it.

An update is ``git fetch`` of the new ref plus ``git checkout``: files git does not track
(``custom_nodes/``, ``models/``, ``input/``, ``output/``, ``user/``, anything else) are left
exactly where they are, and local edits to tracked files are stashed first and re-applied after,
so they are never lost: when they do not apply to the new release they stay in ``git stash``.
Only a checkout that cannot be updated (not a repository, another origin, corrupt) is moved aside
by the caller, and then :func:`carry_over` brings the user's folders into the fresh checkout.

Reading a checkout (:func:`read_checkout`, :func:`head_commit`) is plain ``git`` in a subprocess,
a handful of milliseconds: a re-run over a finished install reads the checkout and never changes
it, so it never imports GitPython (about a tenth of a re-run's imports). Changing a checkout
(update, clone) stays GitPython.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
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
    import git

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
    import git

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


# -- reading a checkout with plain git ------------------------------------------------------------

# Variables that would point git at another repository, index or object store than ``path``'s.
_LOCATING = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_COMMON_DIR",
    "GIT_NAMESPACE",
    "GIT_DISCOVERY_ACROSS_FILESYSTEM",
)


@dataclass(frozen=True)
class CheckoutRead:
    """What plain git reads of a checkout; each field None where it could not be read.

    ``problem`` is ``not_a_repo`` (no repository at the path itself, or a bare one) or
    ``corrupt`` (a ``.git`` that git cannot read); None when the repository opened.
    """

    problem: str | None = None
    origin: str | None = None
    head: str | None = None  # HEAD's commit (the object is read, not just the ref)
    commits: dict[str, str] = field(default_factory=dict)  # each ref asked for that resolves


def _git_read(path: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    """A read-only ``git`` in the repository at ``path`` itself, never a parent folder's.

    ``GIT_CEILING_DIRECTORIES`` stops the search at ``path`` (GitPython's ``Repo(path)`` does
    not search upwards either); ``GIT_OPTIONAL_LOCKS=0``: ``status`` does not rewrite the index.
    """
    real = path.resolve()
    env = {k: v for k, v in os.environ.items() if k not in _LOCATING}
    env.update(GIT_CEILING_DIRECTORIES=str(real.parent), GIT_OPTIONAL_LOCKS="0")
    return subprocess.run(
        ["git", "-C", str(real), *args],
        input=stdin,
        capture_output=True,
        text=True,
        errors="replace",
        env=env,
        check=False,
    )


def read_checkout(path: Path, refs: Sequence[str] = ()) -> CheckoutRead:
    """Origin, HEAD's commit and the commit of each of ``refs`` (``refs/tags/v1`` ...), in two
    ``git`` processes. Raises ``FileNotFoundError`` when git cannot be started."""
    config = _git_read(
        path, "config", "--local", "--get-regexp", r"^(core\.bare|remote\.origin\.url)$"
    )
    if config.returncode not in (0, 1):  # 1: neither key is set
        # git finds no repository here: none at all, or a .git it cannot read.
        has_git = (path / ".git").exists() or (path / ".git").is_symlink()
        return CheckoutRead(problem="corrupt" if has_git else "not_a_repo")
    values: dict[str, str] = {}
    for line in config.stdout.splitlines():
        key, _, value = line.partition(" ")
        values[key.lower()] = value
    if values.get("core.bare", "").lower() == "true":
        return CheckoutRead(problem="not_a_repo")
    origin = values.get("remote.origin.url")
    names = ["HEAD", *refs]
    # cat-file peels each name to its commit object, so a missing or broken object shows.
    found = _git_read(
        path, "cat-file", "--batch-check", stdin="".join(f"{n}^{{commit}}\n" for n in names)
    )
    commits: dict[str, str] = {}
    if found.returncode == 0:
        for name, line in zip(names, found.stdout.splitlines(), strict=False):
            sha, _, kind = line.partition(" ")
            if kind.startswith("commit") and _FULL_SHA.match(sha):
                commits[name] = sha.lower()
    head = commits.pop("HEAD", None)
    return CheckoutRead(origin=origin, head=head, commits=commits)


def has_local_edits(path: Path) -> bool | None:
    """Whether the index or tracked files differ from HEAD (untracked files do not count);
    None when git cannot tell (it reads HEAD's trees and the files, so damage shows here)."""
    done = _git_read(path, "status", "--porcelain", "--untracked-files=no")
    if done.returncode != 0:
        return None
    return bool(done.stdout.strip())


def tracked_files(path: Path, pathspec: str) -> set[str]:
    """The files git tracks under ``pathspec`` (relative, ``/``-separated); empty when ``path``
    is no repository or git cannot read it."""
    try:
        done = _git_read(path, "ls-files", "-z", "--", pathspec)
    except OSError:
        return set()
    return set(done.stdout.split("\0")) - {""} if done.returncode == 0 else set()


def head_commit(path: Path) -> str | None:
    """HEAD's commit in the repository at ``path``; None when there is none to read."""
    try:
        done = _git_read(path, "rev-parse", "--verify", "--quiet", "HEAD^{commit}")
    except OSError:
        return None
    sha = done.stdout.strip()
    return sha.lower() if done.returncode == 0 and _FULL_SHA.match(sha) else None


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
