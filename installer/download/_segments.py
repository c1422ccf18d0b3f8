"""Segmented transfer of one large file: pieces over several connections into one ``.part``.

Model hosts serve from CDNs that cap each connection well below the link, so one file is fetched
as byte ranges over parallel connections, each written in place with ``os.pwrite``:

* Pieces are handed out lowest first from one queue, so the contiguous prefix from byte 0 grows
  steadily; the coordinator (the file's own thread) hashes that prefix as it grows, from the page
  cache, and tells the kernel to write it back and drop it. The end of a download costs only the
  last few pieces' hashing, never a re-read of the file.
* Completed ranges are recorded in ``<dest>.part.ranges``, written atomically before the first
  positioned write, then every 2 s and whenever an attempt ends, each time after the data was
  ``fdatasync``-ed (on Ctrl-C without it: the process ends, the page cache stays). A cut or a
  Ctrl-C resumes every unfinished range exactly; a kill or a power cut loses at most the last
  2 s. A ``.part`` without that sidecar is a plain prefix (the one-connection format).
* Ranges are asked of the final URL once the first request followed the redirects. A ``403``
  there (a signed CDN URL that expired) re-resolves the original URL and tries again (twice at
  most per piece).
* A ``429``/``503`` while other connections of the file are running means "fewer connections,
  please": the piece goes back to the queue and that connection ends. Any other failure ends the
  attempt once the running pieces finish; the caller retries with backoff from what is recorded.
* A ``200`` to a range request (the server stopped honouring ranges) stops the segments; the
  ``.part`` is cut back to its hashed prefix and the caller goes on over one connection.

Open connections are bounded across files by a shared semaphore: each connection holds a slot.
"""

from __future__ import annotations

import bisect
import contextlib
import json
import logging
import os
import queue
import threading
import time
import urllib.error
from pathlib import Path
from typing import TYPE_CHECKING

from ..fsutil import write_atomic
from ._http import (
    RETRY_STATUSES,
    USER_AGENT,
    content_range,
    make_request,
    network_reason,
    unsatisfied_total,
)
from ._spec import Cancelled, Retry

if TYPE_CHECKING:
    import http.client

    from ._transfer import _Transfer

_logger = logging.getLogger(__name__)

MIN_PIECE = 1 << 20  # smallest range worth its own request
MAX_PIECE = 64 << 20  # largest: bounds how far the hashed prefix lags behind the download
SEGMENT_THRESHOLD = 2 * MIN_PIECE  # smaller files come over one connection
# Positioned reads and writes (POSIX). Without them (Windows) every file comes over one connection.
SUPPORTED = hasattr(os, "pwrite") and hasattr(os, "preadv")
SIDECAR_SUFFIX = ".ranges"
_BUFFER = 256 << 10  # per connection: one reusable buffer, so memory does not grow with files
_WRITEBACK_EVERY = 8 << 20  # a connection starts writeback of what it wrote every 8 MiB
_HASH_BLOCK = 4 << 20
_CHECKPOINT_EVERY = 2.0  # seconds between sidecar writes
_TICK = 0.05
_CANCEL_GRACE = 0.5  # seconds Ctrl-C waits for the connections' last writes (Ctrl-C waits 2 s)


class RangeSet:
    """Sorted, disjoint, merged ``[start, end)`` byte ranges."""

    def __init__(self, spans: list[list[int]] | None = None):
        self.starts: list[int] = []
        self.ends: list[int] = []
        for start, end in spans or []:
            self.add(start, end)

    def add(self, start: int, end: int) -> None:
        if end <= start:
            return
        i = bisect.bisect_left(self.ends, start)  # first span that ends at or after start
        j = bisect.bisect_right(self.starts, end)  # spans before j start at or before end
        if i < j:
            start = min(start, self.starts[i])
            end = max(end, self.ends[j - 1])
        self.starts[i:j] = [start]
        self.ends[i:j] = [end]

    def prefix(self) -> int:
        """Where the contiguous run from byte 0 ends."""
        return self.ends[0] if self.starts and self.starts[0] == 0 else 0

    def covered(self) -> int:
        return sum(e - s for s, e in zip(self.starts, self.ends, strict=True))

    def gaps(self, size: int) -> list[tuple[int, int]]:
        out, pos = [], 0
        for start, end in zip(self.starts, self.ends, strict=True):
            if start > pos:
                out.append((pos, min(start, size)))
            pos = max(pos, end)
        if pos < size:
            out.append((pos, size))
        return out

    def spans(self) -> list[list[int]]:
        return [[s, e] for s, e in zip(self.starts, self.ends, strict=True)]


def sidecar_path(part: Path) -> Path:
    return part.with_name(part.name + SIDECAR_SUFFIX)


def load_ranges(part: Path, size: int, sha256: str) -> RangeSet:
    """What the ``.part`` holds: the sidecar's ranges, or a plain prefix when there is none."""
    side = sidecar_path(part)
    try:
        on_disk = part.stat().st_size
    except FileNotFoundError:
        side.unlink(missing_ok=True)
        return RangeSet()
    try:
        data = json.loads(side.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return RangeSet([[0, min(on_disk, size)]])
    except (OSError, ValueError):
        data = None
    if not (
        isinstance(data, dict)
        and data.get("size") == size
        and data.get("sha256") == sha256
        and isinstance(data.get("done"), list)
    ):
        _logger.info("ignoring an unusable %s; starting over", side.name)
        part.unlink(missing_ok=True)
        side.unlink(missing_ok=True)
        return RangeSet()
    ranges = RangeSet()
    for item in data["done"]:
        if (
            isinstance(item, list)
            and len(item) == 2
            and all(isinstance(x, int) for x in item)
            and 0 <= item[0] < item[1] <= min(size, on_disk)
        ):
            ranges.add(item[0], item[1])
    return ranges


def save_ranges(part: Path, size: int, sha256: str, ranges: RangeSet) -> None:
    payload = {"size": size, "sha256": sha256, "done": ranges.spans()}
    write_atomic(sidecar_path(part), json.dumps(payload) + "\n")


def drop_ranges(part: Path, prefix: int) -> None:
    """Back to a plain ``.part``: keep its first ``prefix`` bytes, forget the sidecar."""
    with contextlib.suppress(FileNotFoundError):
        os.truncate(part, prefix)
    sidecar_path(part).unlink(missing_ok=True)


def plan_pieces(gaps: list[tuple[int, int]], connections: int) -> list[tuple[int, int]]:
    """Cut the missing ranges into pieces, lowest first: about four per connection (1 to 64 MiB),
    and the last ``connections`` pieces' worth in quarters.

    Ranges finish out of order and the hash can only follow the contiguous prefix, so what is
    still unhashed when the last byte arrives is about the pieces in flight at the end: small
    pieces there keep that tail (hashed after the download) short.
    """
    missing = sum(end - start for start, end in gaps)
    piece = min(MAX_PIECE, max(MIN_PIECE, missing // max(1, connections * 4)))
    small = max(MIN_PIECE, piece // 4)
    tail_from = missing - connections * piece  # bytes of the missing ones before the tail
    out, seen = [], 0
    for start, end in gaps:
        while start < end:
            size = piece if seen < tail_from else small
            stop = end if end - start < size + size // 2 else start + size
            out.append((start, stop))
            seen += stop - start
            start = stop
    return out


class _Fallback(Exception):
    """The server answered a range request with the whole file."""


class _SizeMismatch(Exception):
    """The server's file has another size than the manifest says."""


class _Backoff(Exception):
    """A 429/503 while other connections run: this connection should end, not fail."""


class Segmented:
    """One attempt at the missing ranges of a file over up to ``connections`` connections."""

    def __init__(self, transfer: _Transfer, slots: threading.Semaphore, connections: int):
        self.t = transfer
        self.spec = transfer.spec
        self.part = transfer.part
        self.slots = slots
        self.connections = connections
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.todo: queue.SimpleQueue[tuple[int, int]] = queue.SimpleQueue()
        self.errors: list[BaseException] = []
        self.fallback = False
        self.active = 0
        self.ranges = RangeSet()
        self.resolving = False  # one request follows the redirects first
        self.resolved = threading.Event()
        self.hash_buffer = bytearray(_HASH_BLOCK)  # reused: hashing allocates nothing per block

    # -- the coordinator -------------------------------------------------------------------------

    def run(self, ranges: RangeSet) -> bool:
        """Fetch every gap of ``ranges``; False when the server stopped honouring ranges.

        Raises the first failure after the running pieces finished (what they fetched is
        recorded); the caller retries from there.
        """
        self.ranges = ranges
        spec = self.spec
        pieces = plan_pieces(ranges.gaps(spec.size), self.connections)
        for piece in pieces:
            self.todo.put(piece)
        fd = os.open(self.part.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            # The sidecar exists before the first positioned write: a .part with holes in it is
            # never mistaken for a plain prefix, however the process ends.
            save_ranges(self.part.path, spec.size, spec.sha256, ranges)
            self._hash_forward(fd)
            workers = [
                threading.Thread(target=self._worker, name=f"dinoair-segment-{n}", daemon=True)
                for n in range(min(self.connections, len(pieces)))
            ]
            for thread in workers:
                thread.start()
            last_checkpoint = time.monotonic()
            while any(thread.is_alive() for thread in workers):
                time.sleep(_TICK)
                if self.t.cancel.is_set():
                    break
                self._hash_forward(fd)
                self.t.progress_to(self.ranges_covered())
                if time.monotonic() - last_checkpoint >= _CHECKPOINT_EVERY:
                    self._checkpoint(fd)
                    last_checkpoint = time.monotonic()
            cancelled = self.t.cancel.is_set()
            if cancelled:  # let the connections finish the write in hand, so it is recorded
                self.stop.set()
                deadline = time.monotonic() + _CANCEL_GRACE
                for thread in workers:
                    thread.join(max(0.0, deadline - time.monotonic()))
            self._checkpoint(fd, durable=not cancelled)  # Ctrl-C: quick; the data is in the cache
            if cancelled:
                raise Cancelled(spec.name)
            if self.fallback:
                drop_ranges(self.part.path, self.part.offset)
                return False
            if self.errors:
                first = self.errors[0]
                if isinstance(first, _SizeMismatch):
                    self.t.mismatch(str(first))
                raise first
            if self.ranges_covered() < spec.size:  # not expected; never verify a file with holes
                raise Retry("ranges left over when the connections ended")
            self._hash_forward(fd)
            os.fsync(fd)
        finally:
            self.stop.set()  # whatever ended the attempt, no connection outlives it
            os.close(fd)
        sidecar_path(self.part.path).unlink(missing_ok=True)
        return True

    def _checkpoint(self, fd: int, durable: bool = True) -> None:
        """Record the ranges held: data made durable first, then the sidecar that names it."""
        with self.lock:
            snapshot = RangeSet(self.ranges.spans())
        if durable:
            os.fdatasync(fd) if hasattr(os, "fdatasync") else os.fsync(fd)
        save_ranges(self.part.path, self.spec.size, self.spec.sha256, snapshot)

    def _hash_forward(self, fd: int) -> None:
        """Hash the contiguous prefix as far as it reaches, then let the kernel write it back."""
        with self.lock:
            prefix = self.ranges.prefix()
        part = self.part
        start = part.offset
        view = memoryview(self.hash_buffer)
        while part.offset < prefix:
            count = os.preadv(fd, [view[: min(_HASH_BLOCK, prefix - part.offset)]], part.offset)
            if not count:
                break
            part.hasher.update(view[:count])
            part.offset += count
        if part.offset > start:
            _start_writeback(fd, start, part.offset - start)  # clean by now: dropped

    def ranges_covered(self) -> int:
        with self.lock:
            return self.ranges.covered()

    # -- the connections -------------------------------------------------------------------------

    def _worker(self) -> None:
        fd = None
        buffer = bytearray(_BUFFER)
        try:
            fd = os.open(self.part.path, os.O_WRONLY)
            while not self.stop.is_set():
                try:
                    piece = self.todo.get_nowait()
                except queue.Empty:
                    with self.lock:
                        if self.active == 0:
                            return
                    time.sleep(_TICK)  # a busy connection may still hand a piece back (429/503)
                    continue
                if not self._acquire():
                    self.todo.put(piece)
                    return
                try:
                    with self.lock:
                        self.active += 1
                    self._piece(fd, buffer, piece)
                except _Backoff:
                    return
                except _Fallback:
                    self.fallback = True
                    self.stop.set()
                    return
                except BaseException as exc:
                    self._fail(exc)  # the rest of this piece waits for the next attempt
                finally:
                    with self.lock:
                        self.active -= 1
                    self.slots.release()
        except BaseException as exc:
            self._fail(exc)
        finally:
            if fd is not None:
                os.close(fd)

    def _acquire(self) -> bool:
        while not self.stop.is_set() and not self.t.cancel.is_set():
            if self.slots.acquire(timeout=_TICK):
                return True
        return False

    def _fail(self, exc: BaseException) -> None:
        """Keep the error for the caller; stop the others unless the network is to blame.

        After a transient failure this and the other connections go on with the queue (what
        they fetch is kept); the failed piece's rest waits for the next attempt, after a backoff.
        Anything else (a 404, a size mismatch, a full disk) ends the attempt now.
        """
        with self.lock:
            self.errors.append(exc)
        if isinstance(exc, urllib.error.HTTPError):
            transient = _transient(exc.code)
        else:
            transient = isinstance(exc, Retry) or network_reason(exc) is not None
        if not transient:
            self.stop.set()

    def _piece(self, fd: int, buffer: bytearray, piece: tuple[int, int]) -> None:
        start, end = piece
        response = self._open_piece(start, end)
        with response:
            if response.status == 200:
                _logger.info("%s: server ignored Range; one connection from here", self.spec.name)
                raise _Fallback
            got, total = content_range(response.headers.get("Content-Range"))
            if total is not None and total != self.spec.size:
                raise _SizeMismatch(f"the server has {total} bytes, expected {self.spec.size}")
            if response.status != 206 or got != start:
                raise Retry(f"bad Content-Range (asked for byte {start}, got {got})")
            pos = flushed = start
            view = memoryview(buffer)
            while pos < end:
                if self.t.cancel.is_set() or self.stop.is_set():
                    return
                n = response.readinto(view[: min(_BUFFER, end - pos)])
                if not n:
                    raise Retry(f"connection closed early ({pos - start} of {end - start} bytes)")
                written = os.pwrite(fd, view[:n], pos)
                with self.lock:
                    self.ranges.add(pos, pos + written)
                pos += written
                self.t.count_bytes(written)
                if pos - flushed >= _WRITEBACK_EVERY or pos == end:
                    _start_writeback(fd, flushed, pos - flushed)
                    flushed = pos

    def _open_piece(self, start: int, end: int) -> http.client.HTTPResponse:
        """GET the range from the final URL; re-resolve once on 403; back off on 429/503.

        The first request of an attempt follows the redirects; the others wait for it, so every
        range is asked of the final URL.
        """
        first = False
        with self.lock:
            if not self.resolving:
                self.resolving = first = True
        if not first:
            while not self.resolved.wait(_TICK):
                if self.t.cancel.is_set() or self.stop.is_set():
                    raise Retry("stopped before the first answer")
        try:
            for tries in range(3):
                url = self.t.final_url
                request = make_request(
                    url,
                    {"User-Agent": USER_AGENT, "Range": f"bytes={start}-{end - 1}"},
                    origin=self.spec.url,
                )
                try:
                    response = self.t.opener.open(request, timeout=self.t.timeout)
                except urllib.error.HTTPError as exc:
                    exc.close()
                    if exc.code == 416:
                        total = unsatisfied_total(exc.headers.get("Content-Range"))
                        if total is not None and total != self.spec.size:
                            raise _SizeMismatch(
                                f"the server has {total} bytes, expected {self.spec.size}"
                            ) from None
                        raise _Fallback from None
                    if _transient(exc.code):
                        with self.lock:  # checked and requeued at once: no worker misses it
                            others = self.active > 1
                            if others:
                                self.todo.put((start, end))
                        if others:
                            raise _Backoff from None
                    if exc.code == 403 and tries < 2 and self.t.resolve_again(url):
                        continue  # the signed link expired: follow the original URL again
                    raise
                if first:
                    self.t.final_url = response.geturl()
                return response
        finally:
            if first:
                self.resolved.set()
        raise AssertionError("unreachable")


def _start_writeback(fd: int, offset: int, length: int) -> None:
    """``POSIX_FADV_DONTNEED``: start writing the range to disk now, in the background, and drop
    the pages that are already clean. Called by a connection right after it wrote a stretch
    (the pages are dirty, so they stay cached for the hash) and by the hasher once it hashed
    them (clean by then, so the page cache does not fill up with a 7 GB file). The final fsync
    then waits for the last stretch only. A no-op where the call is missing."""
    advise = getattr(os, "posix_fadvise", None)
    if advise is not None:
        with contextlib.suppress(OSError):
            advise(fd, offset, length, os.POSIX_FADV_DONTNEED)


def _transient(code: int) -> bool:
    return code >= 500 or code in RETRY_STATUSES
