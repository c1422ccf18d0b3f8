"""The consent walk (DESIGN section 5), and the question again when the notice has grown.

Asked only when stdin is a terminal. Enter means **No**; ``more`` shows what is collected
(``otel_local_exporter.collection_notice``, the text that ``dinoair-telemetry enable`` shows
too). A first "no" is not written anywhere (nothing is created under the home without consent),
so the question comes back next time; ``dinoair-telemetry disable`` records it.

The notice has a version. A user who said yes to an older one is asked again at the next run
on a terminal, shown what is new; until they answer only what they agreed to is recorded
(``ConsentDecision.notice_version``). A saved "no" is never asked again because of a notice
change.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from otel_local_exporter import (
    CATALOGUE,
    NOTICE_VERSION,
    ConsentDecision,
    TelemetryConfig,
    collection_notice,
    resolve_consent,
    telemetry_command,
)


def question() -> str:
    return (
        "\nDinoAir can keep anonymous installation telemetry ON THIS COMPUTER to help diagnose\n"
        "failed installs: which steps ran, how long they took, and sanitized error details.\n"
        "Nothing is sent anywhere; you can view, export or delete it with "
        f"`{telemetry_command()}`.\n"
    )


def decide(home: Path, disable_telemetry: bool) -> ConsentDecision:
    """This run's decision: the saved choice, or the question when there is a terminal.
    An invalid config file is said in one line."""
    config = TelemetryConfig.load(home)
    decision = resolve_consent(config, run_disabled=disable_telemetry, home=home)
    line = invalid_config_line(decision)
    if line:
        click.echo(line)
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        return decision
    if decision.source == "undecided":
        return ask(config, home)
    if decision.enabled and decision.source == "config" and decision.agreed_notice < NOTICE_VERSION:
        return ask_again(config, home, decision)
    return decision


def ask(config: TelemetryConfig, home: Path) -> ConsentDecision:
    """Ask until the answer is yes, no (or Enter), or ``more`` has been shown; save a yes."""
    click.echo(question())
    answer = _answer("Keep anonymous local telemetry? [y/N/more]", home)
    if answer:
        config.enable()
        config.fix_notifications_enabled = ask_fix_notifications()
        return _save(
            config, f"Thank you. Telemetry is on; `{telemetry_command()} status` shows it.\n"
        )
    click.echo(f"Telemetry stays off. (`{telemetry_command()} disable` stops this question.)\n")
    return ConsentDecision(False, "prompt", "you answered no")


def ask_again(config: TelemetryConfig, home: Path, agreed: ConsentDecision) -> ConsentDecision:
    """The notice grew since the user said yes: show what is new and ask once more.

    A yes records the new version; a no switches telemetry off and saves it (never asked
    again). Until then the run records only what the older notice named.
    """
    new = [f for f in CATALOGUE if f.since > agreed.agreed_notice]
    click.echo(
        f"\nThe telemetry notice changed since you agreed to it (version {agreed.agreed_notice}"
        f" -> {NOTICE_VERSION}). It now also keeps, on this computer only:"
    )
    for field in new:
        click.echo(f"  - {field.purpose} ({field.key})")
    click.echo("Until you agree, only what you agreed to before is kept.\n")
    answer = _answer("Keep telemetry on with these? (n switches it off) [y/N/more]", home)
    if answer:
        config.enable(
            error_reporting=config.error_reporting_enabled,
            usage_analytics=config.usage_analytics_enabled,
        )
        return _save(config, "Thank you. Telemetry stays on under the new notice.\n")
    config.disable()
    try:
        config.save()
    except OSError as exc:
        click.echo(f"Could not save your choice ({exc.strerror}); telemetry is off for this run.")
        return ConsentDecision(False, "prompt", "the choice could not be saved")
    click.echo(f"Telemetry is off now; `{telemetry_command()} enable` turns it on again.\n")
    return ConsentDecision(False, "config", "you turned telemetry off")


FIX_QUESTION = (
    "\nShould the installer also tell you when a failure you had is a known issue, and which\n"
    "release fixes it? It would download the maintainers' signed list of known issues at most\n"
    "once a day; that request carries nothing about you (only the installer version).\n"
)


def ask_fix_notifications() -> bool:
    """The separate question for fix notifications (off unless the answer is yes)."""
    click.echo(FIX_QUESTION)
    while True:
        answer = click.prompt("Check for known issues? [y/N]", default="", show_default=False)
        answer = answer.strip().lower()
        if answer in ("y", "yes"):
            return True
        if answer in ("", "n", "no"):
            return False
        click.echo("Please answer y or n.")


def _answer(prompt: str, home: Path) -> bool:
    while True:
        answer = click.prompt(prompt, default="", show_default=False).strip().lower()
        if answer in ("more", "m", "?"):
            click.echo("")
            for line in collection_notice(home):
                click.echo(line)
            click.echo("")
            continue
        if answer in ("y", "yes"):
            return True
        if answer in ("", "n", "no"):
            return False
        click.echo("Please answer y, n or more.")


def invalid_config_line(decision: ConsentDecision) -> str | None:
    """The one line said when an invalid ``telemetry_config.json`` turns telemetry off: without
    it the user would learn only from ``dinoair-telemetry status`` that their choice was ignored."""
    if decision.source != "config-invalid":
        return None
    command = telemetry_command()
    return (
        f"Telemetry is off: {decision.reason}. `{command} status` explains it; "
        f"`{command} enable` or `disable` rewrites the file."
    )


def _save(config: TelemetryConfig, thanks: str) -> ConsentDecision:
    try:
        kept = config.save()
    except OSError as exc:  # telemetry must never stop the install
        click.echo(f"Could not save your choice ({exc.strerror}); telemetry stays off.")
        return ConsentDecision(False, "prompt", "the choice could not be saved")
    if kept is not None:
        click.echo(f"Your previous settings file was invalid; kept as {kept.name}.")
    click.echo(thanks)
    return ConsentDecision(
        True,
        "config",
        "you turned telemetry on just now",
        config.error_reporting_enabled,
        config.usage_analytics_enabled,
        NOTICE_VERSION,
    )
