"""Why a server the installer started could not listen: its port in use, or listening not allowed.

A server that cannot bind its port exits at once, like one that crashes, but the cause is the
machine (another program, a firewall or sandbox), not the installation: ``system``, with another
hint. ComfyUI (aiohttp), the web GUI (http.server) and Ollama (Go) each say it in their own words;
their output is the only place the reason is told, so it is read from there.
"""

from __future__ import annotations

import os
from pathlib import Path

IN_USE = "in_use"
DENIED = "denied"

# Lowercase phrases as each server prints them (Linux, macOS, Windows errno texts).
_IN_USE = (
    "address already in use",  # EADDRINUSE (Linux errno 98, macOS 48), Go's "bind: address..."
    "errno 98]",
    "errno 48]",
    "winerror 10048",
    "only one usage of each socket address",  # Windows' text for WSAEADDRINUSE
)
_DENIED = (
    "permission denied",  # EACCES: a port below 1024, an SELinux or sandbox rule
    "errno 13]",
    "winerror 10013",
    "forbidden by its access permissions",  # Windows' text for WSAEACCES
)
_ABOUT_LISTENING = ("bind", "listen", "address", "socket")


def bind_failure(output: str) -> str | None:
    """``IN_USE`` or ``DENIED`` when ``output`` (a server's last lines) says it could not bind
    its port, else None. A denial counts only next to words about listening, so a traceback
    about an unreadable file stays an installation failure."""
    text = output.lower()
    if any(phrase in text for phrase in _IN_USE):
        return IN_USE
    if any(phrase in text for phrase in _DENIED) and any(w in text for w in _ABOUT_LISTENING):
        return DENIED
    return None


def output_since(log: Path, offset: int, limit: int = 4096) -> str:
    """What a server wrote to ``log`` from ``offset`` on (a log several servers share), its last
    ``limit`` bytes; empty when the log cannot be read."""
    try:
        with log.open("rb") as read:
            read.seek(max(offset, read.seek(0, os.SEEK_END) - limit))
            return read.read().decode(errors="replace")
    except OSError:
        return ""
