"""The parallel runner: files as jobs on a few worker threads, one progress bar each, Ctrl-C.

When one file fails the others still finish (what they fetched is useful for the next run), then
the first failure is raised.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from ..errors import InstallError
from ._progress import Tally, make_bar
from ._segments import SEGMENT_THRESHOLD
from ._spec import ByteSink, DownloadResult, DownloadSpec, EventSink
from ._transfer import download_one

_logger = logging.getLogger(__name__)
_shared_slots: threading.BoundedSemaphore | None = None


@contextmanager
def connection_budget(limit: int) -> Iterator[None]:
    """One bound on open connections for every :func:`download_all` inside the block, so steps
    that download at the same time (checkpoints beside other files) share ``--connections``
    instead of each opening its own. The installer's runner holds it for the whole run."""
    global _shared_slots
    previous, _shared_slots = _shared_slots, threading.BoundedSemaphore(max(1, limit))
    try:
        yield
    finally:
        _shared_slots = previous


def download_all(
    specs: Sequence[DownloadSpec],
    *,
    jobs: int = 3,
    timeout: float = 30.0,
    retries: int = 3,
    backoff: float = 1.0,
    progress: bool = True,
    on_event: EventSink = lambda name, attrs: None,
    on_bytes: ByteSink = lambda n: None,
    connections: int = 8,
    segment_threshold: int = SEGMENT_THRESHOLD,
    on_progress: Callable[[int, int], None] | None = None,
) -> list[DownloadResult]:
    """Fetch ``specs`` with up to ``jobs`` in parallel; results come back in the order given.

    When one file fails the others still finish (what they fetched is useful for the next run),
    then the first failure is raised. Ctrl-C stops every worker between two socket reads, keeps
    the ``.part`` files as resume state, and re-raises :class:`KeyboardInterrupt`.
    ``progress=True`` shows one bar per file on stderr when it is a terminal; ``on_progress``
    instead gets ``(bytes held, bytes in all)`` across the files on every change, and no bar
    is drawn (the installer's live line shows it).
    ``connections`` is how many range requests one large file may run at once; open connections
    across all files stay under ``max(connections, jobs)``, or under the run's
    :func:`connection_budget` when one is held.
    """
    if not specs:
        return []
    if len({spec.dest for spec in specs}) != len(specs):
        raise ValueError("two downloads share one destination file")
    cancel = threading.Event()
    slots = _shared_slots or threading.BoundedSemaphore(max(connections, jobs))
    if on_progress is not None:
        tally = Tally([spec.size for spec in specs], on_progress)
        bars: list[Any] = [tally.bar(index) for index in range(len(specs))]
    else:
        bars = [make_bar(spec, position, progress) for position, spec in enumerate(specs)]
    results: list[DownloadResult | None] = [None] * len(specs)
    errors: list[BaseException | None] = [None] * len(specs)
    todo: queue.SimpleQueue[int] = queue.SimpleQueue()
    for index in range(len(specs)):
        todo.put(index)

    def worker() -> None:
        while not cancel.is_set():
            try:
                index = todo.get_nowait()
            except queue.Empty:
                return
            try:
                results[index] = download_one(
                    specs[index],
                    timeout=timeout,
                    retries=retries,
                    backoff=backoff,
                    bar=bars[index],
                    on_event=on_event,
                    on_bytes=on_bytes,
                    cancel=cancel,
                    connections=connections,
                    slots=slots,
                    segment_threshold=segment_threshold,
                )
            except BaseException as exc:  # handed to the caller's thread below
                # Not a warning among the bars: the step's own line gives the failure and its
                # reason, and a file stopped by Ctrl-C has none to give.
                _logger.debug("download of %s stopped: %r", specs[index].name, exc)
                errors[index] = exc

    # Daemon threads, not a ThreadPoolExecutor: a worker blocked on a stalled server must not
    # hold up Ctrl-C (or interpreter exit) for the whole read timeout.
    workers = [
        threading.Thread(target=worker, name=f"dinoair-download-{n}", daemon=True)
        for n in range(max(1, min(jobs, len(specs))))
    ]
    try:
        for thread in workers:
            thread.start()
        for thread in workers:
            while thread.is_alive():
                thread.join(0.2)  # short joins keep the main thread responsive to Ctrl-C
    except KeyboardInterrupt:
        cancel.set()
        deadline = time.monotonic() + 2.0
        for thread in workers:
            thread.join(max(0.0, deadline - time.monotonic()))
        _logger.info("downloads interrupted; .part files are kept so the next run resumes")
        raise
    finally:
        for bar in bars:
            bar.close()
    failures = [error for error in errors if error is not None]
    if failures:
        # One line for the step: the first failure, with the other files' reasons after it
        # (they used to be warnings printed among the progress bars).
        first, others = failures[0], [e for e in failures[1:] if isinstance(e, InstallError)]
        if others and isinstance(first, InstallError):
            first.args = (f"{first}; also {'; '.join(str(e) for e in others)}", *first.args[1:])
        raise first
    return [result for result in results if result is not None]
