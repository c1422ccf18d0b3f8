"""``enable``: say what is collected, ask [y/N], then record consent."""

from __future__ import annotations

import click

from otel_local_exporter import TelemetryConfig, collection_notice, kill_switch, telemetry_home

from .. import console
from ._shared import CONTEXT, yes_option


@click.command("enable", context_settings=CONTEXT)
@yes_option
@click.option(
    "--no-error-reporting", is_flag=True, help="Keep error details and crash reports off."
)
@click.option(
    "--no-usage-analytics",
    is_flag=True,
    help="Keep installer options and the hardware profile off.",
)
def command(yes: bool, no_error_reporting: bool, no_usage_analytics: bool) -> None:
    """Turn telemetry on (after saying what is collected and asking [y/N]).

    Records the time of consent and creates a random, anonymous user id if there is none. A
    config file that is not valid is kept beside the new one as
    telemetry_config.json.invalid-<time>.
    """
    console.require_answer_possible(yes=yes, command="enable")
    home = telemetry_home()
    config = TelemetryConfig.load(home)
    if config.problem:
        console.warn(f"{config.problem}; it will be replaced (and kept)")
    for line in collection_notice(
        home,
        error_reporting=not no_error_reporting,
        usage_analytics=not no_usage_analytics,
        heading=console.heading,
        dim=console.dim,
    ):
        click.echo(line)
    if not console.confirm("Turn telemetry on?", yes=yes, command="enable"):
        click.echo("Nothing changed.")
        return
    config.enable(error_reporting=not no_error_reporting, usage_analytics=not no_usage_analytics)
    save(config)
    click.echo(f"{console.good('Telemetry is on.')} Saved to {config.path}.")
    warn_kill_switch("your choice")


def save(config: TelemetryConfig) -> None:
    """Save the choice; a bad old file is kept beside it (said in one warning line)."""
    try:
        kept = config.save()
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise click.ClickException(f"could not save {config.path}: {reason}") from None
    if kept is not None:
        console.warn(f"the old {config.path.name} was not valid; it was kept as {kept}")


def warn_kill_switch(action: str) -> None:
    switch = kill_switch()
    if switch:
        console.warn(
            f"{switch} is set in the environment: it overrides the saved choice, so "
            f"telemetry stays off until it is unset ({action} was saved)."
        )
