"""What a piece of code imports, seen in a fresh interpreter (this process has imported it all)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def imported_by(code: str, modules: Iterable[str]) -> list[str]:
    """Which of ``modules`` are loaded after ``code`` ran in a new ``python -c`` from the
    repository's root (the code's own failure fails the test)."""
    wanted = sorted(modules)
    report = f"print(json.dumps([m for m in {wanted!r} if m in sys.modules]))"
    probe = f"{code}\nimport json, sys\n{report}\n"
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO, check=False
    )
    assert done.returncode == 0, done.stderr
    return list(json.loads(done.stdout.strip().splitlines()[-1]))
