"""``dinoair-telemetry report-issue``: a bug report drafted from a real session, sanitized again.

Sessions are recorded through the real exporter (``record_session``); the ``--open`` link is
captured by a fake browser: a script that is both ``xdg-open`` on ``PATH`` and ``$BROWSER``
(click hands the URL to ``xdg-open``, or to Python's ``webbrowser``, which honours ``BROWSER``).
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

import pytest

from installer.cli import report_hint
from installer.errors import ConfigurationError
from installer.manifest import default_manifest_path, load_manifest
from installer.steps import finalize
from telemetry_cli.issue import Draft, new_issue_url, tracker_url
from tests.contexts import make_ctx
from tests.reliability.conftest import install_crashing
from tests.test_telemetry_cli import (
    REPO,
    consent,
    record_crash,
    record_session,
    run,
    session_id,
    subprocess_env,
)
from tests.test_telemetry_cli import home as home  # the fixture

TOKEN = "hf_Qx7vT2mPz9LkR4sW8nB3cY6dF1gH5jK0aE"
TRACKER = "https://example.org/dino/air"
CUT_NOTE = "\n\n> The report was cut here"


def fake_browser(folder: Path) -> tuple[Path, Path]:
    """A browser command that writes the URL it was given to a file: (bin folder, capture)."""
    folder.mkdir()
    capture = folder / "opened.txt"
    script = folder / "xdg-open"
    script.write_text(
        f'#!/bin/sh\nprintf "%s" "$1" > "{capture}.tmp" && mv "{capture}.tmp" "{capture}"\n'
    )
    script.chmod(0o755)
    return folder, capture


def opened_url(capture: Path) -> str:
    deadline = time.monotonic() + 20
    while not capture.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    return capture.read_text()


def title_and_body(url: str) -> tuple[str, str]:
    parts = urllib.parse.urlsplit(url)
    query = urllib.parse.parse_qs(parts.query, keep_blank_values=True)
    assert parts.path.endswith("/issues/new")
    return query["title"][0], query["body"][0]


def hand_edited_session(home: Path) -> Path:
    """A failed session whose message carries a home path and a token (as if edited by hand)."""
    path = record_session(home, fail=True)
    doc = json.loads(path.read_text())
    secret = f"cannot read /home/zoe/models/x.bin with {TOKEN}"
    for event in doc["events"]:
        if event["event_type"] == "error":
            event["error_message"] = secret
    path.write_text(json.dumps(doc))
    return path


# -- the draft -----------------------------------------------------------------------------------


def test_the_draft_names_the_failed_step_and_holds_every_section(home: Path) -> None:
    consent(home)
    record_session(home)  # a success, newer ones below
    session = record_session(home, fail=True)
    record_crash(home, session)
    result = run("report-issue")
    assert result.exit_code == 0, result.output
    report = result.stdout
    assert report.splitlines()[0] == "# webgui: network (TimeoutError)"
    for needle in (
        "| Installer version | 0.1.0 |",
        "| OS | ",
        "| Python | ",
        "| Accelerator | not recorded",
        "| Failed step | webgui |",
        "- `--no-models`: `True`",
        "| webgui | failed |",
        "| models | skipped |",
        "## Waterfall",
        "└─ webgui",
        "**network** `TimeoutError` in step `webgui`",
        "download of the checkpoint timed out",
        "Traceback (most recent call last):",
        "Crash report (RuntimeError, sanitized):",
        "## Redaction summary",
        "Drafted by `dinoair-telemetry report-issue",
        "this text leaves the machine only if you post it",
    ):
        assert needle in report, needle
    assert "Nothing was sent" in result.stderr


def test_the_draft_is_sanitized_again_on_the_way_out(home: Path, tmp_path: Path) -> None:
    consent(home)
    hand_edited_session(home)
    out = tmp_path / "report.md"
    result = run("report-issue", "--latest", "-o", str(out))
    assert result.exit_code == 0, result.output
    report = out.read_text()
    assert TOKEN not in report and "/home/zoe" not in report and "zoe" not in report
    assert "- Replaced while drafting this report: path 1, secret 1." in report
    assert "`<PATH>` 2, `<SECRET>` 1" in report  # the traceback had a <PATH> already
    assert oct(out.stat().st_mode & 0o777) == oct(0o600)
    again = run("report-issue", "--latest", "-o", str(out))
    assert again.exit_code == 1 and "pass --force" in again.output


def test_the_accelerator_and_options_come_from_the_root_span(home: Path) -> None:
    """The hardware branch's root attributes (installer.system.*) reach the facts table."""
    from otel_local_exporter import attributes as attr
    from otel_local_exporter.tracing import configure_tracing

    consent(home)
    provider = configure_tracing("0.1.0", home=home)
    tracer = provider.get_tracer("t")
    with tracer.start_as_current_span(
        "dinoair.install",
        attributes={
            attr.INSTALLER_VERSION: "0.1.0",
            f"{attr.SYSTEM_PREFIX}accelerator": "nvidia",
            f"{attr.SYSTEM_PREFIX}gpu_model": "NVIDIA GeForce RTX 4090",
            f"{attr.SYSTEM_PREFIX}vram_gib": 24,
            f"{attr.ARG_PREFIX}gpu": "auto",
        },
    ) as root:
        with tracer.start_as_current_span(
            "step verify", attributes={attr.STEP_NAME: "verify"}
        ) as s:
            s.set_attribute(attr.STEP_STATUS, "failed")
        root.set_attribute(attr.RUN_RESULT, "failed")
    provider.shutdown()
    report = run("report-issue").stdout
    assert "| Accelerator | nvidia |" in report
    assert "| GPU | NVIDIA GeForce RTX 4090 |" in report and "| VRAM (GiB) | 24 |" in report
    assert "- `--gpu`: `auto`" in report
    assert report.splitlines()[0] == "# verify: failed"


def test_nothing_to_report(home: Path) -> None:
    assert "--install-dir" in run("report-issue").output
    consent(home)
    record_session(home)
    result = run("report-issue")
    assert result.exit_code == 1 and "every recorded session succeeded" in result.output
    assert run("report-issue", "--latest").stdout.startswith("# install: success")
    assert run("report-issue", "abc", "--latest").exit_code == 2
    assert "no session id starts with" in run("report-issue", "ffff0000").output


# -- --open --------------------------------------------------------------------------------------


def test_open_hands_the_browser_a_link_that_parses_back(home: Path, tmp_path: Path) -> None:
    consent(home)
    session = record_session(home, fail=True)
    record_crash(home, session)
    bin_dir, capture = fake_browser(tmp_path / "bin")
    full = tmp_path / "full.md"
    env = subprocess_env(
        home,
        PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        BROWSER=str(bin_dir / "xdg-open"),
        DINOAIR_ISSUE_TRACKER=TRACKER,
    )
    done = subprocess.run(
        [sys.executable, "-m", "telemetry_cli", "report-issue", "--open", "-o", str(full)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "Opened a prefilled new-issue page" in done.stderr
    url = opened_url(capture)
    assert url.startswith(f"{TRACKER}/issues/new?")
    title, body = title_and_body(url)
    report = full.read_text()
    assert report.splitlines()[0] == f"# {title}" == "# webgui: network (TimeoutError)"
    assert report == f"# {title}\n\n{body}"  # it fits whole: the body is the full one


def test_open_without_a_browser_prints_the_link(home: Path, tmp_path: Path) -> None:
    consent(home)
    record_session(home, fail=True)
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    env = {
        k: v
        for k, v in subprocess_env(home).items()
        if k not in ("BROWSER", "DISPLAY", "WAYLAND_DISPLAY")
    }
    env["PATH"] = str(empty)  # no browser of any kind can be found
    done = subprocess.run(
        [sys.executable, "-m", "telemetry_cli", "report-issue", "--open", "--repo", TRACKER],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "No browser to open" in done.stderr
    (url,) = done.stdout.splitlines()  # only the link: the report itself is not printed
    assert title_and_body(url)[0] == "webgui: network (TimeoutError)"


def test_a_long_report_is_cut_at_a_section_boundary() -> None:
    sections = [f"## Part {i}\n\n" + "word " * 300 for i in range(6)]
    draft = Draft("models: network (ConnectionResetError)", sections)
    url = new_issue_url(TRACKER, draft, limit=4000, full_file="report.md")
    assert len(url) <= 4000
    title, body = title_and_body(url)
    assert title == draft.title
    kept, note = body.split(CUT_NOTE)
    assert draft.body.startswith(kept) and draft.body[len(kept) :].startswith("\n\n## Part")
    assert "attach the full report (report.md)" in note
    assert 0 < kept.count("## Part") < 6
    whole = new_issue_url(TRACKER, draft, limit=100_000)
    assert title_and_body(whole)[1] == draft.body


# -- where the tracker comes from ----------------------------------------------------------------

PROJECT_TRACKER = "https://github.com/DinoPitStudios/DinoAir"  # manifest and [project.urls]


def installed_with_tracker(tmp_path: Path, tracker: str | None) -> Path:
    """An install folder whose ``install_summary.json`` the real finalize step wrote, from a copy
    of the default manifest whose ``project.issue_tracker`` is ``tracker`` (None: no field)."""
    data = json.loads(default_manifest_path().read_text())
    data.pop("project")
    if tracker is not None:
        data["project"] = {"issue_tracker": tracker}
    tmp_path.mkdir(parents=True, exist_ok=True)
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps(data))
    target = tmp_path / "DinoAir"
    finalize.run(make_ctx(target, manifest))
    return target


def test_the_manifest_carries_the_tracker_into_the_install_summary(tmp_path: Path) -> None:
    assert load_manifest().issue_tracker == PROJECT_TRACKER
    target = installed_with_tracker(tmp_path / "a", "https://example.org/team/dino")
    summary = json.loads((target / "install_summary.json").read_text())
    assert summary["project"] == {"issue_tracker": "https://example.org/team/dino"}
    assert summary["steps"][-1]["name"] == "finalize"  # the step's own summary, not a stand-in
    bare = installed_with_tracker(tmp_path / "b", None)
    assert "project" not in json.loads((bare / "install_summary.json").read_text())
    broken = json.loads(default_manifest_path().read_text())
    broken["project"] = {"issue_tracker": "file:///etc/passwd"}
    (tmp_path / "broken.json").write_text(json.dumps(broken))
    with pytest.raises(ConfigurationError, match=r"project\.issue_tracker"):
        load_manifest(tmp_path / "broken.json")


def test_the_tracker_is_option_then_environment_then_install_folder_then_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DINOAIR_ISSUE_TRACKER", raising=False)
    installed = installed_with_tracker(tmp_path / "a", "https://example.org/team/dino.git")
    without = installed_with_tracker(tmp_path / "b", None)
    # 4. package metadata ([project.urls] Repository): nothing else, or a folder that names none
    assert tracker_url() == PROJECT_TRACKER
    assert tracker_url(install_dir=without) == PROJECT_TRACKER
    assert tracker_url(install_dir=tmp_path / "missing") == PROJECT_TRACKER
    # 3. the install folder's install_summary.json
    assert tracker_url(install_dir=installed) == "https://example.org/team/dino"
    # 2. DINOAIR_ISSUE_TRACKER over the install folder
    monkeypatch.setenv("DINOAIR_ISSUE_TRACKER", "https://example.org/a/b.git")
    assert tracker_url(install_dir=installed) == "https://example.org/a/b"
    # 1. --repo over everything
    assert tracker_url("https://example.org/c/d/issues/", installed) == "https://example.org/c/d"
    with pytest.raises(LookupError):
        tracker_url("file:///etc/passwd")


def test_the_installers_hint_opens_the_install_folders_tracker(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The command the installer prints, run as printed: the link goes to the summary's tracker."""
    # The entry points on PATH, so the hint names them (tests/test_invocation.py: the rest).
    monkeypatch.setenv(
        "PATH", os.pathsep.join((str(Path(sys.executable).parent), os.environ["PATH"]))
    )
    consent(home)
    session = record_session(home, fail=True)
    target = installed_with_tracker(tmp_path / "x y", "https://example.org/team/dino")
    hint = report_hint(target, session_id(session))
    # A run with DINOAIR_HOME set prefixes it, so the copied command reads the same home.
    command = [w for w in shlex.split(hint.split(": ", 1)[1]) if not w.startswith("DINOAIR_HOME=")]
    assert command[:3] == ["dinoair-telemetry", "report-issue", session_id(session)[:12]]
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    env = {
        k: v
        for k, v in subprocess_env(home).items()
        if k not in ("BROWSER", "DISPLAY", "WAYLAND_DISPLAY", "DINOAIR_ISSUE_TRACKER")
    }
    env["PATH"] = str(empty)
    done = subprocess.run(
        [sys.executable, "-m", "telemetry_cli", *command[1:], "--open"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    (url,) = done.stdout.splitlines()
    assert url.startswith("https://example.org/team/dino/issues/new?")
    assert title_and_body(url)[0] == "webgui: network (TimeoutError)"  # the session, not the logs


# -- without telemetry ---------------------------------------------------------------------------


def test_without_consent_the_logs_make_the_report(home: Path, tmp_path: Path) -> None:
    target = tmp_path / "DinoAir"
    (target / "logs").mkdir(parents=True)
    (target / "logs" / "venv.log").write_text("$ python -m venv venv\nok\n")
    time.sleep(0.01)
    (target / "logs" / "pip.log").write_text(
        f"$ pip install -r requirements.txt\nERROR: cannot open /home/zoe/DinoAir/x ({TOKEN})\n"
    )
    result = run("report-issue", "--install-dir", str(target))
    assert result.exit_code == 0, result.output
    report = result.stdout
    assert report.splitlines()[0] == "# install failed: see pip.log (no trace kept)"
    assert "no trace was kept" in report and "`logs/pip.log`" in report
    assert "ERROR: cannot open <PATH>" in report
    assert TOKEN not in report and "zoe" not in report
    assert not home.exists(), "drafting from the install folder touches no telemetry home"


def test_without_consent_a_summary_names_the_failed_step(tmp_path: Path) -> None:
    target = tmp_path / "DinoAir"
    target.mkdir()
    summary = {
        "installer_version": "0.1.0",
        "success": False,
        "steps": [
            {"name": "preflight", "status": "completed", "duration_ms": 5},
            {"name": "python_deps", "status": "failed", "duration_ms": 812},
        ],
    }
    (target / "install_summary.json").write_text(json.dumps(summary))
    report = run("report-issue", "--install-dir", str(target)).stdout
    assert report.splitlines()[0] == "# python_deps: failed (no trace kept)"
    assert "| python_deps | failed | 812 ms |" in report
    assert "The install folder has no `logs/`." in report


@pytest.mark.parametrize("telemetry", ["on", "off"])
def test_a_crash_outside_any_step_ends_with_the_hint_too(
    home: Path, tmp_path: Path, telemetry: str
) -> None:
    """The real installer with a bug before any step (its run attributes raise): the top-level
    handler prints the same hint as a failed step, and the hinted command drafts a report. With
    telemetry on, no session exists for the run but a crash report does: the hint names it and
    the report is drawn from it (sanitized again), never claiming that no trace was kept."""
    from tests.reliability.test_privacy import _literal, _word, scan

    if telemetry == "on":
        consent(home)
    target = tmp_path / "DinoAir"
    secret_path = home.parent / "zoe" / "private" / "notes.txt"
    done = install_crashing(
        target,
        default_manifest_path(),  # the crash comes before any step reads it
        f"boom before any step reading {secret_path} with {TOKEN}",
        *(("--disable-telemetry",) if telemetry == "off" else ()),
        where="outside",
        env={"DINOAIR_HOME": str(home), "DINOAIR_ISSUE_TRACKER": None},
    )
    assert done.returncode == 1, done.stderr
    lines = done.stderr.splitlines()
    assert lines[-2].startswith("Error: unexpected error: boom before any step")
    crashes = sorted((home / "crashes").glob("crash_*.json"))
    if telemetry == "on":
        assert len(crashes) == 1, crashes
        crash = json.loads(crashes[0].read_text())
        assert crash["session_id"] is None and not list((home / "sessions").glob("*.json"))
        # The folder was never created, so it is not named; the home the run used is.
        assert not target.exists()
        assert lines[-1].startswith("Draft a bug report: ")
        hinted = shlex.split(lines[-1].removeprefix("Draft a bug report: "))
        assert hinted[0] == f"DINOAIR_HOME={home}"
        assert hinted[-2:] == ["report-issue", crash["crash_id"][:12]]
    else:
        # Nothing was kept and no folder was made: the hint names neither (both would mislead).
        assert not crashes and not target.exists()
        assert lines[-1] == report_hint(target)
        assert lines[-1].startswith("To report this bug, copy the error line above")
        return
    drafted = subprocess.run(  # the hinted command itself (this Python -m telemetry_cli here)
        hinted[1:],
        cwd=REPO,
        env=subprocess_env(home),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert drafted.returncode == 0, drafted.stderr
    report = drafted.stdout
    seeds = {
        "token": _literal(TOKEN),
        "home path": _literal(str(home.parent)),
        "user folder": _word("zoe"),
    }
    assert not scan(report.encode(), seeds), scan(report.encode(), seeds)
    if telemetry == "on":
        assert report.startswith("# install: unexpected (RuntimeError)\n"), report[:200]
        assert "`RuntimeError`" in report and "boom before any step reading" in report
        assert "Traceback (sanitized):" in report and ", in explode\n" in report, report
        assert f"| Crash report | {crash['crash_id'][:12]} |" in report
        assert "no trace was kept" not in report.lower()
        assert "telemetry was off" not in report.lower()
        # The folder alone (an older hint, or typed by hand): the crash report is newer than
        # the folder's files, so it is named, and nothing claims that no trace was kept.
        alone = run("report-issue", "--install-dir", str(target))
        assert alone.exit_code == 0, alone.output
        assert f"report-issue {crash['crash_id'][:12]} --install-dir DIR" in alone.stdout
        assert "(no session named)" in alone.stdout.splitlines()[0]
        assert "no trace was kept" not in alone.stdout.lower()
        assert "telemetry was off" not in alone.stdout.lower()
        # A log written after the crash belongs to a later run: the crash is not named then.
        (target / "logs").mkdir(parents=True)
        log = target / "logs" / "install.log"
        log.write_text("step python_deps failed\n")
        later = crashes[0].stat().st_mtime + 10
        os.utime(log, (later, later))
        after = run("report-issue", "--install-dir", str(target))
        assert after.exit_code == 0, after.output
        assert crash["crash_id"][:12] not in after.stdout
        assert "no trace was kept" in after.stdout
    else:
        assert report.startswith("# install failed (no trace kept)")
        assert "Telemetry was off for this run, so no trace was kept" in report
