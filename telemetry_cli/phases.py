"""A phase span (``dinoair.phase.<name>``: a named part of a step) in words, for the waterfall of
``show-data`` and ``report-issue``: what the update, rollback, recovery or repair did, from its
``installer.phase.*`` attributes. Any other phase lists its attributes as ``key value``."""

from __future__ import annotations

from typing import Any

from otel_local_exporter import (
    PHASE_ROLLBACK,
    PHASE_SPAN_PREFIX,
    PHASE_UPDATE,
    SpanView,
    schema,
)

from .intake import FIXED_SUFFIXES, repair_of

_RESULTS = {
    "rolled_back": "rolled back",
    "swapped": "completed (the new venv swapped in)",
    "nothing_to_fix": "nothing needed fixing",
    "none": "nothing to do",
    "none_found": "none found",
}
# The journal's state: "updating" until the whole run succeeded, then "swapping".
_STATES = {"updating": "before its venv swap", "swapping": "during its venv swap"}
_REPAIR_KINDS = ("checkout", "packages", "nodes", "models", "quick_test", "scripts")


def phase_details(span: SpanView) -> list[str]:
    """Lines that say what a phase span did; ``[]`` for a span that is not a phase."""
    name = span.name or ""
    if not name.startswith(PHASE_SPAN_PREFIX):
        return []
    phase = name.removeprefix(PHASE_SPAN_PREFIX)
    attrs = {
        key.removeprefix(schema.PHASE_PREFIX): value
        for key, value in span.attributes.items()
        if key.startswith(schema.PHASE_PREFIX) and value not in (None, "")
    }
    result = attrs.pop("result", None)
    outcome = (
        _RESULTS.get(str(result), str(result)) if result is not None else "result not recorded"
    )
    if phase == schema.PHASE_RECOVER:
        state = attrs.pop("state", None)
        when = _STATES.get(str(state), f"in state {state}") if state else "(state not recorded)"
        lines = [
            f"recovery of an update to {_value(attrs.pop('to_release', None))} "
            f"(from {_value(attrs.pop('from_commit', None))}) killed {when}: {outcome}"
        ]
    elif phase == PHASE_UPDATE:
        lines = [
            f"from {_value(attrs.pop('from_commit', None))} to "
            f"{_value(attrs.pop('to_release', None))}"
            + (f" ({attrs.pop('to_commit')})" if "to_commit" in attrs else "")
            + f": {outcome}"
        ]
        edits = attrs.pop("local_edits", None)
        again = attrs.pop("edits_reapplied", None)
        if edits:
            lines.append(
                f"{edits} locally edited file(s), "
                + ("re-applied" if again else "kept in the stash (not re-applied)")
            )
    elif phase == PHASE_ROLLBACK:
        lines = [
            f"the update to {_value(attrs.pop('from_release', None))} undone, back to "
            f"{_value(attrs.pop('to_commit', None))}: {outcome}"
        ]
    elif phase == schema.PHASE_REPAIR:
        repair = repair_of(span)  # what report counts as fixed, by the same rule
        counted = dict(repair[1]) if repair is not None else {}
        checked, fixed = [], []
        for kind in _REPAIR_KINDS:
            if f"{kind}_checked" in attrs:
                checked.append(f"{kind} {attrs.pop(f'{kind}_checked')}")
            for suffix in FIXED_SUFFIXES:
                attrs.pop(f"{kind}{suffix}", None)
                count = counted.get(f"{kind}{suffix}")
                if count:
                    fixed.append(f"{kind} {count}" + (" disabled" if suffix == "_disabled" else ""))
        lines = [f"repair: {outcome}", "checked: " + (", ".join(checked) or "nothing")]
        lines.append("fixed: " + (", ".join(fixed) or "nothing"))
    else:  # a phase of another step (stack_check, pull...): its attributes as they are
        lines = [f"{phase}: {outcome}"] if result is not None else []
    rest = ", ".join(f"{key} {_value(value)}" for key, value in attrs.items())
    if rest:
        lines.append(rest)
    return lines


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    return str(value)
