"""Hostile session, crash, journal and config files against every ``dinoair-telemetry`` command.

Hypothesis writes files that are valid JSON of the wrong shape, documents of the right shape
with wrong types everywhere (numbers for times, lists for ids, NaN and 2**70 for durations...),
truncated or re-encoded text, binary, invalid UTF-8 and deep nesting. Every command must stay
up (exit 0, or 1 with one ``Error:`` line), report the file it could not read, and leave it as
it was. The commands run in-process through click's ``CliRunner`` so hundreds of runs stay
fast; the few cases that depend on the real process (huge files, stdout encoding, file types)
run as real subprocesses.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from otel_local_exporter import TelemetryConfig, load_crashes, load_sessions
from otel_local_exporter import attributes as attr
from telemetry_cli.cli import cli
from tests.reliability.conftest import assert_clean_exit, consent, telemetry

EXAMPLES = 30
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,
        HealthCheck.large_base_example,
    ],
)

READ_COMMANDS: list[list[str]] = [
    ["status"],
    ["status", "--json"],
    ["show-data"],
    ["show-data", "--json"],
    ["show-data", "--latest"],
    ["show-data", "--latest", "--json"],
    ["show-data", "-n", "1"],
    ["show-data", "--crashes"],
    ["show-data", "--crashes", "--json"],
    ["show-data", "--crashes", "--latest"],
    ["show-data", "--crashes", "--latest", "--json"],
    ["report"],
    ["report", "--json"],
    ["export", "{out}", "--force"],
    ["export", "{out}", "--format", "otlp", "--force"],
    ["export", "-"],
]
WRITE_COMMANDS: list[list[str]] = [
    ["enable", "--yes"],
    ["disable", "--yes"],
    ["clear-data", "--yes"],
]

# -- strategies ----------------------------------------------------------------------------------

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | st.text(max_size=24)
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)


def either(plausible: st.SearchStrategy) -> st.SearchStrategy:
    """Mostly the plausible value, sometimes anything at all."""
    return st.one_of(plausible, plausible, json_values)


hex32 = st.text("0123456789abcdef", min_size=32, max_size=32)
hex16 = st.text("0123456789abcdef", min_size=16, max_size=16)
times = st.one_of(
    st.datetimes(
        min_value=datetime(1, 1, 2),
        max_value=datetime(9999, 12, 30),
        timezones=st.just(timezone.utc),
    ).map(lambda d: d.strftime("%Y-%m-%dT%H:%M:%S.%fZ")),
    st.sampled_from(
        [
            "2024-01-01T00:00:00Z",
            "2024-01-01T00:00:00",
            "2024-13-45T99:99:99Z",
            "",
            "Z",
            "0001-01-01T00:00:00Z",
            "9999-12-31T23:59:59.999999Z",
        ]
    ),
)
numbers = st.one_of(st.integers(-(2**70), 2**70), st.floats(), st.just(math.nan), st.just(math.inf))
attribute_keys = st.one_of(
    st.sampled_from(
        [
            attr.STEP_NAME,
            attr.STEP_STATUS,
            attr.STEP_SKIP_REASON,
            attr.RUN_RESULT,
            attr.ERROR_CATEGORY,
            attr.ERROR_TYPE,
            attr.STEP_BYTES_DOWNLOADED,
            "exception.message",
            "exception.type",
            "exception.stacktrace",
            attr.ARG_PREFIX + "jobs",
            attr.SYSTEM_PREFIX + "cpu_count",
        ]
    ),
    st.text(max_size=12),
)
span_events = st.fixed_dictionaries(
    {},
    optional={
        "name": either(st.sampled_from(["exception", "cancelled", "download_retry"])),
        "timestamp": either(times),
        "attributes": either(st.dictionaries(attribute_keys, json_values, max_size=4)),
    },
)
spans = st.fixed_dictionaries(
    {},
    optional={
        "trace_id": either(hex32),
        "span_id": either(hex16),
        "parent_span_id": either(st.none() | hex16),
        "name": either(st.text(max_size=20)),
        "kind": either(st.sampled_from(["INTERNAL", "CLIENT"])),
        "start_time": either(times),
        "end_time": either(times),
        "duration_ms": either(numbers),
        "status": either(
            st.fixed_dictionaries(
                {},
                optional={
                    "code": either(st.sampled_from(["OK", "ERROR", "UNSET"])),
                    "description": either(st.text(max_size=20)),
                },
            )
        ),
        "attributes": either(st.dictionaries(attribute_keys, json_values, max_size=6)),
        "events": either(st.lists(either(span_events), max_size=3)),
    },
)
events = st.fixed_dictionaries(
    {
        "event_type": either(
            st.sampled_from(
                ["installation_start", "installation_step", "error", "installation_complete"]
            )
        )
    },
    optional={
        "timestamp": either(times),
        "step_name": either(st.text(max_size=12)),
        "status": either(st.sampled_from(["completed", "skipped", "failed", "cancelled"])),
        "duration_ms": either(numbers),
        "duration_seconds": either(numbers),
        "success": either(st.booleans()),
        "reason": json_values,
        "error_category": either(st.sampled_from(attr.ERROR_CATEGORIES)),
        "error_type": json_values,
        "error_message": json_values,
        "stack_trace": json_values,
        "summary": either(
            st.dictionaries(st.sampled_from(["result", "completed", "failed"]), json_values)
        ),
        "system_info": json_values,
        "installation_args": json_values,
    },
)
sessions = st.one_of(
    st.fixed_dictionaries(
        {
            "session_id": either(hex32),
            "events": either(st.lists(either(events), max_size=5)),
            "spans": either(st.lists(either(spans), max_size=6)),
        },
        optional={
            "resource": either(st.dictionaries(st.text(max_size=10), json_values)),
            "metadata": either(
                st.fixed_dictionaries(
                    {},
                    optional={
                        "created_at": either(times),
                        "complete": either(st.booleans()),
                        "version": json_values,
                    },
                )
            ),
        },
    ),
    json_values,
)
crashes = st.one_of(
    st.fixed_dictionaries(
        {"crash_id": either(hex32)},
        optional={
            key: json_values
            for key in (
                "timestamp",
                "session_id",
                "error_category",
                "error_type",
                "error_message",
                "stack_trace",
                "failing_step",
                "trace_id",
                "span_id",
                "installer_version",
                "system",
                "version",
            )
        },
    ),
    json_values,
)
configs = st.one_of(
    st.fixed_dictionaries(
        {},
        optional={
            "telemetry_enabled": either(st.none() | st.booleans()),
            "error_reporting_enabled": either(st.booleans()),
            "usage_analytics_enabled": either(st.booleans()),
            "user_id": either(hex32),
            "install_id": either(hex32),
            "consent_timestamp": either(times),
            "opt_out_timestamp": either(st.none() | times),
            "extra": json_values,
        },
    ),
    json_values,
)


@st.composite
def encoded(draw: Callable, docs: st.SearchStrategy, bigint: bool = True) -> bytes:
    """A document as bytes, sometimes damaged: truncated, BOM, Latin-1, garbage, deep nesting.

    ``bigint`` adds a 5000-digit integer (Python refuses to parse it: a plain ValueError).
    """
    doc = draw(docs)
    text = json.dumps(doc, ensure_ascii=draw(st.booleans()))
    how = draw(
        st.sampled_from(
            [
                "plain",
                "plain",
                "truncated",
                "bom",
                "latin1",
                "garbage",
                "deep",
                "binary",
                *(["bigint"] if bigint else []),
            ]
        )
    )
    if how == "truncated":
        return text.encode()[: draw(st.integers(0, max(0, len(text) - 1)))]
    if how == "bom":
        return b"\xef\xbb\xbf" + text.encode()
    if how == "latin1":
        return text.encode("latin-1", errors="replace") + b"\xe9\xff"
    if how == "garbage":
        data = bytearray(text.encode())
        at = draw(st.integers(0, len(data)))
        return bytes(data[:at]) + draw(st.binary(min_size=1, max_size=16)) + bytes(data[at:])
    if how == "deep":
        depth = draw(st.sampled_from([65, 500, 990, 1100, 5000, 100_000]))
        opener, closer = draw(st.sampled_from([("[", "]"), ('{"a":', "}")]))
        nested = opener * depth + "0" + closer * depth
        if isinstance(doc, dict) and doc:
            key = draw(st.sampled_from(sorted(doc, key=str)))
            return json.dumps({**doc, key: "@@"}).replace('"@@"', nested).encode()
        return nested.encode()
    if how == "binary":
        return draw(st.binary(max_size=256))
    if how == "bigint":
        return (
            text.encode()
            if not text.startswith("{")
            else ('{"big": ' + "9" * 5000 + ", " + text[1:]).encode()
        )
    return text.encode()


@st.composite
def journals(draw: Callable) -> bytes:
    """A journal of JSON lines: headers, spans and junk, in any order, maybe torn at the end."""
    header = st.fixed_dictionaries(
        {"journal": either(st.just(1))},
        optional={
            "session_id": either(hex32),
            "pid": either(st.integers(0, 2**31)),
            "process_started": either(numbers),
            "created_at": either(times),
            "resource": json_values,
        },
    )
    lines = draw(
        st.lists(
            st.one_of(
                header.map(json.dumps),
                spans.map(json.dumps),
                json_values.map(json.dumps),
                st.binary(max_size=40).map(lambda b: b.hex()),
            ),
            max_size=6,
        )
    )
    data = "\n".join(lines).encode()
    if draw(st.booleans()) and data:
        data = data[: draw(st.integers(0, len(data)))]
    return data


# -- running every command against a home --------------------------------------------------------


def _invoke(runner: CliRunner, home: Path, args: list[str], out: Path) -> str | None:
    """Run one command; return what went wrong, or None when it stayed up and exited cleanly."""
    argv = [a.replace("{out}", str(out)) for a in args]
    result = runner.invoke(cli, argv, env={"DINOAIR_HOME": str(home)})
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        return f"{' '.join(args)} raised {type(result.exception).__name__}: {result.exception}"
    if result.exit_code not in (0, 1):
        return f"{' '.join(args)} exited {result.exit_code}: {result.output[-300:]}"
    if result.exit_code == 1 and not result.stderr.rstrip().splitlines()[-1].startswith("Error:"):
        return f"{' '.join(args)} failed without one Error: line: {result.stderr[-300:]}"
    return None


def _reported(runner: CliRunner, home: Path, names: set[str], args: list[str]) -> str | None:
    """Each name of an unreadable file appears in the command's output."""
    result = runner.invoke(cli, args, env={"DINOAIR_HOME": str(home)})
    missing = [n for n in names if n not in result.output]
    return f"{' '.join(args)} did not report {missing}" if missing else None


def _attack(
    kind: str, place: Callable[[Path], Path], data: bytes, trial: Any, case: str, how: str
) -> None:
    """Put one hostile file in a fresh consented home and run every command against it."""
    runner = CliRunner()
    with tempfile.TemporaryDirectory(prefix="hostile-") as tmp:
        root = Path(tmp)
        home = root / "home"
        if kind != "config":
            consent(home)
        path = place(home)
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        path.write_bytes(data)
        problems = [
            p
            for p in (_invoke(runner, home, args, root / "export.out") for args in READ_COMMANDS)
            if p
        ]
        # Reported, never deleted or rewritten (a journal may be recovered: that is its job).
        if kind == "session":
            bad = {f.path.name for f in load_sessions(home, recover=False).invalid}
            problems += [
                p
                for p in (
                    _reported(runner, home, bad, ["show-data"]),
                    _reported(runner, home, bad, ["report"]),
                )
                if p
            ]
        elif kind == "crash":
            bad = {f.path.name for f in load_crashes(home).invalid}
            problems += [p for p in [_reported(runner, home, bad, ["show-data", "--crashes"])] if p]
        elif kind == "config":
            config = TelemetryConfig.load(home)
            status = runner.invoke(cli, ["status"], env={"DINOAIR_HOME": str(home)})
            if config.problem and "invalid" not in status.output:
                problems.append("status did not say the config is invalid")
        if kind != "journal" and (not path.exists() or path.read_bytes() != data):
            problems.append(f"the hostile {kind} file was changed by a read")
        was_invalid = kind == "config" and TelemetryConfig.load(home).problem is not None
        problems += [
            p
            for p in (_invoke(runner, home, args, root / "export.out") for args in WRITE_COMMANDS)
            if p
        ]
        if kind == "config":
            # enable and disable rewrite the config; a bad one is kept aside, byte for byte.
            kept = [p.read_bytes() for p in home.glob("telemetry_config.json.invalid-*")]
            if TelemetryConfig.load(home).problem is not None:
                problems.append("enable/disable left an invalid config")
            if was_invalid and data not in kept:
                problems.append("the bad config was not kept as it was")
            if not was_invalid and kept:
                problems.append("a valid config was kept aside as invalid")
        tried = len(READ_COMMANDS) + len(WRITE_COMMANDS)
        trial.record(case, tried=tried, held=0 if problems else tried, how=how)
        assert not problems, problems


HOW = (
    "hypothesis ({n} files, derandomized): wrong shapes and types, NaN/2**70, truncated, "
    "BOM, Latin-1, garbage bytes, binary, deep nesting, 5000-digit ints; {c} commands each"
)


def _session_place(home: Path) -> Path:
    return home / "telemetry" / "session_20240101T000000Z_hostile.json"


def _crash_place(home: Path) -> Path:
    return home / "crashes" / "crash_20240101T000000Z_hostile.json"


def _config_place(home: Path) -> Path:
    return home / "telemetry_config.json"


def _journal_place(home: Path) -> Path:
    return home / "telemetry" / f"{'e' * 32}.journal"


COMMANDS = len(READ_COMMANDS) + len(WRITE_COMMANDS)


@SETTINGS
@given(data=encoded(sessions))
def test_hostile_session_files(trial, data: bytes) -> None:
    _attack(
        "session",
        _session_place,
        data,
        trial,
        "hostile session files, every command",
        HOW.format(n=EXAMPLES, c=COMMANDS),
    )


@SETTINGS
@given(data=encoded(crashes))
def test_hostile_crash_files(trial, data: bytes) -> None:
    _attack(
        "crash",
        _crash_place,
        data,
        trial,
        "hostile crash files, every command",
        HOW.format(n=EXAMPLES, c=COMMANDS),
    )


@SETTINGS
@given(data=encoded(configs, bigint=False))  # see test_config_with_a_huge_integer
def test_hostile_config_files(trial, data: bytes) -> None:
    _attack(
        "config",
        _config_place,
        data,
        trial,
        "hostile config files, every command",
        HOW.format(n=EXAMPLES, c=COMMANDS).replace(", 5000-digit ints", ""),
    )


def test_config_with_a_huge_integer(trial, shared, dinoair_home: Path, tmp_path: Path) -> None:
    from tests.reliability.conftest import install

    dinoair_home.mkdir(mode=0o700)
    (dinoair_home / "telemetry_config.json").write_text(
        '{"telemetry_enabled": true, "n": ' + "9" * 5000 + "}"
    )
    with trial.attempt(
        "hostile config: a 5000-digit integer (found by hypothesis)",
        how="status, show-data and an installer run as subprocesses",
    ):
        for args in (["status"], ["show-data"]):
            assert_clean_exit(telemetry(*args), 0)
        assert_clean_exit(install(tmp_path / "t", shared.manifest), 0)


@SETTINGS
@given(data=journals())
def test_hostile_journals(trial, data: bytes) -> None:
    _attack(
        "journal",
        _journal_place,
        data,
        trial,
        "hostile journals of killed runs, every command",
        f"hypothesis ({EXAMPLES} journals): headers, spans and junk lines in "
        f"any order, torn ends; {COMMANDS} commands each",
    )


# -- what needs a real process -------------------------------------------------------------------

REAL_COMMANDS: list[list[str]] = [
    ["status"],
    ["show-data"],
    ["show-data", "--latest", "--json"],
    ["show-data", "--crashes"],
    ["show-data", "--crashes", "--latest"],
    ["report", "--json"],
    ["export", "{out}", "--force"],
    ["export", "{out}", "--format", "otlp", "--force"],
    ["clear-data", "--yes"],
]


def _subprocess_commands(
    home: Path, out: Path, commands: list[list[str]] = REAL_COMMANDS
) -> list[str]:
    problems = []
    for args in commands:
        argv = [a.replace("{out}", str(out)) for a in args]
        result = telemetry(*argv, env={"DINOAIR_HOME": str(home)}, timeout=120)
        if result.returncode not in (0, 1) or "Traceback" in result.stderr:
            problems.append(f"{' '.join(args)} exited {result.returncode}: {result.stderr[-400:]}")
    return problems


def test_huge_files(trial, consented_home: Path, tmp_path: Path) -> None:
    """Over the size limits (33 MiB session and crash, 100 KiB config) and a big valid one."""
    folder = consented_home / "telemetry"
    folder.mkdir(mode=0o700)
    (consented_home / "crashes").mkdir(mode=0o700)
    with (folder / "session_20240101T000000Z_huge.json").open("wb") as handle:
        handle.truncate(33 * 1024 * 1024)  # sparse: 33 MiB of zeros
    (consented_home / "crashes" / "crash_20240101T000000Z_huge.json").write_bytes(
        b"[" + b"1," * (17 * 1024 * 1024) + b"1]"
    )
    big = {
        "session_id": "f" * 32,
        "events": [],
        "metadata": {"complete": True},
        "spans": [
            {
                "trace_id": "f" * 32,
                "span_id": "1" * 16,
                "parent_span_id": None,
                "name": "dinoair.install",
                "start_time": "2024-01-02T00:00:00.000000Z",
                "end_time": "2024-01-02T00:00:01.000000Z",
                "duration_ms": 1000,
                "status": {"code": "OK"},
                "events": [],
                "attributes": {"log": "pip output line /home/x/y\n" * 150_000},
            }
        ],
    }
    (folder / "session_20240102T000000Z_big.json").write_text(json.dumps(big))
    case = "huge files (over and under the size limits)"
    with trial.attempt(
        case,
        how="33 MiB sparse session, 34 MiB crash array, 4 MiB valid "
        "session, 100 KiB config; 9 commands as subprocesses",
    ):
        problems = _subprocess_commands(consented_home, tmp_path / "out")
        assert not problems, problems
    config = consented_home / "telemetry_config.json"
    config.write_text('{"telemetry_enabled": true, "pad": "' + "x" * 100_000 + '"}')
    with trial.attempt(case):
        status = telemetry("status")
        assert_clean_exit(status, 0)
        assert "larger than" in status.stdout and "OFF" in status.stdout


def test_lone_surrogates(trial, consented_home: Path, tmp_path: Path) -> None:
    folder = consented_home / "telemetry"
    folder.mkdir(mode=0o700)
    (consented_home / "crashes").mkdir(mode=0o700)
    doc = {
        "session_id": "a" * 32,
        "events": [{"event_type": "error", "error_message": "\ud800"}],
        "spans": [
            {
                "trace_id": "a" * 32,
                "span_id": "b" * 16,
                "parent_span_id": None,
                "name": "x\udfff",
                "start_time": "2024-01-01T00:00:00Z",
                "end_time": "2024-01-01T00:00:01Z",
                "attributes": {"k": "\ud800"},
                "events": [],
                "status": {"code": "OK"},
            }
        ],
        "metadata": {},
    }
    (folder / "session_20240101T000000Z_s.json").write_text(json.dumps(doc))
    (consented_home / "crashes" / "crash_20240101T000000Z_s.json").write_text(
        json.dumps({"crash_id": "c" * 32, "error_message": "\ud800"})
    )
    with trial.attempt(
        "hostile files: lone surrogate escapes",
        how="session and crash with \\ud800 escapes (valid JSON, not encodable "
        "text); show-data and export as subprocesses",
    ):
        problems = _subprocess_commands(
            consented_home,
            tmp_path / "out",
            [
                ["show-data", "--latest", "--json"],
                ["show-data", "--crashes", "--json"],
                ["export", "{out}", "--force"],
            ],
        )
        assert not problems, problems


def test_file_names_that_are_not_utf8(trial, consented_home: Path, tmp_path: Path) -> None:
    folder = os.fsencode(consented_home / "telemetry")
    os.mkdir(folder, 0o700)
    with open(folder + b"/session_20240101T000000Z_\xff\xfe.json", "wb") as handle:
        handle.write(b"{not json")
    with open(folder + b"/session_20240102T000000Z_\xe9t\xe9.json", "wb") as handle:
        handle.write(b'{"session_id": "ab", "events": []}')
    with trial.attempt(
        "hostile files: file names that are not UTF-8",
        how="an invalid and a valid session named with Latin-1 bytes; every "
        "command as a subprocess",
    ):
        problems = _subprocess_commands(consented_home, tmp_path / "out")
        assert not problems, problems


@pytest.mark.parametrize("where", ["config", "session"])
def test_named_pipes(trial, consented_home: Path, where: str) -> None:
    if where == "config":
        path = consented_home / "telemetry_config.json"
        path.unlink()
    else:
        path = consented_home / "telemetry" / "session_20240101T000000Z_fifo.json"
        path.parent.mkdir(mode=0o700)
    os.mkfifo(path, 0o600)
    with trial.attempt(
        "hostile files: a named pipe (FIFO) where a file should be",
        how="FIFO as telemetry_config.json and as a session file; 2 s timeout",
    ):
        for args in (["status"] if where == "config" else ["show-data"],):
            try:
                result = telemetry(*args, timeout=2)
            except Exception as exc:  # subprocess.TimeoutExpired: the command hung
                raise AssertionError(f"{' '.join(args)} hung on a FIFO ({exc})") from None
            assert_clean_exit(result, 0)
