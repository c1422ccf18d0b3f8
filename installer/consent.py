"""The first-run consent question (DESIGN section 5).

Asked only when stdin is a terminal and the user has not decided. Enter means **No**; ``more``
shows what is collected (``otel_local_exporter.collection_notice``, the text that
``dinoair-telemetry enable`` shows too). A "no" is not written anywhere (nothing is created under
the home without consent), so the question comes back next time; ``dinoair-telemetry disable``
records it.
"""

from __future__ import annotations

from pathlib import Path

import click

from otel_local_exporter import ConsentDecision, TelemetryConfig, collection_notice

QUESTION = (
    "\nDinoAir can keep anonymous installation telemetry ON THIS COMPUTER to help diagnose\n"
    "failed installs: which steps ran, how long they took, and sanitized error details.\n"
    "Nothing is sent anywhere; you can view, export or delete it with `dinoair-telemetry`.\n"
)


def ask(config: TelemetryConfig, home: Path) -> ConsentDecision:
    """Ask until the answer is yes, no (or Enter), or ``more`` has been shown; save a yes."""
    click.echo(QUESTION)
    while True:
        answer = (
            click.prompt(
                "Keep anonymous local telemetry? [y/N/more]", default="", show_default=False
            )
            .strip()
            .lower()
        )
        if answer in ("more", "m", "?"):
            click.echo("")
            for line in collection_notice(home):
                click.echo(line)
            click.echo("")
            continue
        if answer in ("y", "yes"):
            config.enable()
            try:
                kept = config.save()
            except OSError as exc:  # telemetry must never stop the install
                click.echo(f"Could not save your choice ({exc.strerror}); telemetry stays off.")
                return ConsentDecision(False, "prompt", "the choice could not be saved")
            if kept is not None:
                click.echo(f"Your previous settings file was invalid; kept as {kept.name}.")
            click.echo("Thank you. Telemetry is on; `dinoair-telemetry status` shows it.\n")
            return ConsentDecision(
                True,
                "config",
                "you turned telemetry on just now",
                config.error_reporting_enabled,
                config.usage_analytics_enabled,
            )
        if answer in ("", "n", "no"):
            click.echo("Telemetry stays off. (`dinoair-telemetry disable` stops this question.)\n")
            return ConsentDecision(False, "prompt", "you answered no")
        click.echo("Please answer y, n or more.")


def invalid_config_line(decision: ConsentDecision, prefix: str = "") -> str | None:
    """The one line said when an invalid ``telemetry_config.json`` turns telemetry off: without
    it the user would learn only from ``dinoair-telemetry status`` that their choice was ignored.
    ``prefix`` is the ``DINOAIR_HOME=...`` the command needs to read the same home."""
    if decision.source != "config-invalid":
        return None
    return (
        f"Telemetry is off: {decision.reason}. `{prefix}dinoair-telemetry status` explains it; "
        "`dinoair-telemetry enable` or `disable` rewrites the file."
    )
