"""Where the user's Python packages come from: pip's settings, carried over to uv.

uv does not read pip's configuration, so a user behind a corporate mirror (``pip.conf`` or
``PIP_INDEX_URL``) would silently be sent to PyPI. The rule, in order:

1. ``UV_*`` variables (``UV_DEFAULT_INDEX``/``UV_INDEX_URL``, ``UV_INDEX``/``UV_EXTRA_INDEX_URL``,
   ``UV_FIND_LINKS``, ``UV_CONSTRAINT``): uv reads them itself; for that setting nothing from pip
   is passed, so a user who configured uv gets exactly that.
2. Otherwise pip's own view, as ``pip config list`` prints it (``PIP_*`` variables, then the
   site, user and global files: pip's own precedence), is passed to uv as options:
   ``index-url``, ``extra-index-url``, ``find-links``, ``constraint``, ``trusted-host``, ``cert``.
3. Nothing configured: PyPI, uv's default.

pip itself (``--installer pip``) reads all of this on its own; nothing is passed.
The torch index always comes first (see :mod:`installer.steps.python_deps`).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass

# pip merges its files itself (site over user over global); what ``pip config list`` shows per
# key is by section: environment variables first, then ``[install]``, then ``[global]``.
_SECTIONS = (":env:", "install", "global")
_LINE = re.compile(r"^(?P<scope>[^.]+)\.(?P<key>[a-z-]+)='(?P<value>.*)'$")
_UV_OWNS = {
    "index-url": ("UV_DEFAULT_INDEX", "UV_INDEX_URL"),
    "extra-index-url": ("UV_INDEX", "UV_EXTRA_INDEX_URL"),
    "find-links": ("UV_FIND_LINKS",),
    "constraint": ("UV_CONSTRAINT",),
    "trusted-host": ("UV_INSECURE_HOST",),
}


@dataclass(frozen=True)
class IndexSettings:
    index_url: str | None = None
    extra_index_urls: tuple[str, ...] = ()
    find_links: tuple[str, ...] = ()
    constraints: tuple[str, ...] = ()
    trusted_hosts: tuple[str, ...] = ()
    cert: str | None = None

    def uv_args(self) -> list[str]:
        """uv options for the settings uv would not otherwise see (extra indexes after torch's)."""
        args: list[str] = []
        if self.index_url:
            args += ["--index-url", self.index_url]
        for url in self.extra_index_urls:
            args += ["--extra-index-url", url]
        for link in self.find_links:
            args += ["--find-links", link]
        for path in self.constraints:
            args += ["--constraint", path]
        for host in self.trusted_hosts:
            args += ["--allow-insecure-host", host]
        return args

    def uv_env(self) -> dict[str, str]:
        return (
            {"SSL_CERT_FILE": self.cert} if self.cert and "SSL_CERT_FILE" not in os.environ else {}
        )


def pip_settings(python: str = sys.executable) -> IndexSettings:
    """pip's effective index settings, minus those that ``UV_*`` variables already decide."""
    values = _pip_config(python)
    owned = {key for key, names in _UV_OWNS.items() if any(os.environ.get(n) for n in names)}

    def get(key: str) -> list[str]:
        return [] if key in owned else values.get(key, "").split()

    index = get("index-url")
    cert = values.get("cert")
    return IndexSettings(
        index_url=index[0] if index else None,
        extra_index_urls=tuple(get("extra-index-url")),
        find_links=tuple(get("find-links")),
        constraints=tuple(get("constraint")),
        trusted_hosts=tuple(get("trusted-host")),
        cert=cert or None,
    )


def _pip_config(python: str) -> dict[str, str]:
    """pip's configuration as {key: value}, the strongest scope winning (never raises).

    Read in this process through pip's own loader when it is importable (a tenth of the time
    of a ``pip`` process); otherwise ``pip config list`` in a child process, same rules.
    """
    if python == sys.executable:
        try:
            from pip._internal.configuration import Configuration

            config = Configuration(isolated=False)
            config.load()
            lines = []
            for key, value in config.items():  # newer pips: per file, in load order
                pairs = value.items() if isinstance(value, dict) else [(key, value)]
                lines += [f"{name}='{setting}'" for name, setting in pairs]
            return _parse(lines)
        except Exception:  # pip's internals moved: ask pip itself
            pass
    try:
        done = subprocess.run(
            [python, "-m", "pip", "config", "list"],
            capture_output=True,
            text=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return {}
    return _parse(done.stdout.splitlines())


def _parse(lines: list[str]) -> dict[str, str]:
    found: dict[str, tuple[int, str]] = {}
    for line in lines:
        match = _LINE.match(line.strip())
        if not match:
            continue
        scope, key, value = match["scope"], match["key"], match["value"]
        if scope not in _SECTIONS:
            continue
        rank = _SECTIONS.index(scope)
        if key not in found or rank <= found[key][0]:  # a later file overrides an earlier
            found[key] = (rank, value)
    return {key: value for key, (_, value) in found.items()}
