"""Reading other people's exported data: bundles, session files and OTLP lines, as facts.

Inputs are whatever ``export`` writes (a JSON bundle, or OTLP/JSON lines: one ``TracesData`` a
line), a bare session file, or a single ``TracesData`` document; given as files, folders (read
recursively) or glob patterns. Each session is reduced to its :class:`Facts` as soon as it is
parsed, read through the schema's ``SessionView``/``SpanView`` (OTLP spans are first put in the
stored span shape), and the document is dropped. A bundle is parsed whole, so the largest single
file bounds memory (the exporter keeps at most 100 sessions a home, so a bundle stays small);
OTLP lines are read a line at a time.

Files are other people's data: anything that is not one of the formats above, is too large, too
deeply nested or not valid UTF-8 JSON raises ``ValueError`` with a one-line reason (the caller
skips the file); a bad line in an OTLP file skips that line and is counted.
"""

from __future__ import annotations

import glob
import json
import os
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from otel_local_exporter import (
    ERROR_CATEGORY,
    INSTALLER_VERSION,
    PHASE_FROM_RELEASE,
    PHASE_RESULT,
    PHASE_ROLLBACK,
    PHASE_SPAN_PREFIX,
    PHASE_TO_RELEASE,
    PHASE_UPDATE,
    SYSTEM_ACCELERATOR,
    SYSTEM_COMPUTE_CAPABILITY,
    SessionView,
    SpanError,
    SpanView,
    schema,
    step_of,
)

from .sessions import text

BUNDLE_FORMAT = "dinoair-telemetry-export"
MAX_DOCUMENT_BYTES = 256 << 20  # one JSON document (a bundle); OTLP lines stream
MAX_LINE_BYTES = 64 << 20
SUFFIXES = (".json", ".jsonl", ".ndjson")
NOT_RECORDED = "not recorded"
_OTLP_ERROR = (2, "STATUS_CODE_ERROR")
_VALUE_KEYS = ("stringValue", "intValue", "doubleValue", "boolValue")


class Facts(NamedTuple):
    """What one session contributes to the report (a tuple: cheap to send between processes)."""

    session_id: str
    version: str
    os: str
    accelerator: str
    result: str
    steps: tuple[tuple[str, str, float | None], ...]  # (step, status, duration ms)
    # (step, category, type, message, failure signature or "")
    errors: tuple[tuple[str | None, str, str, str, str], ...]
    install: str = ""  # the bundle's install id ("" when not known: an OTLP file, a session)
    compute: str = NOT_RECORDED  # GPU compute capability "8.6" or gfx target (usage analytics)
    # (what, release) for each lifecycle phase that counts for a release (see release_of)
    releases: tuple[tuple[str, str], ...] = ()
    # a --repair run: its result and the kinds it fixed, with counts (see repair_of)
    repair: tuple[str, tuple[tuple[str, int], ...]] | None = None


# -- reading -------------------------------------------------------------------------------------


@dataclass
class Skipped:
    name: str
    reason: str


def expand(paths: Iterable[str]) -> Iterator[Path | Skipped]:
    """Each file named, found below a folder, or matched by a glob, once, in a stable order."""
    seen: set[str] = set()
    for raw in paths:
        path = Path(raw).expanduser()
        if path.is_dir():
            found = sorted(
                p for p in path.rglob("*") if p.suffix.lower() in SUFFIXES and p.is_file()
            )
        elif path.exists() or path.is_symlink():
            found = [path]
        elif glob.has_magic(raw):
            found = [Path(p) for p in sorted(glob.glob(os.path.expanduser(raw), recursive=True))]
            found = [p for p in found if p.is_file()]
            if not found:
                yield Skipped(raw, "no file matches")
        else:
            yield Skipped(raw, "no such file or folder")
            continue
        for one in found:
            key = os.path.realpath(one)
            if key not in seen:
                seen.add(key)
                yield one


def read_file(path: Path, bad_lines: Counter[str]) -> Iterator[Facts]:
    """The sessions in one file. Raises ``ValueError`` with a one-line reason for a file to skip;
    counts bad lines of an OTLP file in ``bad_lines[str(path)]``."""
    if not path.is_file() or path.is_symlink():
        raise ValueError("not a regular file")
    with path.open("rb") as handle:
        head = handle.read(1 << 16)
        first = head.lstrip()[:1]
        if first != b"{":
            raise ValueError("not a JSON bundle or OTLP lines (does not start with '{')")
        handle.seek(0)
        if _is_document(head, path):
            if path.stat().st_size > MAX_DOCUMENT_BYTES:
                raise ValueError(f"larger than {MAX_DOCUMENT_BYTES >> 20} MiB")
            yield from _document(_loads(handle.read()))
            return
        yielded = False
        for number_, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                if len(line) > MAX_LINE_BYTES:
                    raise ValueError("line too long")
                data = _loads(line)
                if not isinstance(data, dict) or "resourceSpans" not in data:
                    raise ValueError("not a TracesData line")
                facts = list(_traces_data(data))
            except ValueError:
                if not yielded and number_ == 1:
                    raise ValueError("not a JSON bundle or OTLP lines") from None
                bad_lines[str(path)] += 1
                continue
            yielded = True
            yield from facts


def _is_document(head: bytes, path: Path) -> bool:
    """One JSON document (a bundle, a session file) rather than OTLP lines, which start with
    ``{"resourceSpans"`` (how the encoder writes them) or are named ``.jsonl``/``.ndjson``."""
    if path.suffix.lower() in (".jsonl", ".ndjson"):
        return False
    return not re.match(rb'\s*\{[ \t]*"resourceSpans"', head)


_fast_loads: Callable[[bytes], Any] | None
try:  # the optional [analytics] extra: parses JSON about 3x faster (see the module docstring)
    from orjson import JSONDecodeError as _FastError
    from orjson import loads as _fast_loads
except ImportError:  # pragma: no cover - the standard library does the same, slower
    _fast_loads = None


def _loads(raw: bytes) -> Any:
    if _fast_loads is not None:
        try:
            return _fast_loads(raw)
        except _FastError:
            pass  # let the standard library say why, in its words (or accept what it accepts)
    try:
        return json.loads(raw)
    except RecursionError:
        raise ValueError("nested too deeply") from None
    except UnicodeDecodeError:
        raise ValueError("not UTF-8") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON ({exc.msg} at line {exc.lineno})") from None


def _document(data: Any) -> Iterator[Facts]:
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    if data.get("format") == BUNDLE_FORMAT:
        sessions = data.get("sessions")
        if not isinstance(sessions, list):
            raise ValueError("a bundle without a sessions list")
        config = data.get("config")
        install = config.get("install_id") if isinstance(config, dict) else None
        install = install if isinstance(install, str) else ""
        for doc in sessions:
            if isinstance(doc, dict):
                facts = session_facts(doc)
                if facts is not None:
                    yield facts._replace(install=install) if install else facts
    elif isinstance(data.get("session_id"), str) and isinstance(data.get("spans"), list):
        facts = session_facts(data)
        if facts is not None:
            yield facts
    elif "resourceSpans" in data:
        yield from _traces_data(data)
    else:
        raise ValueError("not a DinoAir bundle, session or OTLP file")


# -- facts ---------------------------------------------------------------------------------------


def session_facts(doc: Mapping[str, Any]) -> Facts | None:
    """One stored (or exported) session document's facts; ``None`` without a session id."""
    view = SessionView(doc)
    return _facts(view) if view.session_id else None


def _facts(view: SessionView) -> Facts:
    """The facts, as the schema reads them (the one meaning of a status or a result).

    The hot loop of a 100,000-session report: each step span through the schema's
    ``step_of`` (no view made for a span that recorded its status); a step's errors are asked
    of its view only when it failed (an error category or an ``ERROR`` status): an exception
    recorded by a step that went on is not a failure.
    """
    root = None
    steps: list[tuple[str, str, float | None]] = []
    errors: list[tuple[str | None, str, str, str, str]] = []
    releases: list[tuple[str, str]] = []
    repair = None
    spans = view.raw.get("spans")
    for raw in spans if type(spans) is list else ():
        if type(raw) is not dict:
            continue
        if raw.get("parent_span_id") is None:
            root = SpanView(raw)
            continue
        step = step_of(raw)
        if step is None:
            name = raw.get("name")
            if type(name) is str and name.startswith(PHASE_SPAN_PREFIX):
                phase = SpanView(raw)
                counted = release_of(phase)
                if counted is not None:
                    releases.append(counted)
                repair = repair_of(phase) or repair
            continue
        steps.append(step)
        code = raw.get("status")
        if ERROR_CATEGORY in raw["attributes"] or (
            type(code) is dict and code.get("code") == "ERROR"
        ):
            span = SpanView(raw)
            errors.extend((step[0], *_error(e), span.signature or "") for e in span.errors[:1])
    if not errors and root is not None and root.error_category is not None:
        errors.extend((None, *_error(e), root.signature or "") for e in root.errors[:1])
    root_attrs = root.attributes if root is not None else {}
    resource = view.resource
    return Facts(
        session_id=view.session_id.lower(),
        version=_label(root_attrs.get(INSTALLER_VERSION) or resource.get("service.version")),
        os=_label(resource.get("os.type")),
        accelerator=_label(root_attrs.get(SYSTEM_ACCELERATOR)),
        result=view.result,
        steps=tuple(steps),
        errors=tuple(errors),
        releases=tuple(releases),
        repair=repair,
        compute=_label(root_attrs.get(SYSTEM_COMPUTE_CAPABILITY)),
    )


# What a release's row counts (report and report --from), from the lifecycle's phase spans.
UPDATES = "updates"  # ``update``: one update to its to_release
ROLLBACKS = "rollbacks"  # ``rollback``: the run's own update (its from_release) undone
RECOVERY_ROLLBACKS = "recovery_rollbacks"  # ``recover`` rolled_back: a killed update undone
RECOVERY_COMPLETED = "recovery_completed"  # ``recover`` swapped: a killed update finished
RECOVERY_FAILED = "recovery_failed"  # ``recover`` failed: neither (the run stopped)
RELEASE_COUNTS = (UPDATES, ROLLBACKS, RECOVERY_ROLLBACKS, RECOVERY_COMPLETED, RECOVERY_FAILED)
_RECOVERED = {
    "rolled_back": RECOVERY_ROLLBACKS,
    "swapped": RECOVERY_COMPLETED,
    "failed": RECOVERY_FAILED,
}


def release_of(span: SpanView) -> tuple[str, str] | None:
    """What a lifecycle phase span counts for a release, as (one of RELEASE_COUNTS, release);
    ``None`` for any other span (and for a recovery that found nothing to do)."""
    name, attributes = span.name, span.attributes
    if name == PHASE_SPAN_PREFIX + PHASE_UPDATE:
        return UPDATES, _label(attributes.get(PHASE_TO_RELEASE))
    if name == PHASE_SPAN_PREFIX + PHASE_ROLLBACK:
        return ROLLBACKS, _label(attributes.get(PHASE_FROM_RELEASE))
    if name == PHASE_SPAN_PREFIX + schema.PHASE_RECOVER:
        kind = _RECOVERED.get(text(attributes.get(PHASE_RESULT)) or "")
        return (kind, _label(attributes.get(PHASE_TO_RELEASE))) if kind else None
    return None


FIXED_SUFFIXES = ("_fixed", "_disabled")  # a repair span's counts of what it fixed


def repair_of(span: SpanView) -> tuple[str, tuple[tuple[str, int], ...]] | None:
    """A ``repair`` phase span's result and the kinds it fixed (``models_fixed``,
    ``nodes_disabled``...: a count above 0), in the order recorded; ``None`` for another span."""
    if span.name != PHASE_SPAN_PREFIX + schema.PHASE_REPAIR:
        return None
    fixed = []
    for key, value in span.attributes.items():
        kind = key.removeprefix(schema.PHASE_PREFIX)
        if kind != key and kind.endswith(FIXED_SUFFIXES) and type(value) is int and value > 0:
            fixed.append((kind, value))
    return text(span.attributes.get(PHASE_RESULT)) or NOT_RECORDED, tuple(fixed)


def _error(error: SpanError) -> tuple[str, str, str]:
    return error.category or "unexpected", error.type or "error", error.message or ""


def _label(value: Any) -> str:
    return str(value) if isinstance(value, (str, int, float)) and value != "" else NOT_RECORDED


def _traces_data(data: Mapping[str, Any]) -> Iterator[Facts]:
    """OTLP/JSON ``TracesData``: spans grouped by trace id, read in the session span shape."""
    by_trace: dict[str, tuple[dict[str, Any], list[dict[str, Any]]]] = {}
    for resource_spans in _dicts(data.get("resourceSpans")):
        resource = _otlp_attributes(_dict(resource_spans.get("resource")).get("attributes"))
        for scope_spans in _dicts(resource_spans.get("scopeSpans")):
            for span in _dicts(scope_spans.get("spans")):
                trace_id = text(span.get("traceId"))
                if not trace_id:
                    raise ValueError("a span without a traceId")
                by_trace.setdefault(trace_id, (resource, []))[1].append(_otlp_span(span))
    if not by_trace:
        raise ValueError("no spans")
    for trace_id, (resource, spans) in by_trace.items():
        yield _facts(SessionView({"session_id": trace_id, "spans": spans, "resource": resource}))


def _otlp_span(span: Mapping[str, Any]) -> dict[str, Any]:
    start, end = _nanos(span.get("startTimeUnixNano")), _nanos(span.get("endTimeUnixNano"))
    status = _dict(span.get("status"))
    return {
        "name": text(span.get("name")),  # a phase span is known by its name (release_of)
        "parent_span_id": text(span.get("parentSpanId")) or None,
        "attributes": _otlp_attributes(span.get("attributes")),
        "events": [
            {"name": e.get("name"), "attributes": _otlp_attributes(e.get("attributes"))}
            for e in _dicts(span.get("events"))
        ],
        "status": {
            "code": "ERROR" if status.get("code") in _OTLP_ERROR else "UNSET",
            "description": text(status.get("message")),
        },
        "duration_ms": (end - start) / 1e6 if start is not None and end is not None else None,
    }


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if type(v) is dict] if type(value) is list else []


def _dict(value: Any) -> dict[str, Any]:
    return value if type(value) is dict else {}


def _otlp_attributes(values: Any) -> dict[str, Any]:
    """OTLP ``KeyValue`` items as a plain mapping (the hot loop of OTLP input, kept flat)."""
    out: dict[str, Any] = {}
    if type(values) is not list:
        return out
    for item in values:
        if type(item) is not dict:
            continue
        key, value = item.get("key"), item.get("value")
        if type(key) is not str or type(value) is not dict:
            continue
        for kind in _VALUE_KEYS:
            if kind in value:
                raw = value[kind]
                out[key] = int(raw) if kind == "intValue" and isinstance(raw, str) else raw
                break
    return out


def _nanos(value: Any) -> int | None:
    try:
        return int(value) if isinstance(value, (str, int)) and not isinstance(value, bool) else None
    except ValueError:
        return None
