"""How the command talks to a person: colour, warnings, and asking before changing anything.

Colour follows the terminal: click strips styles when the output is not a terminal, and
``NO_COLOR`` (any non-empty value, see https://no-color.org) switches it off everywhere.

Asking is honest about where the answer comes from: a command asks only when standard input is a
terminal. Without one (a pipe, CI, click's ``CliRunner``) it does not read an answer that nobody
typed; it stops with one line telling the user to pass ``--yes``. Tests drive the interactive path
through a real pseudo-terminal.
"""

from __future__ import annotations

import os
import sys

import click

from otel_local_exporter import telemetry_command

PROG = "dinoair-telemetry"


def color_setting() -> bool | None:
    """``False`` when ``NO_COLOR`` is set, else ``None`` (let click decide: terminal or not)."""
    return False if os.environ.get("NO_COLOR") else None


def stdin_is_terminal() -> bool:
    """Whether a person can answer a question: the seam tests cover with a pseudo-terminal.

    ``sys.stdin`` is read at call time, so click's ``CliRunner`` (which swaps it for a buffer)
    sees "no terminal" like a pipe or CI does. (``click.get_text_stream`` would say the same but
    is deprecated since click 8.5.)
    """
    stdin = sys.stdin
    try:
        return stdin is not None and stdin.isatty()
    except (OSError, ValueError):  # a closed or detached stdin
        return False


def spelled(command: str) -> str:
    """``dinoair-telemetry <command>`` spelled as it runs where the user is (from a clone:
    ``python3 telemetry_cli.py <command>``), for a hint that names a command."""
    return f"{telemetry_command()} {command}"


def require_answer_possible(*, yes: bool, command: str) -> None:
    """Refuse in one line, before printing anything else, when we would ask and cannot."""
    if not yes and not stdin_is_terminal():
        raise click.ClickException(
            f"'{PROG} {command}' asks before changing anything, and there is no terminal to ask "
            f"on: pass --yes to go ahead."
        )


def confirm(question: str, *, yes: bool, command: str) -> bool:
    """``True`` with ``--yes``; otherwise ask ``[y/N]`` on a terminal (Enter means no)."""
    require_answer_possible(yes=yes, command=command)
    return yes or click.confirm(question, default=False)


def heading(text: str) -> str:
    return click.style(text, bold=True)


def good(text: str) -> str:
    return click.style(text, fg="green")


def bad(text: str) -> str:
    return click.style(text, fg="red")


def caution(text: str) -> str:
    return click.style(text, fg="yellow")


def dim(text: str) -> str:
    return click.style(text, dim=True)


def warn(message: str) -> None:
    """One warning line on stderr."""
    click.echo(f"{caution('warning:')} {message}", err=True)


def info(message: str = "", *, err: bool = False) -> None:
    click.echo(message, err=err)
