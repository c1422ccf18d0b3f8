"""git's clone progress as a tqdm bar: imported only when a clone runs (GitPython, tqdm)."""

from __future__ import annotations

import sys
from typing import Any, ClassVar

import git
from tqdm import tqdm


class CloneProgress(git.RemoteProgress):
    """Draws git's progress as a tqdm bar on a terminal; keeps git's error lines either way."""

    _STAGES: ClassVar[dict[int, str]] = {
        git.RemoteProgress.COUNTING: "counting objects",
        git.RemoteProgress.COMPRESSING: "compressing",
        git.RemoteProgress.RECEIVING: "receiving objects",
        git.RemoteProgress.RESOLVING: "resolving deltas",
        git.RemoteProgress.CHECKING_OUT: "checking out files",
    }

    def __init__(self, enabled: bool):
        super().__init__()
        self._enabled = enabled
        self._bar: tqdm | None = None
        self._stage: int | None = None

    def update(
        self, op_code: int, cur_count: Any, max_count: Any = None, message: str = ""
    ) -> None:
        if not self._enabled:
            return
        stage = op_code & self.OP_MASK
        if stage != self._stage or self._bar is None:
            self.close()
            self._stage = stage
            self._bar = tqdm(
                desc=f"ComfyUI: {self._STAGES.get(stage, 'cloning')}",
                total=int(max_count) if max_count else None,
                unit="obj",
                leave=False,
                file=sys.stderr,
                dynamic_ncols=True,
            )
        if max_count:
            self._bar.total = int(max_count)
        self._bar.n = int(cur_count or 0)
        if message:  # e.g. "4.48 MiB | 8.95 MiB/s" while receiving
            self._bar.set_postfix_str(message.strip(), refresh=False)
        self._bar.refresh()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
