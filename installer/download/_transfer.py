"""One file's transfer: HTTP, resume from the ``.part``, retries, verification, the rename.

* Bytes stream to ``<dest>.part``; the final name appears only after the size and SHA-256 match
  (``fsync`` then ``os.replace``), so a file at ``dest`` is always a verified one.
* A ``.part`` is the resume state. The next attempt, or the next run, asks for the rest with
  ``Range: bytes=<n>-`` and hashes the existing prefix first. Ctrl-C keeps ``.part`` files on
  purpose: they are what makes re-running cheap. A ``.part`` that fails verification is deleted,
  since it can never become the right file.
* Network trouble (refused, reset, timeouts, HTTP 5xx/408/429, a body cut short) is retried with
  exponential backoff, each retry resuming from the ``.part``. Other HTTP errors (404, 403) are
  not going to change on a retry and fail at once as ``installation`` errors.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import threading
import urllib.error
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from ..errors import ChecksumError, InstallError, NetworkError
from ._http import (
    RETRY_STATUSES,
    USER_AGENT,
    content_length,
    content_range,
    describe,
    make_request,
    network_reason,
    source_of,
    unsatisfied_total,
)
from ._progress import bar_start
from ._records import check_present, fsync_dir, hash_prefix, record_verified, short
from ._segments import (
    SEGMENT_THRESHOLD,
    SUPPORTED,
    Segmented,
    drop_ranges,
    load_ranges,
    sidecar_path,
)
from ._spec import ByteSink, Cancelled, DownloadResult, DownloadSpec, EventSink, Retry

if TYPE_CHECKING:
    import http.client

_logger = logging.getLogger(__name__)

_CHUNK = 1 << 20  # at most one MiB per socket read; a read returns whatever has arrived
_WRITEBACK_EVERY = 32 << 20  # start writing to disk every 32 MiB (see _Part._start_writeback)
_MAX_BACKOFF = 60.0
_MILESTONES = (25, 50, 75)  # 100 is announced only once the file is verified
_MISMATCH_HINT = (
    "re-run the installer to download the file again; if it fails the same way, the server "
    "now has a different file than the manifest expects"
)


def download_one(
    spec: DownloadSpec,
    *,
    timeout: float = 30.0,
    retries: int = 3,
    backoff: float = 1.0,
    bar: Any = None,
    on_event: EventSink = lambda name, attrs: None,
    on_bytes: ByteSink = lambda n: None,
    cancel: threading.Event | None = None,
    connections: int = 8,
    slots: threading.Semaphore | None = None,
    segment_threshold: int = SEGMENT_THRESHOLD,
) -> DownloadResult:
    """Make ``spec.dest`` the verified file, downloading only what is missing.

    ``timeout`` applies to connecting and to every socket read, so a stalled server fails after
    that long instead of hanging. ``retries`` is the number of retries after the first attempt.
    ``bar`` is an optional tqdm bar; ``cancel``, when set by another thread, stops the transfer
    between reads (the ``.part`` is kept). A file of at least ``segment_threshold`` bytes comes
    over up to ``connections`` parallel range requests when the server honours ranges; ``slots``
    (shared by :func:`download_all`) bounds the open connections across files.
    """
    cancel = cancel or threading.Event()
    spec.dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        present = check_present(spec, bar, cancel, on_event)
        if present is not None:
            return present
        transfer = _Transfer(spec, timeout, retries, backoff, bar, on_event, on_bytes, cancel)
        if connections > 1 and spec.size >= segment_threshold and SUPPORTED:
            transfer.segments = (connections, slots or threading.BoundedSemaphore(connections))
        return transfer.run()
    except Cancelled:
        raise KeyboardInterrupt from None


class _Part:
    """The ``.part`` file and the running SHA-256 of its content.

    The hash survives between attempts in memory, so a retry does not re-read gigabytes; it is
    rebuilt from disk only when the file is not what we last wrote (a previous run's ``.part``).
    """

    def __init__(self, path: Path, cancel: threading.Event, bar: Any):
        self.path = path
        self._cancel = cancel
        self._bar = bar
        self.offset = 0
        self.hasher = hashlib.sha256()
        self._synced = False
        self._flushed = 0  # offset up to which writeback has been started

    def size_on_disk(self) -> int:
        try:
            return self.path.stat().st_size
        except FileNotFoundError:
            return 0

    def sync(self) -> int:
        """Make ``offset`` and ``hasher`` describe the file on disk; return the offset."""
        size = self.size_on_disk()
        if not self._synced or size != self.offset:
            self.hasher = hashlib.sha256()
            self.offset = 0
            if size:
                self.hasher, self.offset = hash_prefix(self.path, self._bar, self._cancel)
            self._synced = True
        return self.offset

    def sync_prefix(self, prefix: int) -> None:
        """Make ``hasher`` cover the file's first bytes up to at most ``prefix`` (segmented)."""
        if not self._synced or self.offset > prefix:
            self.hasher, self.offset = hashlib.sha256(), 0
            if prefix:
                self.hasher, self.offset = hash_prefix(self.path, self._bar, self._cancel, prefix)
            self._synced = True

    def reset(self) -> None:
        """Start over from byte 0 (the server ignored Range, or the ``.part`` is unusable)."""
        with self.path.open("wb"):
            pass
        sidecar_path(self.path).unlink(missing_ok=True)
        self.offset = 0
        self.hasher = hashlib.sha256()
        self._synced = True

    def append(self, fh: BinaryIO, chunk: bytes) -> None:
        view = memoryview(chunk)
        while view:  # an unbuffered write may take part of the chunk
            view = view[fh.write(view) :]
        self.hasher.update(chunk)
        self.offset += len(chunk)
        if self._flushed > self.offset:  # the .part was reset or resumed since
            self._flushed = 0
        if self.offset - self._flushed >= _WRITEBACK_EVERY:
            self._start_writeback(fh)

    def _start_writeback(self, fh: BinaryIO) -> None:
        """Hand the last stretch to the disk now, in the background, instead of all at the end.

        ``POSIX_FADV_DONTNEED`` starts writeback of the dirty range without waiting for it and
        drops the pages once clean, so the final fsync waits only for the tail and a 7 GB model
        does not fill the page cache. Where the call is missing (Windows, macOS) nothing changes.
        """
        fh.flush()
        advise = getattr(os, "posix_fadvise", None)
        if advise is not None:
            with contextlib.suppress(OSError):
                advise(
                    fh.fileno(), self._flushed, self.offset - self._flushed, os.POSIX_FADV_DONTNEED
                )
        self._flushed = self.offset

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)
        sidecar_path(self.path).unlink(missing_ok=True)
        self.offset = 0
        self.hasher = hashlib.sha256()


class _Transfer:
    """One file's download: attempts, retries, verification and the final rename."""

    def __init__(
        self,
        spec: DownloadSpec,
        timeout: float,
        retries: int,
        backoff: float,
        bar: Any,
        on_event: EventSink,
        on_bytes: ByteSink,
        cancel: threading.Event,
    ):
        self.spec = spec
        self.timeout = timeout
        self.retries = max(0, retries)
        self.backoff = backoff
        self.bar = bar
        self.on_event = on_event
        self.on_bytes = on_bytes
        self.cancel = cancel
        self.part = _Part(spec.dest.with_name(spec.dest.name + ".part"), cancel, bar)
        self.host = source_of(spec.url)
        self.received = 0
        self.final_url = spec.url  # where the redirects led: ranges are asked of it
        self.segments: tuple[int, threading.Semaphore] | None = None  # None: one connection
        self._lock = threading.Lock()  # segment threads count bytes under it
        self._resolve_lock = threading.Lock()  # one re-resolution of an expired link at a time
        self.started_at = 0
        self.announced: set[int] = set()
        # A fresh opener per file reads the proxy environment the way urllib does by default.
        # Imported here, where a file is really fetched (see ._http).
        import urllib.request

        self.opener = urllib.request.build_opener()

    def run(self) -> DownloadResult:
        import http.client

        attempt = 0
        while True:
            attempt += 1
            try:
                self._attempt()
                break
            except Retry as exc:
                reason = str(exc)
            except urllib.error.HTTPError as exc:
                reason = self._http_reason(exc)
            except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
                transient = network_reason(exc)
                if transient is None and isinstance(exc, urllib.error.URLError):
                    raise NetworkError(
                        f"could not download {self.spec.name} from {self.host}: "
                        f"{describe(exc.reason)}"
                    ) from exc  # retry won't help
                if transient is None:
                    raise  # a local problem (disk full, permissions): not the network's fault
                reason = transient
            if attempt > self.retries:
                raise NetworkError(
                    f"could not download {self.spec.name} from {self.host}: "
                    f"{reason} after {attempt} attempts"
                )
            self._before_retry(attempt, reason)
        self._finish()
        return DownloadResult(
            self.spec.name, self.spec.dest, "downloaded", self.received, self.started_at, attempt
        )

    def _before_retry(self, attempt: int, reason: str) -> None:
        offset = self.part.size_on_disk()
        _logger.info(
            "retrying %s (attempt %d): %s; resuming at byte %d",
            self.spec.name,
            attempt + 1,
            reason,
            offset,
        )
        self.on_event(
            "download_retry",
            {
                "file": self.spec.name,
                "attempt": attempt + 1,
                "reason": reason,
                "resume_from": offset,
            },
        )
        if self.bar is not None:
            self.bar.set_description_str(f"{self.spec.name} (retry {attempt + 1})")
        if self.cancel.wait(min(_MAX_BACKOFF, self.backoff * 2 ** (attempt - 1))):
            raise Cancelled(self.spec.name)

    def _http_reason(self, exc: urllib.error.HTTPError) -> str:
        """A retry reason for transient statuses; raises at once for the rest."""
        exc.close()
        if exc.code >= 500 or exc.code in RETRY_STATUSES:
            return f"HTTP {exc.code}"
        if exc.code == 407:  # the proxy wants credentials: a network setting, not a bad file
            raise NetworkError(
                f"could not download {self.spec.name} from {self.host}: "
                "the proxy requires authentication (HTTP 407)"
            ) from None
        raise InstallError(
            f"could not download {self.spec.name} from {self.host}: HTTP {exc.code} {exc.reason}"
        ) from None

    def _attempt(self) -> None:
        """One attempt: segmented while the server honours ranges, else one request."""
        if self.segments is not None:
            if self._segmented_attempt():
                return
            self.segments = None  # the server stopped honouring ranges: one connection now
        elif sidecar_path(self.part.path).exists():  # a segmented .part, now over one connection
            prefix = load_ranges(self.part.path, self.spec.size, self.spec.sha256).prefix()
            drop_ranges(self.part.path, prefix)
        self._single_attempt()

    def _segmented_attempt(self) -> bool:
        """Fetch the missing ranges in parallel; False when the caller must go on single."""
        assert self.segments is not None
        connections, slots = self.segments
        if self.part.size_on_disk() > self.spec.size:
            _logger.info("%s is larger than expected; starting over", self.part.path.name)
            self.part.reset()
        ranges = load_ranges(self.part.path, self.spec.size, self.spec.sha256)
        self.part.sync_prefix(ranges.prefix())
        self.started_at = ranges.covered()
        bar_start(self.bar, self.spec.size, self.started_at, self.spec.name)
        return Segmented(self, slots, connections).run(ranges)

    def count_bytes(self, count: int) -> None:
        """Bytes received by a segment thread."""
        with self._lock:
            self.received += count
        self.on_bytes(count)

    def progress_to(self, covered: int) -> None:
        """Move the bar to ``covered`` bytes held, and announce milestones of the hashed prefix."""
        if self.bar is not None:
            self.bar.update(covered - self.bar.n)
        self._milestones()

    def resolve_again(self, failed_url: str) -> bool:
        """After a 403 from ``failed_url``: follow the original URL's redirects once more.

        True when there is a new final URL to try (another thread may have found it already).
        """
        with self._resolve_lock:
            if self.final_url != failed_url:
                return True
            if failed_url == self.spec.url:
                return False  # no redirect to renew: a 403 from the origin is a real refusal
            request = make_request(self.spec.url, {"User-Agent": USER_AGENT, "Range": "bytes=0-0"})
            with self.opener.open(request, timeout=self.timeout) as response:
                self.final_url = response.geturl()
            _logger.info("the download link of %s expired; followed it again", self.spec.name)
            return self.final_url != failed_url

    def _single_attempt(self) -> None:
        """One request: resume from the ``.part`` and stream the rest into it."""
        spec = self.spec
        if self.part.size_on_disk() > spec.size:
            _logger.info("%s is larger than expected; starting over", self.part.path.name)
            self.part.reset()
        offset = self.part.sync()
        try:
            response = self._open(offset)
        except urllib.error.HTTPError as exc:
            if exc.code != 416 or not offset:
                raise
            total = unsatisfied_total(exc.headers.get("Content-Range"))
            exc.close()
            if total is not None and total != spec.size:
                self.mismatch(f"the server has {total} bytes, expected {spec.size}")
            if offset == spec.size:
                self.started_at = offset  # the .part already holds everything: verify it
                return
            _logger.info("server refused to resume %s at %d; starting over", spec.name, offset)
            self.part.reset()
            offset = 0
            response = self._open(0)
        with response:
            offset = self._check_response(response, offset)
            self.started_at = offset
            bar_start(self.bar, spec.size, offset, spec.name)
            self._stream(response, offset)

    def _open(self, offset: int) -> http.client.HTTPResponse:
        headers = {"User-Agent": USER_AGENT}
        if offset:
            headers["Range"] = f"bytes={offset}-"
        request = make_request(self.spec.url, headers)
        return self.opener.open(request, timeout=self.timeout)

    def _check_response(self, response: http.client.HTTPResponse, offset: int) -> int:
        """Validate status and headers against what we asked for; return the offset to write at."""
        spec = self.spec
        status = response.status
        if status == 200 and offset:
            _logger.info("server ignored Range for %s; starting over", spec.name)
            self.part.reset()
            offset = 0
        elif status == 206:
            start, total = content_range(response.headers.get("Content-Range"))
            if total is not None and total != spec.size:
                self.mismatch(f"the server has {total} bytes, expected {spec.size}")
            if start != offset:
                self.part.reset()
                raise Retry(f"bad Content-Range (asked for byte {offset}, got {start})")
        elif status != 200:
            raise InstallError(
                f"could not download {spec.name} from {self.host}: unexpected HTTP {status}"
            )
        length = content_length(response.headers.get("Content-Length"))
        if length is not None and offset + length != spec.size:
            self.mismatch(f"the server announces {offset + length} bytes, expected {spec.size}")
        return offset

    def _stream(self, response: http.client.HTTPResponse, offset: int) -> None:
        """Copy the body into the ``.part``, hashing as it goes; never past ``size + 1`` bytes."""
        spec = self.spec
        wanted = spec.size - offset
        limit = wanted + 1  # one byte too many is enough to know the file is wrong
        got = 0
        # Unbuffered, and cancel checked again after the read: a worker still blocked in read1
        # when Ctrl-C gave up waiting for it must not write later (a buffered flush appended at
        # whatever the file's end was then, inside the next download of the same .part).
        with self.part.path.open("ab", buffering=0) as fh:
            try:
                while got < limit:
                    if self.cancel.is_set():
                        raise Cancelled(spec.name)
                    chunk = response.read1(min(_CHUNK, limit - got))
                    if not chunk:
                        break
                    if self.cancel.is_set():
                        raise Cancelled(spec.name)
                    self.part.append(fh, chunk)
                    got += len(chunk)
                    self.received += len(chunk)
                    self.on_bytes(len(chunk))
                    if self.bar is not None:
                        self.bar.update(len(chunk))
                    self._milestones()
            finally:
                fh.flush()
                os.fsync(fh.fileno())
        if got < wanted:
            # Content-Length (when sent) was checked to match, so this is a dropped connection,
            # not a short file: keep the .part and resume. A server whose file really is short
            # says so on the resume request (416 with its size) and fails as a mismatch there.
            raise Retry(f"connection closed early ({offset + got} of {spec.size} bytes)")

    def _milestones(self) -> None:
        percent = self.part.offset * 100 // self.spec.size if self.spec.size else 100
        for milestone in _MILESTONES:
            if percent >= milestone and milestone not in self.announced:
                self.announced.add(milestone)
                self.on_event("download_progress", {"file": self.spec.name, "percent": milestone})

    def _finish(self) -> None:
        """Verify size and hash, then rename into place and record the file as verified."""
        spec = self.spec
        size = self.part.offset
        if size != spec.size:
            self.mismatch(f"got {size} bytes, expected {spec.size}")
        digest = self.part.hasher.hexdigest()
        if digest != spec.sha256:
            self.mismatch(f"sha256 {short(digest)}, expected {short(spec.sha256)}")
        os.replace(self.part.path, spec.dest)
        fsync_dir(spec.dest.parent)
        record_verified(spec.dest, spec.sha256)
        self._milestones()
        self.on_event("download_progress", {"file": spec.name, "percent": 100})
        self.on_event(
            "download_complete",
            {"file": spec.name, "bytes": self.received, "resumed_from": self.started_at},
        )
        _logger.info(
            "downloaded %s (%d bytes over the network, resumed at %d)",
            spec.name,
            self.received,
            self.started_at,
        )

    def mismatch(self, detail: str) -> None:
        """The bytes are not the file the manifest names: drop the ``.part`` and fail."""
        self.part.remove()
        raise ChecksumError(
            f"{self.spec.name} does not match the manifest: {detail}; the partial file was removed",
            hint=_MISMATCH_HINT,
        )
