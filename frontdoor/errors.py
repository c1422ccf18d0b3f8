"""The front door's one kind of failure: one line saying what went wrong and what to do."""

from __future__ import annotations

import errno

EXIT_SETUP_FAILED = 1


class FrontDoorError(Exception):
    """A failure to set up the installer's environment, printed as ``error: <what>; <hint>``."""

    def __init__(self, what: str, hint: str, exit_code: int = EXIT_SETUP_FAILED) -> None:
        super().__init__(what)
        self.what = what
        self.hint = hint
        self.exit_code = exit_code

    def line(self) -> str:
        return f"error: {self.what}; {self.hint}"


def from_os_error(exc: OSError, where: str) -> FrontDoorError:
    """Disk full and read-only folders, the two file-system failures a user can fix."""
    if exc.errno == errno.ENOSPC:
        return FrontDoorError(
            f"the disk is full while setting up the installer's environment in {where}",
            "free some space (it needs about 80 MB), or set DINOAIR_INSTALLER_ENV to a folder "
            "on another drive, then re-run",
        )
    if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        reason = "read-only file system" if exc.errno == errno.EROFS else "permission denied"
        return FrontDoorError(
            f"cannot write the installer's environment in {where} ({reason})",
            "set DINOAIR_INSTALLER_ENV (or DINOAIR_HOME) to a folder you can write, then re-run",
        )
    return FrontDoorError(
        f"cannot set up the installer's environment in {where} ({exc.strerror or exc})",
        "check that folder, or set DINOAIR_INSTALLER_ENV to another one, then re-run",
    )
