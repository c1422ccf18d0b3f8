"""Which steps may start now: the dependency graph (``Step.needs``) within per-resource limits.

Pure decisions, no threads: :mod:`installer.runner` asks :func:`next_steps` whenever a step
finished and starts what it returns. Kept apart so the order rules can be tested (with hypothesis)
without running anything.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from otel_local_exporter import STEP_COMPLETED, STEP_SKIPPED

from .context import CHECKOUT, CPU, NETWORK, VENV, Step

DEPENDENCY_FAILED = "dependency_failed"  # the skip reason of a step whose need did not complete

# A need is met when the step completed or was skipped for a reason of its own (already done,
# excluded by --only/--skip, optional tool missing); it is not met when it failed, was cancelled,
# or was itself skipped because of a failure further up.
_UNMET_SKIPS = frozenset({DEPENDENCY_FAILED})


def default_limits() -> dict[str, int]:
    """How many running steps may hold each resource. The venv and the checkout are written by
    one step at a time; CPU-bound steps up to the cores; downloads share one connection budget
    (``--connections``/``--jobs``) instead of a step limit, so network-bound steps all run."""
    return {VENV: 1, CHECKOUT: 1, CPU: max(1, os.cpu_count() or 1), NETWORK: 1 << 16}


@dataclass(frozen=True)
class Decision:
    start: tuple[Step, ...]  # may start now, in listed order
    blocked: tuple[Step, ...]  # can never start: a need failed (skip as dependency_failed)


def need_met(status: str, reason: str | None) -> bool:
    return status == STEP_COMPLETED or (status == STEP_SKIPPED and reason not in _UNMET_SKIPS)


def next_steps(
    steps: Sequence[Step],
    finished: Mapping[str, tuple[str, str | None]],
    running: Sequence[Step],
    *,
    limits: Mapping[str, int],
    sequential: bool = False,
) -> Decision:
    """What to start and what to give up on, given ``finished`` (name -> (status, reason)) and
    the steps ``running``. Needs naming a step outside ``steps`` count as met.

    ``sequential`` runs one step at a time in listed order (a valid order of the graph), which
    is today's behaviour and the benchmarks' baseline.
    """
    names = {step.name for step in steps}
    running_names = {step.name for step in running}
    held: dict[str, int] = {}
    for step in running:
        for resource in step.uses:
            held[resource] = held.get(resource, 0) + 1
    start: list[Step] = []
    blocked: list[Step] = []
    for step in steps:
        if step.name in finished or step.name in running_names:
            continue
        needs = [n for n in step.needs if n in names]
        if any(n in finished and not need_met(*finished[n]) for n in needs):
            blocked.append(step)
            continue
        if sequential:  # listed order: the first step that can still run goes next, alone
            if not running and all(n in finished for n in needs):
                start.append(step)
            break
        if not all(n in finished for n in needs):
            continue
        if all(held.get(r, 0) < limits.get(r, 1) for r in step.uses):
            start.append(step)
            for resource in step.uses:
                held[resource] = held.get(resource, 0) + 1
    return Decision(tuple(start), tuple(blocked))
