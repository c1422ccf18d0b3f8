"""One progress bar per file (tqdm), restarted at a resume offset without faking speed."""

from __future__ import annotations

from typing import Any

from tqdm import tqdm

from ._spec import DownloadSpec


def make_bar(spec: DownloadSpec, position: int, progress: bool) -> tqdm:
    """One bar per file, kept on screen; off without a terminal, where redraws are just noise."""
    return tqdm(
        total=spec.size,
        desc=spec.name,
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        position=position,
        leave=True,
        dynamic_ncols=True,
        disable=None if progress else True,
    )


def bar_start(bar: Any, total: int, offset: int, description: str) -> None:
    """Restart ``bar`` at ``offset`` without counting the resumed bytes as transfer speed."""
    if bar is None:
        return
    bar.reset(total=total)
    bar.set_description_str(description, refresh=False)
    if getattr(bar, "disable", False):
        return
    bar.n = bar.last_print_n = bar.initial = offset
    bar.refresh()
