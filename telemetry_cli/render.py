"""Plain-text rendering: sizes, durations, aligned tables and the span waterfall.

Widths are computed from the visible text before any colour is added, so columns stay aligned
for long lists and with or without colour. Box-drawing characters are used only when the output
encoding can carry them; otherwise ASCII stands in.
"""

from __future__ import annotations

import sys
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import click

Style = Callable[[str], str]


def unicode_ok() -> bool:
    """Whether stdout can show box-drawing characters (UTF-8 or similar)."""
    encoding = getattr(sys.stdout, "encoding", None) or sys.getdefaultencoding()
    return encoding.lower().replace("-", "").startswith("utf")


def text_width(text: str) -> int:
    """Columns a string takes on a terminal (wide East Asian characters count twice)."""
    if text.isascii():
        return len(text)
    return sum(
        2 if unicodedata.east_asian_width(c) in "WF" else 0 if unicodedata.combining(c) else 1
        for c in text
    )


def truncate(text: str, width: int) -> str:
    if text_width(text) <= width:
        return text
    out, used = [], 0
    for char in text:
        w = text_width(char)
        if used + w > width - 1:
            break
        out.append(char)
        used += w
    return "".join(out) + ("…" if unicode_ok() else "~")


def pad(text: str, width: int, *, right: bool = False) -> str:
    gap = " " * max(0, width - text_width(text))
    return gap + text if right else text + gap


def human_bytes(size: int) -> str:
    """``812 B``, ``24.1 KiB``, ``3.2 MiB``."""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"  # pragma: no cover


def human_duration(ms: float | None) -> str:
    """``12 ms``, ``1.50 s``, ``3 min 02 s``; ``-`` when unknown."""
    if ms is None:
        return "-"
    if ms < 1000:
        return f"{ms:.0f} ms"
    seconds = ms / 1000
    if seconds < 60:
        return f"{seconds:.2f} s"
    minutes, seconds = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def short_time(iso: str | None) -> str:
    """``2026-01-01T12:00:05.123456Z`` -> ``2026-01-01 12:00:05Z`` (UTC, as stored)."""
    if not iso:
        return "-"
    text = iso.replace("T", " ")
    head, _, _ = text.partition(".")
    return head if head.endswith("Z") else head[:19] + "Z"


@dataclass(frozen=True)
class Column:
    title: str
    right: bool = False
    max_width: int | None = None


def table(
    columns: Sequence[Column],
    rows: Sequence[Sequence[str]],
    styles: Sequence[Sequence[Style | None]] | None = None,
    *,
    indent: str = "",
) -> list[str]:
    """Aligned lines: a bold header, then one line per row.

    ``styles`` colours cells after padding, so colour never shifts a column.
    """
    cells = [
        [
            truncate(c, col.max_width) if col.max_width else c
            for c, col in zip(row, columns, strict=True)
        ]
        for row in rows
    ]
    widths = [
        max([text_width(col.title)] + [text_width(r[i]) for r in cells])
        for i, col in enumerate(columns)
    ]
    last = len(columns) - 1
    header = "  ".join(
        pad(col.title, widths[i], right=col.right) if i < last or col.right else col.title
        for i, col in enumerate(columns)
    )
    lines = [indent + click.style(header, bold=True)]
    for r, row in enumerate(cells):
        parts = []
        for i, (cell, col) in enumerate(zip(row, columns, strict=True)):
            text = pad(cell, widths[i], right=col.right) if i < last or col.right else cell
            style = styles[r][i] if styles and styles[r] and i < len(styles[r]) else None
            parts.append(style(text) if style else text)
        lines.append((indent + "  ".join(parts)).rstrip())
    return lines
