"""``report-issue --submit``: file the drafted report on GitHub, with the user's word at each step.

First the tracker is searched for the failure's signature and the matches are shown; the user
can add their environment as a comment to a matching open issue instead of opening a duplicate;
otherwise the exact title and body are shown and the user is asked before anything is posted
(``--yes`` answers for scripts). Without a token it says how to get one and prints the
prefilled new-issue link instead. Whatever fails, the draft is saved first, so nothing is lost.
"""

from __future__ import annotations

from pathlib import Path

import click

from otel_local_exporter import (
    DRAFT_GLOB,
    DRAFTS_DIR,
    atomic_write,
    ensure_private_dir,
    file_stamp,
    telemetry_home,
    utc_now,
)

from . import console, issue
from .github import SIGNATURE_MARK, GitHub, GitHubError, find_token, repo_of

__all__ = ["SIGNATURE_MARK", "submit"]


def submit(draft: issue.Draft, signature: str | None, tracker: str, *, yes: bool) -> None:
    """Search, then comment or create, asking first. Raises ``ClickException`` (one line)."""
    saved = _save_draft(draft)
    kept = f" The draft is saved in {saved}." if saved else ""
    token = find_token()
    if token is None:
        click.echo(
            "No GitHub token: set GH_TOKEN (a token with the issues permission, from "
            "https://github.com/settings/tokens) or run 'gh auth login'. Until then, this "
            "link opens the prefilled issue:",
            err=True,
        )
        click.echo(issue.new_issue_url(tracker, draft))
        click.echo(f"Nothing was sent.{kept}", err=True)
        return
    try:
        github = GitHub(token, repo_of(tracker))
        matches = github.search(signature) if signature else []
        open_match = next((m for m in matches if m.state == "open"), None)
        if matches:
            click.echo(f"Issues in {github.repo} with this failure ({signature}):")
            for match in matches:
                click.echo(f"  #{match.number} [{match.state}] {match.title}  {match.url}")
        if open_match is not None:
            question = f"Add your environment as a comment to #{open_match.number} instead?"
            if console.confirm(question, yes=yes, command="report-issue --submit"):
                url = github.comment(open_match.number, draft.body)
                click.echo(f"Commented on #{open_match.number}: {url}")
                return
        click.echo(console.heading("Title: ") + draft.title)
        click.echo(draft.body)
        if not console.confirm(
            f"Post this as a new issue in {github.repo}?", yes=yes, command="report-issue --submit"
        ):
            click.echo(f"Nothing was sent.{kept}", err=True)
            return
        url = github.create(draft.title, draft.body)
        click.echo(f"Opened {url}")
    except GitHubError as exc:
        raise click.ClickException(f"{exc}. Nothing more was sent.{kept}") from None


def _save_draft(draft: issue.Draft) -> str | None:
    """The report (0600) under the telemetry home's drafts/, so a failed submit loses nothing;
    in the current folder when there is no home (telemetry never on: nothing is created there).
    """
    try:
        home = telemetry_home()
        folder = Path.cwd()
        if home.is_dir():
            folder = ensure_private_dir(home / DRAFTS_DIR)
        path = folder / DRAFT_GLOB.replace("*", file_stamp(utc_now()))
        atomic_write(path, draft.markdown().encode("utf-8"))
        return str(path)
    except OSError:
        return None
