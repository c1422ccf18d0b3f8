"""Aggregates across every local session: what works, what fails, and how long steps take.

Everything is computed from the sessions' documented ``events``, so sessions written by older
versions count too. Definitions, so the numbers can be checked by hand:

* success rate of a step = completed / (completed + failed + cancelled); skipped runs are left out
  (a skip is a decision, not an outcome), and a step that was only ever skipped has no rate;
* durations are over the runs that actually ran (not skipped); the 95th percentile interpolates
  linearly between the two nearest ranks, like ``numpy.percentile``'s default;
* failures by category count one error per failed step; a run-level error (no step) counts only
  when no step recorded one, since the run's root repeats its failing step's error;
* components (ComfyUI, Ollama, the web GUI): how each install left each one, installed,
  present (already there, used as it was), skipped or failed, from the "component" span event
  of the step that provides it, else from that step's outcome (completed = installed, skipped as
  already installed = present); its success rate = (installed + present) / (those + failed);
* step success by accelerator kind: the same step figures, per value of the root span's
  ``installer.system.accelerator`` (usage analytics); a session without it (usage analytics off,
  or a file from before the attribute) counts under "not recorded";
* updates and rollbacks per release: a session's ``dinoair.phase.update`` span counts one update
  to its ``to_release``, and its ``dinoair.phase.rollback`` span one rollback of its
  ``from_release`` (the update that run undid); a ``dinoair.phase.recover`` span (the next run
  finishing what a killed update left) counts for its ``to_release`` as rolled back by recovery
  (result ``rolled_back``), completed by recovery (``swapped``) or a failed recovery
  (``failed``); rollback rate = (rollbacks + rollbacks by recovery) / updates of that release
  (an update killed before its checkout moved recorded no update, so the rate can pass 100%);
* repairs: the runs with a ``dinoair.phase.repair`` span, by its result, and per kind fixed
  (``models_fixed``, ``nodes_disabled``...: a count above 0) the runs that fixed it and how many
  items they fixed in all.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from otel_local_exporter import (
    COMPONENT_EVENT,
    COMPONENT_FAILED,
    COMPONENT_INSTALLED,
    COMPONENT_PRESENT,
    COMPONENT_SKIPPED,
    COMPONENT_STATUSES,
    COMPONENT_STEPS,
    RESULT_CANCELLED,
    RESULT_FAILED,
    RESULT_SUCCESS,
    STEP_CANCELLED,
    STEP_COMPLETED,
    STEP_FAILED,
    STEP_SKIPPED,
    SYSTEM_ACCELERATOR,
    SessionView,
    StepOutcome,
    StoredFile,
)

from .intake import (
    NOT_RECORDED,
    RECOVERY_ROLLBACKS,
    RELEASE_COUNTS,
    ROLLBACKS,
    UPDATES,
    release_of,
    repair_of,
)
from .sessions import text

TOP_ERRORS = 10


def percentile(sorted_values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (0-100) of already sorted values, linear interpolation."""
    if not sorted_values:
        return None
    rank = (len(sorted_values) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    fraction = rank - low
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * fraction


@dataclass
class StepStats:
    name: str
    statuses: Counter[str] = field(default_factory=Counter)
    durations: list[float] = field(default_factory=list)

    def add(self, step: StepOutcome) -> None:
        self.statuses[step.status] += 1
        if step.status != STEP_SKIPPED and step.duration_ms is not None:
            self.durations.append(step.duration_ms)

    @property
    def runs(self) -> int:
        return sum(self.statuses.values())

    @property
    def decided(self) -> int:
        """Runs with an outcome: completed, failed or cancelled (skips are left out)."""
        return sum(self.statuses[s] for s in (STEP_COMPLETED, STEP_FAILED, STEP_CANCELLED))

    @property
    def success_rate(self) -> float | None:
        return self.statuses[STEP_COMPLETED] / self.decided if self.decided else None

    def to_dict(self) -> dict[str, Any]:
        ordered = sorted(self.durations)
        return {
            "step": self.name,
            "runs": self.runs,
            **{
                s: self.statuses[s]
                for s in (STEP_COMPLETED, STEP_SKIPPED, STEP_FAILED, STEP_CANCELLED)
            },
            "success_rate": _round(self.success_rate, 4),
            "median_ms": _round(percentile(ordered, 50), 1),
            "p95_ms": _round(percentile(ordered, 95), 1),
        }


@dataclass
class AcceleratorStats:
    """The sessions of one accelerator kind, and their steps' figures."""

    name: str
    results: Counter[str] = field(default_factory=Counter)
    steps: dict[str, StepStats] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "accelerator": self.name,
            "sessions": sum(self.results.values()),
            "results": dict(self.results.most_common()),
            "steps": [stats.to_dict() for stats in self.steps.values()],
        }


_PRESENT_REASONS = frozenset({"already_installed", "already_verified", "checkout_reused"})


def components_of(view: SessionView) -> dict[str, str]:
    """How this run left each component it got to (a component whose step never ran is absent)."""
    outcomes = {step.name: step for step in view.steps}
    events: dict[str, str] = {}
    for span in view.spans:
        for event in span.events:
            attrs = event.get("attributes")
            if event.get("name") == COMPONENT_EVENT and isinstance(attrs, dict):
                name, status = text(attrs.get("component")), text(attrs.get("status"))
                if name and status in COMPONENT_STATUSES:
                    events[name] = status
    found = {}
    for component, step_name in COMPONENT_STEPS.items():
        step = outcomes.get(step_name)
        if step is None:
            continue
        if step.status in (STEP_FAILED, STEP_CANCELLED):
            found[component] = COMPONENT_FAILED
        elif component in events:
            found[component] = events[component]
        elif step.status == STEP_COMPLETED:
            found[component] = COMPONENT_INSTALLED
        elif step.status == STEP_SKIPPED:
            present = step.reason in _PRESENT_REASONS
            found[component] = COMPONENT_PRESENT if present else COMPONENT_SKIPPED
    return found


def _components(counts: dict[str, Counter[str]]) -> list[dict[str, Any]]:
    rows = []
    for component, statuses in counts.items():
        good = statuses[COMPONENT_INSTALLED] + statuses[COMPONENT_PRESENT]
        decided = good + statuses[COMPONENT_FAILED]
        rows.append(
            {
                "component": component,
                "runs": sum(statuses.values()),
                **{s: statuses[s] for s in COMPONENT_STATUSES},
                "success_rate": _round(good / decided, 4) if decided else None,
            }
        )
    return rows


def accelerator_of(view: SessionView) -> str:
    """The accelerator kind the run recorded on its root span, or "not recorded"."""
    value = view.root.attributes.get(SYSTEM_ACCELERATOR) if view.root is not None else None
    return value if isinstance(value, str) and value.strip() else NOT_RECORDED


def lifecycle_of(view: SessionView) -> tuple[list[tuple[str, str]], Any]:
    """What a session's lifecycle phases count per release (see :func:`.intake.release_of`),
    and its repair (result, kinds fixed) or ``None``."""
    releases: list[tuple[str, str]] = []
    repair = None
    for span in view.spans:
        counted = release_of(span)
        if counted is not None:
            releases.append(counted)
        repair = repair_of(span) or repair
    return releases, repair


def release_rows(counts: dict[str, Counter[str]]) -> list[dict[str, Any]]:
    """One row a release: updates to it, rollbacks of it (in the run, by recovery), updates
    completed by recovery, failed recoveries, the rollback rate; most updates first."""
    names = sorted(counts, key=lambda n: (-counts[n][UPDATES], n))
    rows = []
    for name in names:
        row = counts[name]
        undone = row[ROLLBACKS] + row[RECOVERY_ROLLBACKS]
        rate = _round(undone / row[UPDATES], 4) if row[UPDATES] else None
        rows.append({"release": name, **{k: row[k] for k in RELEASE_COUNTS}, "rollback_rate": rate})
    return rows


@dataclass
class Repairs:
    """The ``--repair`` runs: by result, and per kind fixed the runs and the items fixed."""

    results: Counter[str] = field(default_factory=Counter)
    runs: Counter[str] = field(default_factory=Counter)  # kind -> runs that fixed it
    items: Counter[str] = field(default_factory=Counter)  # kind -> items fixed, all runs

    def add(self, repair: tuple[str, tuple[tuple[str, int], ...]] | None) -> None:
        if repair is None:
            return
        result, fixed = repair
        self.results[result] += 1
        for kind, count in fixed:
            self.runs[kind] += 1
            self.items[kind] += count

    def merge(self, other: Repairs) -> None:
        self.results.update(other.results)
        self.runs.update(other.runs)
        self.items.update(other.items)

    def to_dict(self) -> dict[str, Any]:
        return {
            "runs": sum(self.results.values()),
            "results": dict(self.results.most_common()),
            "fixed": [
                {"kind": kind, "runs": runs, "items": self.items[kind]}
                for kind, runs in sorted(self.runs.items(), key=lambda kv: (-kv[1], kv[0]))
            ],
        }


def count_releases(counts: dict[str, Counter[str]], releases: Iterable[tuple[str, str]]) -> None:
    """Add (what, release) pairs into per-release counters."""
    for kind, release in releases:
        counts.setdefault(release, Counter())[kind] += 1


def build_report(sessions: Sequence[StoredFile]) -> dict[str, Any]:
    """The report as plain data (what ``report --json`` prints)."""
    results: Counter[str] = Counter()
    steps: dict[str, StepStats] = {}
    accelerators: dict[str, AcceleratorStats] = {}
    categories: Counter[str] = Counter()
    error_types: Counter[tuple[str, str]] = Counter()
    error_steps: dict[tuple[str, str], Counter[str]] = {}
    releases: dict[str, Counter[str]] = {}
    repairs = Repairs()
    components: dict[str, Counter[str]] = {name: Counter() for name in COMPONENT_STEPS}
    for stored in reversed(sessions):  # oldest first: steps are listed in the order they ran
        view = SessionView(stored.data)
        results[view.result] += 1
        counted, repair = lifecycle_of(view)
        count_releases(releases, counted)
        repairs.add(repair)
        kind = accelerator_of(view)
        group = accelerators.setdefault(kind, AcceleratorStats(kind))
        group.results[view.result] += 1
        for step in view.steps:
            steps.setdefault(step.name, StepStats(step.name)).add(step)
            group.steps.setdefault(step.name, StepStats(step.name)).add(step)
        for component, status in components_of(view).items():
            components[component][status] += 1
        for event in view.failures:
            category = text(event.get("error_category")) or "unexpected"
            categories[category] += 1
            error_type = text(event.get("error_type"))
            if error_type:
                key = (error_type, category)
                error_types[key] += 1
                error_steps.setdefault(key, Counter())[text(event.get("step_name")) or "-"] += 1
    finished = results[RESULT_SUCCESS] + results[RESULT_FAILED] + results[RESULT_CANCELLED]
    return {
        "sessions": len(sessions),
        "results": dict(results.most_common()),
        "success_rate": _round(results[RESULT_SUCCESS] / finished, 4) if finished else None,
        "steps": [stats.to_dict() for stats in steps.values()],
        "components": _components(components),
        # most sessions first; "not recorded" last, whatever its count
        "by_accelerator": [
            group.to_dict()
            for group in sorted(
                accelerators.values(),
                key=lambda g: (g.name == NOT_RECORDED, -sum(g.results.values()), g.name),
            )
        ],
        "failures_by_category": dict(categories.most_common()),
        "releases": release_rows(releases),
        "repairs": repairs.to_dict(),
        "top_errors": [
            {
                "error_type": kind,
                "error_category": category,
                "count": count,
                "steps": [s for s, _ in error_steps[(kind, category)].most_common()],
            }
            for (kind, category), count in error_types.most_common(TOP_ERRORS)
        ],
    }


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)
