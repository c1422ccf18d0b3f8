"""The install's screen while several steps run at once.

Without a terminal (a pipe, a file, CI; or ``NO_COLOR``, ``TERM=dumb``, ``--verbose``) each
step prints a first line when it starts (``[3/10] python_deps: install ...``) and one line when
it ends, in the order steps end. When nothing else was printed in between (always so with
``--sequential``) the end line is the short indented form of the one-at-a-time installer
(``      ok in 1.2s``); otherwise it names its step, so interleaved lines stay readable. Lines a
step prints itself (``ctx.echo``) are indented under it. Lines are written whole, under a lock,
so two steps never mix characters on one line.

On a terminal (:func:`live_stream`) the bottom of the screen holds one line per running step
(name, time so far, then its progress: bytes done of the total and the speed for downloads,
the tool's counts for ``python_deps``, else what the step does), redrawn in place; a finished
step is printed once, in the order steps end, above them, and so is each line a step prints.
Every write to the terminal happens on one drawing thread, which alone keeps the live state:
the steps' threads only queue messages, since the runner raises Ctrl-C inside them, which
could otherwise cut a redraw in half or leave a lock held. :meth:`Console.close` erases the
live lines and shows the cursor again, whatever happened.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TextIO

from .units import size

_logger = logging.getLogger(__name__)

_UP = "\x1b[{}A"  # cursor up N lines
_ERASE_DOWN = "\r\x1b[J"  # to column 0, erase from there to the end of the screen
_HIDE, _SHOW = "\x1b[?25l", "\x1b[?25h"
_FRAME = 0.1  # at most one progress redraw per 100 ms
_TICK = 0.5  # the time so far and the speed move on at least this often
_SPEED_WINDOW = 3.0  # seconds of received bytes the speed is measured over


def live_stream(echo: Callable[[str], None], *, verbose: bool = False) -> TextIO | None:
    """The terminal to draw live lines on, or None for plain lines.

    Live only when the lines go to standard output (``echo`` is ``print`` or ``click.echo``)
    and it is a terminal that takes cursor movement: ``NO_COLOR`` (set to anything) and
    ``TERM=dumb`` count as not a terminal, and so does ``--verbose`` (the tools' own output
    then streams to the screen as it comes)."""
    if verbose or os.environ.get("NO_COLOR") is not None:
        return None
    if os.environ.get("TERM", "") in ("", "dumb"):
        return None
    if echo is not print and getattr(echo, "__module__", "") != "click.utils":
        return None
    stream = sys.stdout
    try:
        return stream if stream is not None and stream.isatty() else None
    except (AttributeError, ValueError):  # closed or replaced by something without isatty
        return None


@dataclass
class _Running:
    index: int
    text: str  # what the step does (its describe line), until it reports progress
    started: float
    done: int | None = None
    total: int | None = None
    phase: str | None = None
    received: Callable[[], int] | None = None  # bytes the step received so far (the speed)
    samples: list[tuple[float, int]] = field(default_factory=list)


class Console:
    def __init__(
        self,
        echo: Callable[[str], None],
        total: int,
        *,
        live: TextIO | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._echo = echo
        self._total = total
        self._lock = threading.Lock()
        self._last: str | None = None  # the step whose start line was printed last, if any
        self._stream = live
        self._clock = clock
        # Live mode: the steps' threads only put messages here (a C call, whole or not at all,
        # so a Ctrl-C raised in a step's thread cannot leave a lock held or a state half set);
        # the drawing thread alone keeps the state and writes to the terminal.
        self._inbox: queue.SimpleQueue[tuple[str, str, Any]] = queue.SimpleQueue()
        self._running: dict[str, _Running] = {}
        self._pending: list[str] = []  # lines to print above the live lines at the next frame
        self._drawn = 0  # live lines on the screen now, the cursor on the line below them
        self._drawer: threading.Thread | None = None
        if live is not None:
            self._drawer = threading.Thread(target=self._draw_loop, name="dinoair-screen")
            self._drawer.daemon = True
            self._drawer.start()

    @property
    def live(self) -> bool:
        return self._stream is not None

    def header(self, index: int, name: str) -> str:
        return f"[{index}/{self._total}] {name}:"

    def once(self, index: int, name: str, line: str) -> None:
        """A step that never ran (skipped before starting): one line."""
        self._print(f"{self.header(index, name)} {line}", None)

    def started(self, index: int, name: str, line: str) -> None:
        if self._stream is not None:
            self._inbox.put(("started", name, _Running(index, line, self._clock())))
            return
        self._print(f"{self.header(index, name)} {line}", name)

    def note(self, name: str, line: str) -> None:
        """A line a running step printed (``ctx.echo``)."""
        if self._stream is not None:
            self._inbox.put(("print", name, f"  {name}: {line.strip()}"))
            return
        with self._lock:
            if self._last != name:
                line = f"  {name}: {line.strip()}"
            self._echo(line)
            if self._last != name:
                self._last = None

    def finished(self, index: int, name: str, line: str) -> None:
        if self._stream is not None:
            self._inbox.put(("finished", name, f"{self.header(index, name)} {line}"))
            return
        with self._lock:
            self._echo(
                f"      {line}" if self._last == name else f"{self.header(index, name)} {line}"
            )
            self._last = None

    def echo_for(self, name: str) -> Callable[[str], None]:
        return lambda line: self.note(name, line)

    def track(self, name: str, received: Callable[[], int]) -> None:
        """Where the speed of ``name``'s live line comes from: the bytes it received so far."""
        if self._stream is not None:
            self._inbox.put(("track", name, received))

    def progress_for(self, name: str) -> Callable[[int | None, int | None, str | None], None]:
        """The step's progress sink (``InstallContext.progress``) for its live line."""

        def report(done: int | None, total: int | None, phase: str | None) -> None:
            self._inbox.put(("progress", name, (done, total, phase)))

        return report

    def close(self) -> None:
        """Print what is still to print, erase the live lines, show the cursor. Idempotent."""
        drawer, self._drawer = self._drawer, None
        if drawer is None:
            return
        self._inbox.put(("stop", "", None))
        drawer.join(timeout=2.0)

    def _print(self, line: str, last: str | None) -> None:
        if self._stream is not None:
            self._inbox.put(("print", "", line))
            return
        with self._lock:
            self._echo(line)
            self._last = last

    # -- the drawing thread (live mode only) ---------------------------------------------------

    def _draw_loop(self) -> None:
        assert self._stream is not None
        stream, drawn_at, dirty = self._stream, 0.0, False
        try:
            stream.write(_HIDE)
            stream.flush()
            while True:
                # a change waits for the next frame (at most 10 a second); else tick the clock
                wait = max(0.0, drawn_at + _FRAME - self._clock()) if dirty else _TICK
                try:
                    message: tuple[str, str, Any] | None = self._inbox.get(timeout=wait)
                except queue.Empty:
                    message = None
                stop = urgent = False
                while message is not None:  # take everything that arrived, then draw once
                    stop = stop or message[0] == "stop"
                    urgent = urgent or message[0] in ("print", "finished", "stop")
                    self._apply(*message)
                    dirty = True
                    try:
                        message = self._inbox.get_nowait()
                    except queue.Empty:
                        message = None
                now = self._clock()
                if dirty and not urgent and now - drawn_at < _FRAME:
                    continue
                if stop:
                    self._running.clear()
                idle = not self._pending and not self._running and not self._drawn
                stream.write("" if idle else self._frame(_width(stream), now))
                stream.write(_SHOW if stop else "")
                stream.flush()
                drawn_at, dirty = now, False
                if stop:
                    return
        except (OSError, ValueError):  # the terminal went away: nothing left to draw on
            return
        except Exception:  # a bug here must not take the install down: plain cursor, no lines
            _logger.debug("the live screen stopped", exc_info=True)
            with contextlib.suppress(OSError, ValueError):
                stream.write(_SHOW)
                stream.flush()

    def _apply(self, kind: str, name: str, payload: Any) -> None:
        if kind == "started":
            self._running[name] = payload
        elif kind == "finished":
            self._running.pop(name, None)
            self._pending.append(payload)
        elif kind == "print":
            self._pending.append(payload)
        elif kind == "track" and name in self._running:
            self._running[name].received = payload
        elif kind == "progress" and name in self._running:
            running, (done, total, phase) = self._running[name], payload
            if done is not None:
                running.done, running.total = done, total
            if phase is not None:
                running.phase = phase

    def _frame(self, width: int, now: float) -> str:
        """Erase the live lines, print the pending lines, draw the live lines again. Live
        lines are cut to the width, so each takes one row and the cursor-up count holds."""
        parts = [_UP.format(self._drawn) if self._drawn else "", _ERASE_DOWN]
        parts.extend(f"{line}\n" for line in self._pending)
        self._pending.clear()
        lines = [
            self._live_line(name, running, now)[: max(1, width - 1)]
            for name, running in sorted(self._running.items(), key=lambda item: item[1].index)
        ]
        parts.extend(f"{line}\n" for line in lines)
        self._drawn = len(lines)
        return "".join(parts)

    def _live_line(self, name: str, running: _Running, now: float) -> str:
        elapsed = int(now - running.started)
        head = f"{self.header(running.index, name)} {elapsed // 60}:{elapsed % 60:02d}"
        if running.done is not None and running.total:
            percent = min(100, int(running.done * 100 / running.total))
            text = f"{size(running.done)} of {size(running.total)} ({percent}%)"
            speed = _speed(running, now)
            if speed is not None:
                text += f", {size(speed)}/s"
        elif running.phase:
            text = running.phase
        else:
            text = running.text
        return f"{head} {text}"


def _speed(running: _Running, now: float) -> int | None:
    """Bytes a second received over the last few seconds; None before anything arrived."""
    if running.received is None:
        return None
    try:
        received = running.received()
    except Exception:  # a progress figure is never worth failing the screen
        return None
    running.samples.append((now, received))
    while len(running.samples) > 2 and now - running.samples[1][0] >= _SPEED_WINDOW:
        running.samples.pop(0)
    first_time, first_bytes = running.samples[0]
    if received == 0 or now - first_time < 0.2:
        return None
    return int(max(0, received - first_bytes) / (now - first_time))


def _width(stream: TextIO) -> int:
    try:
        return os.get_terminal_size(stream.fileno()).columns or 80
    except (OSError, ValueError, AttributeError):
        return 80
