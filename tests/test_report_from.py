"""``dinoair-telemetry report --from``: many users' bundles, counted once, checked against truth.

1,000 bundles from 500 "users" (each exported twice, the second export repeating the first:
overlap), three in four JSON bundles and one in four OTLP lines through the real encoder, plus
hostile and foreign files. Every count is recomputed here from the generator's ``Truth``
records, never from the files.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

from fixtures.bundles import Truth, json_bundle, session_doc, write_users
from otel_local_exporter import fold
from otel_local_exporter.signature import _FOLD_RULES
from telemetry_cli import fleet, intake
from telemetry_cli.cli import cli
from telemetry_cli.report import percentile

USERS = 500
PER_USER = 3


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Truth]]:
    root = tmp_path_factory.mktemp("bundles")
    truths = write_users(root, users=USERS, sessions_per_user=PER_USER)
    hostile = root / "hostile"
    hostile.mkdir()
    (hostile / "garbage.json").write_bytes(b"\x00\xffnot json at all")
    (hostile / "foreign.json").write_text(json.dumps({"hello": "world"}))
    (hostile / "deep.json").write_text('{"a":' + "[" * 100_000 + "]" * 100_000 + "}")
    (hostile / "empty.json").write_text("")
    (hostile / "bundle-without-sessions.json").write_text(
        json.dumps({"format": "dinoair-telemetry-export", "sessions": "x"})
    )
    (hostile / "list.json").write_text("[1, 2, 3]")
    (hostile / "notes.txt").write_text("not picked from a folder: wrong suffix")
    # An OTLP file with one broken line among good ones: the line is skipped, the rest count.
    good = next(p for p in sorted(root.rglob("*.jsonl")))
    lines = good.read_text().splitlines()
    (hostile / "half.jsonl").write_text(lines[0] + "\n{broken\n" + "\n".join(lines[1:]) + "\n")
    return root, truths


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["report", *args])
    return result.exit_code, result.stdout, result.stderr


def expected(truths: list[Truth]) -> dict:
    """The report recomputed from the truth: every session once."""
    unique = {t.session_id: t for t in truths}
    assert len(unique) == len(truths)
    results = Counter(t.result for t in unique.values())
    steps: dict[str, Counter] = {}
    durations: dict[str, list[float]] = {}
    for t in unique.values():
        for name, status, duration in t.steps:
            steps.setdefault(name, Counter())[status] += 1
            if status != "skipped":
                durations.setdefault(name, []).append(duration)
    failures = [t.failure for t in unique.values() if t.failure]
    return {
        "sessions": len(unique),
        "results": results,
        "steps": steps,
        "durations": durations,
        "categories": Counter(f[1] for f in failures),
        "signatures": Counter((f[1], f[2], f[4]) for f in failures),
        "by_version": Counter((t.version, t.result) for t in unique.values()),
        "by_os": Counter((t.os, t.result) for t in unique.values()),
        "by_accelerator": Counter(
            (t.accelerator or fleet.NOT_RECORDED, t.result) for t in unique.values()
        ),
    }


def rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def test_counts_match_the_truth(world: tuple[Path, list[Truth]]) -> None:
    root, truths = world
    code, out, err = run("--from", str(root), "--json")
    assert code == 0, err
    data = json.loads(out)
    want = expected(truths)
    bundles = 2 * USERS
    assert data["files"] == bundles + 7  # the hostile folder's JSON and JSONL files
    assert data["sessions"] == want["sessions"] == USERS * PER_USER
    # the second export of each user repeats its first (half of the user's sessions)
    first_exports = USERS * max(1, PER_USER // 2)
    assert data["duplicates"] == first_exports + len(fleet_lines(root))
    assert data["results"] == dict(want["results"])
    decided = sum(want["results"][r] for r in ("success", "failed", "cancelled"))
    assert data["success_rate"] == rate(want["results"]["success"], decided)
    assert "unknown" in data["results"], "a root without installer.result is not a failure"
    steps = {s["step"]: s for s in data["steps"]}
    assert set(steps) == set(want["steps"])
    for name, statuses in want["steps"].items():
        row = steps[name]
        for status in ("completed", "skipped", "failed", "cancelled"):
            assert row[status] == statuses[status], (name, status)
        ran = statuses["completed"] + statuses["failed"] + statuses["cancelled"]
        assert row["success_rate"] == rate(statuses["completed"], ran)
        ordered = sorted(want["durations"][name])
        for q in (50, 90, 95, 99):
            assert math.isclose(row[f"p{q}_ms"], round(percentile(ordered, q), 1), abs_tol=0.11)
    for key in ("by_version", "by_os", "by_accelerator"):
        rows = {g["name"]: g for g in data[key]}
        names = {name for name, _ in want[key]}
        assert set(rows) == names, key
        for name in names:
            for result in ("success", "failed", "cancelled"):
                assert rows[name][result] == want[key][(name, result)], (key, name, result)
            assert rows[name]["sessions"] == sum(n for (k, _), n in want[key].items() if k == name)
    assert data["failures_by_category"] == dict(want["categories"])
    got = {
        (s["error_category"], s["error_type"], s["signature"]): s["count"]
        for s in data["signatures"]
    }
    assert got == dict(want["signatures"]), "messages that differ only in numbers, paths, ids fold"
    for sig in data["signatures"]:
        assert sig["example"] and sig["steps"]


def fleet_lines(root: Path) -> list[str]:
    """The good lines of the hostile half-broken OTLP file (its sessions are duplicates)."""
    return [
        line
        for line in (root / "hostile" / "half.jsonl").read_text().splitlines()
        if line.startswith('{"resourceSpans"')
    ]


def test_hostile_and_foreign_files_are_skipped_with_one_line_each(
    world: tuple[Path, list[Truth]],
) -> None:
    root, _ = world
    code, out, err = run("--from", str(root / "hostile"))
    assert code == 0, err
    skipped = [line for line in err.splitlines() if line.startswith("warning: skipped")]
    reasons = {Path(line.split(": ", 2)[1].split(":")[0]).name: line for line in skipped}
    assert set(reasons) == {
        "garbage.json",
        "foreign.json",
        "deep.json",
        "empty.json",
        "bundle-without-sessions.json",
        "list.json",
    }, skipped
    assert "nested too deeply" in reasons["deep.json"]
    assert "half.jsonl: skipped 1 line that were not OTLP TracesData" in err
    assert "notes.txt" not in err
    assert "Sessions:" in out  # the good lines of half.jsonl still count


def test_globs_files_and_repeated_paths(world: tuple[Path, list[Truth]]) -> None:
    root, truths = world
    pattern = str(root / "user000*" / "*.json*")  # users 0-9, both exports
    code, out, err = run("--from", pattern, str(root / "user0000" / "export1.json"), "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["files"] == 20, "a file named twice is read once"
    assert data["sessions"] == 10 * PER_USER
    mine = truths[: 10 * PER_USER]
    assert data["results"] == dict(Counter(t.result for t in mine))
    code, _, err = run("--from", str(root / "nothing-*.json"))
    assert "no file matches" in err
    assert code == 1 and "no sessions found" in err


def test_csv_holds_what_json_holds(world: tuple[Path, list[Truth]]) -> None:
    root, _ = world
    data = json.loads(run("--from", str(root), "--json")[1])
    code, out, _ = run("--from", str(root), "--csv")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert list(rows[0]) == ["section", "name", "metric", "value"]
    table = {(r["section"], r["name"], r["metric"]): r["value"] for r in rows}
    assert table[("total", "", "sessions")] == str(data["sessions"])
    for step in data["steps"]:
        assert table[("step", step["step"], "failed")] == str(step["failed"])
    for group in data["by_accelerator"]:
        assert table[("accelerator", group["name"], "sessions")] == str(group["sessions"])
    sig = data["signatures"][0]
    name = f"{sig['error_category']} {sig['error_type']}: {sig['signature']}"
    assert table[("signature", name, "count")] == str(sig["count"])


def test_text_view_names_every_section(world: tuple[Path, list[Truth]]) -> None:
    root, _ = world
    code, out, _ = run("--from", str(root))
    assert code == 0
    for heading in (
        "Sessions:",
        "duplicates counted once",
        "Steps",
        "p95",
        "By installer version",
        "By OS",
        "By accelerator",
        "Failures by category",
        "Most frequent error signatures",
        "e.g. ",
    ):
        assert heading in out, heading


def test_workers_and_the_standard_parser_give_the_same_report(
    world: tuple[Path, list[Truth]], monkeypatch: pytest.MonkeyPatch
) -> None:
    root, _ = world
    one = fleet.build([str(root)], workers=1).to_dict()
    two = fleet.build([str(root)], workers=2).to_dict()
    assert one == two
    monkeypatch.setattr(intake, "_fast_loads", None)
    assert fleet.build([str(root)], workers=1).to_dict() == one


def test_one_and_two_workers_print_the_same_report(
    world: tuple[Path, list[Truth]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The whole sanitized report, key order included: workers send partial reports per batch
    of files and a batch sharing a session with an earlier one is read again in order, so the
    first copy of a session counts however the files were split."""
    from otel_local_exporter import Sanitizer

    root, _ = world

    def report(workers: int) -> str:
        built = fleet.build([str(root)], workers=workers)
        return json.dumps(built.to_dict(top=1000, sanitizer=Sanitizer()))

    one = report(1)
    assert json.loads(one)["duplicates"] > 0  # overlapping exports cross batches
    assert report(2) == one
    assert report(3) == one
    monkeypatch.setattr(fleet, "BATCH_FILES", 1)  # one file a batch: every overlap read again
    assert report(2) == one


@pytest.mark.parametrize(
    ("messages", "folded"),
    [
        (
            [
                "download of <URL> stopped at 1024 of 2048 bytes",
                "download of <URL> stopped at 77 of 9001 bytes",
            ],
            "download of <URL> stopped at <N> of <N> bytes",
        ),
        (
            [
                "cannot open /opt/dinoair/run1/x.part: disk full",
                "cannot open C:\\DinoAir\\models\\y.part: disk full",
                "cannot open <PATH>/ComfyUI/z.part: disk full",
            ],
            "cannot open <PATH>: disk full",
        ),
        (
            [
                "request 6f1c2d3e-4b5a-6978-8899-aabbccddeeff failed (sha deadbeef00112233)",
                "request 00000000-1111-2222-3333-444455556666 failed (sha 0x1f2e3d)",
            ],
            "request <ID> failed (sha <HEX>)",
        ),
        (
            ["no module named 'torch'", 'no module named "torchvision"'],
            "no module named <Q>",
        ),
    ],
)
def test_signatures_fold_what_varies(messages: list[str], folded: str) -> None:
    assert {fold(m) for m in messages} == {folded}


def test_signature_rules_skipped_by_their_needles_could_not_have_matched(
    world: tuple[Path, list[Truth]],
) -> None:
    """Each rule runs only on lines holding its needles: the same result as running them all."""
    _, truths = world
    messages = {t.failure[4] for t in truths if t.failure} | {
        "C:\\x\\y failed at 0x1f after 3 tries",
        "no \"module\" named 'a/b' at https://x.test/p?q=1",
        "id 00000000-1111-2222-3333-444455556666 - <PATH>/a - ok",
        "plain words only",
        "",
    }
    for message in messages:
        line = message.strip().split("\n", 1)[0][:500]
        for pattern, replacement, _ in _FOLD_RULES:
            line = pattern.sub(replacement, line)
        assert fold(message) == line.strip()[:200], message


def test_signatures_keep_what_differs() -> None:
    assert fold("disk full") != fold("permission denied")
    assert fold("Python 3.9 is not supported") == "Python <N> is not supported"


def test_a_session_file_and_a_single_document_are_read_too(tmp_path: Path) -> None:
    import random

    from fixtures.bundles import random_truth

    truth = random_truth(random.Random(3), "ab" * 16)
    doc = session_doc(truth)
    (tmp_path / "session_x.json").write_text(json.dumps(doc, indent=2))
    (tmp_path / "bundle.json").write_bytes(json_bundle([doc]))
    data = fleet.build([str(tmp_path)]).to_dict()
    assert data["sessions"] == 1 and data["duplicates"] == 1
    assert data["results"] == {truth.result: 1}


def test_without_from_paths_are_refused() -> None:
    result = CliRunner().invoke(cli, ["report", "some/path"])
    assert result.exit_code == 2 and "--from" in result.output
    result = CliRunner().invoke(cli, ["report", "--csv"])
    assert result.exit_code == 2
