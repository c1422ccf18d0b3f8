"""The DinoAir installer.

``__version__`` comes from the installed distribution's metadata; its one source is the
``version`` in ``pyproject.toml``.

Every run needs it (the session, the summary, the crash report), and importing
``importlib.metadata`` costs a run more than its steps do on a finished install (``email``,
``zipfile`` and friends: about an eighth of a re-run). So the version is read from the
``Version:`` line of our own ``*.dist-info/METADATA`` (``*.egg-info/PKG-INFO`` in a source
checkout), found along ``sys.path`` in the order ``importlib.metadata`` searches it; anything
less plain (no such folder, two of them, a zip on the path) falls back to
``importlib.metadata.version``. ``tests/test_rerun_checks.py`` holds the two to one answer.
"""

from __future__ import annotations

import os
import sys

_DIST = "dinoair_installer"  # the distribution's name as its .dist-info folder spells it


def _metadata_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("dinoair-installer")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "0+unknown"


def _dist_info_version() -> str | None:
    """``Version:`` of the first ``dinoair_installer`` ``.dist-info`` (or ``.egg-info``, as a
    source checkout holds) on ``sys.path``; None when the first place that could hold the
    distribution is anything less plain."""
    for entry in sys.path:
        folder = entry or "."
        try:
            names = os.listdir(folder)
        except OSError:
            if os.path.isfile(folder):  # a zip on the path: importlib.metadata looks inside
                return None
            continue
        found = [n for n in names if n.lower().startswith((f"{_DIST}-", f"{_DIST}."))]
        if not found:
            continue
        if len(found) != 1 or not found[0].lower().endswith((".dist-info", ".egg-info")):
            return None  # two versions side by side, an .egg file: let importlib decide
        headers = "METADATA" if found[0].lower().endswith(".dist-info") else "PKG-INFO"
        try:
            with open(os.path.join(folder, found[0], headers), encoding="utf-8") as fh:
                for line in fh:
                    if not line.strip():
                        return None  # the headers ended without a Version
                    key, _, value = line.partition(":")
                    if key.strip().lower() == "version":
                        return value.strip() or None
        except OSError:
            return None
        return None
    return None


__version__ = _dist_info_version() or _metadata_version()
