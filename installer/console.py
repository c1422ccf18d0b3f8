"""The install's screen while several steps run at once.

Each step prints a first line when it starts (``[3/9] python_deps: install ...``) and one line
when it ends, in the order steps end. When nothing else was printed in between (always so with
``--sequential``) the end line is the short indented form of the one-at-a-time installer
(``      ok in 1.2s``); otherwise it names its step, so interleaved lines stay readable. Lines a
step prints itself (``ctx.echo``) are indented under it. Lines are written whole, under a lock,
so two steps never mix characters on one line; without a terminal they are plain lines.
"""

from __future__ import annotations

import threading
from collections.abc import Callable


class Console:
    def __init__(self, echo: Callable[[str], None], total: int):
        self._echo = echo
        self._total = total
        self._lock = threading.Lock()
        self._last: str | None = None  # the step whose start line was printed last, if any

    def header(self, index: int, name: str) -> str:
        return f"[{index}/{self._total}] {name}:"

    def once(self, index: int, name: str, line: str) -> None:
        """A step that never ran (skipped before starting): one line."""
        self._print(f"{self.header(index, name)} {line}", None)

    def started(self, index: int, name: str, line: str) -> None:
        self._print(f"{self.header(index, name)} {line}", name)

    def note(self, name: str, line: str) -> None:
        """A line a running step printed (``ctx.echo``)."""
        with self._lock:
            if self._last != name:
                line = f"  {name}: {line.strip()}"
            self._echo(line)
            if self._last != name:
                self._last = None

    def finished(self, index: int, name: str, line: str) -> None:
        with self._lock:
            self._echo(
                f"      {line}" if self._last == name else f"{self.header(index, name)} {line}"
            )
            self._last = None

    def echo_for(self, name: str) -> Callable[[str], None]:
        return lambda line: self.note(name, line)

    def _print(self, line: str, last: str | None) -> None:
        with self._lock:
            self._echo(line)
            self._last = last
