"""Detection of the current user, home and host: what the default chain must scrub.

Each probe may fail on a strange system (no passwd entry, no host name); a failed probe is
logged at debug and the others still count.
"""

from __future__ import annotations

import getpass
import logging
import os
import platform
import socket
from pathlib import Path

from ..config import TelemetryConfig  # one way: the config never imports the sanitizer

_logger = logging.getLogger(__name__)


def detect_users() -> list[str]:
    """The login name from ``getpass`` and ``$USER``/``$USERNAME``/``$LOGNAME`` (all kept)."""
    names = []
    try:
        names.append(getpass.getuser())
    except Exception:
        _logger.debug("getpass.getuser() failed", exc_info=True)
    for var in ("USER", "USERNAME", "LOGNAME"):
        value = os.environ.get(var)
        if value:
            names.append(value)
    return names


def detect_homes() -> list[str]:
    """The home folder, and its real path when a symlink leads there."""
    homes = []
    try:
        home = str(Path.home())
        homes.append(home)
        real = os.path.realpath(home)
        if real != home:
            homes.append(real)
    except Exception:
        _logger.debug("Path.home() failed", exc_info=True)
    return homes


def detect_hosts() -> list[str]:
    """The host name as ``socket`` and ``platform`` report it (they may differ)."""
    hosts = []
    for probe in (socket.gethostname, platform.node):
        try:
            hosts.append(probe())
        except Exception:
            _logger.debug("host name probe failed", exc_info=True)
    return hosts


def detect_terms() -> list[str]:
    """The user's own ``redact_terms`` from the config file of the telemetry home.

    Read at each :class:`Sanitizer` built with the defaults, so a term added by
    ``dinoair-telemetry redact add`` applies to the next session, crash report, export and
    report-issue draft alike. An invalid or unreadable config gives no terms (it also turns
    telemetry off, so nothing is recorded).
    """
    try:
        return list(TelemetryConfig.load().redact_terms)
    except Exception:
        _logger.debug("could not read the redact terms", exc_info=True)
        return []
