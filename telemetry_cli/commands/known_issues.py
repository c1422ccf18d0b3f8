"""``known-issues``: which of your stored failures the maintainers' signed feed knows, and fixes.

Also the maintainers' tools: ``keygen`` (an Ed25519 key pair), ``sign FEED --key FILE`` (the
envelope to publish) and ``verify FEED`` (check an envelope with the shipped key).
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from otel_local_exporter import (
    FeedError,
    KnownIssue,
    SpanView,
    cached_issues,
    failure_signature,
    frames_of_stack_trace,
    is_newer,
    load_crashes,
    load_sessions,
    refresh,
    sign_payload,
    telemetry_home,
    verify_envelope,
)

from ._shared import CONTEXT, version

_FEED_ENV = "DINOAIR_KNOWN_ISSUES_URL"  # the feed's URL for --refresh (else the manifest's)
_DEFAULT_FEED = "https://raw.githubusercontent.com/DinoPitStudios/DinoAir/main/known_issues.json"


@dataclass(frozen=True)
class StoredFailure:
    signature: str
    parts: dict[str, Any]
    session: str  # the session (or crash report) id, shortened
    installed: str | None  # the installer version that failed


def stored_failures(home: Path) -> Iterator[StoredFailure]:
    """Every failure kept under ``home`` with a signature: failed steps, then crash reports."""
    for stored in load_sessions(home).files:
        spans = [SpanView(s) for s in stored.data.get("spans", []) if isinstance(s, dict)]
        root = next((s for s in spans if s.is_root), None)
        version = root.attributes.get("installer.version") if root else None
        for span in spans:
            if span.step_status != "failed":
                continue
            error = next((e for e in span.errors if e.recorded), None)
            signature = span.signature
            if error is None or signature is None:
                continue
            frames = frames_of_stack_trace(error.stack_trace)
            _, parts = failure_signature(
                span.step, error.category, error.type, error.message, frames
            )
            yield StoredFailure(
                signature, parts.as_dict(), str(stored.data.get("session_id", ""))[:12],
                version if isinstance(version, str) else None,
            )  # fmt: skip
    for crash in load_crashes(home).files:
        data = crash.data
        signature = data.get("signature")
        if not isinstance(signature, str):
            continue
        frames = frames_of_stack_trace(data.get("stack_trace"))
        _, parts = failure_signature(
            data.get("failing_step"), data.get("error_category"), data.get("error_type"),
            data.get("error_message"), frames,
        )  # fmt: skip
        yield StoredFailure(
            signature, parts.as_dict(), str(data.get("crash_id", ""))[:12],
            data.get("installer_version") or None,
        )  # fmt: skip


def known_failures(home: Path) -> list[tuple[StoredFailure, KnownIssue]]:
    """The stored failures the cached feed knows, each with its entry."""
    issues = cached_issues(home)
    if not issues:
        return []
    found = []
    for failure in stored_failures(home):
        issue = next((i for i in issues if i.matches(failure.signature, failure.parts)), None)
        if issue is not None:
            found.append((failure, issue))
    return found


def fixed_line(home: Path) -> str | None:
    """ "2 of your failures are fixed in 0.3.0", or ``None`` (for ``status``)."""
    fixed = [
        (f, i) for f, i in known_failures(home) if i.fixed_in and is_newer(i.fixed_in, f.installed)
    ]
    if not fixed:
        return None
    releases = sorted({i.fixed_in for _, i in fixed if i.fixed_in})
    noun = "failure is" if len(fixed) == 1 else "failures are"
    return f"{len(fixed)} of your {noun} fixed in {', '.join(releases)}"


@click.group("known-issues", context_settings=CONTEXT, invoke_without_command=True)
@click.option(
    "--refresh",
    "do_refresh",
    is_flag=True,
    help="Fetch the maintainers' feed now (one request that carries nothing about you).",
)
@click.pass_context
def command(ctx: click.Context, do_refresh: bool) -> None:
    """List your stored failures that the maintainers' known-issues feed knows, and which are
    fixed in a newer release than the one that failed.

    The feed is read from the local cache; it is refreshed only with fix notifications on
    (at most once a day, by the installer) or with --refresh.
    """
    if ctx.invoked_subcommand is not None:
        return
    home = telemetry_home()
    if do_refresh:
        url = os.environ.get(_FEED_ENV) or _DEFAULT_FEED
        done = refresh(home, url, version(), force=True)
        if done.outcome == "off":
            raise click.ClickException(f"not refreshed: {done.detail}")
        if done.outcome in ("failed", "refused"):
            raise click.ClickException(f"the feed was not updated: {done.detail}")
        click.echo("The known-issues feed is up to date.")
    issues = cached_issues(home)
    if not issues:
        click.echo(
            "No known-issues feed is stored yet. 'known-issues --refresh' fetches it, or switch"
            " fix notifications on when the installer asks."
        )
        return
    failures = list(stored_failures(home))
    found = known_failures(home)
    click.echo(
        f"{len(issues)} known issues in the feed; {len(found)} of your {len(failures)} "
        "stored failures are among them."
    )
    for failure, issue in found:
        click.echo(f"  {failure.signature}  {failure.parts['step']} ({failure.parts['category']})")
        click.echo(f"    {issue.title} ({issue.url})")
        if issue.fixed_in:
            newer = is_newer(issue.fixed_in, failure.installed)
            had = failure.installed or "an unknown version"
            state = f"newer than {had}: update" if newer else f"you had {had}"
            click.echo(f"    fixed in {issue.fixed_in} ({state})")
        if issue.workaround:
            click.echo(f"    workaround: {issue.workaround}")


@command.command("keygen", context_settings=CONTEXT)
@click.argument("key_file", type=click.Path(dir_okay=False, path_type=Path))
def keygen(key_file: Path) -> None:
    """Write a new Ed25519 private key to KEY_FILE (0600) and print its public key."""
    from cryptography.hazmat.primitives import serialization as ser
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    if key_file.exists():
        raise click.ClickException(f"{key_file} exists; choose another file name")
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(ser.Encoding.PEM, ser.PrivateFormat.PKCS8, ser.NoEncryption())
    try:
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
    except OSError as exc:
        raise click.ClickException(f"cannot write {key_file}: {exc.strerror}") from None
    public = key.public_key().public_bytes(ser.Encoding.Raw, ser.PublicFormat.Raw)
    click.echo(f"Private key written to {key_file} (keep it secret).")
    click.echo(f"Public key (PUBLIC_KEY in otel_local_exporter/known_issues.py): "
               f"{base64.b64encode(public).decode()}")  # fmt: skip


@command.command("sign", context_settings=CONTEXT)
@click.argument("feed", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--key", "key_file", required=True, type=click.Path(exists=True, path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Where to write the signed envelope (default: FEED.signed.json).")  # fmt: skip
def sign(feed: Path, key_file: Path, output: Path | None) -> None:
    """Sign the feed FEED (JSON) with the private key: the envelope to publish."""
    payload = feed.read_text(encoding="utf-8")
    try:
        data = json.loads(payload)
    except ValueError as exc:
        raise click.ClickException(f"{feed} is not JSON: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("issues"), list):
        raise click.ClickException(f"{feed} has no issues list")
    try:
        envelope = sign_payload(payload, key_file.read_bytes())
    except (FeedError, ValueError, TypeError) as exc:
        raise click.ClickException(f"cannot sign with {key_file}: {exc}") from None
    target = output or feed.with_suffix(".signed.json")
    target.write_text(json.dumps(envelope) + "\n", encoding="utf-8")
    click.echo(f"Signed {len(data['issues'])} issues into {target}.")


@command.command("verify", context_settings=CONTEXT)
@click.argument("feed", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def verify(feed: Path) -> None:
    """Check a signed envelope FEED with the public key the installer ships."""
    try:
        data = verify_envelope(feed.read_bytes())
    except FeedError as exc:
        raise click.ClickException(f"{feed}: {exc}") from None
    click.echo(f"{feed}: the signature is good; {len(data['issues'])} issues.")
