"""The catalogue, the notice made from it, `fields`, the docs table, and the failure signature."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from installer.context import InstallContext, Options, Step
from installer.manifest import load_manifest
from installer.runner import run_install
from otel_local_exporter import (
    CATALOGUE,
    NOTICE_VERSION,
    CrashReporter,
    SpanView,
    TelemetryConfig,
    catalogue_markdown,
    collection_notice,
    configure_tracing,
    failure_signature,
    fold,
    frames_of_stack_trace,
    load_crashes,
    load_sessions,
    notice_digest,
    resolve_consent,
)
from otel_local_exporter.notice import NOTICE_DIGEST
from telemetry_cli.cli import cli

REPO = Path(__file__).resolve().parent.parent
MANIFEST = REPO / "installer" / "data" / "manifest.json"


def test_every_entry_is_complete_and_unique() -> None:
    keys = [(f.kind, f.key) for f in CATALOGUE]
    assert len(keys) == len(set(keys))
    for field in CATALOGUE:
        assert field.purpose and field.example and field.type, field
        assert field.switch in ("telemetry", "error_reporting", "usage_analytics"), field


def test_the_notice_has_a_line_for_every_field_under_its_switch(tmp_path: Path) -> None:
    lines = collection_notice(tmp_path)
    text = "\n".join(lines)
    for field in CATALOGUE:
        assert field.key in text, field.key
    usage = text.index("Usage")
    assert text.index("installer.system.gpu_model") > usage
    assert text.index("exception.stacktrace") < usage < text.index("installer.arg.gpu")
    assert f"Notice version {NOTICE_VERSION}" in text


def test_the_notice_version_follows_its_text() -> None:
    assert notice_digest() == NOTICE_DIGEST, (
        "the notice changed: raise NOTICE_VERSION and set NOTICE_DIGEST to the new digest, so "
        "users who agreed to the older notice are asked again"
    )


def test_fields_json_is_the_catalogue() -> None:
    result = CliRunner().invoke(cli, ["fields", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert [(f["kind"], f["key"]) for f in data["fields"]] == [(f.kind, f.key) for f in CATALOGUE]
    gpu = next(f for f in data["fields"] if f["key"] == "installer.system.gpu_model")
    assert gpu["switch"] == "usage_analytics" and gpu["type"] == "string"


def test_fields_text_lists_every_key() -> None:
    result = CliRunner().invoke(cli, ["fields"])
    assert result.exit_code == 0, result.output
    for field in CATALOGUE:
        assert field.key in result.output
    assert f"{len(CATALOGUE)} fields" in result.output


def test_the_docs_list_is_generated_from_the_catalogue() -> None:
    doc = (REPO / "docs" / "telemetry.md").read_text(encoding="utf-8")
    start = doc.index("-->", doc.index("<!-- catalogue:start")) + len("-->\n")
    end = doc.index("<!-- catalogue:end -->")
    assert doc[start:end] == catalogue_markdown(), (
        "docs/telemetry.md is out of date: paste `dinoair-telemetry fields --markdown` there"
    )


# -- the failure signature ----------------------------------------------------------------------


def _run_failing(home: Path, target: Path, exc: Exception) -> tuple[dict, str]:
    """A real run (real SDK, real exporter, real crash reporter) whose one step fails."""
    config = TelemetryConfig.load(home)
    config.enable()
    config.save()
    decision = resolve_consent(home=home)
    provider = configure_tracing("1.0", home=home, decision=decision)
    reporter = CrashReporter(home, decision)

    def boom(ctx: InstallContext) -> None:
        raise exc

    def on_crash(exc, category, step, span_context):
        return reporter.report(exc, category=category, step=step)

    ctx = InstallContext(
        options=Options(target=target), manifest=load_manifest(MANIFEST), echo=lambda line: None
    )
    steps = (Step("models", run=boom, describe=lambda ctx: "fail"),)
    result = run_install(steps, ctx, provider.get_tracer("t"), on_crash=on_crash)
    provider.shutdown()
    signature = result.steps[0].signature
    assert signature
    doc = load_sessions(home).files[0].data
    span = next(s for s in doc["spans"] if s["attributes"].get("installer.step") == "models")
    return span, signature


def test_the_same_failure_has_the_same_signature_in_two_homes(tmp_path: Path) -> None:
    alice = OSError(f"cannot open {tmp_path}/alice/x.bin: 12 bytes short")
    bob = OSError(f"cannot open {tmp_path}/bob/y.bin: 7 bytes short")
    a, sig_a = _run_failing(tmp_path / "a", tmp_path / "alice", alice)
    _, sig_b = _run_failing(tmp_path / "b", tmp_path / "bob", bob)
    assert a["attributes"]["installer.error.signature"] == sig_a == sig_b
    assert len(sig_a) == 12 and int(sig_a, 16) >= 0
    # Computed again from what the session kept (a file written before signatures): the same.
    del a["attributes"]["installer.error.signature"]
    assert SpanView(a).signature == sig_a
    _, other = _run_failing(tmp_path / "c", tmp_path / "c", OSError("permission denied"))
    assert other != sig_a


def test_a_crash_report_carries_the_signature_of_its_span(tmp_path: Path) -> None:
    home = tmp_path / "home"
    span, signature = _run_failing(home, tmp_path / "t", RuntimeError(f"bug near {tmp_path}"))
    crash = load_crashes(home).files[0].data
    assert crash["signature"] == signature == span["attributes"]["installer.error.signature"]
    assert str(tmp_path) not in json.dumps(crash)


def test_error_reporting_off_keeps_no_signature(tmp_path: Path) -> None:
    home = tmp_path / "home"
    config = TelemetryConfig.load(home)
    config.enable(error_reporting=False)
    config.save()
    decision = resolve_consent(home=home)
    provider = configure_tracing("1.0", home=home, decision=decision)
    ctx = InstallContext(
        options=Options(target=tmp_path), manifest=load_manifest(MANIFEST), echo=lambda line: None
    )

    def boom(ctx: InstallContext) -> None:
        raise OSError("disk full")

    run_install((Step("models", run=boom, describe=lambda c: "x"),), ctx, provider.get_tracer("t"))
    provider.shutdown()
    doc = load_sessions(home).files[0].data
    span = next(s for s in doc["spans"] if s["attributes"].get("installer.step") == "models")
    assert "installer.error.signature" not in span["attributes"]
    assert SpanView(span).signature is None


def test_signature_parts_fold_what_varies() -> None:
    one, parts = failure_signature("models", "network", "urllib.error.URLError", "HTTP 503 at 0x1f")
    two, _ = failure_signature("models", "network", "URLError", "HTTP 502 at 0x2e")
    assert one == two and parts.message == "HTTP <N> at <HEX>" and parts.error_type == "URLError"
    assert fold("'a' and \"b\"") == "<Q> and <Q>"


def test_frames_are_read_from_the_last_traceback_of_a_chain() -> None:
    text = (
        "Traceback (most recent call last):\n"
        '  File "<PATH>/a.py", line 1, in first\n'
        "ValueError: x\n\nDuring handling of the above exception, another exception occurred:\n\n"
        "Traceback (most recent call last):\n"
        '  File "<PATH>/b.py", line 2, in outer\n'
        '  File "<PATH>/c.py", line 3, in inner\n'
        "OSError: y\n"
    )
    assert frames_of_stack_trace(text) == ("inner", "outer")
