"""uv without pip: its wheel for this platform, from the user's index, checked against the lock.

uv is published on PyPI as ``uv-<version>-py3-none-<platform>.whl`` with the binary in its data
folder (``uv-<version>.data/scripts/uv``). A wheel is a zip file, so the standard library can
fetch it, check its sha256 against the lock and unpack that one file. The binary is kept under
``<env home>/uv-<version>/`` so later rebuilds need no download.
"""

from __future__ import annotations

import hashlib
import os
import platform
import re
import shutil
import stat
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path

from .errors import FrontDoorError
from .index import Index
from .lock import Pin

TIMEOUT = 30  # seconds per request
_HREF = re.compile(r"""href=["']([^"'#]+)(?:#[^"']*)?["']""", re.IGNORECASE)


def binary_name() -> str:
    return "uv.exe" if sys.platform == "win32" else "uv"


def platform_tags() -> list[str]:
    """Substrings of uv's wheel tags that run here, best first."""
    machine = platform.machine().lower()
    arch = {"amd64": "x86_64", "x64": "x86_64", "arm64": "aarch64"}.get(machine, machine)
    if sys.platform == "win32":
        return {"x86_64": ["win_amd64"], "aarch64": ["win_arm64"]}.get(arch, ["win32"])
    if sys.platform == "darwin":
        return ["macosx_11_0_arm64"] if arch == "aarch64" else ["macosx_10_12_x86_64"]
    libc = platform.libc_ver()[0]
    kinds = ["manylinux", "musllinux"] if libc == "glibc" else ["musllinux", "manylinux"]
    return [f"{kind}:{arch}" for kind in kinds]


def _matches(filename: str, tag: str) -> bool:
    kind, _, arch = tag.partition(":")
    if arch:
        return kind in filename and filename.endswith(f"_{arch}.whl")
    return filename.endswith(f"{tag}.whl")


def ensure(pin: Pin, index: Index, home: Path, say) -> str:
    """The path of a verified uv binary of the locked version, fetched once into ``home``."""
    target = home / f"uv-{pin.version}" / binary_name()
    if target.is_file() and os.access(target, os.X_OK):
        return str(target)
    say(f"fetching uv {pin.version} from {_display(index.index_url)}")
    url, wheel = _find_wheel(pin, index)
    data = _download(url, index)
    sha = hashlib.sha256(data).hexdigest()
    if sha not in pin.hashes:
        raise FrontDoorError(
            f"hash mismatch for {wheel} from {_display(url)} (got sha256 {sha[:12]}…, which "
            "requirements/installer.lock does not list)",
            "the index served a different file than the one locked: check the index or proxy "
            "you configured (PIP_INDEX_URL, pip.conf), or update the checkout, then re-run",
        )
    _unpack(data, pin, target)
    return str(target)


def _find_wheel(pin: Pin, index: Index) -> tuple[str, str]:
    prefix = f"uv-{pin.version}-"
    errors: list[str] = []
    candidates: list[tuple[str, str]] = []
    for base in [*index.simple_urls, *index.find_links]:
        page = base if "://" in base else Path(base).absolute().as_uri()
        if base in index.simple_urls:
            page = page.rstrip("/") + "/uv/"
        try:
            html = _download(page, index).decode("utf-8", "replace")
        except FrontDoorError as exc:
            errors.append(exc.what)
            continue
        for href in _HREF.findall(html):
            name = urllib.parse.unquote(href.rsplit("/", 1)[-1])
            if name.startswith(prefix) and name.endswith(".whl"):
                candidates.append((urllib.parse.urljoin(page.rstrip("/") + "/", href), name))
    for tag in platform_tags():
        for url, name in candidates:
            if _matches(name, tag):
                return url, name
    if errors and not candidates:
        raise FrontDoorError(
            f"cannot reach the package index, and no installer environment is set up yet "
            f"({errors[0]})",
            "connect to the network, or point PIP_INDEX_URL / pip.conf / UV_DEFAULT_INDEX at an "
            "index you can reach, then re-run",
        )
    raise FrontDoorError(
        f"no uv {pin.version} wheel for this platform ({sys.platform}, {platform.machine()}) "
        f"on {_display(index.index_url)}",
        "install uv yourself (https://docs.astral.sh/uv/) so it is on PATH, then re-run",
    )


def _download(url: str, index: Index) -> bytes:
    request = urllib.request.Request(url, headers={"User-Agent": "dinoair-frontdoor"})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT, context=index.ssl_context()) as r:
            return r.read()
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise FrontDoorError(f"{_display(url)}: {reason}", "check the network") from exc


def _unpack(data: bytes, pin: Pin, target: Path) -> None:
    suffix = f".data/scripts/{binary_name()}"
    target.parent.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent.parent) as tmp:
        wheel = Path(tmp) / "uv.whl"
        wheel.write_bytes(data)
        with zipfile.ZipFile(wheel) as archive:
            member = next((n for n in archive.namelist() if n.endswith(suffix)), None)
            if member is None:
                raise FrontDoorError(
                    f"the uv {pin.version} wheel holds no {binary_name()} binary",
                    "install uv yourself (https://docs.astral.sh/uv/) so it is on PATH, "
                    "then re-run",
                )
            staged = Path(tmp) / binary_name()
            with archive.open(member) as src, staged.open("wb") as dst:
                shutil.copyfileobj(src, dst)
        staged.chmod(staged.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staged, target)  # whole or absent: a killed run leaves no half binary


def _display(url: str) -> str:
    """A URL without any user:password in it, for messages."""
    parts = urllib.parse.urlsplit(url)
    if parts.username or parts.password:
        host = parts.hostname or ""
        parts = parts._replace(netloc=host + (f":{parts.port}" if parts.port else ""))
    return urllib.parse.urlunsplit(parts)
