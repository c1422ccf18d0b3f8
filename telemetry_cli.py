"""``python3 telemetry_cli.py ...`` is ``dinoair-telemetry ...``, from a fresh clone (install.py).

This file and the package ``telemetry_cli/`` share an import name. Run as a script, this file is
``__main__``, and ``import telemetry_cli`` finds the package: in one ``sys.path`` folder a package
directory wins over a module of the same name. The guard below keeps it that way even if this
file is imported as ``telemetry_cli`` from somewhere the package is not next to it.
"""

import os
import sys


def _cli():
    from telemetry_cli.cli import main

    main(sys.argv[1:])


def _run():
    here = os.path.dirname(os.path.abspath(__file__))
    if here not in sys.path:
        sys.path.insert(0, here)
    from frontdoor._version import too_old

    message = too_old(sys.version_info)
    if message:
        sys.stderr.write(message.replace("install.py", "telemetry_cli.py") + "\n")
        sys.exit(1)
    from frontdoor.handover import run

    run(_cli, __file__)


if __name__ == "__main__":
    _run()
