"""``--repair``: the normal run, with every "already done" record set aside so each part is
checked again for real.

A re-run trusts its records (the venv's requirements stamp, the verified stamp, each model
folder's record of verified files) so that it is fast. Repair drops exactly those records: the
steps then re-check the checkout, let uv re-check the venv against the requirements (a no-op for
what is fine), re-hash every model (a file whose hash is wrong is fetched again; a good one is
not touched), re-run ComfyUI's quick test, and rewrite the launch scripts. Nothing that passes
its check is replaced.
"""

from __future__ import annotations

from pathlib import Path

from ..download import RECORD_NAME
from ..steps.custom_nodes import RECORD_NAME as NODES_RECORD
from ..steps.python_deps import STAMP_NAME
from ..steps.verify import VERIFIED_NAME

RECHECKS = "checkout, venv packages, model hashes, ComfyUI's quick test, launch scripts"


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
