#!/usr/bin/env python3
"""``python install.py ...`` is the same as ``dinoair-install ...``."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from installer.cli import main

if __name__ == "__main__":
    main(prog_name="install.py")
