"""The DinoAir installer.

``__version__`` comes from the installed distribution's metadata; its one source is the
``version`` in ``pyproject.toml``.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("dinoair-installer")
except PackageNotFoundError:  # run from a source tree that was never installed
    __version__ = "0+unknown"
