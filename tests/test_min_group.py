"""report --from --min-group K: no row describes fewer than K distinct installs (k-anonymity)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from click.testing import CliRunner

from fixtures.bundles import Truth, json_bundle, session_doc
from telemetry_cli.cli import cli


def _bundle(folder: Path, name: str, install: str, os_name: str, n: int, offset: int) -> None:
    docs = [
        session_doc(
            Truth(f"{offset + i + 1:032x}", "0.2.0", os_name, "nvidia", "success",
                  (("preflight", "completed", 10.0),), None)
        )
        for i in range(n)
    ]  # fmt: skip
    data = json.loads(json_bundle(docs))
    data["config"]["install_id"] = install
    (folder / name).write_text(json.dumps(data))


def _world(folder: Path) -> Path:
    for i in range(5):  # five installs on Linux, one session each
        _bundle(folder, f"linux{i}.json", f"{i:032x}", "linux", 1, i * 10)
    # one Windows install exporting twice (two files, one install), one macOS install
    _bundle(folder, "win-a.json", "a" * 32, "windows", 1, 100)
    _bundle(folder, "win-b.json", "a" * 32, "windows", 1, 110)
    _bundle(folder, "mac.json", "b" * 32, "darwin", 1, 120)
    return folder


def test_json_folds_small_groups_into_other(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["report", "--from", str(_world(tmp_path)), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    rows = {r["name"]: r for r in data["by_os"]}
    assert set(rows) == {"linux", "other"}, "windows (1 install, 2 files) and darwin are folded"
    assert rows["linux"]["sessions"] == 5
    assert rows["other"]["sessions"] == 3 and rows["other"]["groups"] == 2
    assert data["suppressed"]["by_os"] == 2 and data["min_group"] == 5
    assert "windows" not in result.output and "darwin" not in result.output


def test_min_group_one_shows_every_group(tmp_path: Path) -> None:
    args = ["report", "--from", str(_world(tmp_path)), "--json", "--min-group", "1"]
    data = json.loads(CliRunner().invoke(cli, args).output)
    assert {r["name"] for r in data["by_os"]} == {"linux", "windows", "darwin"}
    assert data["suppressed"]["by_os"] == 0


def test_text_and_csv_say_what_was_folded(tmp_path: Path) -> None:
    world = _world(tmp_path)
    text = CliRunner().invoke(cli, ["report", "--from", str(world)]).output
    assert "2 groups of fewer than 5 installs folded into 'other' (--min-group)" in text
    assert "windows" not in text and "darwin" not in text
    out = CliRunner().invoke(cli, ["report", "--from", str(world), "--csv"]).output
    rows = list(csv.reader(io.StringIO(out)))
    assert ["os", "other", "groups", "2"] in rows and ["total", "", "min_group", "5"] in rows
    assert not any(r[1] in ("windows", "darwin") for r in rows)


def test_a_group_of_k_installs_is_shown(tmp_path: Path) -> None:
    args = ["report", "--from", str(_world(tmp_path)), "--json", "--min-group", "2"]
    data = json.loads(CliRunner().invoke(cli, args).output)
    names = {r["name"] for r in data["by_os"]}
    assert "linux" in names and "windows" not in names, "two files of one install are one"
