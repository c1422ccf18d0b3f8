#!/usr/bin/env python3
"""``python3 install.py ...`` is ``dinoair-install ...``, from a fresh clone, with any Python 3.10+.

It needs only the standard library: the front door (``frontdoor/``) sets up the installer's own
environment (``~/.dinoair/installer-env``, or ``$DINOAIR_INSTALLER_ENV``) from the hash lock with
uv on the first run, reuses it after, and hands over with the same arguments and exit code.
Keep this file readable by old Pythons: they must get the one-line "too old" message.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from frontdoor._version import too_old

if __name__ == "__main__":
    _message = too_old(sys.version_info)
    if _message:
        sys.stderr.write(_message + "\n")
        sys.exit(1)

    from frontdoor.handover import run

    def _main():
        from installer.cli import main

        main(prog_name="install.py")

    run(_main, __file__)
