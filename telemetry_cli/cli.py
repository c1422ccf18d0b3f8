"""``dinoair-telemetry``: the click group, and the one mapping of its commands.

Each command lives in ``telemetry_cli/commands/<module>.py`` with its own view and is imported only
when it runs: start-up cost is decided here, in ``COMMANDS``, not by imports scattered inside
functions. ``--help`` lists every command from the short help kept in the mapping, so it imports
none of them. Expected failures (an unknown session id, an unwritable export path, no terminal to
ask on) end as one line on stderr with exit code 1, never a traceback.

A new command: a module under ``commands/`` that defines ``command`` (a ``click.Command``), and
one line in ``COMMANDS``.
"""

from __future__ import annotations

import importlib
import sys
from typing import NamedTuple

import click

from .commands._shared import CONTEXT, version
from .console import PROG, color_setting


class Entry(NamedTuple):
    module: str  # telemetry_cli.commands.<module>, which defines ``command``
    short_help: str  # shown by --help without importing the module


COMMANDS: dict[str, Entry] = {
    "status": Entry("status", "Is telemetry on, and why; ids; stored data."),
    "enable": Entry("enable", "Turn telemetry on (asks first)."),
    "disable": Entry("disable", "Turn telemetry off (asks first)."),
    "show-data": Entry("show_data", "List sessions, or draw one as a waterfall."),
    "report": Entry("report", "Success rates, durations and errors across sessions."),
    "export": Entry("export", "Write a sanitized bundle (or OTLP/JSON) to FILE."),
    "report-issue": Entry(
        "report_issue", "Draft a bug report from a failed install (sends nothing)."
    ),
    "clear-data": Entry("clear_data", "Delete the collected data (keeps your choice)."),
    "redact": Entry("redact", "Words of your own to scrub everywhere: add, list, remove."),
    "selftest": Entry("selftest", "Show that planted secrets, paths and your terms never survive."),
    "fields": Entry("fields", "Every field the installer can record, and why."),
    "known-issues": Entry("known_issues", "Your failures the maintainers know, and fixes."),
}

_GROUP_HELP = f"""Manage DinoAir's local telemetry: see what was recorded, export it, clear it,
turn it on or off.

Nothing is sent anywhere. Telemetry is off until you turn it on; with your consent the installer
keeps one sanitized JSON file per run on this computer, in the telemetry home: ~/.dinoair
(%USERPROFILE%\\.dinoair on Windows), or the folder named by DINOAIR_HOME if it is set.

\b
  telemetry_config.json   your choice and two random, anonymous ids
  telemetry/              one session file per installer run
  crashes/                crash reports (only with error reporting on)

Setting DINOAIR_DISABLE_TELEMETRY=1, DO_NOT_TRACK=1 or OTEL_SDK_DISABLED=true in the environment
turns telemetry off whatever the saved choice says, and then nothing under the home is changed.

\b
Start with:  {PROG} status
"""


class LazyGroup(click.Group):
    """A group whose commands are imported on first use (click's documented lazy pattern)."""

    def __init__(self, *args: object, lazy: dict[str, Entry], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.lazy = lazy

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [*self.lazy, *(n for n in super().list_commands(ctx) if n not in self.lazy)]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = self.lazy.get(cmd_name)
        if entry is None:
            return super().get_command(ctx, cmd_name)
        module = importlib.import_module(f"{__package__}.commands.{entry.module}")
        command = module.command
        if not isinstance(command, click.Command):
            raise TypeError(f"{module.__name__}.command is not a click command")
        command.short_help = entry.short_help  # one home for it: the mapping
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list from the mapping: ``--help`` imports no command module."""
        with formatter.section("Commands"):
            formatter.write_dl([(name, entry.short_help) for name, entry in self.lazy.items()])


def _print_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        click.echo(f"{PROG} {version()}")
        ctx.exit()


@click.group(name=PROG, cls=LazyGroup, lazy=COMMANDS, help=_GROUP_HELP, context_settings=CONTEXT)
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_print_version,
    help="Show the version and exit.",
)
@click.pass_context
def cli(ctx: click.Context) -> None:
    ctx.color = color_setting()


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point (``dinoair-telemetry``)."""
    cli.main(args=argv, prog_name=PROG)


if __name__ == "__main__":
    main(sys.argv[1:])
