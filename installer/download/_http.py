"""Reading HTTP answers: header parsing, and which failures are the network's (worth a retry).

urllib's client (``urllib.request``: ``http.client``, ``email``, ``ssl``) is imported where a
request is made or its failure read, not here: a re-run over a finished install makes none,
and loading it is a tenth of such a run's start-up. A failure from it means it is loaded.
"""

from __future__ import annotations

import base64
import os
import socket
import urllib.error
import urllib.parse
from typing import TYPE_CHECKING

from ..errors import NETWORK_ERRNOS

if TYPE_CHECKING:
    import urllib.request

USER_AGENT = "dinoair-installer"
RETRY_STATUSES = frozenset({408, 429})


def network_reason(exc: BaseException) -> str | None:
    """A short reason when ``exc`` is a transient network failure, None when it is not one."""
    import http.client
    import ssl

    if isinstance(exc, urllib.error.URLError) and not isinstance(exc, urllib.error.HTTPError):
        inner = exc.reason  # a str reason is a bad URL or proxy setting: retrying will not help
        if isinstance(inner, ssl.SSLCertVerificationError) or not isinstance(inner, BaseException):
            return None
        return network_reason(inner)
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
    if isinstance(exc, OSError) and exc.errno in NETWORK_ERRNOS:
        return os.strerror(exc.errno).lower()
    return None


def describe(reason: object) -> str:
    import ssl

    if isinstance(reason, ssl.SSLCertVerificationError):
        return "the server's TLS certificate could not be verified (is a proxy intercepting?)"
    return str(reason) if not isinstance(reason, BaseException) else type(reason).__name__


def make_request(
    url: str, headers: dict[str, str], origin: str | None = None
) -> urllib.request.Request:
    """A request for ``url``; credentials in it (``user:pass@``) become a Basic header.

    urllib keeps ``user:pass@host`` as the host name, so a server that is down was reported as
    "DNS lookup failed". The header is unredirected: a redirect to a CDN does not carry it.
    ``origin`` is the manifest's URL: its credentials also go to the same server under the
    URL the redirects ended at (which urllib reports without them).
    """
    import urllib.request

    parts = urllib.parse.urlsplit(url)
    if parts.username is None and parts.password is None and origin:
        first = urllib.parse.urlsplit(origin)
        if (first.scheme, host_of(origin)) == (parts.scheme, host_of(url)):
            parts = first._replace(path=parts.path, query=parts.query, fragment="")
    if parts.username is None and parts.password is None:
        return urllib.request.Request(url, headers=headers)
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    with_port = f"{netloc}:{parts.port}" if parts.port else netloc
    request = urllib.request.Request(
        urllib.parse.urlunsplit(parts._replace(netloc=with_port)), headers=headers
    )
    user = urllib.parse.unquote(parts.username or "")
    secret = urllib.parse.unquote(parts.password or "")
    token = base64.b64encode(f"{user}:{secret}".encode()).decode("ascii")
    request.add_unredirected_header("Authorization", f"Basic {token}")
    return request


def source_of(url: str) -> str:
    """``host:port``, and the proxy that carries the request when one applies (a failure to
    reach it is then the proxy's, and the user must know which one to check)."""
    import urllib.request

    parts = urllib.parse.urlsplit(url)
    proxy = urllib.request.getproxies().get(parts.scheme)
    if proxy and not urllib.request.proxy_bypass(parts.hostname or ""):
        return f"{host_of(url)} via proxy {host_of(proxy if '://' in proxy else 'http://' + proxy)}"
    return host_of(url)


def host_of(url: str) -> str:
    """Where a file comes from, for messages: host and port only, never credentials or a path."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or "?"
    try:
        port = parts.port
    except ValueError:
        port = None
    return f"{host}:{port}" if port else host


def content_length(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def content_range(value: str | None) -> tuple[int | None, int | None]:
    """``bytes 100-199/1000`` -> ``(100, 1000)``; unknown parts are None."""
    if not value or not value.startswith("bytes "):
        return None, None
    span, _, total = value[6:].partition("/")
    start = content_length(span.partition("-")[0])
    return start, content_length(total) if total != "*" else None


def unsatisfied_total(value: str | None) -> int | None:
    """The full size from a 416's ``Content-Range: bytes */1000``."""
    if not value or not value.startswith("bytes */"):
        return None
    return content_length(value[8:])


def remote_size(url: str, timeout: float) -> int | None:
    """The size of the file at ``url`` as its server tells it, for a file whose size nothing
    else names: one byte is asked for (``Range: bytes=0-0``, a GET: a signed download URL may
    refuse a HEAD) and the total read from ``Content-Range`` (``Content-Length`` when the server
    ignored the range). None when the server tells none; urlopen's errors are the caller's."""
    import urllib.request

    request = make_request(url, {"Range": "bytes=0-0", "User-Agent": USER_AGENT})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        if response.status == 200:  # the range was ignored: the whole length
            return content_length(response.headers.get("Content-Length"))
        return content_range(response.headers.get("Content-Range"))[1]
