"""Checkpoint model downloads: resumable, checksummed while streaming, parallel, never corrupt.

Model files are large (a 6.9 GB checkpoint is normal), links drop and users press Ctrl-C, so:

* Bytes stream to ``<dest>.part``; the final name appears only after the size and SHA-256 match
  (``fsync`` then ``os.replace``), so a file at ``dest`` is always a verified one.
* A ``.part`` is the resume state. The next attempt, or the next run, asks for the rest with
  ``Range: bytes=<n>-`` and hashes the existing prefix first. Ctrl-C keeps ``.part`` files on
  purpose: they are what makes re-running cheap. A ``.part`` that fails verification is deleted,
  since it can never become the right file.
* Network trouble (refused, reset, timeouts, HTTP 5xx/408/429, a body cut short) is retried with
  exponential backoff, each retry resuming from the ``.part``. Other HTTP errors (404, 403) are
  not going to change on a retry and fail at once as ``installation`` errors.
* A verified file is recorded in ``.dinoair-verified.json`` next to it (size, SHA-256, mtime), so a
  later run trusts it without re-hashing gigabytes. A file found without a record is hashed once;
  one that does not match is moved aside as ``<name>.corrupt-<timestamp>``, never deleted: it is
  the user's data.

This module knows nothing about telemetry: it reports through ``on_event`` and ``on_bytes``.
Events (attributes never include the URL):

* ``download_retry`` ``{file, attempt, reason, resume_from}``: ``attempt`` is the number of the
  attempt about to start (2 for the first retry), ``resume_from`` the ``.part`` size it resumes at.
* ``download_progress`` ``{file, percent}``: 25, 50, 75 once each while streaming (a resumed
  prefix counts), 100 once the file is verified and in place.
* ``download_complete`` ``{file, bytes, resumed_from}``: bytes received in this run.
* ``download_existing_mismatch`` ``{file, moved_to}``: a file already at ``dest`` was wrong and
  was renamed (``moved_to`` is a bare file name).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import http.client
import json
import logging
import os
import queue
import socket
import ssl
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from tqdm import tqdm

from .errors import ChecksumError, InstallError, NetworkError
from .fsutil import write_atomic
from .manifest import Checkpoint

__all__ = ["RECORD_NAME", "DownloadResult", "DownloadSpec", "download_all", "download_one"]

_logger = logging.getLogger(__name__)

RECORD_NAME = ".dinoair-verified.json"
USER_AGENT = "dinoair-installer"
_CHUNK = 1 << 20  # at most one MiB per socket read; a read returns whatever has arrived
_WRITEBACK_EVERY = 32 << 20  # start writing to disk every 32 MiB (see _Part._start_writeback)
_MAX_BACKOFF = 60.0
_MILESTONES = (25, 50, 75)  # 100 is announced only once the file is verified
_RETRY_STATUSES = frozenset({408, 429})
_MISMATCH_HINT = (
    "re-run the installer to download the file again; if it fails the same way, the server "
    "now has a different file than the manifest expects"
)
_NETWORK_ERRNOS = frozenset(
    {errno.EHOSTUNREACH, errno.ENETUNREACH, errno.ENETDOWN, errno.ETIMEDOUT}
)
_record_lock = threading.Lock()  # downloads run in threads and share one record per folder

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


class _Cancelled(Exception):
    """Raised inside a worker when another thread asked everyone to stop (Ctrl-C)."""


class _Retry(Exception):
    """A transient network problem: try again from the ``.part``. The message is the reason."""


# -- public face ---------------------------------------------------------------------------------


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
) -> list[DownloadResult]:
    """Fetch ``specs`` with up to ``jobs`` in parallel; results come back in the order given.

    When one file fails the others still finish (what they fetched is useful for the next run),
    then the first failure is raised. Ctrl-C stops every worker between two socket reads, keeps
    the ``.part`` files as resume state, and re-raises :class:`KeyboardInterrupt`.
    ``progress=True`` shows one bar per file on stderr when it is a terminal.
    """
    if not specs:
        return []
    if len({spec.dest for spec in specs}) != len(specs):
        raise ValueError("two downloads share one destination file")
    cancel = threading.Event()
    bars = [_make_bar(spec, position, progress) for position, spec in enumerate(specs)]
    results: list[DownloadResult | None] = [None] * len(specs)
    errors: list[BaseException | None] = [None] * len(specs)
    todo = queue.SimpleQueue()
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
                )
            except BaseException as exc:  # handed to the caller's thread below
                _logger.warning("download of %s failed: %s", specs[index].name, exc)
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
        raise failures[0]
    return [result for result in results if result is not None]


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
) -> DownloadResult:
    """Make ``spec.dest`` the verified file, downloading only what is missing.

    ``timeout`` applies to connecting and to every socket read, so a stalled server fails after
    that long instead of hanging. ``retries`` is the number of retries after the first attempt.
    ``bar`` is an optional tqdm bar; ``cancel``, when set by another thread, stops the transfer
    between reads (the ``.part`` is kept).
    """
    cancel = cancel or threading.Event()
    spec.dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        present = _check_present(spec, bar, cancel, on_event)
        if present is not None:
            return present
        return _Transfer(spec, timeout, retries, backoff, bar, on_event, on_bytes, cancel).run()
    except _Cancelled:
        raise KeyboardInterrupt from None


# -- files already in place ----------------------------------------------------------------------


def _check_present(
    spec: DownloadSpec, bar: Any, cancel: threading.Event, on_event: EventSink
) -> DownloadResult | None:
    """A result when ``dest`` is already the right file; otherwise None (moving a bad one aside)."""
    dest = spec.dest
    try:
        stat = dest.stat()
    except FileNotFoundError:
        return None
    record = _read_records(dest.parent).get(dest.name)
    if (
        isinstance(record, dict)
        and record.get("sha256") == spec.sha256
        and record.get("size") == stat.st_size == spec.size
        and record.get("mtime_ns") == stat.st_mtime_ns
    ):
        _bar_start(bar, spec.size, spec.size, f"{spec.name} (verified)")
        return DownloadResult(spec.name, dest, "verified")
    if stat.st_size == spec.size:
        _bar_start(bar, spec.size, 0, f"{spec.name} (checking)")
        digest = _hash_file(dest, bar, cancel)
        if digest == spec.sha256:
            _record_verified(dest, spec.sha256)
            _bar_start(bar, spec.size, spec.size, f"{spec.name} (verified)")
            return DownloadResult(spec.name, dest, "hashed")
        reason = f"sha256 {_short(digest)}, expected {_short(spec.sha256)}"
    else:
        reason = f"{stat.st_size} bytes, expected {spec.size}"
    aside = _move_aside(dest)
    _logger.warning(
        "%s does not match the manifest (%s); kept it as %s and downloading again",
        dest.name,
        reason,
        aside.name,
    )
    on_event("download_existing_mismatch", {"file": spec.name, "moved_to": aside.name})
    return None


def _move_aside(path: Path) -> Path:
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    aside = path.with_name(f"{path.name}.corrupt-{stamp}")
    counter = 1
    while aside.exists():
        counter += 1
        aside = path.with_name(f"{path.name}.corrupt-{stamp}-{counter}")
    os.replace(path, aside)
    return aside


# -- the transfer --------------------------------------------------------------------------------


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
                self.hasher, self.offset = _hash_prefix(self.path, self._bar, self._cancel)
            self._synced = True
        return self.offset

    def reset(self) -> None:
        """Start over from byte 0 (the server ignored Range, or the ``.part`` is unusable)."""
        with self.path.open("wb"):
            pass
        self.offset = 0
        self.hasher = hashlib.sha256()
        self._synced = True

    def append(self, fh: BinaryIO, chunk: bytes) -> None:
        fh.write(chunk)
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
        self.host = _host(spec.url)
        self.received = 0
        self.started_at = 0
        self.announced: set[int] = set()
        # A fresh opener per file reads the proxy environment the way urllib does by default.
        self.opener = urllib.request.build_opener()

    def run(self) -> DownloadResult:
        attempt = 0
        while True:
            attempt += 1
            try:
                self._attempt()
                break
            except _Retry as exc:
                reason = str(exc)
            except urllib.error.HTTPError as exc:
                reason = self._http_reason(exc)
            except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
                reason = _network_reason(exc)
                if reason is None and isinstance(exc, urllib.error.URLError):
                    raise NetworkError(
                        f"could not download {self.spec.name} from {self.host}: "
                        f"{_describe(exc.reason)}"
                    ) from exc  # retry won't help
                if reason is None:
                    raise  # a local problem (disk full, permissions): not the network's fault
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
            raise _Cancelled(self.spec.name)

    def _http_reason(self, exc: urllib.error.HTTPError) -> str:
        """A retry reason for transient statuses; raises at once for the rest."""
        exc.close()
        if exc.code >= 500 or exc.code in _RETRY_STATUSES:
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
            total = _unsatisfied_total(exc.headers.get("Content-Range"))
            exc.close()
            if total is not None and total != spec.size:
                self._mismatch(f"the server has {total} bytes, expected {spec.size}")
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
            _bar_start(self.bar, spec.size, offset, spec.name)
            self._stream(response, offset)

    def _open(self, offset: int) -> http.client.HTTPResponse:
        headers = {"User-Agent": USER_AGENT}
        if offset:
            headers["Range"] = f"bytes={offset}-"
        request = urllib.request.Request(self.spec.url, headers=headers)
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
            start, total = _content_range(response.headers.get("Content-Range"))
            if total is not None and total != spec.size:
                self._mismatch(f"the server has {total} bytes, expected {spec.size}")
            if start != offset:
                self.part.reset()
                raise _Retry(f"bad Content-Range (asked for byte {offset}, got {start})")
        elif status != 200:
            raise InstallError(
                f"could not download {spec.name} from {self.host}: unexpected HTTP {status}"
            )
        length = _content_length(response.headers.get("Content-Length"))
        if length is not None and offset + length != spec.size:
            self._mismatch(f"the server announces {offset + length} bytes, expected {spec.size}")
        return offset

    def _stream(self, response: http.client.HTTPResponse, offset: int) -> None:
        """Copy the body into the ``.part``, hashing as it goes; never past ``size + 1`` bytes."""
        spec = self.spec
        wanted = spec.size - offset
        limit = wanted + 1  # one byte too many is enough to know the file is wrong
        got = 0
        with self.part.path.open("ab") as fh:
            try:
                while got < limit:
                    if self.cancel.is_set():
                        raise _Cancelled(spec.name)
                    chunk = response.read1(min(_CHUNK, limit - got))
                    if not chunk:
                        break
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
            raise _Retry(f"connection closed early ({offset + got} of {spec.size} bytes)")

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
            self._mismatch(f"got {size} bytes, expected {spec.size}")
        digest = self.part.hasher.hexdigest()
        if digest != spec.sha256:
            self._mismatch(f"sha256 {_short(digest)}, expected {_short(spec.sha256)}")
        os.replace(self.part.path, spec.dest)
        _fsync_dir(spec.dest.parent)
        _record_verified(spec.dest, spec.sha256)
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

    def _mismatch(self, detail: str) -> None:
        """The bytes are not the file the manifest names: drop the ``.part`` and fail."""
        self.part.remove()
        raise ChecksumError(
            f"{self.spec.name} does not match the manifest: {detail}; the partial file was removed",
            hint=_MISMATCH_HINT,
        )


# -- helpers -------------------------------------------------------------------------------------


def _network_reason(exc: BaseException) -> str | None:
    """A short reason when ``exc`` is a transient network failure, None when it is not one."""
    if isinstance(exc, urllib.error.URLError) and not isinstance(exc, urllib.error.HTTPError):
        inner = exc.reason  # a str reason is a bad URL or proxy setting: retrying will not help
        if isinstance(inner, ssl.SSLCertVerificationError) or not isinstance(inner, BaseException):
            return None
        return _network_reason(inner)
    if isinstance(exc, socket.gaierror):
        return "DNS lookup failed"
    if isinstance(exc, (TimeoutError, socket.timeout)):
        return "timed out"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, http.client.IncompleteRead):
        return "connection closed early"
    if isinstance(exc, http.client.RemoteDisconnected):
        return "server closed the connection"
    if isinstance(exc, ConnectionResetError):
        return "connection reset"
    if isinstance(exc, ConnectionError):
        return type(exc).__name__
    if isinstance(exc, http.client.HTTPException):
        return f"bad HTTP response ({type(exc).__name__})"
    if isinstance(exc, ssl.SSLError):
        return "TLS error"
    if isinstance(exc, OSError) and exc.errno in _NETWORK_ERRNOS:
        return os.strerror(exc.errno).lower()
    return None


def _describe(reason: object) -> str:
    if isinstance(reason, ssl.SSLCertVerificationError):
        return "the server's TLS certificate could not be verified (is a proxy intercepting?)"
    return str(reason) if not isinstance(reason, BaseException) else type(reason).__name__


def _host(url: str) -> str:
    """Where a file comes from, for messages: host and port only, never credentials or a path."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or "?"
    try:
        port = parts.port
    except ValueError:
        port = None
    return f"{host}:{port}" if port else host


def _content_length(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _content_range(value: str | None) -> tuple[int | None, int | None]:
    """``bytes 100-199/1000`` -> ``(100, 1000)``; unknown parts are None."""
    if not value or not value.startswith("bytes "):
        return None, None
    span, _, total = value[6:].partition("/")
    start = _content_length(span.partition("-")[0])
    return start, _content_length(total) if total != "*" else None


def _unsatisfied_total(value: str | None) -> int | None:
    """The full size from a 416's ``Content-Range: bytes */1000``."""
    if not value or not value.startswith("bytes */"):
        return None
    return _content_length(value[8:])


def _make_bar(spec: DownloadSpec, position: int, progress: bool) -> tqdm:
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


def _bar_start(bar: Any, total: int, offset: int, description: str) -> None:
    """Restart ``bar`` at ``offset`` without counting the resumed bytes as transfer speed."""
    if bar is None:
        return
    bar.reset(total=total)
    bar.set_description_str(description, refresh=False)
    if getattr(bar, "disable", False):
        return
    bar.n = bar.last_print_n = bar.initial = offset
    bar.refresh()


def _short(digest: str) -> str:
    return digest[:12]


def _hash_file(path: Path, bar: Any, cancel: threading.Event) -> str:
    return _hash_prefix(path, bar, cancel)[0].hexdigest()


def _hash_prefix(path: Path, bar: Any, cancel: threading.Event) -> tuple[Any, int]:
    """The running SHA-256 of a file's content and how many bytes it covers."""
    digest = hashlib.sha256()
    count = 0
    with path.open("rb") as fh:
        while block := fh.read(_CHUNK):
            if cancel.is_set():
                raise _Cancelled(path.name)
            digest.update(block)
            count += len(block)
            if bar is not None:
                bar.update(len(block))
    return digest, count


def _fsync_dir(folder: Path) -> None:
    """Make a rename durable (POSIX); Windows cannot open folders and does not need it."""
    if sys.platform == "win32":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _read_records(folder: Path) -> dict[str, Any]:
    """The verification record; unreadable or malformed means "nothing verified yet"."""
    try:
        data = json.loads((folder / RECORD_NAME).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        _logger.warning("ignoring unreadable %s: %s", RECORD_NAME, exc)
        return {}
    return data if isinstance(data, dict) else {}


def _record_verified(path: Path, sha256: str) -> None:
    """Remember that ``path`` (as it is now) was verified; atomic, and safe across threads."""
    stat = path.stat()
    entry = {"size": stat.st_size, "sha256": sha256, "mtime_ns": stat.st_mtime_ns}
    with _record_lock:
        records = _read_records(path.parent)
        records[path.name] = entry
        write_atomic(
            path.parent / RECORD_NAME, json.dumps(records, indent=2, sort_keys=True) + "\n"
        )
