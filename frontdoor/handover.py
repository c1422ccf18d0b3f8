"""Hand over to the real CLI, here or in the installer's own environment.

Run by any CPython >= 3.10, it finds or builds the installer's own environment (see
:mod:`frontdoor.env`) and hands over to the real CLI there with the same arguments; on POSIX by
``exec``, so the exit code and signals (Ctrl-C: 130) are the CLI's own. The real CLI never
imports this package. How the environment was obtained reaches the session's root span through
``DINOAIR_FRONTDOOR_ENV`` (``reused``/``created``/``rebuilt``/``current`` and seconds): the
front door itself cannot record anything before OpenTelemetry is installed.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

HANDOVER_VAR = "DINOAIR_FRONTDOOR_ENV"  # "<how>:<seconds>", read by installer.cli
_NEEDED = ("click", "opentelemetry.sdk", "git", "psutil")


def _say(message: str) -> None:
    print(f"DinoAir: {message}", file=sys.stderr, flush=True)


def _runs_here() -> bool:
    """This interpreter is a venv that already has the installer's packages (ours, or `.venv`)."""
    if sys.prefix == sys.base_prefix:
        return False
    try:
        return all(importlib.util.find_spec(name) is not None for name in _NEEDED)
    except (ImportError, ValueError):
        return False


def run(main: Callable[[], object], script: str) -> None:
    """Run ``main`` here if this Python can, else in the installer's environment."""
    if _runs_here():
        os.environ.setdefault(HANDOVER_VAR, "current:0")
        main()
        return
    from .env import ensure
    from .errors import FrontDoorError

    try:
        ready = ensure(_say)
    except FrontDoorError as exc:
        print(exc.line(), file=sys.stderr)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
    env = {**os.environ, HANDOVER_VAR: f"{ready.how}:{ready.seconds}"}
    argv = [str(ready.python), os.path.abspath(script), *sys.argv[1:]]
    if os.name == "posix":
        sys.stdout.flush()
        os.execve(argv[0], argv, env)
    import subprocess

    try:  # Windows has no exec that keeps the console's process: wait and pass the code on
        sys.exit(subprocess.call(argv, env=env))
    except KeyboardInterrupt:
        sys.exit(130)
