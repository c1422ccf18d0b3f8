"""Custom nodes' requirements: each node's ``requirements.txt`` installed into the venv, torch held.

A custom node (a folder in ``ComfyUI/custom_nodes/``) brings its own ``requirements.txt``. After an
update the new venv has only ComfyUI's requirements, and a fresh install that finds nodes (carried
over from a moved-aside checkout) has none of theirs: ComfyUI would start and the node fail to
import. This step installs them into the venv this run verifies (the new venv during an update),
one node at a time, with python_deps' own tool and index settings and a constraints file holding
the torch build that is in the venv, so no node can move torch, torchvision or torchaudio.

A node whose requirements cannot be installed (a package that does not exist, a conflict with the
held torch) is named in one line and moved to ``ComfyUI/custom_nodes.disabled/``: ComfyUI then
starts without it, and the update still succeeds. ``--strict-nodes`` makes that a failed step
(and so a failed, rolled-back update). A network or disk failure is not the node's fault: the step
fails as it would for ComfyUI's own requirements, and no node is moved.

A record in the venv (``.dinoair-custom-nodes.json``) names each node's requirements as installed,
with what they were installed against (python_deps' stamp and the torch held); while it matches
the step is skipped. An update's venv never inherits it (see :mod:`installer.lifecycle.venv_clone`).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from ..context import CPU, NETWORK, VENV, InstallContext, Step
from ..errors import INSTALLATION, InstallError
from ..fsutil import write_atomic
from ..hardware import Hardware
from ..lifecycle import transaction
from ..torch_plan import plan_torch
from .python_deps import (
    STAMP_NAME,
    Progress,
    _installed_versions,
    _write_constraints,
    installer_for,
    venv_dir,
    venv_python,
)

NODES = "custom_nodes"
DISABLED = "custom_nodes.disabled"  # beside custom_nodes/: ComfyUI does not load it
RECORD_NAME = ".dinoair-custom-nodes.json"  # in the venv
REQUIREMENTS = "requirements.txt"


def nodes_with_requirements(checkout: Path) -> list[Path]:
    """The node folders below ``custom_nodes/`` that have a ``requirements.txt``, by name."""
    folder = checkout / NODES
    try:
        entries = sorted(folder.iterdir(), key=lambda p: p.name)
    except OSError:
        return []
    return [
        entry
        for entry in entries
        if not entry.name.startswith((".", "__"))
        and entry.is_dir()
        and (entry / REQUIREMENTS).is_file()
    ]


def skip_if(ctx: InstallContext) -> str | None:
    if not nodes_with_requirements(ctx.comfyui_dir):
        return "no_custom_nodes"
    if not venv_python(ctx).exists():
        return "nothing_installed"
    return None


def describe(ctx: InstallContext) -> str:
    nodes = nodes_with_requirements(ctx.comfyui_dir)
    if nodes and not _pending(ctx, nodes, _record(ctx)):
        return "skip: every custom node's requirements are installed in this venv already"
    names = ", ".join(node.name for node in nodes)
    failing = (
        "a node whose requirements fail fails the run (--strict-nodes)"
        if ctx.options.strict_nodes
        else f"a node whose requirements fail is moved to ComfyUI/{DISABLED}/"
    )
    return (
        f"install the requirements of {len(nodes)} custom node(s) ({names}) into the venv, "
        f"the torch build held; {failing}"
    )


def run(ctx: InstallContext) -> None:
    nodes = nodes_with_requirements(ctx.comfyui_dir)
    record = _record(ctx)
    pending = _pending(ctx, nodes, record)
    if not pending:
        ctx.skip("already_installed", "every custom node's requirements are in this venv")
    plan = plan_torch(ctx.manifest, ctx.hardware or Hardware(), ctx.options.torch_index)
    held = _installed_versions(ctx, plan, {}) if plan is not None else {}
    constraints = _write_constraints(ctx, held)  # the same file python_deps holds torch with
    tool = installer_for(ctx)
    key = _key(ctx)
    installed: list[str] = []
    disabled: list[str] = []
    started = time.monotonic()
    progress = Progress(tool.name, enabled=sys.stderr.isatty() and not ctx.options.verbose)
    try:
        for node in pending:
            requirements = node / REQUIREMENTS
            try:
                tool.install_requirements(ctx, plan, requirements, constraints, held, progress)
            except InstallError as exc:
                if exc.category != INSTALLATION:
                    raise  # network, disk: not the node's fault, and no node is moved for it
                if ctx.options.strict_nodes:
                    # A node may be the user's own: its name and what it asks for go to the
                    # screen only; the error (which the telemetry records) names neither.
                    ctx.echo(f"  custom node {node.name!r}: {exc}")
                    raise InstallError(
                        "the requirements of a custom node could not be installed (--strict-nodes)",
                        hint=f"the node is named above: fix or remove it in ComfyUI/{NODES}/ "
                        f"(or run without --strict-nodes to have it moved to {DISABLED}/), "
                        "then re-run",
                    ) from None
                moved = _disable(ctx.comfyui_dir, node)
                if ctx.venv_override is not None:  # an update: its rollback moves it back
                    transaction.note_disabled(ctx.target, node.name, moved.name)
                disabled.append(node.name)
                ctx.echo(
                    f"  custom node {node.name} disabled: its requirements could not be "
                    f"installed ({exc}); moved to ComfyUI/{DISABLED}/{moved.name}"
                )
                continue
            installed.append(node.name)
            record["key"] = key
            record.setdefault("nodes", {})[node.name] = _digest(requirements)
            write_atomic(venv_dir(ctx) / RECORD_NAME, json.dumps(record))
    finally:
        progress.close()
    ctx.add_bytes(progress.bytes)
    seconds = round(time.monotonic() - started, 3)
    ctx.event(
        "custom_nodes_installed",
        nodes=len(pending),
        installed=len(installed),
        disabled=len(disabled),
        seconds=seconds,
    )
    if installed:
        ctx.echo(f"  installed the requirements of {len(installed)} custom node(s), torch held")
    ctx.outcomes["custom_nodes"] = {
        "nodes": [node.name for node in nodes],
        "installed": installed,
        "disabled": disabled,
        "torch": held,
        "seconds": seconds,
    }


def disabled_line(ctx: InstallContext) -> str | None:
    """The closing line naming the nodes this run disabled, or None."""
    names = (ctx.outcomes.get("custom_nodes") or {}).get("disabled") or []
    if not names or ctx.outcomes.get("update_result") == "rolled_back":  # moved back with it
        return None
    which = f"{'s' if len(names) != 1 else ''} {', '.join(names)}"
    return (
        f"Custom node{which} disabled: the requirements could not be installed; moved to "
        f"{ctx.comfyui_dir / DISABLED} (fix, move back into {NODES}/ and re-run)."
    )


def _disable(checkout: Path, node: Path) -> Path:
    """Move ``node`` into ``custom_nodes.disabled/``, never over an earlier one of that name."""
    dest_dir = checkout / DISABLED
    dest_dir.mkdir(exist_ok=True)
    dest = dest_dir / node.name
    if dest.exists() or dest.is_symlink():
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        dest = dest_dir / f"{node.name}-{stamp}"
        suffix = 1
        while dest.exists() or dest.is_symlink():
            dest = dest_dir / f"{node.name}-{stamp}-{suffix}"
            suffix += 1
    os.rename(node, dest)
    return dest


def _pending(ctx: InstallContext, nodes: list[Path], record: dict) -> list[Path]:
    """The nodes whose requirements this venv has not had installed as they now are."""
    if record.get("key") != _key(ctx):
        return nodes
    done = record.get("nodes") or {}
    return [node for node in nodes if done.get(node.name) != _digest(node / REQUIREMENTS)]


def _key(ctx: InstallContext) -> str:
    """What installed nodes' requirements depend on: python_deps' stamp (the requirements,
    torch build and index it installed)."""
    try:
        stamp = (venv_dir(ctx) / STAMP_NAME).read_bytes()
    except OSError:
        stamp = b""
    return hashlib.sha256(stamp).hexdigest()


def _record(ctx: InstallContext) -> dict:
    try:
        data = json.loads((venv_dir(ctx) / RECORD_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _digest(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


STEP = Step(
    name="custom_nodes",
    run=run,
    describe=describe,
    skip_if=skip_if,
    needs=("python_deps",),
    uses=frozenset({NETWORK, CPU, VENV}),
)
