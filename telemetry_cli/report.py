"""Aggregates across every local session: what works, what fails, and how long steps take.

Everything is computed from the sessions' documented ``events``, so sessions written by older
versions count too. Definitions, so the numbers can be checked by hand:

* success rate of a step = completed / (completed + failed + cancelled); skipped runs are left out
  (a skip is a decision, not an outcome), and a step that was only ever skipped has no rate;
* durations are over the runs that actually ran (not skipped); the 95th percentile interpolates
  linearly between the two nearest ranks, like ``numpy.percentile``'s default;
* failures by category count one error per failed step; a run-level error (no step) counts only
  when no step recorded one, since the run's root repeats its failing step's error.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from otel_local_exporter.store import StoredFile

from .sessions import events_of, number, summarize, text

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

    @property
    def runs(self) -> int:
        return sum(self.statuses.values())

    @property
    def success_rate(self) -> float | None:
        decided = sum(self.statuses[s] for s in ("completed", "failed", "cancelled"))
        return self.statuses["completed"] / decided if decided else None

    def to_dict(self) -> dict[str, Any]:
        ordered = sorted(self.durations)
        return {
            "step": self.name,
            "runs": self.runs,
            "completed": self.statuses["completed"],
            "skipped": self.statuses["skipped"],
            "failed": self.statuses["failed"],
            "cancelled": self.statuses["cancelled"],
            "success_rate": _round(self.success_rate, 4),
            "median_ms": _round(percentile(ordered, 50), 1),
            "p95_ms": _round(percentile(ordered, 95), 1),
        }


def build_report(sessions: Sequence[StoredFile]) -> dict[str, Any]:
    """The report as plain data (what ``report --json`` prints)."""
    results: Counter[str] = Counter()
    steps: dict[str, StepStats] = {}
    categories: Counter[str] = Counter()
    error_types: Counter[tuple[str, str]] = Counter()
    error_steps: dict[tuple[str, str], Counter[str]] = {}
    for stored in reversed(sessions):  # oldest first: steps are listed in the order they ran
        results[summarize(stored).result] += 1
        for event in events_of(stored.data, "installation_step"):
            name = text(event.get("step_name"))
            if name is None:
                continue
            stats = steps.setdefault(name, StepStats(name))
            status = text(event.get("status")) or "unknown"
            stats.statuses[status] += 1
            duration = number(event.get("duration_ms"))
            if status != "skipped" and duration is not None:
                stats.durations.append(duration)
        for event in _failures(stored):
            category = text(event.get("error_category")) or "unexpected"
            categories[category] += 1
            error_type = text(event.get("error_type"))
            if error_type:
                key = (error_type, category)
                error_types[key] += 1
                error_steps.setdefault(key, Counter())[text(event.get("step_name")) or "-"] += 1
    finished = results["success"] + results["failed"] + results["cancelled"]
    return {
        "sessions": len(sessions),
        "results": dict(results.most_common()),
        "success_rate": _round(results["success"] / finished, 4) if finished else None,
        "steps": [stats.to_dict() for stats in steps.values()],
        "failures_by_category": dict(categories.most_common()),
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


def _failures(stored: StoredFile) -> list[Mapping[str, Any]]:
    """The session's error events, one per failure.

    The run's root span repeats its failing step's category, which gives a second, step-less
    error event; it is counted only when no step recorded an error (a failure outside any step).
    """
    errors = events_of(stored.data, "error")
    in_steps = [e for e in errors if text(e.get("step_name"))]
    return in_steps or errors


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)
