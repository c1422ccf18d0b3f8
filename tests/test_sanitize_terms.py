"""The user's own terms (``redact_terms``), ``redact add|list|remove``, ``selftest``, and the
traceback frames that keep the project's own paths readable.

Real parts throughout: the config file in the test's DINOAIR_HOME, the click commands through
``CliRunner``, the OpenTelemetry SDK with the local exporter, the export bundle.
"""

from __future__ import annotations

import json
import time
import traceback
from pathlib import Path

import pytest
from click.testing import CliRunner

from otel_local_exporter import Sanitizer
from otel_local_exporter.config import TelemetryConfig
from otel_local_exporter.tracing import configure_tracing
from telemetry_cli.cli import cli
from telemetry_cli.commands import selftest

TERM = "Acme Quantum"


def run(*args: str) -> object:
    result = CliRunner().invoke(cli, list(args))
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


def write_config(home: Path, data: object) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "telemetry_config.json").write_text(json.dumps(data), encoding="utf-8")


# -- the config field ------------------------------------------------------------------------


def test_terms_load_and_save_and_stay_out_of_the_export_view(dinoair_home: Path) -> None:
    write_config(dinoair_home, {"telemetry_enabled": True, "redact_terms": [TERM, "falcon"]})
    config = TelemetryConfig.load(dinoair_home)
    assert config.problem is None and config.redact_terms == [TERM, "falcon"]
    assert config.to_dict()["redact_terms"] == [TERM, "falcon"]
    assert "redact_terms" not in config.export_view()
    config.save()
    assert json.loads(config.path.read_text())["redact_terms"] == [TERM, "falcon"]


@pytest.mark.parametrize(
    "terms",
    ["Acme", [1], ["x"], [" padded "], ["two\nlines"], ["t" * 201], ["ok"] * 101],
)
def test_invalid_terms_make_the_config_invalid_without_repeating_them(
    dinoair_home: Path, terms: object
) -> None:
    write_config(dinoair_home, {"telemetry_enabled": True, "redact_terms": terms})
    config = TelemetryConfig.load(dinoair_home)
    assert config.problem and "redact_terms" in config.problem
    assert "Acme" not in config.problem and "padded" not in config.problem
    assert config.state == "invalid"


def test_a_default_sanitizer_applies_the_terms_of_the_config(dinoair_home: Path) -> None:
    write_config(dinoair_home, {"redact_terms": [TERM]})
    s = Sanitizer()
    assert s.text(f"cloned the {TERM.upper()} repo for acme quantum") == (
        "cloned the <REDACTED> repo for <REDACTED>"
    )
    assert s.counts["term"] == 2
    assert Sanitizer(terms=[]).text(TERM) == TERM


# -- redact add | list | remove --------------------------------------------------------------


def test_redact_add_list_remove(dinoair_home: Path) -> None:
    assert "No terms" in run("redact", "list").output
    out = run("redact", "add", TERM, "falcon").output
    assert out.startswith("Added 2 terms; 2 terms are now replaced by <REDACTED>")
    assert "Nothing changed" in run("redact", "add", "FALCON").output
    assert run("redact", "list").output.splitlines() == [TERM, "falcon"]
    assert json.loads(run("redact", "list", "--json").output) == {"redact_terms": [TERM, "falcon"]}
    assert run("redact", "remove", "Falcon").output.startswith("Removed 1 term; 1 term left.")
    assert TelemetryConfig.load(dinoair_home).redact_terms == [TERM]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("redact", "add", "x"), "2 to 200 characters"),
        (("redact", "remove", "nope"), "'nope' is not on the list"),
    ],
)
def test_redact_errors_are_one_line(args: tuple[str, ...], message: str) -> None:
    result = run(*args)
    assert result.exit_code == 1
    assert message in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_redact_refuses_to_overwrite_an_invalid_config(dinoair_home: Path) -> None:
    write_config(dinoair_home, "not an object")
    result = run("redact", "add", TERM)
    assert result.exit_code == 1 and "is invalid" in result.output
    assert json.loads((dinoair_home / "telemetry_config.json").read_text()) == "not an object"


def test_terms_leave_no_session_and_no_export(consented_home: Path, tmp_path: Path) -> None:
    """Recorded, stored and exported: the term is nowhere but in the config file."""
    run("redact", "add", TERM)
    provider = configure_tracing("1.0", home=consented_home)
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span("dinoair.install", attributes={"note": f"{TERM} build"}):
        pass
    provider.shutdown()
    sessions = list((consented_home / "telemetry").glob("session_*.json"))
    assert sessions and "<REDACTED> build" in sessions[0].read_text()
    for path in consented_home.rglob("*"):
        if path.is_file() and path.name != "telemetry_config.json":
            assert TERM.lower() not in path.read_text().lower(), path
    target = tmp_path / "bundle.json"
    assert run("export", str(target)).exit_code == 0
    exported = target.read_text()
    assert TERM.lower() not in exported.lower() and "redact_terms" not in exported
    assert json.loads(exported)["config"]["telemetry_enabled"] is True


# -- selftest --------------------------------------------------------------------------------


def test_selftest_passes_quickly_and_offline(dinoair_home: Path) -> None:
    write_config(dinoair_home, {"redact_terms": [TERM]})
    started = time.monotonic()
    result = run("selftest")
    assert result.exit_code == 0, result.output
    assert time.monotonic() - started < 2
    assert "Self-test passed: none of" in result.output and "your own term" in result.output
    assert not list(dinoair_home.glob("telemetry/*")), "nothing is written to the real home"


def test_selftest_would_see_a_survivor(tmp_path: Path) -> None:
    """The check can fail: a run whose config lacks the planted term keeps it, and is caught."""
    home = tmp_path / "home"
    config = TelemetryConfig(path=home / "telemetry_config.json")
    config.enable()
    config.save()
    planted = selftest.plants([])
    left = selftest._run(home, selftest._text(planted))
    term = next(p for p in planted if p.kind == "your own term")
    assert any(term.pattern.search(selftest._readable(text)) for text in left.values())
    others = [p for p in planted if p.kind != "your own term"]
    assert not [p for p in others for t in left.values() if p.pattern.search(selftest._readable(t))]


# -- traceback frames ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("frame", "expected"),
    [
        (
            'File "/home/mark/src/DinoAir/installer/runner.py", line 166, in _run_step',
            'File "<PATH>/installer/runner.py", line 166, in _run_step',
        ),
        (
            'File "/srv/ci/build/otel_local_exporter/sanitize/engine.py", line 3, in text',
            'File "<PATH>/otel_local_exporter/sanitize/engine.py", line 3, in text',
        ),
        (
            'File "C:\\Users\\mark\\DinoAir\\telemetry_cli\\cli.py", line 9',
            'File "<PATH>\\telemetry_cli\\cli.py", line 9',
        ),
        (
            'File "/home/mark/DinoAir/.venv/lib/python3.12/site-packages/urllib3/connection.py"',
            'File "<PATH>/site-packages/urllib3/connection.py"',
        ),
        # not the project's source: the whole path goes
        ('File "/home/mark/notes/installer/plan.txt", line 4', 'File "<PATH>", line 4'),
        ('File "/home/mark/steps/my_step.py", line 4', 'File "<PATH>", line 4'),
        ("cd /home/mark/installer && ls", "cd <PATH> && ls"),
    ],
)
def test_frames_keep_the_package_relative_path(frame: str, expected: str) -> None:
    s = Sanitizer(user="mark", home="/home/mark", host="box", terms=[])
    assert s.text(frame) == expected


def test_a_real_traceback_of_this_project_keeps_its_frames() -> None:
    try:
        Sanitizer(rules=[object()])  # type: ignore[list-item]
    except TypeError:
        stack = traceback.format_exc()
    out = Sanitizer(terms=[]).text(stack)
    assert 'File "<PATH>/otel_local_exporter/sanitize/engine.py", line' in out
    assert str(Path(__file__).resolve().parent.parent) not in out
