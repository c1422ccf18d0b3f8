"""A bug report drafted from one failed run, for the user to read before anything leaves here.

Three sources: a recorded session (with its crash report, if any); a crash report without a
session (a crash outside any step with telemetry on), with the install folder's files; or, when
nothing was kept, the installer's own ``logs/`` and ``install_summary.json`` in the install
folder. Every value passes the sanitizer again on the way in, and the finished Markdown once
more on the way out (as ``export`` does), so a hand-edited file or a log line cannot carry a
path, a name or a secret into the report. The report is a list of sections; a link for a new
issue on the project's tracker holds as many whole sections as fit, never half of one.

Nothing here sends anything: the tool writes text and, at most, hands a URL to the browser.
"""

from __future__ import annotations

import contextlib
import os
import platform
import re
import urllib.parse
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from otel_local_exporter import (
    ARG_PREFIX,
    EVENT_START,
    INSTALLER_VERSION,
    RESULT_FAILED,
    RESULT_SUCCESS,
    RESULT_UNKNOWN,
    STEP_CANCELLED,
    STEP_COMPLETED,
    STEP_FAILED,
    STEP_SKIPPED,
    SYSTEM_PREFIX,
    SessionView,
    SpanView,
    read_regular_file,
)

from . import render
from .sessions import text
from .waterfall import render_waterfall

TRACKER_ENV = "DINOAIR_ISSUE_TRACKER"
# The installer's summary in the install folder (its finalize step writes it); read by its
# documented name and shape (``project.issue_tracker``), never by importing the installer.
SUMMARY_FILE = "install_summary.json"
# Browsers take far longer URLs, but GitHub answers 414 above about 8 KiB: stay under it.
URL_LIMIT = 8000
LOG_TAIL_LINES = 40
LOG_TAIL_CHARS = 4000
LOGS_SHOWN = 2
_PLACEHOLDER = re.compile(r"<([A-Z]+)>")
_FENCE = "```"
# Hardware telemetry (usage analytics) beyond the accelerator kind: coarse, worth a look.
_HARDWARE = (
    ("GPU", "gpu_model"),
    ("VRAM (GiB)", "vram_gib"),
    ("Torch device", "torch_device"),
)


@dataclass
class Draft:
    """Title and Markdown sections of a report, and what the sanitizer replaced for it."""

    title: str
    sections: list[str] = field(default_factory=list)
    redactions: Counter[str] = field(default_factory=Counter)

    @property
    def body(self) -> str:
        return "\n\n".join(s.strip("\n") for s in self.sections) + "\n"

    def markdown(self) -> str:
        """The whole report as one file: the title as a heading, then the body."""
        return f"# {self.title}\n\n{self.body}"


class NoTracker(LookupError):
    """No issue tracker is configured (no ``--repo``, variable, install summary or package URL)."""


# -- where reports go ----------------------------------------------------------------------------


def tracker_url(repo: str | None = None, install_dir: Path | None = None) -> str:
    """The repository whose tracker gets the report, first found of: ``--repo``;
    ``DINOAIR_ISSUE_TRACKER``; ``project.issue_tracker`` in the install folder's
    ``install_summary.json`` (the installer copies it there from its manifest); the
    ``Repository`` URL in the installed package's metadata (``[project.urls]``). All are
    configuration, readable without importing the installer.
    """
    chosen = repo or os.environ.get(TRACKER_ENV, "").strip()
    if not chosen and install_dir is not None:
        project = (read_summary(install_dir) or {}).get("project")
        found = project.get("issue_tracker") if isinstance(project, dict) else None
        chosen = found.strip() if isinstance(found, str) else ""
    if not chosen:
        from importlib.metadata import PackageNotFoundError, metadata

        try:
            urls = metadata("dinoair-installer").get_all("Project-URL") or []
        except PackageNotFoundError:
            urls = []
        named = dict(tuple(part.strip() for part in u.split(",", 1)) for u in urls if "," in u)
        chosen = named.get("Repository", "")
    if not chosen.startswith(("https://", "http://")):
        raise NoTracker(
            f"no issue tracker is configured: pass --repo URL or set {TRACKER_ENV}"
            if not chosen
            else f"the issue tracker {chosen!r} is not an http(s) URL"
        )
    return re.sub(r"/(issues(/new)?)?/*$", "", chosen.removesuffix(".git"))


def new_issue_url(repo: str, draft: Draft, *, limit: int = URL_LIMIT, full_file: str = "") -> str:
    """A prefilled new-issue URL (GitHub's ``/issues/new?title=&body=``) within ``limit``.

    When the whole body does not fit, the link carries the leading sections that do and ends
    with a note to attach the full report; the body is then a prefix of the full one plus that
    note. The title always goes in whole (it is one line).
    """
    base = f"{repo}/issues/new?"

    def url(body: str) -> str:
        query = urllib.parse.urlencode({"title": draft.title, "body": body})
        return base + query

    whole = url(draft.body)
    if len(whole) <= limit:
        return whole
    where = f" ({full_file})" if full_file else ""
    note = (
        "\n\n> The report was cut here to fit in a link. Please attach the full report"
        f"{where} to this issue."
    )
    sections = [s.strip("\n") for s in draft.sections]
    for count in range(len(sections) - 1, -1, -1):
        body = "\n\n".join(sections[:count]) + note
        if len(url(body)) <= limit:
            return url(body)
    return url(note.lstrip())


def browser_available() -> bool:
    """Whether ``click.launch`` has a browser to hand the URL to (``BROWSER`` counts)."""
    import sys
    import webbrowser

    if sys.platform in ("win32", "darwin"):
        return True
    try:
        webbrowser.get()
    except webbrowser.Error:
        return False
    return True


# -- from a recorded session ---------------------------------------------------------------------


def from_session(doc: Mapping[str, Any], crash: Mapping[str, Any] | None, *, made_by: str) -> Draft:
    """The report of one recorded session (``doc`` and ``crash`` already sanitized)."""
    view = SessionView(doc)
    root = view.root or SpanView({})
    failure = _failure(view, crash)
    step = failure.get("step_name") or "install"
    title = f"{step}: {view.result}"
    if failure.get("error_category"):
        kind = failure.get("error_type")
        title = f"{step}: {failure['error_category']}" + (f" ({kind})" if kind else "")
    resource = view.resource
    start = next(iter(view.events_of(EVENT_START)), {})
    system = {**root.prefixed(SYSTEM_PREFIX), **_mapping(start.get("system_info"))}
    facts = [
        (
            "Installer version",
            root.attributes.get(INSTALLER_VERSION) or resource.get("service.version"),
        ),
        ("OS", _joined(resource.get("os.type"), resource.get("os.version"))),
        (
            "Python",
            _joined(resource.get("process.runtime.name"), resource.get("process.runtime.version")),
        ),
        ("Accelerator", system.get("accelerator") or "not recorded (usage analytics off)"),
        *((label, system.get(key)) for label, key in _HARDWARE),
        ("Result", view.result + ("" if view.complete else " (the run did not finish)")),
        ("Failed step", failure.get("step_name")),
        ("Session", view.session_id[:12] or None),
    ]
    draft = Draft(title)
    draft.sections.append(_facts_section(title, facts))
    draft.sections.append(
        _options_section({**root.prefixed(ARG_PREFIX), **_mapping(start.get("installation_args"))})
    )
    draft.sections.append(_steps_section(view))
    waterfall = [click.unstyle(line).rstrip() for line in render_waterfall(view.spans)]
    draft.sections.append("## Waterfall\n\n" + _fenced("\n".join(waterfall), "text"))
    draft.sections.append(_error_section(failure, crash))
    draft.sections.append(_made_by(made_by, f"the local telemetry session {view.session_id}"))
    return draft


def _failure(view: SessionView, crash: Mapping[str, Any] | None) -> dict[str, Any]:
    """The error that ended the run: the session's first failure, else the crash report's,
    else the first step that neither completed nor was skipped."""
    chosen = next(iter(view.failures), None)
    if chosen is not None:
        return {k: v for k, v in chosen.items() if isinstance(v, str)}
    if crash:
        return _crash_failure(crash)
    ended = (s for s in view.steps if s.status not in (STEP_COMPLETED, STEP_SKIPPED))
    failed = next(ended, None)
    return {"step_name": failed.name} if failed else {}


def _crash_failure(crash: Mapping[str, Any]) -> dict[str, Any]:
    """A crash report's error in the shape of a session's error event."""
    return {
        "step_name": text(crash.get("failing_step")),
        "error_category": text(crash.get("error_category")),
        "error_type": text(crash.get("error_type")),
        "error_message": text(crash.get("error_message")),
        "stack_trace": text(crash.get("stack_trace")),
    }


def _steps_section(view: SessionView) -> str:
    rows = ["| step | status | duration | detail |", "| --- | --- | ---: | --- |"]
    for step in view.steps:
        cells = (step.name, step.status, render.human_duration(step.duration_ms), step.reason or "")
        rows.append("| " + " | ".join(_cell(v) for v in cells) + " |")
    if len(rows) == 2:
        rows.append("| (no step finished) | | | |")
    return "## Steps\n\n" + "\n".join(rows)


def _error_section(failure: Mapping[str, Any], crash: Mapping[str, Any] | None) -> str:
    lines = ["## Error"]
    if failure.get("error_category") or failure.get("error_type"):
        where = f" in step `{failure['step_name']}`" if failure.get("step_name") else ""
        lines.append(
            f"\n**{failure.get('error_category') or 'unknown'}** "
            f"`{failure.get('error_type') or 'error'}`{where}"
        )
    else:
        lines.append("\nNo error details were recorded (error reporting was off).")
    message = failure.get("error_message")
    if message:
        lines.append("\n" + _fenced(message, "text"))
    trace = failure.get("stack_trace")
    if trace:
        lines.append("\nTraceback (sanitized):\n\n" + _fenced(trace.rstrip(), "pytb"))
    if crash:
        crash_trace = text(crash.get("stack_trace"))
        if crash_trace and crash_trace != trace:
            lines.append(
                f"\nCrash report ({text(crash.get('error_type')) or 'error'}, sanitized):\n\n"
                + _fenced(crash_trace.rstrip(), "pytb")
            )
    return "\n".join(lines)


# -- from a crash report without a session -------------------------------------------------------


def from_crash(
    crash: Mapping[str, Any],
    install_dir: Path | None,
    summary: Mapping[str, Any] | None,
    logs: Sequence[tuple[str, str]],
    *,
    made_by: str,
) -> Draft:
    """The report of a run that crashed outside any step with telemetry on: no session was
    recorded, but the crash report was (all inputs already sanitized). The install folder's
    summary and log tails are added when there are any."""
    failure = _crash_failure(crash)
    step = failure.get("step_name") or "install"
    kind = failure.get("error_type")
    title = f"{step}: {failure.get('error_category') or RESULT_FAILED}" + (
        f" ({kind})" if kind else ""
    )
    system = _mapping(crash.get("system"))
    crash_id = text(crash.get("crash_id")) or ""
    facts = [
        (
            "Installer version",
            crash.get("installer_version") or (summary or {}).get("installer_version"),
        ),
        ("OS", _joined(system.get("os"), system.get("os_version"))),
        ("Python", _joined("Python", system.get("python_version"))),
        ("Accelerator", "not recorded" + ("" if step != "install" else " (no step ran)")),
        ("Result", RESULT_FAILED),
        ("Failed step", failure.get("step_name")),
        ("Crash report", crash_id[:12] or None),
        ("Crashed at", text(crash.get("timestamp"))),
    ]
    draft = Draft(title)
    draft.sections.append(
        _facts_section(title, facts)
        + (
            "\n\nTelemetry was on, but the run failed outside any installation step, before its"
            " session was recorded"
            if step == "install"
            else "\n\nTelemetry was on, but this run's session is no longer stored"
        )
        + ": this report is drawn from the crash report the installer saved"
        + (" and the install folder's `install_summary.json` and `logs/`." if install_dir else ".")
    )
    if install_dir is not None:
        draft.sections.append(_summary_steps_section(summary))
        draft.sections.append(_logs_section(logs))
    draft.sections.append(_error_section(failure, None))
    draft.sections.append(_made_by(made_by, f"the local crash report {crash_id or '?'}"))
    return draft


# -- from the install folder (no trace was kept) -------------------------------------------------


def from_install_dir(
    install_dir: Path,
    summary: Mapping[str, Any] | None,
    logs: Sequence[tuple[str, str]],
    *,
    made_by: str,
    unclaimed: tuple[str, str] | None = None,
) -> Draft:
    """The report of a run without telemetry: ``install_summary.json`` and log tails (both
    already sanitized). The facts of the machine are this computer's, now.

    ``unclaimed`` is a crash report without a session (id, time) newer than the folder's
    files: it may be this run's (telemetry on, a crash outside any step) or another
    folder's, so the report names it instead of claiming that no trace was kept.
    """
    kept = " (no session named)" if unclaimed else " (no trace kept)"
    steps = _summary_steps(summary)
    summary = summary or {}
    failed = next((s for s in steps if s.get("status") in (STEP_FAILED, STEP_CANCELLED)), None)
    if failed is not None:
        title = f"{text(failed.get('name')) or 'install'}: {failed.get('status')}{kept}"
    elif logs:
        title = f"install failed: see {logs[-1][0]}{kept}"
    else:
        title = f"install failed{kept}"
    success = summary.get("success")
    result = (
        RESULT_UNKNOWN
        if not isinstance(success, bool)
        else RESULT_SUCCESS
        if success
        else RESULT_FAILED
    )
    facts = [
        ("Installer version", summary.get("installer_version")),
        ("OS", _joined(platform.system(), platform.release())),
        ("Python", _joined(platform.python_implementation(), platform.python_version())),
        ("Accelerator", "not recorded" + ("" if unclaimed else " (telemetry was off)")),
        ("Result", result),
        ("Failed step", text(failed.get("name")) if failed else None),
    ]
    draft = Draft(title)
    draft.sections.append(
        _facts_section(title, facts)
        + (
            "\n\nNo telemetry session was named for this run"
            if unclaimed
            else "\n\nTelemetry was off for this run, so no trace was kept"
        )
        + ": this report is drawn from the install folder's `install_summary.json` and `logs/`"
        " (OS and Python are this computer's, now)."
        + (
            f" A crash report without a session, `{unclaimed[0][:12]}` (saved {unclaimed[1]}),"
            " is newer than this folder's files: if it is this run's, `dinoair-telemetry"
            f" report-issue {unclaimed[0][:12]} --install-dir DIR` drafts the report from it."
            if unclaimed
            else ""
        )
    )
    draft.sections.append(_summary_steps_section(summary))
    draft.sections.append(_logs_section(logs))
    draft.sections.append(_made_by(made_by, f"the install folder {install_dir.name or '.'}"))
    return draft


def _summary_steps(summary: Mapping[str, Any] | None) -> list[Mapping[str, Any]]:
    return [s for s in (summary or {}).get("steps") or [] if isinstance(s, Mapping)]


def _summary_steps_section(summary: Mapping[str, Any] | None) -> str:
    steps = _summary_steps(summary)
    if not steps:
        return "## Steps\n\nNo `install_summary.json`: the run did not finish."
    rows = ["| step | status | duration |", "| --- | --- | ---: |"]
    rows += [
        f"| {_cell(text(s.get('name')) or '?')} | {_cell(text(s.get('status')) or '?')} | "
        f"{render.human_duration(_duration(s.get('duration_ms')))} |"
        for s in steps
    ]
    return "## Steps\n\n" + "\n".join(rows)


def _logs_section(logs: Sequence[tuple[str, str]]) -> str:
    if not logs:
        return "## Logs\n\nThe install folder has no `logs/`."
    parts = ["## Logs (last lines, sanitized)"]
    for name, tail in logs:
        parts.append(f"\n`logs/{name}`:\n\n" + _fenced(tail.rstrip(), "text"))
    return "\n".join(parts)


def read_summary(install_dir: Path) -> dict[str, Any] | None:
    """The install folder's ``install_summary.json`` as a dict, or ``None`` if it is missing,
    unreadable, not a regular file or not a JSON object."""
    import json

    try:
        data = json.loads(read_regular_file(install_dir / SUMMARY_FILE, 1 << 20))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def newest_change(install_dir: Path) -> float | None:
    """When the folder's summary or newest log last changed (POSIX time), ``None`` if neither
    exists: a crash report older than this is not of the run those files describe."""
    paths = [install_dir / SUMMARY_FILE]
    with contextlib.suppress(OSError):
        paths += list((install_dir / "logs").iterdir())
    times = []
    for path in paths:
        try:
            times.append(path.lstat().st_mtime)
        except OSError:
            continue
    return max(times, default=None)


def read_install_dir(install_dir: Path) -> tuple[dict[str, Any] | None, list[tuple[str, str]]]:
    """``install_summary.json`` (when readable) and the tails of the newest logs, oldest first."""
    summary = read_summary(install_dir)
    logs_dir = install_dir / "logs"
    try:
        logs = [p for p in logs_dir.iterdir() if p.is_file() and not p.is_symlink()]
    except OSError:
        logs = []
    logs.sort(key=lambda p: (p.stat().st_mtime_ns, p.name))
    tails = []
    for path in logs[-LOGS_SHOWN:]:
        try:
            raw = read_regular_file(path, 1 << 26)
        except OSError:
            continue
        lines = raw.decode("utf-8", "replace").splitlines()[-LOG_TAIL_LINES:]
        tails.append((path.name, "\n".join(lines)[-LOG_TAIL_CHARS:]))
    return summary, tails


# -- pieces --------------------------------------------------------------------------------------


def finish(draft: Draft, sanitizer: Any) -> Draft:
    """Sanitize the finished text once more and add the redaction summary before the last line."""
    title = sanitizer.text(draft.title)
    sections = [sanitizer.text(s) for s in draft.sections]
    draft.redactions.update(+Counter(sanitizer.counts))
    placeholders = Counter(_PLACEHOLDER.findall("\n".join(sections)))
    replaced = ", ".join(f"{kind} {n}" for kind, n in sorted(draft.redactions.items()))
    shown = ", ".join(f"`<{name}>` {n}" for name, n in sorted(placeholders.items()))
    redaction = (
        "## Redaction summary\n\n"
        + (
            f"- Replaced while drafting this report: {replaced}.\n"
            if replaced
            else "- Nothing needed replacing while drafting (it was sanitized when recorded).\n"
        )
        + (
            f"- Placeholders standing for removed values: {shown}."
            if shown
            else "- The report holds no placeholders."
        )
    )
    return Draft(title, [*sections[:-1], redaction, sections[-1]], draft.redactions)


def _made_by(made_by: str, source: str) -> str:
    return (
        "---\n\n"
        f"_Drafted by `{made_by}` from {source}, sanitized again on this computer. Nothing was"
        " sent: this text leaves the machine only if you post it._"
    )


def _facts_section(title: str, facts: Sequence[tuple[str, Any]]) -> str:
    rows = ["| | |", "| --- | --- |"]
    rows += [
        f"| {label} | {_cell(str(value))} |" for label, value in facts if value not in (None, "")
    ]
    return (
        f"## What happened\n\nThe DinoAir installer failed: **{_inline(title)}**.\n\n"
        + "\n".join(rows)
    )


def _options_section(args: Mapping[str, Any]) -> str:
    if not args:
        return "## Options chosen\n\nNone recorded (defaults, or usage analytics off)."
    rows = [
        f"- `--{str(k).replace('_', '-')}`: `{_inline(str(v))}`" for k, v in sorted(args.items())
    ]
    return "## Options chosen\n\n" + "\n".join(rows)


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _duration(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _joined(*parts: Any) -> str | None:
    shown = " ".join(str(p) for p in parts if p not in (None, ""))
    return shown or None


def _cell(value: str) -> str:
    return value.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _inline(value: str) -> str:
    return value.replace("`", "'").replace("\n", " ")


def _fenced(body: str, lang: str) -> str:
    """A fenced block that the content cannot close: the fence is longer than any run inside."""
    longest = max((len(m) for m in re.findall(r"`{3,}", body)), default=2)
    fence = "`" * max(len(_FENCE), longest + 1)
    return f"{fence}{lang}\n{body}\n{fence}"
