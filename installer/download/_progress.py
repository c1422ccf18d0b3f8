"""One progress bar per file (tqdm), restarted at a resume offset without faking speed.

The rate is the real average since the transfer started (``smoothing=0``): tqdm's default
moving average shows the burst of the first chunk (7.75 MB/s for a 120 kB/s link) for long.

When the installer draws its own live line for the step (a terminal, ``ProgressSink``), the
files get :class:`TallyBar` instead: the same calls, no drawing, one total across the files
handed to a callback. Without a terminal the files get :class:`NullBar`: tqdm is imported only
when a bar is drawn (with its lock it is about a fortieth of a re-run's imports).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from ..units import size
from ._spec import DownloadSpec

if TYPE_CHECKING:
    from tqdm import tqdm


def make_bar(spec: DownloadSpec, position: int, progress: bool, file: Any = None) -> tqdm | NullBar:
    """One bar per file, kept on screen; off without a terminal, where redraws are just noise
    (``file`` forces one on, as a test reads it)."""
    if file is None and not progress:
        return NullBar(spec.size)
    from tqdm import tqdm

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
        disable=False if file is not None else None,  # None: off when stderr is no terminal
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


class Tally:
    """Bytes held across several files, reported as ``(done, total)`` on every change."""

    def __init__(self, sizes: Sequence[int], report: Callable[[int, int], None]):
        self._done = [0] * len(sizes)
        self._total = list(sizes)
        self._report = report
        self._lock = threading.Lock()

    def set(self, index: int, done: int, total: int | None = None) -> None:
        with self._lock:
            self._done[index] = done
            if total is not None:
                self._total[index] = total
            done_all, total_all = sum(self._done), sum(self._total)
        self._report(done_all, total_all)

    def bar(self, index: int) -> TallyBar:
        return TallyBar(self, index, self._total[index])


class NullBar:
    """The part of tqdm's interface the downloader uses, for a bar that is never drawn (what
    ``tqdm(disable=True)`` is, without importing tqdm)."""

    disable = True

    def __init__(self, total: int):
        self.total = total
        self.n = self.last_print_n = self.initial = 0

    def reset(self, total: int | None = None) -> None:
        if total is not None:
            self.total = total
        self.n = 0

    def update(self, count: int) -> None:
        self.n += count

    def set_description_str(self, description: str, refresh: bool = True) -> None:
        return None

    def refresh(self) -> None:
        return None

    def close(self) -> None:
        return None


class TallyBar(NullBar):
    """The part of tqdm's interface the downloader uses, counting into a :class:`Tally`."""

    disable = False

    def __init__(self, tally: Tally, index: int, total: int):
        self._tally, self._index = tally, index
        self.total = total
        self._n = self.last_print_n = self.initial = 0

    @property
    def n(self) -> int:
        return self._n

    @n.setter
    def n(self, value: int) -> None:
        self._n = value
        self._tally.set(self._index, value)

    def reset(self, total: int | None = None) -> None:
        if total is not None:
            self.total = total
        self._n = 0
        self._tally.set(self._index, 0, total)

    def update(self, count: int) -> None:
        self.n = self._n + count
