"""Copy the bundled ComfyUI workflows into ``ComfyUI/workflows``, never over the user's edits.

Each bundled file must parse as a JSON object; a broken one is a ``configuration`` error raised
before anything is written, so a bad package never leaves half a set behind.

A destination that already holds the bundled content is left alone (``unchanged``). One that is
missing is written (``copied``). One that differs is replaced only when it still holds exactly
what an earlier run installed, as recorded in ``.dinoair-workflows`` (JSON) beside it: that is an
update of an untouched file (``updated``). Otherwise the user changed it: their file stays and
the bundled version is written beside it as ``<name>.new`` (``kept``), for them to compare.
A ``.new`` file does not end in ``.json``, so it never shows up as a second workflow.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from ..context import CHECKOUT, InstallContext, Step
from ..errors import ConfigurationError, InstallError
from ..fsutil import write_atomic

RECORD = ".dinoair-workflows"  # JSON: file name -> sha256 of the version this installer wrote
_FOLDER = "workflows"


def describe(ctx: InstallContext) -> str:
    source = ctx.manifest.workflows_dir
    count = len(_bundled_files(source)) if source.is_dir() else 0
    return (
        f"copy {count} bundled ComfyUI workflows into ComfyUI/{_FOLDER} "
        "(files you changed are kept; the new version goes beside them as .new)"
    )


def run(ctx: InstallContext) -> None:
    bundled = _load_bundled(ctx.manifest.workflows_dir)
    if not bundled:
        ctx.skip("no_workflows")
    if not ctx.comfyui_dir.is_dir():
        raise InstallError(
            "ComfyUI is not installed in the target folder, so there is no place for its workflows",
            hint="re-run the installer so the comfyui step installs ComfyUI first",
        )
    dest_dir = ctx.comfyui_dir / _FOLDER
    dest_dir.mkdir(parents=True, exist_ok=True)
    record = _read_record(dest_dir / RECORD)
    recorded = dict(record)
    result: dict[str, list[str]] = {"copied": [], "updated": [], "unchanged": [], "kept": []}
    for name, data in bundled.items():
        status = _install_one(dest_dir, name, data, record)
        result[status].append(name)
        if status == "kept":
            ctx.event("workflow_user_copy_kept", workflow=name)
    if record != recorded:
        write_atomic(
            dest_dir / RECORD, (json.dumps(record, indent=2, sort_keys=True) + "\n").encode()
        )
    ctx.outcomes["workflows"] = {"folder": f"ComfyUI/{_FOLDER}", **result}
    ctx.event("workflows_installed", **{key: len(names) for key, names in result.items()})


def _load_bundled(source: Path) -> dict[str, bytes]:
    """Every ``*.json`` of the bundled folder, checked to be a JSON object, by file name."""
    if not source.is_dir():
        raise ConfigurationError(
            f"the bundled workflows folder {source.name!r} does not exist",
            hint="point the manifest's 'workflows' at a folder of ComfyUI "
            "workflow .json files, or reinstall the installer",
        )
    bundled: dict[str, bytes] = {}
    for path in _bundled_files(source):
        data = path.read_bytes()
        try:
            parsed = json.loads(data)
        except ValueError as exc:  # also UnicodeDecodeError
            raise ConfigurationError(
                f"bundled workflow {path.name} is not valid JSON: {exc}",
                hint="fix or remove that file in the manifest's workflows "
                "folder, or reinstall the installer",
            ) from None
        if not isinstance(parsed, dict) or not parsed:
            raise ConfigurationError(
                f"bundled workflow {path.name} is not a ComfyUI workflow "
                "(expected a non-empty JSON object)",
                hint="fix or remove that file in the manifest's workflows "
                "folder, or reinstall the installer",
            )
        bundled[path.name] = data
    return bundled


def _bundled_files(source: Path) -> list[Path]:
    return sorted(p for p in source.glob("*.json") if not p.name.startswith(".") and p.is_file())


def _install_one(dest_dir: Path, name: str, data: bytes, record: dict[str, str]) -> str:
    dest = dest_dir / name
    digest = _sha256(data)
    if not dest.exists():
        write_atomic(dest, data)
        record[name] = digest
        return "copied"
    current = _sha256(dest.read_bytes())
    if current == digest:
        record[name] = digest
        return "unchanged"
    if record.get(name) == current:  # still what we wrote last time: the user left it alone
        write_atomic(dest, data)
        record[name] = digest
        return "updated"
    side = dest_dir / f"{name}.new"
    if not side.exists() or side.read_bytes() != data:
        write_atomic(side, data)
    return "kept"


def _read_record(path: Path) -> dict[str, str]:
    """The hashes written by earlier runs; a missing or damaged record means none (safe side)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {k: v for k, v in data.items() if isinstance(k, str) and isinstance(v, str)}


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


STEP = Step(
    name="workflows",
    run=run,
    describe=describe,
    needs=("comfyui",),
    uses=frozenset({CHECKOUT}),
)
