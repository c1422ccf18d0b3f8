"""``report`` and ``report --from`` count the lifecycle (issue 18, point 7): updates per release,
rollbacks in the run and by the next run's recovery, updates completed by recovery, and repairs.

Every session here is written by a real run of the installer (``python -m installer``, the real
SDK and exporter) on a real install of the demo fixture; the "killed" update a recovery finds is
the real ``comfyui`` step run in this process, stopped before the run's end (what a SIGKILL
leaves: the checkout moved, the journal written). python_deps is skipped, so no venv is built.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from fixtures.commands import install_command
from fixtures.demo_fixture import Fixture
from fixtures.model_server import ModelServer
from installer.lifecycle import transaction
from installer.steps import comfyui
from otel_local_exporter import SpanView, load_sessions
from telemetry_cli.cli import cli as telemetry_cli
from telemetry_cli.phases import phase_details
from tests.contexts import make_ctx
from tests.test_lifecycle_remove import demo, installed, run

__all__ = ["demo", "installed"]  # the fixtures: one real install of the demo release

ARGS = ["--skip", "python_deps", "--skip", "webgui", "--retries", "0"]


def manifest_for(demo: Fixture, folder: Path, ref: str, *, dead_model: bool = False) -> Path:
    """The demo manifest naming ``ref``; ``dead_model`` adds a checkpoint no server serves, so
    the run's ``models`` step fails after the update (and the run rolls it back)."""
    data = json.loads(demo.manifest.read_text())
    data["comfyui"] = {**data["comfyui"], "ref": ref}
    if dead_model:
        extra = {**data["checkpoints"][0], "name": "missing.safetensors"}
        extra["url"] = "http://127.0.0.1:9/missing.safetensors"
        data["checkpoints"] = [*data["checkpoints"], extra]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "manifest.json"
    path.write_text(json.dumps(data))
    return path


def killed_update(target: Path, manifest: Path, *, verified: bool = False) -> None:
    """What a run killed during an update leaves: the checkout moved, the journal written;
    ``verified``: killed once the run had succeeded, during the swap of its new venv (state
    ``swapping``)."""
    comfyui.run(make_ctx(target, manifest))
    journal = transaction.load(target)
    assert journal is not None
    if verified:
        (target / journal.new_venv).mkdir()
        journal.state = transaction.SWAPPING
        journal.save(target)


@pytest.fixture(scope="module")
def lived(
    installed: Path, demo: Fixture, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Path, Fixture]]:
    """An install's life, each run recorded in one consented telemetry home."""
    folder = tmp_path_factory.mktemp("life")
    home = folder / ".dinoair"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DINOAIR_HOME", str(home))
        from otel_local_exporter import TelemetryConfig

        config = TelemetryConfig.load(home)
        config.enable()
        config.save()
        target = folder / "DinoAir"
        shutil.copytree(installed, target, symlinks=True)
        nxt = manifest_for(demo, folder / "next", demo.next_tag)
        first = manifest_for(demo, folder / "first", demo.tag)
        broken = manifest_for(demo, folder / "broken", demo.broken_tag, dead_model=True)

        # 1. an update to the next release
        done = run(install_command(target, nxt, *ARGS))
        assert done.returncode == 0, done.stdout + done.stderr
        # 2. an update back to the first release, killed; the next run rolls it back, then
        #    updates again
        killed_update(target, first)
        done = run(install_command(target, first, *ARGS))
        assert done.returncode == 0, done.stdout + done.stderr
        assert f"An interrupted update to {demo.tag} was rolled back" in done.stdout
        # 3. an update to the next release killed during its venv swap: the next run completes it
        killed_update(target, nxt, verified=True)
        done = run(install_command(target, nxt, *ARGS))
        assert done.returncode == 0, done.stdout + done.stderr
        assert f"Completed the interrupted update to {demo.next_tag}." in done.stdout
        # 4. an update whose run fails after the checkout moved: rolled back in the run
        done = run(install_command(target, broken, *ARGS))
        assert done.returncode == 1
        assert f"The update to {demo.broken_tag} was rolled back" in done.stderr
        # 5. two repairs: one model file rotted (fetched again), then nothing to fix
        model = target / "models/checkpoints" / demo.models[0].name
        model.write_bytes(b"\0" * demo.models[0].size)
        with ModelServer(demo.models_dir) as server:
            repaired = manifest_for(demo, folder / "repair", demo.next_tag)
            data = json.loads(repaired.read_text())
            for checkpoint in data["checkpoints"]:
                checkpoint["url"] = f"{server.base_url}/{checkpoint['name']}"
            repaired.write_text(json.dumps(data))
            for _ in range(2):
                done = run(install_command(target, repaired, *ARGS, "--repair"))
                assert done.returncode == 0, done.stdout + done.stderr
        assert model.read_bytes() == demo.models[0].path.read_bytes()
        yield home, demo


def report(home: Path, *args: str) -> str:
    return "\n".join(_telemetry(home, "report", *args))


def rows_of(data: dict) -> dict[str, dict]:
    return {row["release"]: row for row in data["releases"]}


def test_report_counts_rollbacks_by_recovery_beside_those_of_the_run(
    lived: tuple[Path, Fixture],
) -> None:
    home, demo = lived
    assert len(load_sessions(home).files) == 6
    rows = rows_of(json.loads(report(home, "--json")))
    zero = {"rollbacks": 0, "recovery_rollbacks": 0, "recovery_completed": 0, "recovery_failed": 0}
    assert rows == {
        # updated to by run 1 (the killed run 3 recorded nothing), completed by run 3's recovery
        demo.next_tag: {
            "release": demo.next_tag,
            **zero,
            "updates": 1,
            "recovery_completed": 1,
            "rollback_rate": 0.0,
        },
        # run 2: its recovery rolled the killed update back, then it updated again
        demo.tag: {
            "release": demo.tag,
            **zero,
            "updates": 1,
            "recovery_rollbacks": 1,
            "rollback_rate": 1.0,
        },
        demo.broken_tag: {
            "release": demo.broken_tag,
            **zero,
            "updates": 1,
            "rollbacks": 1,
            "rollback_rate": 1.0,
        },
    }


def test_report_shows_the_repairs_and_what_they_fixed(lived: tuple[Path, Fixture]) -> None:
    home, _demo = lived
    data = json.loads(report(home, "--json"))
    assert data["repairs"] == {
        "runs": 2,
        "results": {"repaired": 1, "nothing_to_fix": 1},
        "fixed": [{"kind": "models_fixed", "runs": 1, "items": 1}],
    }
    text = report(home).splitlines()
    start = text.index("Repairs")
    assert text[start + 1] == "  2 runs with --repair (1 repaired, 1 nothing to fix)"
    assert text[start + 3].split() == ["model", "files", "fetched", "again", "1", "1"]
    updates = text.index("Updates by release")
    header = text[updates + 1]
    for column in ("rolled back by recovery", "completed by recovery", "rollback rate"):
        assert column in header


@pytest.mark.parametrize("fmt", ["json", "otlp"])
def test_report_from_an_export_counts_the_same(
    lived: tuple[Path, Fixture], tmp_path: Path, fmt: str
) -> None:
    """A JSON bundle, or OTLP lines (one TracesData a line, read span by span): the same rows."""
    home, demo = lived
    local = json.loads(report(home, "--json"))
    exported = tmp_path / f"export.{fmt}"
    _telemetry(home, "export", str(exported), "--format", fmt)
    one = json.loads(report(home, "--from", str(exported), "--json", "--min-group", "1"))
    assert one["sessions"] == 6
    assert one["releases"] == local["releases"]
    assert one["repairs"] == local["repairs"]
    assert one["suppressed"]["releases"] == 0
    out = report(home, "--from", str(exported), "--csv", "--min-group", "1")
    rows = list(csv.reader(io.StringIO(out)))
    assert ["release", demo.tag, "recovery_rollbacks", "1"] in rows
    assert ["release", demo.next_tag, "recovery_completed", "1"] in rows
    assert ["repair_fixed", "models_fixed", "items", "1"] in rows


def _as_install(data: dict, install: str, keep: object) -> dict:
    """The bundle as another install would have sent it: other session ids, sessions kept
    when ``keep(session)``."""
    copy = json.loads(json.dumps(data))
    copy["config"]["install_id"] = install
    sessions = [s for s in copy["sessions"] if keep(s)]
    for session in sessions:
        session["session_id"] = install[:8] + session["session_id"][8:]
    copy["sessions"] = sessions
    return copy


def test_report_from_folds_a_release_of_fewer_installs_than_min_group(
    lived: tuple[Path, Fixture], tmp_path: Path
) -> None:
    """Five installs updated to the two demo releases; one of them also tried the broken one:
    that release's row would describe one person, so it goes into 'other'."""
    home, demo = lived
    _telemetry(home, "export", str(tmp_path / "mine.json"))
    data = json.loads((tmp_path / "mine.json").read_text())
    folder = tmp_path / "bundles"
    folder.mkdir()
    (folder / "0.json").write_text(json.dumps(data))

    def not_broken(session: dict) -> bool:
        return demo.broken_tag not in json.dumps(session)

    for i in range(1, 5):
        other = _as_install(data, f"{i:x}" * 32, not_broken)
        (folder / f"{i}.json").write_text(json.dumps(other))

    out = json.loads(report(home, "--from", str(folder), "--json"))
    assert out["min_group"] == 5 and out["suppressed"]["releases"] == 1
    rows = rows_of(out)
    assert set(rows) == {demo.tag, demo.next_tag, "other"}
    assert rows[demo.tag]["updates"] == 5 and rows[demo.tag]["recovery_rollbacks"] == 5
    assert rows[demo.next_tag]["recovery_completed"] == 5
    assert rows["other"] == {
        "release": "other",
        "updates": 1,
        "rollbacks": 1,
        "recovery_rollbacks": 0,
        "recovery_completed": 0,
        "recovery_failed": 0,
        "rollback_rate": 1.0,
        "groups": 1,
    }
    assert demo.broken_tag not in json.dumps(out["releases"])
    text = report(home, "--from", str(folder))
    assert "1 release of fewer than 5 installs folded into 'other' (--min-group)" in text
    assert demo.broken_tag not in text.split("Updates by release")[1].split("Repairs")[0]
    out6 = json.loads(report(home, "--from", str(folder), "--json", "--min-group", "6"))
    assert [row["release"] for row in out6["releases"]] == ["other"]


def _sessions_with(home: Path, phase: str) -> list[str]:
    """The ids of the sessions with a ``dinoair.phase.<phase>`` span, oldest first (by when
    the run started: file names stamp whole seconds, and two re-runs fit in one)."""
    found = sorted(
        load_sessions(home).files,
        key=lambda stored: min(span["start_time"] for span in stored.data["spans"]),
    )
    return [
        stored.data["session_id"]
        for stored in found
        if any(s["name"] == f"dinoair.phase.{phase}" for s in stored.data["spans"])
    ]


def _telemetry(home: Path, *args: str) -> list[str]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DINOAIR_HOME", str(home))
        result = CliRunner().invoke(telemetry_cli, list(args))
    assert result.exit_code == 0, result.output
    return [line.rstrip() for line in result.output.splitlines()]


def _below(lines: list[str], span: str) -> list[str]:
    """The detail lines drawn under ``span``'s row of a waterfall."""
    start = next(i for i, line in enumerate(lines) if f" {span} " in line)
    details = []
    for line in lines[start + 1 :]:
        if "─ " in line or not line.strip(" │") or line.startswith("```"):
            break
        details.append(line.strip(" │"))
    return details


def test_show_data_and_report_issue_say_what_recovery_and_repair_did(
    lived: tuple[Path, Fixture],
) -> None:
    home, demo = lived
    rolled_back, swapped = _sessions_with(home, "recover")
    lines = _telemetry(home, "show-data", rolled_back[:12])
    assert _below(lines, "dinoair.phase.recover") == [
        f"recovery of an update to {demo.tag} (from {demo.head_commit[:12]}) killed before "
        "its venv swap: rolled back"
    ]
    lines = _telemetry(home, "show-data", swapped[:12])
    assert _below(lines, "dinoair.phase.recover") == [
        f"recovery of an update to {demo.next_tag} (from {demo.commit[:12]}) killed during its "
        "venv swap: completed (the new venv swapped in)"
    ]
    repaired, nothing = _sessions_with(home, "repair")
    assert _below(_telemetry(home, "show-data", repaired[:12]), "dinoair.phase.repair") == [
        "repair: repaired",
        "checked: checkout 1, models 2, scripts 3",
        "fixed: models 1",
        "records_reset 1",
    ]
    assert _below(_telemetry(home, "show-data", nothing[:12]), "dinoair.phase.repair")[:3] == [
        "repair: nothing needed fixing",
        "checked: checkout 1, models 2, scripts 3",
        "fixed: nothing",
    ]
    # The draft of a bug report about the failed update: its waterfall says what was undone.
    [failed] = _sessions_with(home, "rollback")
    draft = _telemetry(home, "report-issue", failed[:12])
    assert _below(draft, "dinoair.phase.update") == [
        f"from {demo.head_commit[:12]} to {demo.broken_tag} "
        f"({_commit_of(demo, demo.broken_tag)[:12]}): updated"
    ]
    assert _below(draft, "dinoair.phase.rollback") == [
        f"the update to {demo.broken_tag} undone, back to {demo.head_commit[:12]}: rolled back"
    ]
    # and that of a run whose recovery rolled back (it succeeded; drafted by its id)
    draft = _telemetry(home, "report-issue", rolled_back[:12])
    assert any("recovery of an update to" in line for line in draft)


def _commit_of(demo: Fixture, tag: str) -> str:
    return subprocess.run(
        ["git", "-C", str(demo.repo), "rev-list", "-n", "1", tag],
        text=True,
        capture_output=True,
        check=True,
    ).stdout.strip()


def _span(name: str, **attributes: object) -> SpanView:
    """A span in the stored shape (what a session file holds)."""
    prefixed = {f"installer.phase.{key}": value for key, value in attributes.items()}
    return SpanView({"name": name, "attributes": {"installer.phase": "x", **prefixed}})


def test_other_phases_list_their_attributes_and_other_spans_get_nothing() -> None:
    assert phase_details(_span("dinoair.phase.pull", model="qwen:7b")) == ["model qwen:7b"]
    assert phase_details(_span("dinoair.phase.reuse_models", folders=2, result="none_found")) == [
        "reuse_models: none found",
        "folders 2",
    ]
    assert phase_details(_span("dinoair.phase.uninstall", keep_models=True, result="success")) == [
        "uninstall: success",
        "keep_models yes",
    ]
    # a recovery killed itself before it recorded its result: said so, not guessed
    assert phase_details(_span("dinoair.phase.recover", to_release="v1", from_commit="abc")) == [
        "recovery of an update to v1 (from abc) killed (state not recorded): result not recorded"
    ]
    assert phase_details(_span("dinoair.install")) == []
    assert phase_details(SpanView({"name": "preflight", "attributes": {}})) == []


def test_odd_values_in_phase_spans_are_read_as_absent(tmp_path: Path) -> None:
    """Other people's files: a phase span with values of the wrong type counts what it can."""
    odd = {
        "session_id": "ab" * 16,
        "spans": [
            {"name": "dinoair.install", "parent_span_id": None, "attributes": {}},
            *(
                {"name": f"dinoair.phase.{name}", "parent_span_id": "1", "attributes": attrs}
                for name, attrs in (
                    ("update", {"installer.phase.to_release": ["v1"]}),
                    ("recover", {"installer.phase.result": 5}),
                    ("recover", {"installer.phase.result": "swapped"}),
                    ("repair", {"installer.phase.models_fixed": True, "x": 1}),
                    ("repair", {"installer.phase.models_fixed": "2"}),
                )
            ),
        ],
    }
    path = tmp_path / "odd.json"
    path.write_text(json.dumps(odd))
    result = CliRunner().invoke(telemetry_cli, ["report", "--from", str(path), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["suppressed"]["releases"] == 1  # one file: one install, below 5
    [row] = data["releases"]
    assert (row["updates"], row["recovery_completed"], row["groups"]) == (1, 1, 1)
    assert data["repairs"] == {"runs": 1, "results": {"not recorded": 1}, "fixed": []}
    lines = phase_details(SpanView(odd["spans"][4]))
    assert lines[0] == "repair: result not recorded" and lines[2] == "fixed: nothing"
