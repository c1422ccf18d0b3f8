"""What telemetry keeps, in words a person reads before saying yes, generated from the catalogue.

The installer's consent question (``more``) and ``dinoair-telemetry enable`` both show
:func:`collection_notice`, so the promise made before consent is the same wherever it is made.
Its lines come from :mod:`.catalogue`, one line per thing that can be recorded, grouped under the
switch that gates it: a field cannot be recorded without being in this text.

The notice has a version (:data:`NOTICE_VERSION`), saved with a "yes" as
``consent_notice_version``. A test pins the text's digest (:data:`NOTICE_DIGEST`): when a release
adds a kind of data, the test fails until the version is raised, and users who agreed to an
older notice are asked again (``installer/consent.py``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

from .catalogue import CATALOGUE, ERROR_REPORTING, SWITCH_FLAGS, TELEMETRY, USAGE_ANALYTICS, Field

__all__ = ["NOTICE_DIGEST", "NOTICE_VERSION", "collection_notice", "notice_digest"]

COMMAND = "dinoair-telemetry"

NOTICE_VERSION = 2
"""Raised whenever the catalogue gains a kind of data (version 1: the hand-written notice)."""
NOTICE_DIGEST = "e460799a8a23ad61"
"""The digest of the notice of :data:`NOTICE_VERSION`; a test says when the text moved on."""

_SECTIONS = (
    (TELEMETRY, "Each run's steps and results:"),
    (ERROR_REPORTING, "Error details:"),
    (USAGE_ANALYTICS, "Usage (the options you chose, a coarse hardware profile):"),
)


def _plain(text: str) -> str:
    return text


def _line(field: Field) -> str:
    if field.kind == "event":
        keys = f": {', '.join(field.keys)}" if field.keys else ""
        return f"    - {field.purpose} (event {field.key}{keys})"
    return f"    - {field.purpose} ({field.key})"


def _crash_line() -> str:
    keys = ", ".join(f.key for f in CATALOGUE if f.kind == "crash")
    return f"    - a crash report for unexpected failures ({keys})"


def collection_notice(
    home: Path,
    *,
    error_reporting: bool = True,
    usage_analytics: bool = True,
    heading: Callable[[str], str] = _plain,
    dim: Callable[[str], str] = _plain,
) -> list[str]:
    """The notice as lines, without newlines.

    ``error_reporting``/``usage_analytics`` false marks that part as switched off (with the
    ``dinoair-telemetry enable`` flag that does it). ``heading`` and ``dim`` style the headings
    and those marks for a terminal (``click.style``); by default the text is plain.
    """
    on = {TELEMETRY: True, ERROR_REPORTING: error_reporting, USAGE_ANALYTICS: usage_analytics}
    lines = [
        heading(f"With telemetry on, the installer keeps on this computer only (in {home}):"),
    ]
    for switch, title in _SECTIONS:
        mark = "" if on[switch] else dim(f"  (off: {SWITCH_FLAGS[switch]})")
        lines.append(f"  {title}{mark}")
        lines.extend(_line(f) for f in CATALOGUE if f.switch == switch and f.kind != "crash")
        if switch == ERROR_REPORTING:
            lines.append(_crash_line())
    lines += [
        "Paths, user and host names, URLs, e-mail and IP addresses and secrets are replaced by",
        "placeholders before anything is written.",
        heading("What is never kept:")
        + " your files, file paths, user or host names, IP addresses, credentials,",
        "environment variables, anything that identifies you. Nothing is sent anywhere.",
        f"See it with '{COMMAND} show-data', every field with '{COMMAND} fields', delete it",
        f"with '{COMMAND} clear-data'. Switch it off with '{COMMAND} disable', for one installer",
        "run with --disable-telemetry, or with DINOAIR_DISABLE_TELEMETRY=1 or DO_NOT_TRACK=1.",
        f"(Notice version {NOTICE_VERSION}.)",
    ]
    return lines


def notice_digest() -> str:
    """A short digest of the full notice (every part on, no home): what :data:`NOTICE_DIGEST`
    pins, so a change of what is collected cannot ship under the old version."""
    text = "\n".join(collection_notice(Path("HOME")))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
