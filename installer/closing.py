"""The closing lines of a run: what the target folder now holds, and the next command to run.

"DinoAir is installed" is a promise that ``start.sh`` works, so it is said only when every step
that makes an install is done: completed in this run, skipped because what it makes is already
in place (or not needed, such as Ollama's models without Ollama), or done by an earlier run as
the ``install_summary.json`` on disk records. Anything else is named: "nothing was installed:
only preflight ran", "partly installed: models and webgui did not finish (cancelled)".
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from otel_local_exporter import (
    STEP_CANCELLED,
    STEP_COMPLETED,
    STEP_FAILED,
    STEP_SKIPPED,
    STEP_STATUSES,
    installer_command,
    shell_quote,
)

from .runner import ALWAYS_RUN, StepResult
from .scheduler import DEPENDENCY_FAILED
from .steps.finalize import SUMMARY

# Skips that leave the step's part missing: everything else a step skips is in place already
# or not needed on this machine (``already_installed``, ``ollama_not_found``, ``--no-models``).
_NOT_DONE_REASONS = frozenset({"excluded_by_option", DEPENDENCY_FAILED, "nothing_installed"})


@dataclass(frozen=True)
class Missing:
    """A step whose part of the install is not there, and why, in the user's words."""

    name: str
    why: str


def is_done(status: str | None, reason: str | None) -> bool:
    """Whether a step with this result leaves its part of the install in place."""
    if status == STEP_COMPLETED:
        return True
    return status == STEP_SKIPPED and reason not in _NOT_DONE_REASONS


def never_ran(steps: Sequence[StepResult], names: Iterable[str]) -> list[str]:
    """The steps of the install that this run did not reach (after Ctrl-C)."""
    seen = {step.name for step in steps}
    return [name for name in names if name not in seen]


def earlier_done(target: Path) -> set[str]:
    """The steps the summary on disk records as done (by this run's finalize or an earlier
    run's). An unreadable summary records nothing: the closing line then claims less."""
    try:
        data = json.loads((target / SUMMARY).read_text(encoding="utf-8"))
        entries = data.get("steps", [])
        return {
            e["name"]
            for e in entries
            if isinstance(e, dict)
            and isinstance(e.get("name"), str)
            and is_done(e.get("status"), e.get("reason"))
        }
    except (OSError, ValueError, AttributeError, TypeError):
        return set()


def missing_steps(steps: Sequence[StepResult], names: Sequence[str], target: Path) -> list[Missing]:
    """Every step of the install (but preflight) whose part is neither done now nor earlier.

    A step that failed or was cancelled in this run is missing even if an earlier run did it:
    it may have been changing its part (``python_deps`` installs into the venv in place), so
    nothing vouches for that part now.
    """
    by_name = {step.name: step for step in steps}
    failed = next((s.name for s in steps if s.status == STEP_FAILED), None)
    done_before = earlier_done(target)
    missing = []
    for name in names:
        step = by_name.get(name)
        broken_now = step is not None and step.status in (STEP_FAILED, STEP_CANCELLED)
        if name == ALWAYS_RUN or (name in done_before and not broken_now):
            continue
        if step is not None and is_done(step.status, step.reason):
            continue
        missing.append(Missing(name, _why(step, failed)))
    return missing


def _why(step: StepResult | None, failed: str | None) -> str:
    if step is None or step.status == STEP_CANCELLED:
        return "cancelled"
    if step.status == STEP_FAILED:
        return "failed"
    if step.reason == DEPENDENCY_FAILED:
        return f"{failed} failed" if failed else "an earlier step failed"
    if step.reason == "excluded_by_option":
        return "left out by --only/--skip"
    return "nothing to verify: the steps that install it did not run"


def join_names(names: Sequence[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    if len(names) < 2:
        return "".join(names)
    return f"{', '.join(names[:-1])} and {names[-1]}"


def next_command(target: Path, default_target: Path, manifest: Path | None) -> str:
    """The command that continues this install: the same folder and manifest, every step."""
    parts = [installer_command()]
    if target != default_target:
        parts += ["--target", shell_quote(str(target))]
    if manifest is not None:
        parts += ["--manifest", shell_quote(str(manifest))]
    return " ".join(parts)


def closing_lines(
    steps: Sequence[StepResult],
    names: Sequence[str],
    target: Path,
    command: str,
) -> list[str]:
    """What the folder holds now, in one line, then the next command (none when installed).

    After a failure the error line that follows says what to try, so no command is added.
    """
    missing = missing_steps(steps, names, target)
    start = target / "start.sh"
    if not missing and start.is_file():
        return [f"DinoAir is installed in {target}. Start it with {start}"]
    failed = next((s.name for s in steps if s.status == STEP_FAILED), None)
    ran = [s.name for s in steps if s.status in (STEP_COMPLETED, STEP_FAILED, STEP_CANCELLED)]
    nothing = len(missing) == len([n for n in names if n != ALWAYS_RUN])
    if nothing and failed == ALWAYS_RUN:
        return ["Nothing was installed: preflight failed."]
    if nothing and ran == [ALWAYS_RUN]:
        return ["Nothing was installed: only preflight ran.", f"To install: {command}"]
    head = "Nothing was installed" if nothing else f"Partly installed in {target}"
    groups: dict[str, list[str]] = {}
    for item in missing:
        if item.why != "failed":
            groups.setdefault(item.why, []).append(item.name)
    parts = [f"{failed} failed"] if failed else []
    parts += [  # a cancelled step may have started: it did not finish (true either way)
        f"{join_names(group)} did not {'finish' if why == 'cancelled' else 'run'} ({why})"
        for why, group in groups.items()
    ]
    lines = [f"{head}: {'; '.join(parts)}." if parts else f"{head}."]
    if failed is None:
        lines.append(f"To install {'it' if nothing else 'the rest'}: {command}")
    return lines


def summary_counts(steps: Sequence[StepResult], not_run: Sequence[str]) -> str:
    """``Summary: 5 completed, 1 skipped, 1 cancelled, 2 not run (models, webgui)``."""
    counts = {s: sum(1 for r in steps if r.status == s) for s in STEP_STATUSES}
    parts = [f"{n} {s}" for s, n in counts.items() if n]
    if not_run:
        parts.append(f"{len(not_run)} not run ({', '.join(not_run)})")
    return "Summary: " + ", ".join(parts)
