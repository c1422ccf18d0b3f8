"""One progress bar per file (tqdm), restarted at a resume offset without faking speed.

The rate is the real average since the transfer started (``smoothing=0``): tqdm's default
moving average shows the burst of the first chunk (7.75 MB/s for a 120 kB/s link) for long.
"""

from __future__ import annotations

from typing import Any

from tqdm import tqdm

from ..units import size
from ._spec import DownloadSpec


def make_bar(spec: DownloadSpec, position: int, progress: bool, file: Any = None) -> tqdm:
    """One bar per file, kept on screen; off without a terminal, where redraws are just noise
    (``file`` forces one on, as a test reads it)."""
    return tqdm(
        file=file,
        total=spec.size,
        desc=spec.name,
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        smoothing=0,
        position=position,
        leave=True,
        dynamic_ncols=True,
        disable=False if file is not None else (None if progress else True),
    )


def bar_start(bar: Any, total: int, offset: int, description: str) -> None:
    """Restart ``bar`` at ``offset`` without counting the resumed bytes as transfer speed."""
    if bar is None:
        return
    bar.reset(total=total)
    bar.set_description_str(description + resumed_note(offset, total), refresh=False)
    if getattr(bar, "disable", False):
        return
    bar.n = bar.last_print_n = bar.initial = offset
    bar.refresh()


def resumed_note(offset: int, total: int) -> str:
    """`` (resumed at 768 KiB of 3.0 MiB)`` for a transfer that starts part-way, else nothing."""
    return f" (resumed at {size(offset)} of {size(total)})" if 0 < offset < total else ""
