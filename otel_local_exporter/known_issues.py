"""Known issues, matched on the user's computer: a feed signed by the maintainers, cached locally.

The maintainers publish a JSON feed: for a failure signature (or a pattern over its parts, see
:class:`.signature.FailureParts`), the issue URL, a one-line explanation, the release that fixes
it and a workaround. It is signed with Ed25519; the public key ships with the installer
(:data:`PUBLIC_KEY`), and a feed that fails the check is ignored with one line.

The published file is an envelope, ``{"payload": "<the feed JSON, as text>", "signature":
"<base64 Ed25519 signature of the payload's UTF-8 bytes>"}``; the feed itself::

    {"schema_version": 1, "issues": [
      {"signature": "3f9a0c2b7d14", "url": "https://...", "title": "one line",
       "fixed_in": "0.3.0", "workaround": "..."},
      {"match": {"step": "models", "category": "network", "message": "HTTP <N> .*"}, ...}]}

A ``match`` holds regular expressions, each matched in full against that part.

Refreshing the cache is one GET that carries nothing about the user (no id, no cookie: only
``User-Agent: dinoair-installer/<version>``). It happens only with ``fix_notifications_enabled``
on and no kill switch set, at most once a day, with a short timeout (:func:`refresh`); matching
a failure (:func:`lookup`) reads only the cache, never the network. Nothing here raises.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._fileio import atomic_write, ensure_private_dir
from .config import TelemetryConfig, kill_switch

__all__ = [
    "FEED_SCHEMA_VERSION",
    "PUBLIC_KEY",
    "FeedError",
    "KnownIssue",
    "Refresh",
    "cached_issues",
    "is_newer",
    "known_issue_lines",
    "lookup",
    "refresh",
    "shipped_key",
    "sign_payload",
    "start_refresh",
    "verify_envelope",
]

_logger = logging.getLogger(__name__)

FEED_SCHEMA_VERSION = 1
CACHE_NAME = "known_issues.json"
REFRESH_EVERY = 24 * 3600  # seconds: at most once a day
TIMEOUT = 3.0  # seconds for the whole request: never slows an install for long
MAX_FEED_BYTES = 1 << 20

PUBLIC_KEY = "TNYld6dclUOKPnR6DqC403YlfoZBrEC8Ff39aho8CgU="
"""The maintainers' Ed25519 public key (raw 32 bytes, base64), from ``known-issues keygen``."""


KEY_ENV = "DINOAIR_KNOWN_ISSUES_KEY"  # another public key (a fork's, a test's), base64


def shipped_key() -> str:
    """The key feeds are checked with: :data:`PUBLIC_KEY`, or ``$DINOAIR_KNOWN_ISSUES_KEY``."""
    return os.environ.get(KEY_ENV) or PUBLIC_KEY


class FeedError(ValueError):
    """Why a feed was refused (one line)."""


@dataclass(frozen=True)
class KnownIssue:
    url: str
    title: str
    fixed_in: str | None
    workaround: str | None
    signature: str | None
    match: dict[str, str]

    def matches(self, signature: str | None, parts: dict[str, Any] | None) -> bool:
        if self.signature is not None:
            return signature is not None and signature == self.signature
        if not self.match or not parts:
            return False
        for key, pattern in self.match.items():
            value = parts.get(key)
            if isinstance(value, list):
                value = " ".join(str(v) for v in value)
            try:
                if value is None or not re.fullmatch(pattern, str(value)):
                    return False
            except re.error:
                return False
        return True


@dataclass(frozen=True)
class Refresh:
    """What a refresh did: ``fetched``, ``fresh`` (cache younger than a day), ``off`` (the
    switch or a kill switch), ``no-url``, ``refused`` (bad signature or shape), ``failed``."""

    outcome: str
    detail: str = ""


# -- signing and verifying ------------------------------------------------------------------------


def _public_key(key_b64: str) -> Any:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    return Ed25519PublicKey.from_public_bytes(base64.b64decode(key_b64, validate=True))


def verify_envelope(raw: bytes, public_key: str | None = None) -> dict[str, Any]:
    """The feed inside a signed envelope, checked; :class:`FeedError` (one line) otherwise."""
    from cryptography.exceptions import InvalidSignature

    try:
        envelope = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise FeedError("the feed is not JSON") from None
    if not isinstance(envelope, dict):
        raise FeedError("the feed is not a signed envelope")
    payload, signature = envelope.get("payload"), envelope.get("signature")
    if not isinstance(payload, str) or not isinstance(signature, str):
        raise FeedError("the feed is not signed (no payload and signature)")
    try:
        _public_key(public_key or shipped_key()).verify(
            base64.b64decode(signature), payload.encode("utf-8")
        )
    except (InvalidSignature, ValueError):
        raise FeedError("the feed's signature does not match the maintainers' key") from None
    try:
        feed = json.loads(payload)
    except ValueError:
        raise FeedError("the signed feed is not JSON") from None
    if not isinstance(feed, dict) or not isinstance(feed.get("issues"), list):
        raise FeedError("the signed feed has no issues list")
    if feed.get("schema_version") != FEED_SCHEMA_VERSION:
        raise FeedError(f"the feed's schema_version is not {FEED_SCHEMA_VERSION}")
    return feed


def sign_payload(payload: str, private_pem: bytes) -> dict[str, str]:
    """The envelope for ``payload`` signed with a PEM Ed25519 private key (maintainers)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    key = load_pem_private_key(private_pem, password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise FeedError("the key is not an Ed25519 private key")
    signature = key.sign(payload.encode("utf-8"))
    return {"payload": payload, "signature": base64.b64encode(signature).decode("ascii")}


# -- the feed's entries ---------------------------------------------------------------------------


def _issues(feed: dict[str, Any]) -> list[KnownIssue]:
    out = []
    for entry in feed.get("issues", []):
        if not isinstance(entry, dict) or not isinstance(entry.get("url"), str):
            continue
        match = entry.get("match")
        match = (
            {k: v for k, v in match.items() if isinstance(v, str)}
            if isinstance(match, dict)
            else {}
        )
        signature = entry.get("signature")
        out.append(
            KnownIssue(
                url=entry["url"],
                title=str(entry.get("title") or ""),
                fixed_in=entry.get("fixed_in") if isinstance(entry.get("fixed_in"), str) else None,
                workaround=entry.get("workaround")
                if isinstance(entry.get("workaround"), str)
                else None,
                signature=signature if isinstance(signature, str) else None,
                match=match,
            )
        )
    return out


def is_newer(release: str | None, installed: str | None) -> bool:
    """``release`` is a later version than ``installed`` (numbers compared; unknown: False)."""

    def key(v: str) -> tuple[int, ...]:
        return tuple(int(n) for n in re.findall(r"\d+", v)[:4])

    if not release or not installed:
        return False
    return key(release) > key(installed)


# -- the cache ------------------------------------------------------------------------------------


def _cache(home: Path) -> Path:
    return home / CACHE_NAME


def cached_issues(home: Path, public_key: str | None = None) -> list[KnownIssue]:
    """The issues of the cached feed, checked again (a cache edited by hand counts for nothing)."""
    try:
        stored = json.loads(_cache(home).read_text(encoding="utf-8"))
        envelope = stored["envelope"]
        return _issues(verify_envelope(json.dumps(envelope).encode("utf-8"), public_key))
    except FileNotFoundError:
        return []
    except Exception as exc:
        _logger.debug("known-issues cache ignored: %s", exc)
        return []


def lookup(
    home: Path,
    signature: str | None,
    parts: dict[str, Any] | None = None,
    public_key: str | None = None,
) -> KnownIssue | None:
    """The cached feed's entry for a failure, or ``None``. Reads only the cache."""
    try:
        for issue in cached_issues(home, public_key):
            if issue.matches(signature, parts):
                return issue
    except Exception:
        _logger.debug("known-issues lookup failed", exc_info=True)
    return None


def _fetched_at(home: Path) -> float | None:
    try:
        value = json.loads(_cache(home).read_text(encoding="utf-8")).get("fetched_at")
        return float(value) if isinstance(value, (int, float)) else None
    except Exception:
        return None


def refresh(
    home: Path,
    url: str | None,
    version: str,
    *,
    force: bool = False,
    timeout: float = TIMEOUT,
    public_key: str | None = None,
) -> Refresh:
    """Fetch the feed into the cache when allowed and due. One GET, nothing about the user in
    it. ``force`` (the user's own ``known-issues --refresh``) skips the switch and the daily
    limit, never a kill switch."""
    try:
        switch = kill_switch()
        if switch:
            return Refresh("off", f"{switch} is set")
        if not force and not TelemetryConfig.load(home).fix_notifications_enabled:
            return Refresh("off", "fix notifications are off")
        if not url:
            return Refresh("no-url", "the manifest names no known-issues feed")
        fetched = _fetched_at(home)
        if not force and fetched is not None and 0 <= time.time() - fetched < REFRESH_EVERY:
            return Refresh("fresh")
        # Here, not at the top: most runs stop above, and urllib's HTTP client (http.client,
        # email, ssl) is a tenth of a re-run's start-up.
        import urllib.error
        import urllib.request

        request = urllib.request.Request(
            url, headers={"User-Agent": f"dinoair-installer/{version}", "Accept": "*/*"}
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                raw = response.read(MAX_FEED_BYTES + 1)
        except urllib.error.HTTPError as exc:
            return Refresh("failed", f"the feed server answered HTTP {exc.code}")
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            return Refresh("failed", f"the feed could not be fetched ({reason})")
        if len(raw) > MAX_FEED_BYTES:
            return Refresh("refused", "the feed is larger than 1 MiB")
        try:
            verify_envelope(raw, public_key)
        except FeedError as exc:
            return Refresh("refused", str(exc))
        ensure_private_dir(home)
        stored = {"fetched_at": time.time(), "url": url, "envelope": json.loads(raw)}
        atomic_write(_cache(home), (json.dumps(stored) + "\n").encode("utf-8"))
        return Refresh("fetched")
    except Exception as exc:  # never breaks what called it
        _logger.debug("known-issues refresh failed", exc_info=True)
        return Refresh("failed", str(exc))


def start_refresh(home: Path, url: str | None, version: str) -> threading.Thread:
    """:func:`refresh` in a daemon thread, so the install never waits for it (the installer
    joins it briefly at the end; a refresh still running then is dropped, the cache intact)."""
    thread = threading.Thread(
        target=refresh, args=(home, url, version), name="known-issues-refresh", daemon=True
    )
    thread.start()
    return thread


def known_issue_lines(
    home: Path, signature: str | None, parts: dict[str, Any] | None, installed: str
) -> list[str]:
    """What to print under a failure that the cached feed knows (nothing when it does not)."""
    issue = lookup(home, signature, parts)
    if issue is None:
        return []
    lines = [f"Known issue: {issue.title} ({issue.url})"]
    if issue.fixed_in:
        newer = is_newer(issue.fixed_in, installed)
        lines.append(
            f"  Fixed in {issue.fixed_in}"
            + (f" (you have {installed}): update the installer." if newer else ".")
        )
    if issue.workaround:
        lines.append(f"  Workaround: {issue.workaround}")
    return lines
