"""The session schema: files written by earlier code still read the same, and the views agree
with the writer on what a span's status and a run's result are.

``tests/data/legacy`` holds a session, a killed run's journal and a crash report written by the
code of the commit before the schema got its own module (``make_files.py`` there says how).
"""

from __future__ import annotations

import json
import os
import shutil
import stat
from pathlib import Path

import pytest

from otel_local_exporter import (
    HARDWARE_KEYS,
    RESULT_INCOMPLETE,
    RESULT_UNKNOWN,
    SCHEMA_VERSION,
    STEP_STATUSES,
    SessionView,
    SpanView,
    atomic_write,
    collection_notice,
    load_crashes,
    load_sessions,
    session_problem,
    span_problem,
    step_of,
    system_profile,
    traces_data_line,
)
from otel_local_exporter.session import derive_events

LEGACY = Path(__file__).resolve().parent / "data" / "legacy"
LEGACY_SESSION = LEGACY / "session_v1.1.0.json"


def legacy_doc() -> dict:
    return json.loads(LEGACY_SESSION.read_text())


def install_legacy(home: Path, *names: str) -> Path:
    folder = home / "telemetry"
    folder.mkdir(parents=True, mode=0o700, exist_ok=True)
    for name in names:
        source = LEGACY / name
        if name.startswith("session_"):
            doc = json.loads(source.read_text())
            stamp = doc["spans"][0]["start_time"][:19].replace("-", "").replace(":", "")
            dest = folder / f"session_{stamp}Z_{doc['session_id']}.json"
        else:
            session_id = json.loads(source.read_text().splitlines()[0])["session_id"]
            dest = folder / f"{session_id}.journal"
        shutil.copyfile(source, dest)
    return folder


# -- files written by earlier code --------------------------------------------------------------


def test_the_legacy_session_reads_as_it_was_written(dinoair_home: Path) -> None:
    install_legacy(dinoair_home, LEGACY_SESSION.name)
    scan = load_sessions(dinoair_home)
    assert not scan.invalid
    (stored,) = scan.files
    view = SessionView(stored.data)
    assert view.version == "1.1.0" and view.complete
    assert view.result == "failed"
    assert view.error_category == "unexpected"
    assert [(s.name, s.status, s.reason) for s in view.steps] == [
        ("preflight", "completed", None),
        ("models", "completed", None),
        ("ollama_models", "skipped", "already_installed"),
        ("workflows", "failed", None),
        ("finalize", "skipped", "earlier_step_failed"),
    ]
    assert view.step_counts == {"completed": 2, "skipped": 2, "failed": 1}
    assert [f["step_name"] for f in view.failures] == ["workflows"]
    assert view.duration_ms == pytest.approx(6.0)
    assert view.root is not None and view.started == view.root.start_time
    (failed,) = [s for s in view.spans if s.step == "workflows"]
    (error,) = failed.errors
    assert error.recorded and error.type == "RuntimeError" and error.category == "unexpected"
    assert error.message == "unexpected failure in <PATH>"


def test_events_derived_today_equal_the_ones_the_legacy_writer_stored() -> None:
    """The format did not change: today's writer derives the very same events from the spans."""
    doc = legacy_doc()
    assert derive_events(doc["spans"]) == doc["events"]
    assert doc["metadata"]["version"] == SCHEMA_VERSION


def test_the_legacy_session_converts_to_otlp() -> None:
    line = json.loads(traces_data_line(legacy_doc()))
    spans = line["resourceSpans"][0]["scopeSpans"][0]["spans"]
    assert len(spans) == len(legacy_doc()["spans"])
    assert line["resourceSpans"][0]["scopeSpans"][0]["scope"]["version"] == "1.1.0"


def test_a_legacy_journal_of_a_killed_run_recovers_as_incomplete(dinoair_home: Path) -> None:
    folder = install_legacy(dinoair_home, "killed_run.journal")
    (stored,) = load_sessions(dinoair_home).files
    assert not list(folder.glob("*.journal"))
    view = SessionView(stored.data)
    assert not view.complete and view.root is None
    assert view.result == RESULT_INCOMPLETE  # killed: not "failed"
    assert [s.name for s in view.steps] == ["preflight", "comfyui"]
    assert view.duration_ms is not None and view.duration_ms >= 0
    assert stored.data["metadata"]["version"] == SCHEMA_VERSION


def test_the_legacy_crash_report_reads(dinoair_home: Path) -> None:
    folder = dinoair_home / "crashes"
    folder.mkdir(parents=True)
    shutil.copyfile(LEGACY / "crash_v1.1.0.json", folder / "crash_20261130T011307Z_x.json")
    (stored,) = load_crashes(dinoair_home).files
    assert stored.data["failing_step"] == "workflows" and stored.data["version"] == "1.1.0"


# -- what a run's result is ---------------------------------------------------------------------


def test_a_root_without_a_result_is_unknown_not_failed() -> None:
    doc = legacy_doc()
    root = next(s for s in doc["spans"] if s["parent_span_id"] is None)
    del root["attributes"]["installer.result"]
    doc["events"] = derive_events(doc["spans"])
    view = SessionView(doc)
    assert view.result == RESULT_UNKNOWN
    assert SpanView(root).status == RESULT_UNKNOWN


def test_a_writer_that_recorded_only_success_still_reads() -> None:
    doc = {
        "session_id": "a" * 32,
        "events": [{"event_type": "installation_complete", "success": True}],
        "spans": [],
    }
    assert SessionView(doc).result == "success"
    doc["events"][0]["success"] = False
    assert SessionView(doc).result == RESULT_INCOMPLETE  # no root, no result: never "failed"


def test_views_read_anything_without_raising() -> None:
    weird = {
        "session_id": 5,
        "metadata": [],
        "events": [5, {"event_type": "installation_step", "status": 5, "step_name": ["x"]}],
        "spans": [
            {"span_id": "a", "parent_span_id": "a", "start_time": 3, "attributes": []},
            {"name": None, "events": "none", "status": "odd", "duration_ms": float("nan")},
            "not a span",
        ],
    }
    view = SessionView(weird)
    assert view.session_id == "" and view.complete and view.steps == []
    assert view.result == RESULT_UNKNOWN  # a span without a parent is there, no result
    assert view.duration_ms is None and view.started is None
    first, second = view.spans
    assert first.label == "?" and first.status == "-" and first.start is None
    assert second.is_root and second.status == RESULT_UNKNOWN and second.duration_ms is None
    assert second.errors == [] and second.events == []
    assert SessionView(None).spans == [] and SpanView(7).attributes == {}


def test_step_status_defaults_match_the_writer() -> None:
    span = {"parent_span_id": "b" * 16, "attributes": {"installer.step": "x"}}
    assert SpanView(span).status == "completed"
    span["status"] = {"code": "ERROR", "description": "boom"}
    assert SpanView(span).status == "failed"
    (error,) = SpanView(span).errors
    assert not error.recorded and error.message == "boom" and error.category is None
    assert set(STEP_STATUSES) == {"completed", "skipped", "failed", "cancelled"}


@pytest.mark.parametrize(
    "span",
    [
        {"attributes": {"installer.step": "models", "installer.step.status": "skipped"}},
        {"attributes": {"installer.step": "models", "installer.step.status": ""}},
        {"attributes": {"installer.step": "models"}, "status": {"code": "ERROR"}},
        {"attributes": {"installer.step": "models", "installer.step.status": 3}},
        {"attributes": {"installer.step": 7, "installer.step.status": "failed"}},
        {"attributes": {"installer.step.status": "failed"}, "duration_ms": 5.0},
        {"attributes": {"other": 1}, "duration_ms": 5},
        {"attributes": [], "duration_ms": 5},
        {"attributes": {"installer.step": "models", "installer.step.status": "completed"}}
        | {"duration_ms": float("nan")},
        {"attributes": {"installer.step": "models", "installer.step.status": "completed"}}
        | {"duration_ms": float("-inf")},
        {"attributes": {"installer.step": "models", "installer.step.status": "failed"}}
        | {"duration_ms": 1500},
    ],
)
def test_step_of_reads_a_span_as_its_view_does(span: dict) -> None:
    """``step_of`` is the fast path of ``report --from``: the same answer as the view's."""
    view = SpanView(span)
    expected = None if view.step is None else (view.step, view.step_status, view.duration_ms)
    assert step_of(span) == expected


def test_frame_checks() -> None:
    assert session_problem(legacy_doc()) is None
    assert session_problem({"session_id": "x", "events": [1]}) == "an event is not an object"
    assert session_problem([]) == "not a JSON object"
    assert span_problem(legacy_doc()["spans"][0]) is None
    assert span_problem({"span_id": "a", "start_time": "t"}) == "no end_time"


# -- the shared helpers -------------------------------------------------------------------------


def test_atomic_write_sets_the_mode_and_can_refuse_to_replace(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    atomic_write(path, "one")
    assert path.read_text() == "one" and stat.S_IMODE(path.stat().st_mode) == 0o600
    atomic_write(path, b"two", mode=0o644, fsync=False)
    assert path.read_bytes() == b"two" and stat.S_IMODE(path.stat().st_mode) == 0o644
    with pytest.raises(FileExistsError):
        atomic_write(path, b"three", overwrite=False)
    assert path.read_bytes() == b"two"
    atomic_write(tmp_path / "b.txt", b"new", overwrite=False)
    assert (tmp_path / "b.txt").read_bytes() == b"new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "b.txt"]  # no .tmp left
    os.symlink(tmp_path / "elsewhere", tmp_path / "link")
    atomic_write(tmp_path / "link", b"x")
    assert not (tmp_path / "elsewhere").exists() and not (tmp_path / "link").is_symlink()


def test_system_profile_is_coarse(tmp_path: Path) -> None:
    profile = system_profile(tmp_path / "not" / "there")
    assert isinstance(profile["cpu_count"], int) and isinstance(profile["disk_free_gib"], int)
    assert isinstance(profile["memory_gib"], int)
    assert list(system_profile(keys=HARDWARE_KEYS)) == list(HARDWARE_KEYS)


def test_collection_notice_marks_what_is_off(tmp_path: Path) -> None:
    lines = collection_notice(tmp_path, error_reporting=False)
    text = "\n".join(lines)
    assert "(off: --no-error-reporting)" in text and "--no-usage-analytics" not in text
    assert str(tmp_path) in text and "What is never kept" in text
    styled = collection_notice(tmp_path, heading=str.upper, dim=lambda s: f"<{s}>")
    assert styled[0].isupper() and "<" not in "".join(styled)
