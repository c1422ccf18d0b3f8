"""How the user runs DinoAir's two commands from where they are, for every hint the installer
and ``dinoair-telemetry`` print: a command in a hint must work when copied. (Here, in the core
both commands import, so the two spell each other, and themselves, by one rule.)

``python3 install.py`` from a clone has neither ``dinoair-install`` nor ``dinoair-telemetry``
on ``PATH`` (the front door keeps them inside ``~/.dinoair/installer-env``), so a hint naming
them would fail with "command not found". The rule, in this order:

* run through ``install.py``: ``python3 install.py`` (``py`` on Windows) and
  ``python3 telemetry_cli.py``, with the clone's path unless it is the current folder;
* the entry points on ``PATH``: ``dinoair-install`` and ``dinoair-telemetry``;
* else this interpreter: ``<python> -m installer`` and ``<python> -m telemetry_cli``.

A run with a telemetry home of its own (``DINOAIR_HOME``: the demo's, a test's) prefixes the
telemetry command with it, so the command reads the same home.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parent.parent
SCRIPTS = {"installer": "install.py", "telemetry": "telemetry_cli.py"}
ENTRY_POINTS = {"installer": "dinoair-install", "telemetry": "dinoair-telemetry"}
MODULES = {"installer": "installer", "telemetry": "telemetry_cli"}


def installer_command() -> str:
    """``python3 install.py``, ``dinoair-install`` or ``<python> -m installer``."""
    return _command("installer")


def telemetry_command() -> str:
    """The same for ``dinoair-telemetry``, with ``DINOAIR_HOME=...`` when the run has its own."""
    return home_prefix() + _command("telemetry")


def home_prefix() -> str:
    """``DINOAIR_HOME=... `` when the run used a telemetry home of its own, else nothing."""
    home = os.environ.get("DINOAIR_HOME")
    return f"DINOAIR_HOME={shell_quote(home)} " if home else ""


def shell_quote(text: str) -> str:
    """``text`` as one word of a command line here (POSIX shells; ``cmd``/PowerShell)."""
    return f'"{text}"' if os.name == "nt" else shlex.quote(text)


def _command(which: str) -> str:
    script = CHECKOUT / SCRIPTS[which]
    if _via_script() and script.is_file():
        python = "py" if os.name == "nt" else "python3"
        here = Path.cwd().resolve() == CHECKOUT
        return f"{python} {SCRIPTS[which] if here else shell_quote(str(script))}"
    if shutil.which(ENTRY_POINTS[which]):
        return ENTRY_POINTS[which]
    return f"{shell_quote(sys.executable)} -m {MODULES[which]}"


def _via_script() -> bool:
    """This process runs ``install.py`` (directly, or exec'd by the front door) or its twin."""
    return Path(sys.argv[0]).name in SCRIPTS.values() if sys.argv and sys.argv[0] else False
