"""``--repair``: the normal run, with every "already done" record set aside so each part is
checked again for real, and a tally of what was checked and what was fixed.

A re-run trusts its records (the venv's requirements stamp, the custom nodes' record, the
verified stamp, each model folder's record of verified files) so that it is fast. Repair drops
exactly those records: the steps then re-check the checkout, let uv re-check the venv against the
requirements (a no-op for what is fine), re-install the custom nodes' requirements, re-hash every
model (a file whose hash is wrong is fetched again; a good one is not touched), re-run ComfyUI's
quick test, and rewrite the launch scripts. Nothing that passes its check is replaced.

:func:`begin` runs before the steps (after an interrupted update was recovered); :func:`tally`
after them reads what each step reported (``ctx.outcomes``) into counts per kind, which the
``repair`` phase span records and the closing line says.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..download import RECORD_NAME
from ..launch import SCRIPTS
from ..steps.custom_nodes import RECORD_NAME as NODES_RECORD
from ..steps.python_deps import STAMP_NAME
from ..steps.verify import VERIFIED_NAME

RECHECKS = "checkout, venv packages, model hashes, ComfyUI's quick test, launch scripts"


@dataclass
class Repair:
    """What a repair set aside before the steps ran, and the launch scripts as they were."""

    records: list[str] = field(default_factory=list)  # paths below the target
    scripts: dict[str, str | None] = field(default_factory=dict)  # name -> sha256 (None: missing)


def forget_records(target: Path, venv: Path) -> list[str]:
    """Remove the records that let a run skip its checks; returns their paths below target."""
    records = [venv / STAMP_NAME, venv / NODES_RECORD, venv / VERIFIED_NAME]
    for models in (target / "models", target / "ComfyUI" / "models"):
        if models.is_dir() and not models.is_symlink():
            records += sorted(models.rglob(RECORD_NAME))
    removed = []
    for record in records:
        if record.is_file() and not record.is_symlink():
            record.unlink()
            removed.append(record.relative_to(target).as_posix())
    return removed


def begin(target: Path, venv: Path) -> Repair:
    """Set the records aside and note the launch scripts, so :func:`tally` can tell a rewrite
    that fixed one from one that wrote the same bytes."""
    scripts = {name: _sha256(target / name) for name in SCRIPTS}
    return Repair(forget_records(target, venv), scripts)


def tally(repair: Repair, outcomes: dict[str, Any], target: Path) -> dict[str, Any]:
    """Counts per kind (``<kind>_checked``, ``<kind>_fixed``) of the parts the steps re-checked.

    A kind whose step did not run (left out, failed first) is not counted as checked."""
    counts: dict[str, Any] = {"records_reset": len(repair.records)}
    checkout = outcomes.get("comfyui")
    if isinstance(checkout, dict):
        counts["checkout_checked"] = 1
        updated = "updated_from" in checkout  # an update is not a fix
        counts["checkout_fixed"] = 0 if checkout.get("reused") or updated else 1
    deps = outcomes.get("python_deps")
    if isinstance(deps, dict):
        counts["packages_checked"] = int(deps.get("requirements") or 0)
        counts["packages_fixed"] = int(deps.get("packages_installed") or 0)
    nodes = outcomes.get("custom_nodes")
    if isinstance(nodes, dict):
        counts["nodes_checked"] = len(nodes.get("nodes") or [])
        counts["nodes_disabled"] = len(nodes.get("disabled") or [])
    models = outcomes.get("models")
    if isinstance(models, list):
        counts["models_checked"] = len(models)
        counts["models_fixed"] = sum(1 for m in models if m.get("status") == "downloaded")
    verify = outcomes.get("verify")
    if isinstance(verify, dict) and verify.get("quick_test") == "passed":
        counts["quick_test_checked"] = 1
    final = outcomes.get("finalize")
    if isinstance(final, dict):
        written = [name for name in final.get("scripts") or [] if name in repair.scripts]
        counts["scripts_checked"] = len(written)
        counts["scripts_fixed"] = sum(
            1 for name in written if _sha256(target / name) != repair.scripts[name]
        )
    return counts


def fixed_total(counts: dict[str, Any]) -> int:
    return sum(v for k, v in counts.items() if k.endswith(("_fixed", "_disabled")))


_WORDS = (  # kind, what one checked item is, what fixing it was
    ("checkout", "the checkout", "replaced (your folders carried over)"),
    ("packages", "package requirement(s)", "package(s) installed again"),
    ("nodes", "custom node(s)", "node(s) disabled"),
    ("models", "model file(s)", "model file(s) fetched again"),
    ("quick_test", "ComfyUI's quick test", ""),
    ("scripts", "launch script(s)", "launch script(s) rewritten"),
)


def summary_line(counts: dict[str, Any], success: bool) -> str:
    """One line: what was checked, and what was fixed (or that nothing needed it)."""
    checked, fixed = [], []
    for kind, item, repaired in _WORDS:
        count = counts.get(f"{kind}_checked")
        if count is None:
            continue
        checked.append(item if kind in ("checkout", "quick_test") else f"{count} {item}")
        done = counts.get(f"{kind}_fixed", counts.get(f"{kind}_disabled", 0))
        if done and repaired:
            fixed.append(repaired if kind == "checkout" else f"{done} {repaired}")
    what = ", ".join(checked) or "nothing (no step that checks ran)"
    if not success:
        return f"Repair incomplete (the run failed): checked {what}."
    result = "; fixed: " + ", ".join(fixed) if fixed else "; nothing needed fixing"
    return f"Repair: checked {what}{result}."


def _sha256(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None
