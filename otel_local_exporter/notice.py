"""What telemetry keeps, in words a person reads before saying yes: the one home of that text.

The installer's consent question (``more``) and ``dinoair-telemetry enable`` both show
:func:`collection_notice`, so the promise made before consent is the same wherever it is made.
A change to what a session or crash report holds changes this text in the same commit.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

__all__ = ["collection_notice"]

COMMAND = "dinoair-telemetry"


def _plain(text: str) -> str:
    return text


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

    def off(on: bool, flag: str) -> str:
        return "" if on else dim(f"  (off: {flag})")

    return [
        heading(f"With telemetry on, the installer keeps on this computer only (in {home}):"),
        "  - each run's steps: name, result (completed, skipped, failed, cancelled), duration,",
        "    skip reason, download size; OS type and version, Python and installer version",
        "  - error details: category and type, sanitized message and stack trace, and a crash",
        "    report for unexpected failures (with CPU count, memory and free disk in whole GiB)"
        + off(error_reporting, "--no-error-reporting"),
        "  - usage: the installer options you chose and a coarse hardware profile (CPU count,",
        "    memory rounded to GiB, architecture)" + off(usage_analytics, "--no-usage-analytics"),
        "Paths, user and host names, URLs, e-mail and IP addresses and secrets are replaced by",
        "placeholders before anything is written.",
        heading("What is never kept:")
        + " your files, file paths, user or host names, IP addresses, credentials,",
        "environment variables, anything that identifies you. Nothing is sent anywhere.",
        f"See it with '{COMMAND} show-data', delete it with '{COMMAND} clear-data'. Switch it off",
        f"with '{COMMAND} disable', for one installer run with --disable-telemetry, or with",
        "DINOAIR_DISABLE_TELEMETRY=1 or DO_NOT_TRACK=1 in the environment.",
    ]
