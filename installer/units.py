"""Sizes for people, in one unit system: binary (KiB, MiB, GiB), as the progress bars count.

One home, so a plan never says "7.3 GB" in one line and "6.77 GiB" in the next.
"""

from __future__ import annotations

_UNITS = ("B", "KiB", "MiB", "GiB", "TiB")


def size(count: float) -> str:
    """``512 B``, ``768 KiB``, ``3.0 MiB``, ``6.8 GiB``: three significant figures at most."""
    value = float(count)
    unit = _UNITS[0]
    for unit in _UNITS:
        if abs(value) < 1024 or unit == _UNITS[-1]:
            break
        value /= 1024
    if unit == "B" or abs(value) >= 100:
        return f"{value:.0f} {unit}"
    return f"{value:.1f} {unit}"
