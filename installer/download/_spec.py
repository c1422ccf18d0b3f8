"""What the downloader is asked for and what it answers: the shapes every part of it shares."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..manifest import Checkpoint

EventSink = Callable[[str, dict], None]
ByteSink = Callable[[int], None]


@dataclass(frozen=True)
class DownloadSpec:
    """One file to fetch: ``dest`` is the final path; ``size`` and ``sha256`` what it must be."""

    name: str
    url: str
    dest: Path
    size: int
    sha256: str

    @classmethod
    def from_checkpoint(cls, checkpoint: Checkpoint, root: Path) -> DownloadSpec:
        """The spec of a manifest checkpoint below ``root`` (the ComfyUI checkout)."""
        dest = Path(root) / checkpoint.dest / checkpoint.name
        return cls(checkpoint.name, checkpoint.url, dest, checkpoint.size, checkpoint.sha256)


@dataclass
class DownloadResult:
    """What happened to one file.

    ``status`` is ``downloaded``, ``verified`` (present and recorded: not re-hashed, no network)
    or ``hashed`` (present without a record: hashed once now, then recorded).
    ``bytes_transferred`` counts every byte received over the network in this run, including
    bytes thrown away by a restart. ``resumed_from`` is the offset at which the transfer that
    completed the file started (0 if it started from scratch). ``attempts`` counts requests
    (0 when the network was not needed).
    """

    name: str
    path: Path
    status: str
    bytes_transferred: int = 0
    resumed_from: int = 0
    attempts: int = 0


class Cancelled(Exception):
    """Raised inside a worker when another thread asked everyone to stop (Ctrl-C)."""


class Retry(Exception):
    """A transient network problem: try again from what the ``.part`` holds (message: why)."""
