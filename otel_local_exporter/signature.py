"""The failure signature: one short id that is the same for the same failure on every computer.

A signature is what ties a user's failed run to a known issue (the known-issues feed), to the
issue filed for it (``report-issue``) and to its count in the maintainers' ``report --from``.
So it has one home, here, and everything that names a failure calls :func:`failure_signature`.

It hashes the step, the error category and type, the **sanitized** message's first line and the
names of the innermost frames, after folding what varies between users and runs (quoted values,
URLs, ids, hex, paths, numbers: :func:`fold`). The frames' file paths and line numbers are left
out: a line number moves with every release, a path says where someone's venv lives.
"""

from __future__ import annotations

import functools
import hashlib
import re
import traceback
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .sanitize import Sanitizer

__all__ = [
    "SIGNATURE_LENGTH",
    "FailureParts",
    "exception_signature",
    "failure_signature",
    "fold",
    "frames_of_exception",
    "frames_of_stack_trace",
]

SIGNATURE_LENGTH = 12  # hex digits: 48 bits, no collision among a few million failures
TOP_FRAMES = 3

# (pattern, placeholder, needles): a rule runs only on a line holding one of its needles, text
# its pattern cannot match without (the path rule alone costs most of a fold otherwise).
_FOLD_RULES: tuple[tuple[re.Pattern[str], str, tuple[str, ...]], ...] = (
    (re.compile(r"'[^'\n]*'|\"[^\"\n]*\""), "<Q>", ("'", '"')),  # quoted values
    (re.compile(r"\b[a-z][a-z0-9+.-]*://\S+", re.I), "<URL>", ("://",)),
    (
        re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.I),
        "<ID>",
        ("-",),
    ),
    (
        re.compile(r"\b0x[0-9a-f]+\b|\b(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{8,}\b", re.I),
        "<HEX>",
        (),
    ),
    (
        re.compile(r"(?:[A-Za-z]:)?(?:[\\/]?(?:<PATH>|[\w.~-]+))?(?:[\\/][\w.<>~-]+)+[\\/]?"),
        "<PATH>",
        ("/", "\\"),
    ),
    (re.compile(r"(?<![A-Za-z])[-+]?\d+(?:[.,]\d+)*"), "<N>", ()),
    (re.compile(r"\s+"), " ", ()),
)

# ``  File "<PATH>/installer/runner.py", line 166, in _run_step`` -> ``_run_step``
_FRAME_LINE = re.compile(r'^\s*File "[^"\n]*", line \d+, in (\S+)\s*$', re.M)


@functools.lru_cache(maxsize=65536)
def fold(message: str) -> str:
    """``message``'s first line with what varies between users folded: quoted values, URLs,
    ids, hex, paths and numbers. Placeholders the sanitizer left (``<PATH>``) stay as they are.
    """
    line = message.strip().split("\n", 1)[0][:500]
    for pattern, replacement, needles in _FOLD_RULES:
        if not needles or any(needle in line for needle in needles):
            line = pattern.sub(replacement, line)
    return line.strip()[:200]


@dataclass(frozen=True)
class FailureParts:
    """What a signature is made of, in the order it is hashed; a feed's pattern matches these."""

    step: str
    category: str
    error_type: str
    message: str  # folded
    frames: tuple[str, ...]  # innermost first

    def as_dict(self) -> dict[str, object]:
        return {
            "step": self.step,
            "category": self.category,
            "error_type": self.error_type,
            "message": self.message,
            "frames": list(self.frames),
        }


def failure_signature(
    step: str | None,
    category: str | None,
    error_type: str | None,
    message: str | None,
    frames: tuple[str, ...] | list[str] = (),
) -> tuple[str, FailureParts]:
    """The signature (``SIGNATURE_LENGTH`` hex digits) and the parts it was computed from.

    ``message`` must be the sanitized message (what the session keeps), so that the signature
    computed while the run fails equals the one computed later from the stored session.
    ``frames`` are function names, innermost first (:func:`frames_of_exception`,
    :func:`frames_of_stack_trace`); only the first ``TOP_FRAMES`` count.
    """
    parts = FailureParts(
        step=step or "-",
        category=category or "unexpected",
        error_type=(error_type or "-").rsplit(".", 1)[-1],
        message=fold(message) if message else "",
        frames=tuple(frames[:TOP_FRAMES]),
    )
    text = "\x1f".join((parts.step, parts.category, parts.error_type, parts.message, *parts.frames))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:SIGNATURE_LENGTH], parts


def frames_of_exception(exc: BaseException) -> tuple[str, ...]:
    """The function names of ``exc``'s traceback, innermost first."""
    names = [frame.name for frame in traceback.extract_tb(exc.__traceback__)]
    return tuple(reversed(names))[:TOP_FRAMES]


def frames_of_stack_trace(stack_trace: str | None) -> tuple[str, ...]:
    """The function names in a stored (formatted, sanitized) stack trace, innermost first.

    A chained traceback holds several; the last one printed is the exception that was raised,
    the one :func:`frames_of_exception` reads, so only its frames count.
    """
    if not stack_trace:
        return ()
    last = stack_trace.rsplit("Traceback (most recent call last):", 1)[-1]
    return tuple(reversed(_FRAME_LINE.findall(last)))[:TOP_FRAMES]


@functools.lru_cache(maxsize=1)
def _default_sanitizer() -> Sanitizer:
    from .sanitize import Sanitizer

    return Sanitizer()


def exception_signature(
    exc: BaseException,
    *,
    step: str | None,
    category: str,
    sanitizer: Sanitizer | None = None,
) -> tuple[str, FailureParts]:
    """The signature of ``exc`` as it is failing (equal to the one its stored span reads back),
    and the parts it was made of (what a known-issues pattern matches).

    The message is sanitized first (with ``sanitizer``, else the default chain), so the id is
    computed from exactly what the session keeps and never from a user's path or name.
    """
    clean = sanitizer or _default_sanitizer()
    message = clean.text(str(exc)) if str(exc) else ""
    return failure_signature(
        step, category, type(exc).__qualname__, message, frames_of_exception(exc)
    )
