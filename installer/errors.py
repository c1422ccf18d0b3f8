"""Error categories (DESIGN section 8) and the exceptions the installer raises on purpose.

Steps raise :class:`InstallError` with a category and a hint when they know what went wrong;
:func:`categorize` classifies everything else (a socket timeout, ``EACCES``, a git failure) so
every failure carries exactly one category, and the user gets one line saying what to try.
"""

from __future__ import annotations

import errno
import socket
import subprocess
import urllib.error

INSTALLATION = "installation"
NETWORK = "network"
SYSTEM = "system"
CONFIGURATION = "configuration"
UNEXPECTED = "unexpected"
CANCELLED = "cancelled"

HINTS = {
    INSTALLATION: "re-run the installer; it resumes and reuses what is already verified",
    NETWORK: "check your connection (or proxy) and re-run; downloads resume where they stopped",
    SYSTEM: "check free disk space and that you may write to the target folder",
    CONFIGURATION: "fix the manifest or settings named above and re-run",
    UNEXPECTED: "re-run with --verbose; if it happens again, report it with the crash file",
    CANCELLED: "re-run the installer to continue where it stopped",
}

# Failures of the user's input or choice, not of the installer: the hint says how to fix the
# input (or how to continue), and no bug report is offered for them.
_NOT_BUGS = frozenset({CONFIGURATION, CANCELLED})


def is_bug(category: str | None) -> bool:
    """Whether a failure of this category is worth a bug report."""
    return category not in _NOT_BUGS


_SYSTEM_ERRNOS = frozenset(
    {
        errno.EACCES,
        errno.EPERM,
        errno.ENOSPC,
        errno.EROFS,
        errno.EDQUOT,
        errno.ENOENT,
        errno.EEXIST,
        errno.ENOTDIR,
        errno.EISDIR,
        errno.EMFILE,
        errno.ENOMEM,
    }
)
# Socket errnos that mean "the network failed", not "this machine is wrong". One home: the
# downloader uses it to decide what is worth a retry, categorize() to file a failure as network.
# Most arrive as ConnectionError subclasses; the bare OSError form comes from lower layers (an
# unreachable host or network, a timeout reported by the kernel).
NETWORK_ERRNOS = frozenset(
    {
        errno.ECONNREFUSED,
        errno.ECONNRESET,
        errno.ECONNABORTED,
        errno.ETIMEDOUT,
        errno.EHOSTUNREACH,
        errno.ENETUNREACH,
        errno.ENETDOWN,
        errno.EPIPE,
    }
)


class InstallError(Exception):
    """A failure the installer understands: a category and a hint for the user."""

    def __init__(self, message: str, category: str = INSTALLATION, hint: str | None = None):
        super().__init__(message)
        self.category = category
        self.hint = hint or HINTS[category]


class NetworkError(InstallError):
    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message, NETWORK, hint)


class ChecksumError(InstallError):
    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message, INSTALLATION, hint)


class ConfigurationError(InstallError):
    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message, CONFIGURATION, hint)


class SystemRequirementError(InstallError):
    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message, SYSTEM, hint)


def categorize(exc: BaseException) -> str:
    """The DESIGN section 8 category of any exception."""
    import ssl  # here: loading it costs every run's start-up, and only a failure needs it

    if isinstance(exc, KeyboardInterrupt):
        return CANCELLED
    if isinstance(exc, InstallError):
        return exc.category
    if isinstance(exc, urllib.error.HTTPError):
        return NETWORK if exc.code >= 500 or exc.code in (408, 429) else INSTALLATION
    if isinstance(
        exc,
        (
            urllib.error.URLError,
            socket.timeout,
            TimeoutError,
            socket.gaierror,
            ConnectionError,
            ssl.SSLError,
        ),
    ):
        return NETWORK
    if _is_git_error(exc) or isinstance(exc, subprocess.CalledProcessError):
        return INSTALLATION
    if isinstance(exc, OSError):
        if exc.errno in NETWORK_ERRNOS:
            return NETWORK
        if exc.errno in _SYSTEM_ERRNOS or isinstance(exc, (PermissionError, FileNotFoundError)):
            return SYSTEM
        return SYSTEM
    if isinstance(exc, (ValueError, KeyError)) and exc.__class__.__module__ == "json":
        return CONFIGURATION
    return UNEXPECTED


def _is_git_error(exc: BaseException) -> bool:
    return any(cls.__module__.startswith("git.") for cls in type(exc).__mro__)
