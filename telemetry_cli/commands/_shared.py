"""What the commands share: context settings, the --yes/--json options, JSON and list output.

Light on purpose (click and the standard library only): every command imports it, ``status`` too.
"""

from __future__ import annotations

import gc
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click

from .. import console

CONTEXT: dict[str, Any] = {"help_option_names": ["-h", "--help"], "max_content_width": 100}

F = TypeVar("F")
Decorated = Callable[..., Any]


def version() -> str:
    """The installed distribution's version (the one version source)."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    try:
        return dist_version("dinoair-installer")
    except PackageNotFoundError:
        return "unknown"


def echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


def yes_option(func: Decorated) -> Decorated:
    return click.option(
        "-y",
        "--yes",
        is_flag=True,
        help="Do not ask; needed when there is no terminal (scripts, CI).",
    )(func)


def json_option(func: Decorated) -> Decorated:
    return click.option(
        "--json",
        "as_json",
        is_flag=True,
        help="Print one JSON object instead of text (for scripts).",
    )(func)


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def percent(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def invalid_lines(invalid: Sequence[Any], home: Path) -> list[str]:
    """The files a scan skipped, one line each (names under the home, never full paths)."""
    from ..bundle import relative_name

    if not invalid:
        return []
    width = max(len(relative_name(f.path, home)) for f in invalid)
    lines = [
        "",
        console.caution(
            f"Skipped {plural(len(invalid), 'file')} that could not be read (left untouched):"
        ),
    ]
    lines.extend(f"  {relative_name(f.path, home).ljust(width)}  {f.reason}" for f in invalid)
    return lines


def invalid_json(invalid: Sequence[Any], home: Path) -> list[dict[str, str]]:
    from ..bundle import relative_name

    return [{"file": relative_name(f.path, home), "reason": f.reason} for f in invalid]


def settled(scan: F) -> F:
    """The parsed files live until the command exits: ``gc.freeze`` takes them out of the cyclic
    collector's sight, so rendering 10,000 sessions costs what 1,000 do, per session."""
    gc.freeze()
    return scan
