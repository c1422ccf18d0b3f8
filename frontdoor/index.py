"""Where packages come from, read without pip: ``UV_*``, ``PIP_*`` and pip's config files.

The front door runs where pip may not exist, so it cannot ask ``pip config list`` (which
``installer.index_settings`` does once the installer runs). It reads the same sources in pip's
order: ``PIP_*`` variables, then the files (``PIP_CONFIG_FILE``, the site file of this Python,
the user's, the global ones), ``[install]`` before ``[global]``. ``UV_*`` variables win over pip's
for what they set, since uv reads them itself. The certificate (``PIP_CERT``/``cert``,
``SSL_CERT_FILE``) goes to both the standard library's downloads and uv; otherwise both use the
system's trust store (``UV_SYSTEM_CERTS``), where corporate proxies put their CA.
"""

from __future__ import annotations

import configparser
import os
import ssl
import sys
from dataclasses import dataclass
from pathlib import Path

PYPI = "https://pypi.org/simple"
_UV_INDEX = ("UV_DEFAULT_INDEX", "UV_INDEX_URL")
_UV_EXTRA = ("UV_INDEX", "UV_EXTRA_INDEX_URL")


@dataclass(frozen=True)
class Index:
    index_url: str = PYPI
    extra_index_urls: tuple[str, ...] = ()
    find_links: tuple[str, ...] = ()
    cert: str | None = None
    from_uv: bool = False  # the index came from UV_* variables: uv reads them itself

    @property
    def simple_urls(self) -> list[str]:
        """Every index to look in for uv's wheel, the main one first."""
        return [self.index_url, *self.extra_index_urls]

    def uv_args(self) -> list[str]:
        """Options for ``uv pip install``; pip looks in all indexes, so uv is told to as well."""
        args: list[str] = []
        if not self.from_uv:
            args += ["--index-url", self.index_url]
            for url in self.extra_index_urls:
                args += ["--extra-index-url", url]
            if self.extra_index_urls:
                # pip's rule (best version over all indexes); safe here: every file is hashed.
                args += ["--index-strategy", "unsafe-best-match"]
        for link in self.find_links:
            args += ["--find-links", link]
        return args

    def uv_env(self) -> dict[str, str]:
        env = {"UV_SYSTEM_CERTS": os.environ.get("UV_SYSTEM_CERTS", "1")}
        if self.cert:  # SSL_CERT_FILE, else pip's cert: the same file for uv as for urllib
            env["SSL_CERT_FILE"] = self.cert
        return env

    def ssl_context(self) -> ssl.SSLContext:
        """The system's CAs (and the configured certificate file) for the first request on."""
        context = ssl.create_default_context()
        if self.cert and Path(self.cert).is_file():
            context.load_verify_locations(cafile=self.cert)
        return context


def config_files(environ: dict[str, str] | None = None) -> list[Path]:
    """pip's config files, lowest priority first (global, user, site, then PIP_CONFIG_FILE)."""
    env = os.environ if environ is None else environ
    files: list[Path] = []
    if sys.platform == "win32":
        files.append(Path(env.get("PROGRAMDATA", r"C:\ProgramData")) / "pip" / "pip.ini")
        appdata = env.get("APPDATA")
        if appdata:
            files.append(Path(appdata) / "pip" / "pip.ini")
        files.append(Path.home() / "pip" / "pip.ini")
    else:
        dirs = env.get("XDG_CONFIG_DIRS", "/etc/xdg").split(":")
        files += [Path(d) / "pip" / "pip.conf" for d in reversed(dirs) if d]
        files.append(Path("/etc/pip.conf"))
        files.append(Path.home() / ".pip" / "pip.conf")
        config_home = env.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
        files.append(Path(config_home) / "pip" / "pip.conf")
        if sys.platform == "darwin":
            files.append(Path.home() / "Library" / "Application Support" / "pip" / "pip.conf")
    files.append(Path(sys.base_prefix) / ("pip.ini" if sys.platform == "win32" else "pip.conf"))
    if env.get("PIP_CONFIG_FILE") and env["PIP_CONFIG_FILE"] != os.devnull:
        files.append(Path(env["PIP_CONFIG_FILE"]))
    return files


def _from_files(files: list[Path]) -> dict[str, str]:
    values: dict[str, str] = {}
    for path in files:  # later files override earlier ones, [install] over [global]
        parser = configparser.RawConfigParser()
        try:
            parser.read(path, encoding="utf-8")
        except (OSError, configparser.Error, UnicodeDecodeError):
            continue  # pip would complain; the front door just falls back to the next source
        for section in ("global", "install"):
            if parser.has_section(section):
                values.update({k.lower(): v.strip() for k, v in parser.items(section)})
    return values


def settings(environ: dict[str, str] | None = None) -> Index:
    """The effective index, extra indexes, find-links and certificate for this user."""
    env = dict(os.environ if environ is None else environ)
    if env.get("PIP_CONFIG_FILE") == os.devnull:
        values: dict[str, str] = {}
    else:
        values = _from_files(config_files(env))
    for key in ("index-url", "extra-index-url", "find-links", "cert"):
        name = "PIP_" + key.upper().replace("-", "_")
        if env.get(name):
            values[key] = env[name]

    uv_index = next((env[n] for n in _UV_INDEX if env.get(n)), None)
    uv_extra = next((env[n] for n in _UV_EXTRA if env.get(n)), None)
    if uv_index or uv_extra:
        return Index(
            index_url=uv_index or PYPI,
            extra_index_urls=tuple((uv_extra or "").split()),
            find_links=tuple(env.get("UV_FIND_LINKS", "").split(","))
            if env.get("UV_FIND_LINKS")
            else (),
            cert=env.get("SSL_CERT_FILE") or values.get("cert"),
            from_uv=True,
        )
    return Index(
        index_url=(values.get("index-url") or PYPI).split()[0],
        extra_index_urls=tuple(values.get("extra-index-url", "").split()),
        find_links=_existing(values.get("find-links", "").split()),
        cert=env.get("SSL_CERT_FILE") or values.get("cert"),
    )


def _existing(links: list[str]) -> tuple[str, ...]:
    """URLs, and the local folders that exist: pip skips a missing one with a warning, uv fails."""
    return tuple(link for link in links if "://" in link or Path(link).exists())
