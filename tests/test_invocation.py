"""Every command a hint names works when copied: from a clone (``python3 install.py``, where
neither entry point is on PATH), with the entry points on PATH, and as ``python -m installer``.

Each case is a real run of the installer (``--only preflight`` on the demo fixture) whose
closing line names the command that continues the install, and whose telemetry line names the
command that shows the session; the named command is then run for real.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from fixtures.demo_fixture import Fixture, build_fixture
from otel_local_exporter import TelemetryConfig

REPO = Path(__file__).resolve().parent.parent
BIN = str(Path(sys.executable).parent)
WITHOUT_ENTRY_POINTS = os.pathsep.join(
    p
    for p in os.environ.get("PATH", "").split(os.pathsep)
    if p and Path(p).resolve() != Path(BIN).resolve()
)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Fixture:
    return build_fixture(tmp_path_factory.mktemp("fixture"), model_base_url="http://127.0.0.1:9")


def run(argv: list[str], cwd: Path, home: Path, path: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DINOAIR_HOME": str(home), "PATH": path, "PIP_CONFIG_FILE": os.devnull}
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def hints(demo: Fixture, tmp_path: Path, launcher: list[str], cwd: Path, path: str):
    home = tmp_path / "home"
    config = TelemetryConfig.load(home)
    config.enable()
    config.save()
    target = tmp_path / "T"
    argv = [*launcher, "--target", str(target), "--manifest", str(demo.manifest), "--yes"]
    done = run([*argv, "--only", "preflight"], cwd, home, path)
    assert done.returncode == 0, done.stdout + done.stderr
    [again] = [line for line in done.stdout.splitlines() if line.startswith("To install: ")]
    [kept] = [line for line in done.stdout.splitlines() if "kept locally (`" in line]
    return again.removeprefix("To install: "), kept.split("(`", 1)[1].rstrip("`).")


def test_from_a_clone_the_hints_name_the_scripts(demo: Fixture, tmp_path: Path) -> None:
    again, show = hints(demo, tmp_path, [sys.executable, "install.py"], REPO, WITHOUT_ENTRY_POINTS)
    assert again.startswith("python3 install.py --target ")
    assert show == f"DINOAIR_HOME={tmp_path / 'home'} python3 telemetry_cli.py show-data --latest"
    # Run as the user would copy it (python3 here is this venv's, as the front door would hand over)
    shown = run(
        [sys.executable, "telemetry_cli.py", "show-data", "--latest"],
        REPO,
        tmp_path / "home",
        WITHOUT_ENTRY_POINTS,
    )
    assert shown.returncode == 0 and "preflight" in shown.stdout, shown.stderr
    # dinoair-telemetry's own hints are spelled by the same rule
    listed = run(
        [sys.executable, "telemetry_cli.py", "show-data"],
        REPO,
        tmp_path / "home",
        WITHOUT_ENTRY_POINTS,
    )
    assert listed.returncode == 0, listed.stderr
    assert (
        f"Details: DINOAIR_HOME={tmp_path / 'home'} python3 telemetry_cli.py show-data <session>"
        in listed.stdout
    )


def test_from_another_folder_the_scripts_are_named_by_their_path(
    demo: Fixture, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    again, show = hints(
        demo, tmp_path, [sys.executable, str(REPO / "install.py")], elsewhere, WITHOUT_ENTRY_POINTS
    )
    assert again.startswith(f"python3 {shlex.quote(str(REPO / 'install.py'))} --target ")
    assert f"python3 {shlex.quote(str(REPO / 'telemetry_cli.py'))} show-data" in show


def test_with_the_entry_points_on_path_the_hints_name_them(demo: Fixture, tmp_path: Path) -> None:
    path = os.pathsep.join((BIN, WITHOUT_ENTRY_POINTS))
    again, show = hints(demo, tmp_path, [sys.executable, "-m", "installer"], tmp_path, path)
    assert again.startswith("dinoair-install --target ")
    assert show.endswith(" dinoair-telemetry show-data --latest")
    done = run([*shlex.split(again), "--dry-run"], tmp_path, tmp_path / "home", path)
    assert done.returncode == 0 and "preflight" in done.stdout, done.stderr  # the command runs
    listed = run(["dinoair-telemetry", "show-data"], tmp_path, tmp_path / "home", path)
    assert listed.returncode == 0, listed.stderr
    assert (
        f"Details: DINOAIR_HOME={tmp_path / 'home'} dinoair-telemetry show-data " in listed.stdout
    )


def test_without_them_the_hints_name_this_python(demo: Fixture, tmp_path: Path) -> None:
    again, show = hints(
        demo, tmp_path, [sys.executable, "-m", "installer"], tmp_path, WITHOUT_ENTRY_POINTS
    )
    assert again.startswith(f"{shlex.quote(sys.executable)} -m installer --target ")
    assert show.endswith(f"{shlex.quote(sys.executable)} -m telemetry_cli show-data --latest")
    shown = run(
        shlex.split(show.split(" ", 1)[1]), tmp_path, tmp_path / "home", WITHOUT_ENTRY_POINTS
    )
    assert shown.returncode == 0 and "preflight" in shown.stdout, shown.stderr
