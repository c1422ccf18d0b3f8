"""Shim: ``python telemetry_cli.py ...`` == ``dinoair-telemetry ...``.

This file and the package ``telemetry_cli/`` share an import name. Run as a script, this file is
``__main__``, and ``import telemetry_cli`` finds the package: in one ``sys.path`` folder a package
directory wins over a module of the same name. The guard below keeps it that way even if this
file is imported as ``telemetry_cli`` from somewhere the package is not next to it.
"""

from __future__ import annotations

import os
import sys


def _run() -> None:
    here = os.path.dirname(os.path.abspath(__file__))
    if here not in sys.path:
        sys.path.insert(0, here)
    from telemetry_cli.cli import main

    main(sys.argv[1:])


if __name__ == "__main__":
    _run()
