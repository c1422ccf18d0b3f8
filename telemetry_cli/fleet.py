"""The maintainers' view: many users' exported bundles read as one stream, aggregated on the way.

:mod:`.intake` turns each file into the facts of its sessions; this module keeps only the
aggregates: counters, one float per step run for exact percentiles (8 bytes each, in an
``array``), the error signatures, and the ids seen (a session exported twice, by two bundles of
the same user, counts once). Files are read in worker processes when there are several, each
aggregating a batch of files into a partial report; one process merges the partial reports in
the order the files were named (see :func:`build`). Nothing is written and nothing is sent.

Definitions (the same as the local ``report``): a run's success rate is success / (success +
failed + cancelled); a step's is completed / (completed + failed + cancelled), skips left out;
durations are over the step runs that ran (not skipped); percentiles interpolate linearly.
"""

from __future__ import annotations

import os
from array import array
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from otel_local_exporter import (
    RESULT_SUCCESS,
    RUN_RESULTS,
    STEP_CANCELLED,
    STEP_COMPLETED,
    STEP_FAILED,
    STEP_SKIPPED,
    STEP_STATUSES,
    fold,
)

from .intake import NOT_RECORDED, Facts, Skipped, expand, read_file
from .report import Repairs, count_releases, percentile, release_rows

__all__ = ["NOT_RECORDED", "Fleet", "build"]

PERCENTILES = (50, 90, 95, 99)
TOP_SIGNATURES = 20
BATCH_FILES = 16  # files a worker reads into one partial report
MIN_GROUP = 5  # report --from: the fewest distinct installs a group row may describe
OTHER_GROUP = "other"  # the row the smaller groups are folded into

# -- aggregating ---------------------------------------------------------------------------------


@dataclass
class Group:
    """Runs of sessions sharing one value (an installer version, an OS, an accelerator kind)."""

    results: Counter[str] = field(default_factory=Counter)
    # Who the runs came from: the bundles' install ids (the file, when a file names none), so a
    # group of fewer than ``--min-group`` installs can be folded away.
    installs: set[str] = field(default_factory=set)

    def to_dict(self, name: str) -> dict[str, Any]:
        decided = sum(self.results[r] for r in RUN_RESULTS)
        return {
            "name": name,
            "sessions": sum(self.results.values()),
            **{r: self.results[r] for r in RUN_RESULTS},
            "other": sum(n for r, n in self.results.items() if r not in RUN_RESULTS),
            "success_rate": _rate(self.results[RESULT_SUCCESS], decided),
        }


@dataclass
class Step:
    statuses: Counter[str] = field(default_factory=Counter)
    durations: array = field(default_factory=lambda: array("d"))

    def to_dict(self, name: str) -> dict[str, Any]:
        ordered = sorted(self.durations)
        decided = sum(self.statuses[s] for s in (STEP_COMPLETED, STEP_FAILED, STEP_CANCELLED))
        return {
            "step": name,
            "runs": sum(self.statuses.values()),
            **{s: self.statuses[s] for s in STEP_STATUSES},
            "success_rate": _rate(self.statuses[STEP_COMPLETED], decided),
            **{f"p{q}_ms": _round(percentile(ordered, q), 1) for q in PERCENTILES},
        }


@dataclass
class Signature:
    category: str
    error_type: str
    signature: str
    example: str
    count: int = 0
    steps: Counter[str] = field(default_factory=Counter)
    ids: Counter[str] = field(default_factory=Counter)  # failure signatures (the feed's keys)


@dataclass
class Fleet:
    """The aggregates, fed one session at a time."""

    files: int = 0
    duplicates: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    bad_lines: Counter[str] = field(default_factory=Counter)
    results: Counter[str] = field(default_factory=Counter)
    steps: dict[str, Step] = field(default_factory=dict)
    versions: dict[str, Group] = field(default_factory=dict)
    systems: dict[str, Group] = field(default_factory=dict)
    accelerators: dict[str, Group] = field(default_factory=dict)
    computes: dict[str, Group] = field(default_factory=dict)  # by GPU compute capability
    categories: Counter[str] = field(default_factory=Counter)
    signatures: dict[tuple[str, str, str], Signature] = field(default_factory=dict)
    # per release: updates, rollbacks (in the run, by recovery)... (intake.RELEASE_COUNTS),
    # and the installs they came from (a release of fewer than --min-group is folded away)
    releases: dict[str, Counter[str]] = field(default_factory=dict)
    release_installs: dict[str, set[str]] = field(default_factory=dict)
    repairs: Repairs = field(default_factory=Repairs)
    _seen: set[str] = field(default_factory=set, repr=False)

    def add(self, facts: Facts, source: str = "") -> None:
        """Count one session; ``source`` (its file) stands for its install when the file does
        not name one."""
        if facts.session_id in self._seen:
            self.duplicates += 1
            return
        self._seen.add(facts.session_id)
        self.results[facts.result] += 1
        for groups, key in (
            (self.versions, facts.version),
            (self.systems, facts.os),
            (self.accelerators, facts.accelerator),
            (self.computes, facts.compute),
        ):
            group = groups.get(key)
            if group is None:
                group = groups[key] = Group()
            group.results[facts.result] += 1
            group.installs.add(facts.install or source)
        for name, status, duration in facts.steps:
            step = self.steps.get(name)
            if step is None:
                step = self.steps[name] = Step()
            step.statuses[status] += 1
            if status != STEP_SKIPPED and duration is not None:
                step.durations.append(duration)
        count_releases(self.releases, facts.releases)
        for _, release in facts.releases:
            self.release_installs.setdefault(release, set()).add(facts.install or source)
        self.repairs.add(facts.repair)
        for step_name, category, error_type, message, signature_id in facts.errors:
            self.categories[category] += 1
            folded = fold(message) if message else "(no message)"
            entry = self.signatures.get((category, error_type, folded))
            if entry is None:
                entry = Signature(category, error_type, folded, message)
                self.signatures[(category, error_type, folded)] = entry
            entry.count += 1
            entry.steps[step_name or "-"] += 1
            if signature_id:
                entry.ids[signature_id] += 1

    def merge(self, other: Fleet) -> None:
        """Add ``other``, the partial report of files read after this one's and without a
        session in common (``files`` stays the caller's). Counters and lists are added in
        ``other``'s order, so ties and first examples come out as if read in one pass.
        """
        self._seen |= other._seen
        self.duplicates += other.duplicates
        self.skipped.extend(other.skipped)
        self.bad_lines.update(other.bad_lines)
        self.results.update(other.results)
        for name, theirs in other.steps.items():
            step = self.steps.get(name)
            if step is None:
                self.steps[name] = theirs
            else:
                step.statuses.update(theirs.statuses)
                step.durations.extend(theirs.durations)
        for groups, their_groups in (
            (self.versions, other.versions),
            (self.systems, other.systems),
            (self.accelerators, other.accelerators),
            (self.computes, other.computes),
        ):
            for name, group in their_groups.items():
                if name in groups:
                    groups[name].results.update(group.results)
                    groups[name].installs |= group.installs
                else:
                    groups[name] = group
        self.categories.update(other.categories)
        for release, counts in other.releases.items():
            self.releases.setdefault(release, Counter()).update(counts)
            self.release_installs.setdefault(release, set()).update(
                other.release_installs.get(release, ())
            )
        self.repairs.merge(other.repairs)
        for key, found in other.signatures.items():
            entry = self.signatures.get(key)
            if entry is None:
                self.signatures[key] = found
            else:
                entry.count += found.count
                entry.steps.update(found.steps)
                entry.ids.update(found.ids)

    @property
    def sessions(self) -> int:
        return len(self._seen)

    def _releases(self, min_group: int, suppressed: dict[str, int]) -> list[dict[str, Any]]:
        """Release rows; those of fewer than ``min_group`` installs folded into ``other``."""
        shown = {}
        other: Counter[str] = Counter()
        small = 0
        for release, counts in self.releases.items():
            if len(self.release_installs.get(release, ())) >= min_group:
                shown[release] = counts
            else:
                small += 1
                other.update(counts)
        rows = release_rows(shown)
        if small:
            [folded] = release_rows({OTHER_GROUP: other})
            rows.append({**folded, "groups": small})
        suppressed["releases"] = small
        return rows

    def to_dict(
        self, *, top: int = TOP_SIGNATURES, sanitizer: Any = None, min_group: int = 1
    ) -> dict[str, Any]:
        """The report as data. A group (an installer version, an OS, an accelerator kind) of
        fewer than ``min_group`` distinct installs is folded into one ``other`` row, so that no
        row describes a handful of people; ``suppressed`` says how many were folded."""
        decided = sum(self.results[r] for r in RUN_RESULTS)
        clean = sanitizer.text if sanitizer is not None else (lambda s: s)
        ranked = sorted(self.signatures.values(), key=lambda s: (-s.count, s.signature))[:top]
        suppressed: dict[str, int] = {}

        def groups(table: dict[str, Group], key: str) -> list[dict[str, Any]]:
            small = [g for g in table.values() if len(g.installs) < min_group]
            rows = [g.to_dict(name) for name, g in table.items() if len(g.installs) >= min_group]
            rows.sort(key=lambda r: (-r["sessions"], r["name"]))
            suppressed[key] = len(small)
            if small:
                other = Group()
                for group in small:
                    other.results.update(group.results)
                    other.installs |= group.installs
                rows.append({**other.to_dict(OTHER_GROUP), "groups": len(small)})
            return rows

        return {
            "files": self.files,
            "sessions": self.sessions,
            "duplicates": self.duplicates,
            "results": dict(self.results.most_common()),
            "success_rate": _rate(self.results[RESULT_SUCCESS], decided),
            "steps": [step.to_dict(name) for name, step in self.steps.items()],
            "by_version": groups(self.versions, "by_version"),
            "by_os": groups(self.systems, "by_os"),
            "by_accelerator": groups(self.accelerators, "by_accelerator"),
            "by_compute_capability": groups(self.computes, "by_compute_capability"),
            "min_group": min_group,
            "suppressed": suppressed,
            "failures_by_category": dict(self.categories.most_common()),
            "releases": self._releases(min_group, suppressed),
            "repairs": self.repairs.to_dict(),
            "signatures": [
                {
                    "count": s.count,
                    "error_category": s.category,
                    "error_type": s.error_type,
                    "signature": clean(s.signature),
                    "steps": [name for name, _ in s.steps.most_common()],
                    "ids": [sid for sid, _ in s.ids.most_common()],
                    "example": clean(s.example.strip().split("\n", 1)[0][:300]),
                }
                for s in ranked
            ],
            "skipped": [{"file": _shown(s.name), "reason": s.reason} for s in self.skipped],
            "bad_lines": {_shown(name): n for name, n in self.bad_lines.items()},
        }


def build(paths: Iterable[str], *, workers: int | None = None) -> Fleet:
    """Read every file once and aggregate it (the whole of ``report --from``).

    With several files, ``workers`` processes (default: one per processor, at most 4) each read
    a batch of consecutive files into a partial :class:`Fleet` and send back only that: a few
    counters, the step durations and the batch's session ids, not every session's facts. One
    process merges the batches in the order the files were named. A batch holding a session
    already counted from an earlier batch (the same session in two users' exports) is read
    again here, file by file, so that the first copy counts, exactly as in one process: the
    report does not depend on the workers.
    """
    fleet = Fleet()
    files: list[Path] = []
    for item in expand(paths):
        if isinstance(item, Skipped):
            fleet.skipped.append(item)
        else:
            files.append(item)
    fleet.files = len(files)
    workers = workers if workers is not None else min(4, os.cpu_count() or 1)
    if workers > 1 and len(files) >= 2 * workers:
        from concurrent.futures import ProcessPoolExecutor

        size = max(1, min(BATCH_FILES, len(files) // (workers * 8)))
        batches = [files[i : i + size] for i in range(0, len(files), size)]
        with ProcessPoolExecutor(max_workers=workers) as pool:
            for batch, part in zip(batches, pool.map(read_batch, batches), strict=True):
                if part._seen.isdisjoint(fleet._seen):
                    fleet.merge(part)
                else:
                    for path in batch:
                        _take(fleet, path, read_facts(path))
    else:
        for path in files:
            _take(fleet, path, read_facts(path))
    return fleet


def read_batch(paths: list[Path]) -> Fleet:
    """A partial report of ``paths`` (files counts nothing: the caller knows the files).
    A module-level function, so worker processes can run it."""
    part = Fleet()
    for path in paths:
        _take(part, path, read_facts(path))
    return part


def read_facts(path: Path) -> tuple[list[Facts], int, str | None]:
    """One file's facts, its count of bad lines, and why it was skipped (``None``: it was not)."""
    bad: Counter[str] = Counter()
    facts: list[Facts] = []
    try:
        facts.extend(read_file(path, bad))
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        return facts, sum(bad.values()), reason
    return facts, sum(bad.values()), None


def _take(fleet: Fleet, path: Path, outcome: tuple[list[Facts], int, str | None]) -> None:
    facts, bad, reason = outcome
    for one in facts:
        fleet.add(one, str(path))
    if bad:
        fleet.bad_lines[str(path)] += bad
    if reason is not None:
        fleet.skipped.append(Skipped(str(path), reason))


def _shown(name: str) -> str:
    """A file name as text (bytes smuggled in as surrogates are shown escaped)."""
    return name.encode("utf-8", "backslashreplace").decode("utf-8")


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)
