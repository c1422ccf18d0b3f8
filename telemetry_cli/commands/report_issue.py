"""``report-issue``: draft a bug report from one failed run, for the user to read and post.

The draft goes to standard output, to a file, or (``--open``) into a prefilled new-issue page of
the project's tracker, opened in the browser when there is one and printed otherwise. Nothing is
ever sent by the tool. See ``telemetry_cli.issue`` for what the report holds.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from otel_local_exporter import (
    RESULT_SUCCESS,
    Sanitizer,
    SessionView,
    load_crashes,
    load_sessions,
    telemetry_home,
)

from .. import bundle, console, issue, submitting
from ..console import PROG
from ..sessions import NoMatch, find_one, summarize
from ._shared import CONTEXT, settled, version, yes_option


@click.command("report-issue", context_settings=CONTEXT)
@click.argument("session_prefix", metavar="[SESSION_ID_PREFIX]", required=False)
@click.option("--latest", is_flag=True, help="Use the newest session, whatever its result.")
@click.option(
    "--install-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="The install folder: its install_summary.json names the issue tracker. Without a "
    "session id or --latest (telemetry was off), draft from its logs/ and install_summary.json.",
)
@click.option(
    "-o",
    "--output",
    default="-",
    show_default=True,
    metavar="FILE",
    help="Write the Markdown report to FILE ('-': standard output).",
)
@click.option("--force", is_flag=True, help="Replace FILE if it exists.")
@click.option(
    "--open",
    "open_url",
    is_flag=True,
    help="Open a prefilled new-issue page in the browser (printed when there is no browser). "
    "Without -o the report itself is not printed.",
)
@click.option(
    "--repo",
    metavar="URL",
    help=f"The repository whose tracker gets the issue [default: ${issue.TRACKER_ENV}, else "
    "the one in --install-dir's install_summary.json, else the project's Repository URL].",
)
@click.option(
    "--submit",
    is_flag=True,
    help="File it on GitHub for you: search the tracker for this failure first, offer to add "
    "your environment to a matching issue, else show the exact issue and ask before posting "
    "(token: GH_TOKEN, GITHUB_TOKEN or 'gh auth token'; API: GITHUB_API_URL).",
)
@yes_option
def command(
    session_prefix: str | None,
    latest: bool,
    install_dir: Path | None,
    output: str,
    force: bool,
    open_url: bool,
    repo: str | None,
    submit: bool,
    yes: bool,
) -> None:
    """Draft a Markdown bug report from a failed install, for you to read before posting it.

    By default the newest session that did not succeed is used; give the first characters of a
    session id (or of a crash report's id: a crash outside any step keeps no session), or
    --latest. The report names the failed step, its error category and type, the
    installer version, OS, Python and accelerator, the options chosen, the step table, a text
    waterfall, the sanitized error message and traceback, and what was redacted. Everything is
    sanitized again on the way out. If telemetry was off, --install-dir alone drafts the report
    from the installer's own logs instead; with a session, it only says where the install is
    (its summary names the issue tracker).

    Nothing is sent: the report leaves this computer only if you post it.
    """
    if session_prefix is not None and latest:
        raise click.UsageError("give a session id prefix or --latest, not both")
    target = None if output == "-" else Path(output).expanduser()
    if target is not None:
        bundle.check_target(target, force)
    tracker = None
    if submit:
        console.require_answer_possible(yes=yes, command="report-issue --submit")
    if open_url or submit:
        try:
            tracker = issue.tracker_url(repo, install_dir and install_dir.expanduser())
        except issue.NoTracker as exc:
            raise click.ClickException(str(exc)) from None
    sanitizer = Sanitizer()
    made_by = f"{PROG} report-issue {version()}"
    folder = install_dir.expanduser() if install_dir is not None else None
    signature = None
    if folder is not None and session_prefix is None and not latest:
        draft = _from_install_dir(folder, sanitizer, made_by)
    else:
        draft, signature = _from_session(session_prefix, latest, folder, sanitizer, made_by)
    draft = issue.finish(draft, sanitizer)
    if signature:  # later searches (and --submit's own) find the issue by it
        draft.sections.append(f"<!-- {submitting.SIGNATURE_MARK}: {signature} -->")
    if submit and tracker is not None:
        submitting.submit(draft, signature, tracker, yes=yes)
        return
    payload = draft.markdown().encode("utf-8")
    if target is not None:
        try:
            bundle.write_private_file(target, payload, force=force)
        except bundle.TargetExistsError:
            raise click.ClickException(f"{output} exists; pass --force to replace it") from None
        except OSError as exc:
            raise click.ClickException(f"cannot write {output}: {exc.strerror or exc}") from None
        click.echo(f"Drafted '{draft.title}' in {output}.", err=True)
    elif not open_url:
        bundle.write_stdout(payload)
    if tracker is not None:
        url = issue.new_issue_url(tracker, draft, full_file=output if target else "")
        if issue.browser_available() and click.launch(url) == 0:
            click.echo("Opened a prefilled new-issue page: read it before you submit.", err=True)
        else:
            click.echo(url)
            click.echo("No browser to open: the link above is the prefilled issue.", err=True)
    click.echo("Nothing was sent: read the report, then post it if you want to.", err=True)


def _from_session(
    prefix: str | None,
    latest: bool,
    install_dir: Path | None,
    sanitizer: Sanitizer,
    made_by: str,
) -> tuple[issue.Draft, str | None]:
    """The draft of the chosen session (or crash report) and its failure signature."""
    home = telemetry_home()
    scan = settled(load_sessions(home))
    if prefix is not None:
        try:
            stored = find_one(scan.files, prefix)
        except NoMatch as exc:
            # A crash outside any step has no session; the installer's hint names its report.
            crash = _crash_without_session(home, prefix)
            if crash is None:
                raise click.ClickException(str(exc)) from None
            sig = crash.get("signature")
            draft = _from_crash(crash, install_dir, sanitizer, made_by)
            return draft, sig if isinstance(sig, str) else None
    elif not scan.files:
        raise click.ClickException(
            f"no sessions recorded in {home}; if telemetry was off, draft from the install "
            "folder: --install-dir DIR"
        )
    elif latest:
        stored = scan.files[0]
    else:
        unsuccessful = (f for f in scan.files if summarize(f).result != RESULT_SUCCESS)
        found = next(unsuccessful, None)
        if found is None:
            raise click.ClickException(
                "every recorded session succeeded; give a session id or --latest to report one"
            )
        stored = found
    crash = next(
        (c.data for c in load_crashes(home).files if c.data.get("session_id") == stored.id), None
    )
    doc = sanitizer.value(stored.data)
    crash_doc = sanitizer.value(crash) if crash is not None else None
    failed = (s for s in SessionView(stored.data).spans if s.step_status == "failed")
    signature = next((s.signature for s in failed if s.signature), None)
    if signature is None and crash is not None and isinstance(crash.get("signature"), str):
        signature = crash["signature"]
    return issue.from_session(doc, crash_doc, made_by=made_by), signature


def _crash_without_session(home: Path, prefix: str) -> dict[str, Any] | None:
    """The crash report whose own id starts with ``prefix`` (the installer's hint names it
    after a crash outside any step, which keeps no session), or ``None`` when none or several
    match."""
    try:
        found = find_one(load_crashes(home).files, prefix, what="crash report", keys=("crash_id",))
    except NoMatch:
        return None
    return found.data


def _from_crash(
    crash: dict[str, Any], install_dir: Path | None, sanitizer: Sanitizer, made_by: str
) -> issue.Draft:
    summary, logs = _read_folder(install_dir, sanitizer) if install_dir else (None, [])
    return issue.from_crash(sanitizer.value(crash), install_dir, summary, logs, made_by=made_by)


def _read_folder(
    install_dir: Path, sanitizer: Sanitizer
) -> tuple[dict[str, Any] | None, list[tuple[str, str]]]:
    """The folder's summary and log tails, sanitized on the way in."""
    if install_dir.exists() and not install_dir.is_dir():  # missing: the run stopped first
        raise click.ClickException(f"{install_dir} is not a folder")
    summary, logs = issue.read_install_dir(install_dir)
    return (
        sanitizer.value(summary) if summary is not None else None,
        [(sanitizer.text(name), sanitizer.text(tail)) for name, tail in logs],
    )


def _from_install_dir(install_dir: Path, sanitizer: Sanitizer, made_by: str) -> issue.Draft:
    summary, logs = _read_folder(install_dir, sanitizer)
    if summary is None and not logs:
        console.warn(f"{install_dir} has neither install_summary.json nor logs/")
    unclaimed = _unclaimed_crash(issue.newest_change(install_dir))
    return issue.from_install_dir(install_dir, summary, logs, made_by=made_by, unclaimed=unclaimed)


def _unclaimed_crash(since: float | None) -> tuple[str, str] | None:
    """The newest crash report without a session written after ``since`` (its id and time):
    perhaps this run's crash outside any step, perhaps another folder's, so only named."""
    for crash in load_crashes(telemetry_home()).files:  # newest first
        if crash.data.get("session_id") or not isinstance(crash.data.get("crash_id"), str):
            continue
        try:
            written = crash.path.lstat().st_mtime
        except OSError:
            continue
        if since is None or written > since:
            return crash.data["crash_id"], str(crash.data.get("timestamp") or "?")
        return None  # the newest is older than the folder: so are the rest
    return None
