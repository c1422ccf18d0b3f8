"""What ``--uninstall`` and ``--repair`` do at the command line (cli.py only dispatches here)."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import Any

import click

from ..context import InstallContext, PhaseRecord
from ..errors import InstallError
from . import transaction
from .release import release_label
from .repair import RECHECKS, Repair, fixed_total, summary_line, tally
from .repair import begin as begin_repair
from .uninstall import execute, human, plan_uninstall


def uninstall(
    target: Path,
    *,
    keep_models: bool,
    telemetry_home: Path | None,
    yes: bool,
    record: dict[str, Any] | None = None,
) -> None:
    """Show what goes (with sizes), ask or need ``--yes``, remove it; errors are one line.

    ``record`` receives what the ``uninstall`` span reports: bytes removed and kept."""
    record = {} if record is None else record
    try:
        plan = plan_uninstall(target, keep_models=keep_models, telemetry_home=telemetry_home)
    except InstallError as exc:
        raise click.ClickException(f"{exc}. {exc.hint}") from None
    click.echo(f"Uninstall DinoAir from {target}: this removes")
    for entry in plan.remove:
        name = _name(entry.path, target)
        what = "link only; what it points to stays" if entry.link else human(entry.size)
        click.echo(f"  {name} ({what})")
    for entry in plan.keep:
        click.echo(f"  keeps {_name(entry.path, target)} ({human(entry.size)})")
    if telemetry_home is None:
        click.echo("  keeps the telemetry data (add --remove-telemetry-data to remove it too)")
    if not yes:
        if not sys.stdin.isatty():
            raise click.ClickException(
                "nothing was removed: confirm with --yes when there is no terminal to ask"
            )
        click.confirm(f"Remove {human(plan.remove_bytes)}?", abort=True)
    record["bytes_kept"] = sum(entry.size for entry in plan.keep)
    execute(plan)
    record["bytes_removed"] = plan.remove_bytes
    kept = "; the models stay in models/" if keep_models else ""
    click.echo(f"Removed {human(plan.remove_bytes)}{kept}.")


def repair(ctx: InstallContext) -> Repair:
    """Set aside the records a re-run trusts, so the run that follows checks everything."""
    started = begin_repair(ctx.target, ctx.target / "venv")
    ctx.echo(f"Repair: checking again {RECHECKS}; what passes is left as it is.")
    if started.records:
        ctx.echo(f"  removed {len(started.records)} record(s) of earlier checks")
    return started


def finish_repair(ctx: InstallContext, started: Repair, success: bool) -> str:
    """After the run: the ``repair`` phase span (counts checked and fixed per kind, result) and
    the one line that says what was checked and fixed."""
    counts = tally(started, ctx.outcomes, ctx.target)
    result = ("repaired" if fixed_total(counts) else "nothing_to_fix") if success else "failed"
    with ctx.phase("repair", **counts) as record:
        record.attributes["result"] = result
    return summary_line(counts, success)


def recover(ctx: InstallContext) -> None:
    """Before the steps: finish or undo an update that a killed run left (the journal says
    which), as the phase ``recover`` of this run (releases from and to, state, result)."""
    target = ctx.target
    journal = transaction.load(target)
    if journal is None:
        return
    attributes = {
        "from_commit": journal.from_commit[:12],
        "to_release": release_label(journal.to_ref),
        "state": journal.state,
    }
    with ctx.phase("recover", **attributes) as record:
        try:
            done = transaction.recover(target)
        except Exception as exc:  # git or the file system refused: one line, the run stops
            record.attributes["result"] = "failed"
            raise InstallError(
                f"could not finish the interrupted update of {target}: {exc}",
                hint="move the ComfyUI folder aside and re-run to install afresh",
            ) from None
        record.attributes["result"] = done or "none"
    if done == "swapped":
        ctx.echo(f"Completed the interrupted update to {journal.to_ref}.")
    elif done == "rolled_back":
        ctx.echo(
            f"An interrupted update to {journal.to_ref} was rolled back to "
            f"{journal.from_commit[:12]}; trying it again now."
        )


def finish_update(target: Path, success: bool, ctx: InstallContext | None = None) -> str | None:
    """After a run: swap the new release in, or roll back; the one line to print, if any.

    With ``ctx`` (the runner's closing hook) a rollback is a phase span ``rollback`` of the run,
    naming the release that was tried and the commit gone back to."""
    journal = transaction.load(target)
    if journal is None:
        return None
    phase = (
        ctx.phase(
            "rollback",
            from_release=release_label(journal.to_ref),
            to_commit=journal.from_commit[:12],
        )
        if ctx is not None and not success
        else contextlib.nullcontext(PhaseRecord("swap", {}))
    )
    try:
        with phase as record:
            done = transaction.finish(target, success)
            record.attributes["result"] = done or "none"
        if ctx is not None:
            ctx.outcomes["update_result"] = done  # the closing lines say what stands
    except Exception as exc:
        return (
            f"Error: the update to {journal.to_ref} could not be completed or undone ({exc}); "
            "re-run the installer, which finishes or undoes it first"
        )
    if done == "rolled_back":
        return (
            f"The update to {journal.to_ref} was rolled back: the previous release "
            f"({journal.from_commit[:12]}) is still installed, with its venv, and runs."
        )
    if done == "swapped":
        return f"Updated to {journal.to_ref}: the new venv is in use; the old one was removed."
    return None


def _name(path: Path, target: Path) -> str:
    try:
        folder = path.is_dir() and not path.is_symlink()
        return path.relative_to(target).as_posix() + ("/" if folder else "")
    except ValueError:
        return f"{path} (telemetry data)"
