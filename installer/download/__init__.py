"""Checkpoint model downloads: resumable, checksummed while streaming, parallel, never corrupt.

Model files are large (a 6.9 GB checkpoint is normal), links drop and users press Ctrl-C. The
package is a public face over three private parts:

* ``_transfer``: one file over HTTP into ``<dest>.part``, resumed with ``Range``, retried with
  backoff, verified (size, SHA-256 computed while streaming) and renamed into place.
* ``_records``: ``.dinoair-verified.json`` (what is known to be verified, so a later run does not
  re-hash gigabytes), hashing a file from disk, and moving a wrong file aside as
  ``<name>.corrupt-<timestamp>`` (never deleted: it is the user's data).
* ``_segments``: a large file as byte ranges over several connections (positioned writes into
  the ``.part``, ``<dest>.part.ranges`` naming what it holds, SHA-256 over the growing prefix);
  ``_transfer`` uses it when the server honours ranges and falls back to one stream otherwise.
* ``_runner``: several files on a few worker threads, one progress bar each, a bound on the
  connections open across files, Ctrl-C.

Shared by them: ``_spec`` (the shapes), ``_http`` (header parsing, which failures are worth a
retry), ``_progress`` (the bars, or a tally of bytes for the installer's live line).

This package knows nothing about telemetry: it reports through ``on_event`` and ``on_bytes``.
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

from ._http import remote_size
from ._progress import resumed_note
from ._records import RECORD_NAME
from ._runner import connection_budget, download_all
from ._spec import DownloadResult, DownloadSpec
from ._transfer import download_one

__all__ = [
    "RECORD_NAME",
    "DownloadResult",
    "DownloadSpec",
    "connection_budget",
    "download_all",
    "download_one",
    "remote_size",
    "resumed_note",
]
