"""Verification records: what a file on disk is known to be, and what to do when it is not.

A verified file is recorded in ``.dinoair-verified.json`` next to it (size, SHA-256, mtime), so a
later run trusts it without re-hashing gigabytes. A file found without a record is hashed once;
one that does not match is moved aside as ``<name>.corrupt-<timestamp>``, never deleted: it is
the user's data.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

from ..fsutil import write_atomic
from ._progress import bar_start
from ._spec import Cancelled, DownloadResult, DownloadSpec, EventSink

_logger = logging.getLogger(__name__)

RECORD_NAME = ".dinoair-verified.json"
HASH_BLOCK = 1 << 20  # one MiB per read when hashing a file from disk
_record_lock = threading.Lock()  # downloads run in threads and share one record per folder


def check_present(
    spec: DownloadSpec, bar: Any, cancel: threading.Event, on_event: EventSink
) -> DownloadResult | None:
    """A result when ``dest`` is already the right file; otherwise None (moving a bad one aside)."""
    dest = spec.dest
    try:
        stat = dest.stat()
    except FileNotFoundError:
        return None
    record = read_records(dest.parent).get(dest.name)
    if (
        isinstance(record, dict)
        and record.get("sha256") == spec.sha256
        and record.get("size") == stat.st_size == spec.size
        and record.get("mtime_ns") == stat.st_mtime_ns
    ):
        bar_start(bar, spec.size, spec.size, f"{spec.name} (verified)")
        return DownloadResult(spec.name, dest, "verified")
    if stat.st_size == spec.size:
        bar_start(bar, spec.size, 0, f"{spec.name} (checking)")
        digest = hash_prefix(dest, bar, cancel)[0].hexdigest()
        if digest == spec.sha256:
            record_verified(dest, spec.sha256)
            bar_start(bar, spec.size, spec.size, f"{spec.name} (verified)")
            return DownloadResult(spec.name, dest, "hashed")
        reason = f"sha256 {short(digest)}, expected {short(spec.sha256)}"
    else:
        reason = f"{stat.st_size} bytes, expected {spec.size}"
    aside = move_aside(dest)
    _logger.warning(
        "%s does not match the manifest (%s); kept it as %s and downloading again",
        dest.name,
        reason,
        aside.name,
    )
    on_event("download_existing_mismatch", {"file": spec.name, "moved_to": aside.name})
    return None


def move_aside(path: Path) -> Path:
    """Rename ``path`` to ``<name>.corrupt-<timestamp>`` (never over an earlier one)."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    aside = path.with_name(f"{path.name}.corrupt-{stamp}")
    counter = 1
    while aside.exists():
        counter += 1
        aside = path.with_name(f"{path.name}.corrupt-{stamp}-{counter}")
    os.replace(path, aside)
    return aside


def short(digest: str) -> str:
    return digest[:12]


def hash_prefix(
    path: Path, bar: Any, cancel: threading.Event, limit: int | None = None
) -> tuple[Any, int]:
    """The running SHA-256 of a file's first ``limit`` bytes (all when None) and their count."""
    digest = hashlib.sha256()
    count = 0
    with path.open("rb") as fh:
        while limit is None or count < limit:
            want = HASH_BLOCK if limit is None else min(HASH_BLOCK, limit - count)
            block = fh.read(want)
            if not block:
                break
            if cancel.is_set():
                raise Cancelled(path.name)
            digest.update(block)
            count += len(block)
            if bar is not None:
                bar.update(len(block))
    return digest, count


def fsync_dir(folder: Path) -> None:
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


def read_records(folder: Path) -> dict[str, Any]:
    """The verification record; unreadable or malformed means "nothing verified yet"."""
    try:
        data = json.loads((folder / RECORD_NAME).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        _logger.warning("ignoring unreadable %s: %s", RECORD_NAME, exc)
        return {}
    return data if isinstance(data, dict) else {}


def record_verified(path: Path, sha256: str) -> None:
    """Remember that ``path`` (as it is now) was verified; atomic, and safe across threads."""
    stat = path.stat()
    entry = {"size": stat.st_size, "sha256": sha256, "mtime_ns": stat.st_mtime_ns}
    with _record_lock:
        records = read_records(path.parent)
        records[path.name] = entry
        write_atomic(
            path.parent / RECORD_NAME, json.dumps(records, indent=2, sort_keys=True) + "\n"
        )
