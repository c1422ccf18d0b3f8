"""``fields``: every span, attribute, event and crash-report field the installer can record."""

from __future__ import annotations

import json

import click

from otel_local_exporter import CATALOGUE, KINDS, SWITCHES, catalogue_markdown

from .. import console
from ._shared import CONTEXT

_TITLES = {
    "span": "Spans",
    "attribute": "Span attributes",
    "event": "Span events",
    "resource": "Resource (which program recorded)",
    "crash": "Crash-report fields",
}


@click.command("fields", context_settings=CONTEXT)
@click.option("--json", "as_json", is_flag=True, help="Print the catalogue as JSON.")
@click.option("--markdown", is_flag=True, help="Print it as the Markdown tables of the docs.")
def command(as_json: bool, markdown: bool) -> None:
    """List every field the installer can record: its type, an example, why it is kept and
    which switch gates it (telemetry, error reporting, usage analytics).

    This is the same catalogue the consent notice is made from.
    """
    if markdown:
        click.echo(catalogue_markdown(), nl=False)
        return
    if as_json:
        data = {"switches": list(SWITCHES), "fields": [f.as_dict() for f in CATALOGUE]}
        click.echo(json.dumps(data, indent=1, ensure_ascii=False))
        return
    for kind in KINDS:
        fields = [f for f in CATALOGUE if f.kind == kind]
        if not fields:
            continue
        click.echo(console.heading(_TITLES[kind]))
        width = max(len(f.key) for f in fields)
        for f in fields:
            click.echo(f"  {f.key:<{width}}  {f.type:<8} {f.switch:<15} {f.purpose}")
            if f.keys:
                click.echo(console.dim(f"  {'':<{width}}  keys: {', '.join(f.keys)}"))
            else:
                click.echo(console.dim(f"  {'':<{width}}  e.g. {f.example}"))
        click.echo("")
    click.echo(f"{len(CATALOGUE)} fields; 'fields --json' gives them as data.")
