"""The closing lines say what the folder holds (issue 22, findings 2, 6 and 7): "installed" only
when every step of the install is done now or earlier, the steps that never ran named, and a bug
report offered only for what looks like a bug, never naming a folder that does not exist."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from fixtures.demo_fixture import Fixture, build_fixture
from installer.closing import closing_lines, never_ran, summary_counts
from installer.runner import StepResult
from installer.steps import STEP_NAMES


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Fixture:
    # Models on a closed port: a run that reaches `models` fails there (network).
    return build_fixture(tmp_path_factory.mktemp("fixture"), model_base_url="http://127.0.0.1:9")


# The venv's bin first, so the hints name the entry points (tests/test_invocation.py has the rest).
ON_PATH = os.pathsep.join((str(Path(sys.executable).parent), os.environ.get("PATH", "")))


def install(
    target: Path, manifest: Path, home: Path, *args: str
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "UV_"))}
    env.update(DINOAIR_HOME=str(home), PIP_CONFIG_FILE=os.devnull, PATH=ON_PATH)
    return subprocess.run(
        [
            *(sys.executable, "-m", "installer", "--target", str(target)),
            *("--manifest", str(manifest), "--yes", "--disable-telemetry"),
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )


def test_only_preflight_says_nothing_was_installed_and_what_to_run(
    demo: Fixture, tmp_path: Path
) -> None:
    target = tmp_path / "T"
    done = install(target, demo.manifest, tmp_path / "home", "--only", "preflight")
    assert done.returncode == 0, done.stderr
    assert "is installed" not in done.stdout
    lines = done.stdout.splitlines()
    assert lines[-2] == "Nothing was installed: only preflight ran."
    assert lines[-3].startswith(
        "  - left out by --only/--skip: comfyui, python_deps, custom_nodes, verify"
    )
    assert lines[-1].startswith(f"To install: dinoair-install --target {target} --manifest ")


def test_a_skipped_step_makes_it_partly_installed(demo: Fixture, tmp_path: Path) -> None:
    target = tmp_path / "T"
    done = install(target, demo.manifest, tmp_path / "home", "--no-models", "--skip", "webgui")
    assert done.returncode == 0, done.stderr
    assert "is installed" not in done.stdout
    assert f"Partly installed in {target}: webgui did not run (left out by --only/--skip)." in (
        done.stdout
    )
    assert "To install the rest: dinoair-install --target" in done.stdout
    # The rest installed now, --only webgui completes it: the earlier steps count (the summary).
    again = install(target, demo.manifest, tmp_path / "home", "--no-models", "--only", "webgui")
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines()[-1] == (
        f"DinoAir is installed in {target}. Start it with {target / 'start.sh'}"
    )


def test_a_failed_step_names_what_is_missing_and_offers_a_bug_report(
    demo: Fixture, tmp_path: Path
) -> None:
    target = tmp_path / "T"
    home = tmp_path / "home"
    done = install(target, demo.manifest, home, "--skip", "webgui")
    assert done.returncode == 1
    assert "is installed" not in done.stdout + done.stderr
    assert f"Partly installed in {target}: models failed; webgui" in done.stderr
    assert "finalize did not run (models failed)" in done.stderr
    assert done.stderr.splitlines()[-1] == (
        f"Draft a bug report: DINOAIR_HOME={home} dinoair-telemetry report-issue "
        f"--install-dir {target}"
    )


def test_an_invalid_manifest_gets_a_fix_hint_not_a_bug_report(tmp_path: Path) -> None:
    manifest = tmp_path / "manifest.json"
    manifest.write_text("{not json")
    target = tmp_path / "never-created"
    done = install(target, manifest, tmp_path / "home")
    assert done.returncode == 1
    assert "Nothing was installed: preflight failed." in done.stderr
    assert "not valid JSON" in done.stderr and "fix the manifest" in done.stderr
    assert "report-issue" not in done.stderr + done.stdout
    assert not target.exists() and str(target) not in done.stderr


def test_cancelled_names_the_steps_that_never_ran(tmp_path: Path) -> None:
    target = tmp_path / "T"
    target.mkdir()
    steps = [StepResult(n, "completed") for n in STEP_NAMES[: STEP_NAMES.index("verify") + 1]]
    steps += [
        StepResult("workflows", "completed"),
        StepResult("ollama_models", "skipped", reason="ollama_not_found"),
    ]
    steps.append(StepResult("models", "cancelled"))
    not_run = never_ran(steps, STEP_NAMES)
    assert not_run == ["webgui", "finalize"]
    assert summary_counts(steps, not_run) == (
        "Summary: 6 completed, 1 skipped, 1 cancelled, 2 not run (webgui, finalize)"
    )
    lines = closing_lines(steps, STEP_NAMES, target, "dinoair-install")
    assert lines == [
        f"Partly installed in {target}: models, webgui and finalize did not finish (cancelled).",
        "To install the rest: dinoair-install",
    ]


def test_a_crash_outside_any_step_offers_a_report_without_a_missing_folder(
    tmp_path: Path,
) -> None:
    from installer.cli import report_hint

    missing = tmp_path / "nope"
    assert "--install-dir" not in report_hint(missing)
    assert report_hint(tmp_path).endswith(f"--install-dir {tmp_path}")


# -- plans that match what will run (finding 3) ---------------------------------------------------


def test_units_are_binary_everywhere() -> None:
    from installer.units import size

    assert size(768 * 1024) == "768 KiB"
    assert size(3 * 2**20) == "3.0 MiB"
    assert size(7_272_719_498) == "6.8 GiB"
    assert size(512) == "512 B"


def test_dry_run_without_ollama_promises_no_pull_and_a_first_install_verifies(
    demo: Fixture, tmp_path: Path
) -> None:
    bin_dir = tmp_path / "bin"  # git and python only: no ollama, no npm
    bin_dir.mkdir()
    for tool in ("git",):
        found = shutil.which(tool)
        assert found
        (bin_dir / tool).symlink_to(found)
    done = subprocess.run(
        [
            *(sys.executable, "-m", "installer", "--dry-run"),
            *("--target", str(tmp_path / "T"), "--manifest", str(demo.manifest)),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PATH": str(bin_dir), "DINOAIR_HOME": str(tmp_path / "home")},
    )
    assert done.returncode == 0, done.stderr
    plan = {
        line.split()[1]: line
        for line in done.stdout.splitlines()
        if line[:4].strip()[:-1].isdigit()
    }
    assert "ollama pull" not in plan["ollama_models"]
    assert "skip: no Ollama here and no Ollama archive for" in plan["ollama_models"]
    assert "run: import torch" in plan["verify"] and "nothing_installed" not in done.stdout
    for line in plan.values():
        assert line.split(maxsplit=2)[2].startswith(("run: ", "skip: ")), line
    assert " GB" not in done.stdout and " MB" not in done.stdout
    sizes = re.findall(r"\d[\d.]* [KMG]iB", plan["models"] + done.stdout.splitlines()[-1])
    assert len(sizes) == 2 and sizes[0] == sizes[1], sizes


# -- an ignored telemetry_config.json is said once (finding 7) -----------------------------------


def test_an_invalid_telemetry_config_is_said_once_in_one_line(
    demo: Fixture, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "telemetry_config.json").write_text("garbage{")
    done = subprocess.run(
        [
            *(sys.executable, "-m", "installer", "--target", str(tmp_path / "T")),
            *("--manifest", str(demo.manifest), "--yes", "--only", "preflight"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "DINOAIR_HOME": str(home), "PATH": ON_PATH},
    )
    assert done.returncode == 0, done.stderr
    said = [line for line in (done.stdout + done.stderr).splitlines() if "telemetry_config" in line]
    assert len(said) == 1, said
    assert said[0].startswith("Telemetry is off: telemetry_config.json is invalid: ")
    assert f"`DINOAIR_HOME={home} dinoair-telemetry status` explains it" in said[0]


def test_the_telemetry_hint_carries_the_home_the_run_used(demo: Fixture, tmp_path: Path) -> None:
    from otel_local_exporter import TelemetryConfig

    home = tmp_path / "home"
    config = TelemetryConfig.load(home)
    config.enable()
    config.save()
    done = subprocess.run(
        [
            *(sys.executable, "-m", "installer", "--target", str(tmp_path / "T")),
            *("--manifest", str(demo.manifest), "--yes", "--only", "preflight"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "DINOAIR_HOME": str(home), "PATH": ON_PATH},
    )
    assert done.returncode == 0, done.stderr
    assert f"(`DINOAIR_HOME={home} dinoair-telemetry show-data --latest`)" in done.stdout


def test_a_failed_preflight_over_a_partial_install_does_not_say_nothing_is_there(
    tmp_path: Path,
) -> None:
    import json

    target = tmp_path / "T"
    target.mkdir()
    earlier = [
        {"name": n, "status": "completed"}
        for n in ("preflight", "comfyui", "python_deps", "custom_nodes")
    ]
    (target / "install_summary.json").write_text(json.dumps({"steps": earlier}))
    steps = [StepResult("preflight", "failed")]
    steps += [StepResult(n, "skipped", reason="dependency_failed") for n in STEP_NAMES[1:]]
    lines = closing_lines(steps, STEP_NAMES, target, "dinoair-install")
    assert lines == [
        f"Partly installed in {target}: preflight failed; verify, workflows, ollama_models, "
        "models, webgui and finalize did not run (preflight failed)."
    ]


@pytest.mark.parametrize("status", ["failed", "cancelled"])
def test_a_step_that_broke_off_over_a_finished_install_is_not_vouched_for(
    tmp_path: Path, status: str
) -> None:
    """A re-run whose python_deps failed (say, the torch index unreachable mid-install) was
    changing the venv in place: the earlier run's record no longer vouches for it, so the
    closing line must not say "DinoAir is installed"."""
    import json

    target = tmp_path / "T"
    target.mkdir()
    (target / "start.sh").write_text("#!/bin/sh\n")
    earlier = [{"name": n, "status": "completed"} for n in STEP_NAMES]
    (target / "install_summary.json").write_text(json.dumps({"steps": earlier}))
    steps = [StepResult(n, "completed") for n in ("preflight", "comfyui", "models", "webgui")]
    steps.append(StepResult("python_deps", status))
    if status == "failed":
        steps += [
            StepResult(n, "skipped", reason="dependency_failed")
            for n in ("custom_nodes", "verify", "finalize")
        ]
    lines = closing_lines(steps, STEP_NAMES, target, "dinoair-install")
    assert not any("is installed" in line for line in lines), lines
    assert lines[0].startswith(f"Partly installed in {target}: python_deps ")
