"""The shipped examples hold: the Collector configuration points at valid OTLP.

Every line of every file the ``otlpjsonfile`` receiver would read is parsed into
``opentelemetry-proto``'s ``TracesData`` protobuf message, as the Collector does. OTLP/JSON spells
trace and span ids as hex where protobuf's canonical JSON expects base64, so the ids are turned
into base64 first (the OTLP specification's one deviation from the canonical mapping). A fresh
``export --format otlp`` of a real session is held to the same test, so the example stays true
to the code.
"""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from google.protobuf.json_format import Parse
from opentelemetry.proto.trace.v1.trace_pb2 import Span, TracesData

from telemetry_cli.cli import cli
from tests.test_telemetry_cli import REPO, consent, record_session
from tests.test_telemetry_cli import home as home  # the fixture

CONFIG = REPO / "examples" / "otel-collector" / "config.yaml"
_IDS = ("traceId", "spanId", "parentSpanId")


def included_files(config: Path) -> list[Path]:
    """The files matched by the receiver's ``include`` globs (relative to the repository)."""
    text = config.read_text()
    block = re.search(r"^  otlpjsonfile:\n((?:    .*\n|\n)+)", text, re.M)
    assert block, "no otlpjsonfile receiver"
    globs = re.findall(r"^      - \"([^\"]+)\"", block.group(1), re.M)
    assert globs, "the receiver includes no files"
    files = [p for pattern in globs for p in sorted(REPO.glob(pattern))]
    assert files, f"{globs} match no file"
    return files


def _proto_json(value: Any) -> Any:
    """OTLP/JSON -> protobuf canonical JSON: hex ids become base64 bytes."""
    if isinstance(value, dict):
        return {
            k: base64.b64encode(bytes.fromhex(v)).decode() if k in _IDS and v else _proto_json(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_proto_json(v) for v in value]
    return value


def parse_otlp_lines(blob: str) -> list[TracesData]:
    messages = []
    for line in blob.splitlines():
        if line.strip():
            messages.append(Parse(json.dumps(_proto_json(json.loads(line))), TracesData()))
    return messages


def check_traces(messages: list[TracesData]) -> list[Span]:
    spans = [
        span
        for message in messages
        for resource_spans in message.resource_spans
        for scope_spans in resource_spans.scope_spans
        for span in scope_spans.spans
    ]
    assert messages and spans
    for message in messages:
        for resource_spans in message.resource_spans:
            keys = {a.key for a in resource_spans.resource.attributes}
            assert "service.name" in keys and "host.name" not in keys
        traces = {
            s.trace_id for rs in message.resource_spans for ss in rs.scope_spans for s in ss.spans
        }
        assert len(traces) == 1, "one session a line"
    for span in spans:
        assert len(span.trace_id) == 16 and len(span.span_id) == 8
        assert span.end_time_unix_nano >= span.start_time_unix_nano > 0
    return spans


def test_the_collector_config_points_at_valid_otlp() -> None:
    for path in included_files(CONFIG):
        spans = check_traces(parse_otlp_lines(path.read_text()))
        names = {span.name for span in spans}
        assert "dinoair.install" in names
        failed = [s for s in spans if s.status.code == s.status.STATUS_CODE_ERROR]
        assert failed, "the example shows a failure"


def test_a_fresh_otlp_export_parses_the_same_way(home: Path) -> None:
    consent(home)
    record_session(home, fail=True)
    record_session(home)
    result = CliRunner().invoke(cli, ["export", "-", "--format", "otlp"])
    assert result.exit_code == 0, result.output
    messages = parse_otlp_lines(result.stdout)
    assert len(messages) == 2
    spans = check_traces(messages)
    roots = [s for s in spans if not s.parent_span_id]
    assert len(roots) == 2
