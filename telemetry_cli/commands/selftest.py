"""``selftest``: plant what must never be kept, run a real traced install into a temporary home,
and show that none of it survives in the session, the crash report, the export or the draft.

The run is the real thing (OpenTelemetry SDK, the local exporter, the crash reporter, the export
bundle and the report-issue draft), pointed at a temporary telemetry home whose config holds your
``redact_terms`` and one planted term. Nothing under your own telemetry home is read but your
terms, nothing is written there, nothing goes over the network; the temporary home is removed.
"""

from __future__ import annotations

import contextlib
import getpass
import json
import os
import re
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PureWindowsPath
from typing import Any

import click

from otel_local_exporter import (
    HOME_ENV,
    KILL_SWITCHES,
    CrashReporter,
    TelemetryConfig,
    configure_tracing,
    load_crashes,
    load_sessions,
    resolve_consent,
    telemetry_home,
)

from .. import bundle, console, issue
from ._shared import CONTEXT, version

PLANTED_TERM = "Quokka Selftest Codename"


@dataclass(frozen=True)
class Plant:
    kind: str  # what it stands for, as the user reads it
    value: str
    pattern: re.Pattern[str]  # how a survivor is found


def _literal(kind: str, value: str) -> Plant:
    return Plant(kind, value, re.compile(re.escape(value), re.IGNORECASE))


def _word(kind: str, value: str) -> Plant:
    return Plant(kind, value, re.compile(rf"(?<![^\W_]){re.escape(value)}(?![^\W_])", re.I))


def plants(terms: list[str]) -> list[Plant]:
    """Fake secrets, paths, e-mail, IPs, your login name and your own terms (and one planted)."""
    home = str(Path.home())
    user = getpass.getuser()
    found = [
        _literal("Hugging Face token", "hf_" + "Qz7" * 11 + "x"),
        _literal("GitHub token", "ghp_" + "aB3dE5" * 6),
        _literal("AWS key", "AKIA" + "Z7Q4" * 4),
        _literal("password", "Selftest-Pw-4711-xyz"),
        _literal("OpenAI key", "sk-proj-" + "Fk29" * 10),
        _literal("path in your home", str(Path(home) / "selftest-private" / "notes.txt")),
        _literal("Windows user path", str(PureWindowsPath("C:/Users", user, "Documents/x.txt"))),
        _literal("e-mail address", "dino.selftest@example.com"),
        _literal("IPv4 address", "198.51.100.23"),
        _literal("IPv6 address", "2001:db8::4711"),
    ]
    if len(user) >= 3:
        found.append(_word("your login name", user))
    found += [_word("your own term", t) for t in [*terms, PLANTED_TERM]]
    return found


def _text(plant_list: list[Plant]) -> str:
    v = {p.kind: p.value for p in plant_list}
    return (
        f"download failed for {v['path in your home']} with HF_TOKEN={v['Hugging Face token']} "
        f"was rejected (401); git remote ghp {v['GitHub token']}; aws_access_key_id = "
        f"{v['AWS key']}; password={v['password']}; OPENAI_API_KEY={v['OpenAI key']}; "
        f"mail {v['e-mail address']} from {v['IPv4 address']} or [{v['IPv6 address']}]; "
        f"{v['Windows user path']}; "
        + "; ".join(f"{p.value} here" for p in plant_list if p.kind.startswith("your"))
    )


@contextlib.contextmanager
def _temporary_home(terms: list[str]) -> Iterator[Path]:
    """A telemetry home with consent and the terms; the kill switches are held off meanwhile.

    The kill switches guard *your* home; this one is temporary and removed at the end.
    """
    saved = {name: os.environ.get(name) for name in (HOME_ENV, *KILL_SWITCHES)}
    with tempfile.TemporaryDirectory(prefix="dinoair-selftest-") as tmp:
        home = Path(tmp) / "home"
        try:
            for name in KILL_SWITCHES:
                os.environ.pop(name, None)
            os.environ[HOME_ENV] = str(home)
            config = TelemetryConfig(path=home / "telemetry_config.json")
            config.enable()
            config.redact_terms = [*terms, PLANTED_TERM]
            config.save()
            yield home
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


def _run(home: Path, text: str) -> dict[str, str]:
    """A traced run that fails with ``text`` everywhere; what it left, as texts by place."""
    decision = resolve_consent(home=home)
    provider = configure_tracing(version(), home=home, decision=decision)
    crashes = CrashReporter(home, decision, installer_version=version())
    tracer = provider.get_tracer("dinoair.selftest")
    root = tracer.start_as_current_span("dinoair.install", attributes={"installer.note": text})
    step = tracer.start_as_current_span(
        "dinoair.step.models", record_exception=False, set_status_on_exception=False
    )
    with root, step as span:
        span.add_event("installer.log", {"message": text})
        try:
            raise RuntimeError(text)
        except RuntimeError as exc:
            span.record_exception(exc)
            context = span.get_span_context()
            crashes.report(
                exc,
                category="unexpected",
                step="models",
                trace_id=context.trace_id,
                span_id=context.span_id,
            )
    provider.shutdown()
    sessions, crash_files = load_sessions(home).files, load_crashes(home).files
    left = {f"session {s.path.name}": s.path.read_text("utf-8") for s in sessions}
    left.update({f"crash report {c.path.name}": c.path.read_text("utf-8") for c in crash_files})
    config = TelemetryConfig.load(home)
    export = bundle.build_json_bundle(
        config=config.export_view(),
        config_problem=None,
        sessions=sessions,
        crashes=crash_files,
        invalid=[],
        home=home,
        exported_by="selftest",
    )
    left["export"] = export.payload.decode("utf-8")
    if sessions:
        crash = crash_files[0].data if crash_files else None
        draft = issue.from_session(sessions[0].data, crash, made_by="selftest")
        left["bug-report draft"] = draft.markdown()
    return left


def _readable(content: str) -> str:
    """The strings of a JSON document as they read (``C:\\Users`` unescaped), else the text."""
    try:
        data = json.loads(content)
    except ValueError:
        return content
    out: list[str] = []

    def walk(v: Any) -> None:
        if isinstance(v, dict):
            for key, item in v.items():
                out.append(str(key))
                walk(item)
        elif isinstance(v, list):
            for item in v:
                walk(item)
        elif isinstance(v, str):
            out.append(v)

    walk(data)
    return "\n".join(out)


@click.command("selftest", context_settings=CONTEXT)
def command() -> None:
    """Prove that nothing private survives: plant fake secrets, paths, an e-mail, IPs, your
    login name and your redact terms in a real traced run (in a temporary home, offline), then
    look for them in the session, the crash report, the export and the bug-report draft.

    Exit code 0 when none survives, 1 when one does (and which, where).
    """
    started = time.monotonic()
    own = TelemetryConfig.load(telemetry_home())
    terms = [] if own.problem else list(own.redact_terms)
    planted = plants(terms)
    with _temporary_home(terms) as home:
        left = _run(home, _text(planted))
    places = ("session", "crash report", "export", "bug-report draft")
    missing = [p for p in places if not any(k.startswith(p) for k in left)]
    if missing:
        raise click.ClickException(
            f"the self-test run did not produce: {', '.join(missing)}; please report this"
        )
    survivors = [
        (plant, place)
        for plant in planted
        for place, content in left.items()
        if plant.pattern.search(_readable(content))
    ]
    seconds = time.monotonic() - started
    kinds = sorted({p.kind for p in planted})
    if survivors:
        for plant, place in survivors:
            console.warn(f"{plant.kind} survived in the {place}: {plant.value}")
        raise click.ClickException(
            f"self-test failed: {len({p.value for p, _ in survivors})} of {len(planted)} "
            "planted values survived; please report this (without the values)"
        )
    click.echo(
        f"{console.good('Self-test passed')}: none of {len(planted)} planted values "
        f"({', '.join(kinds)}) survived in the session, crash report, export or bug-report "
        f"draft ({seconds:.1f} s, in a temporary home, offline)."
    )
