"""ComfyUI: a shallow checkout of the pinned ref, reused when right, updated in place when not.

The checkout is cloned into a temporary sibling (``ComfyUI.partial-<pid>``) and renamed into place
only when complete, so Ctrl-C, a dropped connection or a bad ref never leaves a half checkout at
``ComfyUI/``. An existing ``ComfyUI/`` that is exactly the pinned commit of the pinned repository
is reused without touching the network: that is what makes a second run fast; local edits to its
tracked files are the user's and stay. A checkout of another release of the same repository is
updated in place (:mod:`installer.lifecycle.checkout`): fetch the new ref, move to it, untracked
user folders untouched, local edits stashed and re-applied. Only a checkout that cannot be updated
(not a repository, another origin, corrupt) is moved aside to ``ComfyUI.broken-<UTC timestamp>``,
never deleted, and the user's folders in it are carried over into the fresh clone.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from ..context import CHECKOUT, NETWORK, InstallContext, Step
from ..errors import InstallError, NetworkError, SystemRequirementError
from ..fsutil import remove_tree
from ..lifecycle import carry_over, transaction, update_in_place, write_extra_model_paths
from ..lifecycle.checkout import has_local_edits, read_checkout
from ..lifecycle.release import release_label

if TYPE_CHECKING:  # GitPython is imported only where a checkout is changed (clone, update)
    import git

# Seconds before the first retry; doubled on each further retry. Tests set it to 0.
BACKOFF_SECONDS = 1.0
PARTIAL_PREFIX = "ComfyUI.partial-"
BROKEN_PREFIX = "ComfyUI.broken-"
SHORT_SHA = 12

_FULL_SHA = re.compile(r"^[0-9a-fA-F]{40}$")
# git's and curl's wording for failures worth retrying (DNS, refused, timeout, cut transfers).
_NETWORK_MARKERS = (
    "could not resolve host",
    "temporary failure in name resolution",
    "name or service not known",
    "connection refused",
    "couldn't connect to server",
    "failed to connect",
    "connection timed out",
    "timed out",
    "operation too slow",
    "connection reset",
    "network is unreachable",
    "no route to host",
    "early eof",
    "rpc failed",
    "the remote end hung up unexpectedly",
    "unexpected disconnect",
    "gnutls_handshake() failed",
    "ssl_connect",
    "ssl_error_syscall",
    "proxy connect aborted",
)
_HTTP_5XX = re.compile(r"returned error: 5\d\d")


def run(ctx: InstallContext) -> None:
    repo_url, ref = ctx.manifest.comfyui_repo, ctx.manifest.comfyui_ref
    dest = ctx.comfyui_dir
    ctx.target.mkdir(parents=True, exist_ok=True)
    removed = _remove_stale_partials(ctx.target)
    if removed:
        ctx.event("stale_partial_removed", count=removed)

    problem, head = ctx.take_over("comfyui") or inspect_checkout(dest, repo_url, ref)
    if problem in (None, "modified"):
        assert head is not None
        ctx.event("checkout_reused", commit=head[:SHORT_SHA], local_edits=problem == "modified")
        if problem == "modified":
            ctx.echo("  ComfyUI is at the pinned release; your local edits to its files are kept")
        ctx.outcomes["comfyui"] = {"ref": ref, "commit": head[:SHORT_SHA], "reused": True}
        _settle(ctx, dest)
        return
    if problem == "wrong_ref":
        assert head is not None
        _update(ctx, dest, ref, head)
        _settle(ctx, dest)
        return
    aside = _clear_destination(ctx, dest, problem) if problem != "missing" else None

    import git

    partial = ctx.target / f"{PARTIAL_PREFIX}{os.getpid()}"
    remove_tree(partial)
    started = time.monotonic()
    try:
        _clone_with_retries(ctx, partial, repo_url, ref)
        with git.Repo(partial) as repo:
            head = repo.head.commit.hexsha
            shallow = repo.git.rev_parse("--is-shallow-repository") == "true"
        os.replace(partial, dest)
    except BaseException:
        # Failure, Ctrl-C or SystemExit: never leave a half checkout behind.
        remove_tree(partial)
        raise
    seconds = round(time.monotonic() - started, 3)
    # git ignores --depth for a local path or a bundle: record what really happened.
    ctx.event("clone_completed", commit=head[:SHORT_SHA], seconds=seconds, shallow=shallow)
    if not shallow:
        ctx.echo("  cloned with full history (git makes no shallow clone from a local path)")
    ctx.outcomes["comfyui"] = {
        "ref": ref,
        "commit": head[:SHORT_SHA],
        "reused": False,
        "shallow": shallow,
    }
    if aside is not None:
        carried = carry_over(aside, dest)
        if carried:
            ctx.event("user_folders_carried_over", folders=",".join(carried), source=aside.name)
            ctx.echo(f"  carried your {', '.join(carried)} from {aside.name} into the new checkout")
    _settle(ctx, dest)


def _settle(ctx: InstallContext, dest: Path) -> None:
    """What every checkout gets, new or kept: ComfyUI's folders, and the path to the models."""
    ensure_user_folders(dest)
    if write_extra_model_paths(dest, ctx.models_dir):
        ctx.event("model_paths_written", file="extra_model_paths.yaml")


def _update(ctx: InstallContext, dest: Path, ref: str, head: str) -> None:
    """Move a clean or edited checkout of another release to ``ref``, in place (a phase span)."""
    import git

    journal = transaction.begin(ctx.target, head, ref)
    with ctx.phase("update", from_commit=head[:SHORT_SHA], to_release=release_label(ref)) as phase:
        attempts = max(0, ctx.options.retries) + 1
        for attempt in range(1, attempts + 1):
            try:
                result = update_in_place(dest, ref, _git_env(ctx.options.timeout))
                break
            except git.GitCommandNotFound as exc:
                raise _git_missing() from exc
            except git.GitCommandError as exc:
                detail = _git_error_text(exc)
                if not _is_network_failure(detail):
                    raise InstallError(
                        f"could not update ComfyUI to {ref!r}: {_first_error_line(detail)}; "
                        f"the checkout is unchanged at {head[:SHORT_SHA]}",
                        hint="check that comfyui.ref in the manifest names a tag, branch or "
                        "full commit sha of comfyui.repo, then re-run",
                    ) from exc
                if attempt == attempts:
                    raise NetworkError(
                        f"could not download ComfyUI {ref} after {attempts} attempts: "
                        f"{_first_error_line(detail)}; the checkout is unchanged",
                        hint="check your connection (git honours https_proxy) and re-run",
                    ) from exc
                delay = BACKOFF_SECONDS * 2 ** (attempt - 1)
                ctx.event("fetch_retry", attempt=attempt, attempts=attempts, delay_seconds=delay)
                time.sleep(delay)
        journal.stash_ref = result.stash_ref
        journal.save(ctx.target)
        # python_deps and verify work on a new venv beside the old; swapped in on success.
        ctx.venv_override = ctx.target / journal.new_venv
        phase.attributes.update(
            to_commit=result.to_commit[:SHORT_SHA],
            local_edits=result.edited_files,
            edits_reapplied=result.edits_reapplied,
            result="updated",
        )
    ctx.event(
        "checkout_updated",
        from_commit=head[:SHORT_SHA],
        to_commit=result.to_commit[:SHORT_SHA],
        local_edits=result.edited_files,
    )
    ctx.echo(f"  updated ComfyUI in place from {head[:SHORT_SHA]} to {ref}; your folders stayed")
    if result.edited_files:
        files = f"{result.edited_files} file{'s' if result.edited_files != 1 else ''}"
        if result.edits_reapplied:
            ctx.echo(
                f"  your local edits to {files} were stashed and re-applied on {ref} "
                "(a copy stays in `git stash list`)"
            )
        else:
            ctx.echo(
                f"  your local edits to {files} do not apply to {ref}: kept in git stash, "
                "see `git -C ComfyUI stash list`"
            )
    ctx.outcomes["comfyui"] = {
        "ref": ref,
        "commit": result.to_commit[:SHORT_SHA],
        "reused": False,
        "updated_from": head[:SHORT_SHA],
        "local_edits": result.edited_files,
    }


def describe(ctx: InstallContext) -> str:
    ref = ctx.manifest.comfyui_ref
    problem, head = ctx.hand_over(
        "comfyui", inspect_checkout(ctx.comfyui_dir, ctx.manifest.comfyui_repo, ref)
    )
    if problem in (None, "modified"):
        assert head is not None
        kept = ", keeping your local edits" if problem == "modified" else ""
        return f"reuse the ComfyUI checkout at {ref} ({head[:SHORT_SHA]}){kept}; no download"
    if problem == "wrong_ref":
        assert head is not None
        return (
            f"update the ComfyUI checkout in place from {head[:SHORT_SHA]} to {ref} (fetch the "
            "new release only; your custom nodes, models, inputs and outputs stay)"
        )
    if is_local_source(ctx.manifest.comfyui_repo):
        action = f"clone ComfyUI {ref} into ComfyUI/ (full history: git ignores depth locally)"
    else:
        action = f"shallow-clone ComfyUI {ref} (depth 1, tens of MiB) into ComfyUI/"
    if problem == "missing":
        return action
    return (
        f"move the existing ComfyUI/ aside ({problem.replace('_', ' ')}), then {action} "
        "and carry your custom nodes, models, inputs and outputs over"
    )


# Folders ComfyUI expects (upstream keeps them with placeholder files; a checkout without them,
# such as a snapshot, stops at start-up with FileNotFoundError). Empty folders are not tracked,
# so creating them leaves the checkout clean.
USER_FOLDERS = ("custom_nodes", "input", "output", "models/checkpoints", "models/vae")


def ensure_user_folders(checkout: Path) -> None:
    for folder in USER_FOLDERS:
        (checkout / folder).mkdir(parents=True, exist_ok=True)


def is_local_source(repo_url: str) -> bool:
    """A path or a bundle: git clones those in full whatever ``--depth`` says."""
    return "://" not in repo_url and not repo_url.startswith("git@")


def inspect_checkout(path: Path, repo_url: str, ref: str) -> tuple[str | None, str | None]:
    """Whether ``path`` is a checkout of ``ref`` from ``repo_url``: ``(problem, head sha)``.

    ``problem`` is None for a reusable checkout, else one of ``missing``, ``not_a_repo``,
    ``wrong_origin``, ``corrupt``, ``wrong_ref`` (another release, maybe with local edits),
    ``modified`` (the pinned release with local edits). Reads only, no network: the ref is
    resolved against the tags and branches the earlier clone stored.
    """
    if not path.exists() and not path.is_symlink():
        return "missing", None
    if not path.is_dir():
        return "not_a_repo", None
    candidates = () if _FULL_SHA.match(ref) else _ref_candidates(ref)
    try:
        found = read_checkout(path, candidates)
    except OSError:  # git cannot be started: nothing here can be vouched for
        return "corrupt", None
    if found.problem is not None:
        return found.problem, None
    if found.origin is None or _normalize_url(found.origin) != _normalize_url(repo_url):
        return "wrong_origin", None
    head = found.head
    if head is None:
        return "corrupt", None
    try:  # diffing index and work tree against HEAD also reads its trees and blobs
        dirty = has_local_edits(path)
    except OSError:
        dirty = None
    if dirty is None:
        return "corrupt", head
    pinned = (
        ref.lower()
        if _FULL_SHA.match(ref)
        else next((found.commits[c] for c in candidates if c in found.commits), None)
    )
    if pinned != head:
        return "wrong_ref", head  # another release: updated in place, edits and all
    if dirty:
        return "modified", head
    return None, head


# -- cloning -------------------------------------------------------------------------------------


def _clone_with_retries(ctx: InstallContext, partial: Path, repo_url: str, ref: str) -> None:
    """Clone, retrying network failures with exponential backoff; other failures fail at once.

    ``Options.retries`` counts retries after the first attempt.
    """
    import git

    from ._clone_progress import CloneProgress

    attempts = max(0, ctx.options.retries) + 1
    for attempt in range(1, attempts + 1):
        progress = CloneProgress(enabled=sys.stderr.isatty() and not ctx.live)
        try:
            clone_into(partial, repo_url, ref, progress=progress, timeout=ctx.options.timeout)
            return
        except git.GitCommandNotFound as exc:
            raise _git_missing() from exc
        except git.GitCommandError as exc:
            detail = _git_error_text(exc, progress)
            remove_tree(partial)
            if not _is_network_failure(detail):
                raise InstallError(
                    f"could not clone ComfyUI at {ref!r}: {_first_error_line(detail)}",
                    hint="check that comfyui.repo in the manifest is a git repository and that "
                    "comfyui.ref names one of its tags, branches or full commit shas",
                ) from exc
            if attempt == attempts:
                raise NetworkError(
                    f"could not download ComfyUI after {attempts} attempts: "
                    f"{_first_error_line(detail)}",
                    hint="check your connection (git honours https_proxy) and re-run; the "
                    "clone starts again from scratch, nothing half-done is kept",
                ) from exc
            delay = BACKOFF_SECONDS * 2 ** (attempt - 1)
            ctx.event("clone_retry", attempt=attempt, attempts=attempts, delay_seconds=delay)
            time.sleep(delay)
        finally:
            progress.close()


def clone_into(
    partial: Path,
    repo_url: str,
    ref: str,
    *,
    progress: git.RemoteProgress | None = None,
    timeout: float = 30.0,
) -> None:
    """Put a depth-1 checkout of ``ref`` (tag, branch or full commit sha) at ``partial``."""
    import git

    env = _git_env(timeout)
    if not _FULL_SHA.match(ref):
        # --branch takes tags as well as branches, and keeps the tag ref for the reuse check.
        clone = git.Repo.clone_from(
            repo_url,
            partial,
            # GitPython takes a RemoteProgress too (to_progress_instance); its hint names callables.
            progress=progress,  # type: ignore[arg-type]
            env=env,
            depth=1,
            branch=ref,
        )
        clone.close()
        return
    # A commit is not a ref the server advertises: fetch exactly that object, then check it out.
    with git.Repo.init(partial) as repo:
        repo.git.update_environment(**env)
        repo.create_remote("origin", repo_url)
        try:
            repo.git.fetch("origin", ref, depth=1)
        except git.GitCommandError as exc:
            if _is_network_failure(str(exc.stderr)):
                raise
            # Servers that refuse unadvertised objects (protocol v0 without
            # allowReachableSHA1InWant): fetch the full history of branches and tags instead.
            repo.git.fetch("origin", "--tags", "+refs/heads/*:refs/remotes/origin/*")
        repo.git.checkout(ref, quiet=True, detach=True)


def _git_env(timeout: float) -> dict[str, str]:
    """Never prompt (there is nobody to answer), and give up on a stalled transfer."""
    env = {
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_HTTP_LOW_SPEED_LIMIT": "1000",
        "GIT_HTTP_LOW_SPEED_TIME": str(max(1, int(timeout))),
    }
    if "GIT_SSH_COMMAND" not in os.environ:
        env["GIT_SSH_COMMAND"] = "ssh -o BatchMode=yes"
    return env


def _git_missing() -> SystemRequirementError:
    return SystemRequirementError(
        "missing tool: git could not be started",
        hint="install git and make sure `git --version` works, then re-run",
    )


def _git_error_text(exc: git.GitCommandError, progress: git.RemoteProgress | None = None) -> str:
    """git's stderr; with a progress handler GitPython hands the error lines to the handler."""
    if progress is None:
        text = str(exc.stderr or exc)
    else:
        parts = [str(exc.stderr or "").strip(), *progress.error_lines, *progress.other_lines]
        text = "\n".join(part for part in parts if part)
    return text.replace("stderr: '", "").strip().strip("'")


def _is_network_failure(detail: str) -> bool:
    lowered = detail.lower()
    return any(marker in lowered for marker in _NETWORK_MARKERS) or bool(_HTTP_5XX.search(lowered))


def _first_error_line(detail: str) -> str:
    lines = [line.strip() for line in detail.splitlines() if line.strip()]
    for line in lines:
        if line.lower().startswith(("fatal:", "error:")):
            return line
    return lines[-1] if lines else "git failed without a message"


# -- what is already on disk ---------------------------------------------------------------------


def _ref_candidates(ref: str) -> tuple[str, ...]:
    """Where the clone or an update stored ``ref``: a tag, origin's branch, a local branch."""
    return (f"refs/tags/{ref}", f"refs/remotes/origin/{ref}", f"refs/heads/{ref}")


def _normalize_url(url: str) -> str:
    """Compare origins loosely: trailing slashes and ``.git`` do not make another repository."""
    url = url.strip().rstrip("/")
    if url.endswith(".git"):
        url = url[: -len(".git")]
    if "://" not in url and not url.startswith("git@"):
        with contextlib.suppress(OSError):
            url = str(Path(url).resolve())
    return url


def _clear_destination(ctx: InstallContext, dest: Path, problem: str) -> Path | None:
    """Move an unusable ``ComfyUI/`` aside; returns where it went (None: it was empty)."""
    if dest.is_dir() and not dest.is_symlink() and not any(dest.iterdir()):
        dest.rmdir()  # an empty folder holds nothing worth keeping
        return None
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    aside = dest.with_name(f"{BROKEN_PREFIX}{stamp}")
    suffix = 1
    while aside.exists() or aside.is_symlink():
        aside = dest.with_name(f"{BROKEN_PREFIX}{stamp}-{suffix}")
        suffix += 1
    os.rename(dest, aside)
    ctx.event("checkout_moved_aside", reason=problem, folder=aside.name)
    ctx.echo(f"  existing ComfyUI folder kept as {aside.name} ({problem.replace('_', ' ')})")
    return aside


def _remove_stale_partials(target: Path) -> int:
    """Remove ``ComfyUI.partial-<pid>`` folders left by runs that were killed."""
    removed = 0
    for path in target.glob(f"{PARTIAL_PREFIX}*"):
        pid_text = path.name[len(PARTIAL_PREFIX) :]
        if not pid_text.isdigit():
            continue
        pid = int(pid_text)
        import psutil

        if pid != os.getpid() and psutil.pid_exists(pid):
            continue  # another installer run is cloning there right now
        remove_tree(path)
        removed += 1
    return removed


STEP = Step(
    name="comfyui",
    run=run,
    describe=describe,
    needs=("preflight",),
    uses=frozenset({NETWORK, CHECKOUT}),
)
