"""``redact add|list|remove``: the user's own words to scrub everywhere (``redact_terms``).

An organisation, a project's code name, a second user name: words no rule can know are private.
They are kept in one place only, the config file (which never enters an export), and every
sanitizer built after a change reads them, so they leave no session, crash report, export or
bug-report draft. Data stored before a term was added keeps it on this computer, but every
export and draft is scrubbed again when it is made.
"""

from __future__ import annotations

import click

from otel_local_exporter import TelemetryConfig, telemetry_home

from ._shared import CONTEXT, echo_json, json_option, plural
from .enable import save

_WHERE = "sessions, crash reports, exports and bug-report drafts"


def _load() -> TelemetryConfig:
    config = TelemetryConfig.load(telemetry_home())
    if config.problem:
        raise click.ClickException(
            f"{config.problem}; fix it or run 'dinoair-telemetry enable' (or 'disable') to "
            "write a new one, then add the terms again"
        )
    return config


def _now(count: int) -> str:
    return f"{plural(count, 'term')} {'is' if count == 1 else 'are'} now"


@click.group("redact", context_settings=CONTEXT)
def command() -> None:
    """Words of your own that must never be kept: an organisation, a code name, a second user
    name. They are replaced by <REDACTED> in every session, crash report, export and bug-report
    draft, in any case. Kept only in telemetry_config.json, which no export contains.
    """


@command.command("add", context_settings=CONTEXT)
@click.argument("terms", nargs=-1, required=True)
def add(terms: tuple[str, ...]) -> None:
    """Add TERMS (quote a term that has blanks: "Acme Corp")."""
    config = _load()
    try:
        added = config.add_terms(list(terms))
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    if not added:
        click.echo("Nothing changed: every term is already on the list.")
        return
    save(config)
    click.echo(
        f"Added {plural(len(added), 'term')}; {_now(len(config.redact_terms))} replaced by "
        f"<REDACTED> in {_WHERE}. Saved to {config.path}."
    )


@command.command("list", context_settings=CONTEXT)
@json_option
def list_terms(as_json: bool) -> None:
    """Show the terms, one a line."""
    config = _load()
    if as_json:
        echo_json({"redact_terms": config.redact_terms})
        return
    if not config.redact_terms:
        click.echo("No terms of your own. Add one: dinoair-telemetry redact add TERM")
        return
    for term in config.redact_terms:
        click.echo(term)


@command.command("remove", context_settings=CONTEXT)
@click.argument("terms", nargs=-1, required=True)
def remove(terms: tuple[str, ...]) -> None:
    """Remove TERMS (in any case)."""
    config = _load()
    try:
        config.remove_terms(list(terms))
    except KeyError as exc:
        raise click.ClickException(
            f"{exc.args[0]!r} is not on the list; see dinoair-telemetry redact list"
        ) from None
    save(config)
    click.echo(
        f"Removed {plural(len(terms), 'term')}; {plural(len(config.redact_terms), 'term')} "
        f"left. Saved to {config.path}."
    )
