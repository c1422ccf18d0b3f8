"""The coarse system profile, the one home of it (public through the package root).

Both the installer's root span (usage analytics) and a crash report carry a description of the
machine, and both must stay equally coarse: nothing in it tells one machine from another (counts
and sizes rounded to whole GiB, no names, no serial numbers, no addresses).
"""

from __future__ import annotations

import logging
import os
import platform
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any

__all__ = ["HARDWARE_KEYS", "PROFILE_KEYS", "system_profile"]

_logger = logging.getLogger(__name__)

_GIB = 1024**3

PROFILE_KEYS = (
    "os",
    "os_version",
    "python_version",
    "machine",
    "cpu_count",
    "memory_gib",
    "disk_free_gib",
)
# What a session's root span keeps with usage analytics (the OS and Python are in its resource).
HARDWARE_KEYS = ("cpu_count", "memory_gib", "machine")


def system_profile(
    disk_path: Path | None = None, *, keys: Collection[str] = PROFILE_KEYS
) -> dict[str, Any]:
    """The profile's ``keys`` (in that order) that can be measured; the others are left out.

    ``disk_free_gib`` is measured on the file system of ``disk_path`` (its nearest existing
    folder), else of the user's home folder. Never raises.
    """
    profile: dict[str, Any] = {}
    for key in keys:
        try:
            value = _MEASURES[key](disk_path)
        except Exception:
            _logger.debug("%s unavailable", key, exc_info=True)
            continue
        if value is not None:
            profile[key] = value
    return profile


def _memory_gib(disk_path: Path | None) -> int:
    import psutil  # here: `dinoair-telemetry status` imports this package without it

    return round(psutil.virtual_memory().total / _GIB)


def _disk_free_gib(disk_path: Path | None) -> int:
    import psutil

    probe = disk_path
    while probe is not None and not probe.exists() and probe.parent != probe:
        probe = probe.parent
    return round(psutil.disk_usage(str(probe or Path.home())).free / _GIB)


_MEASURES: dict[str, Callable[[Path | None], Any]] = {
    "os": lambda _: platform.system(),
    "os_version": lambda _: platform.release(),
    "python_version": lambda _: platform.python_version(),
    "machine": lambda _: platform.machine(),
    "cpu_count": lambda _: os.cpu_count(),
    "memory_gib": _memory_gib,
    "disk_free_gib": _disk_free_gib,
}
