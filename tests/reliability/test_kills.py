"""SIGKILL at random points of real installer runs: nothing torn, every journal recovered.

A run is measured first: its whole duration, and how long its journal lives (from the first
ended span to the session write: about a tenth of a second on the fast path). Then each kill
lands at a seeded random moment, stratified so the moments spread evenly: a third over the whole
run (interpreter start, consent, every step, shutdown), two thirds over the journal's life,
where a kill matters most. After each kill every ``*.json`` under the home must parse and every
file keep its mode; when a journal was left, the next start (alternately ``dinoair-telemetry
show-data`` and another installer run) must have turned it into a ``"complete": false`` session
and left no journal. Two lanes with their own homes run side by side to use both cores.
"""

from __future__ import annotations

import json
import random
import stat
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from fixtures.commands import install_command
from otel_local_exporter import load_sessions
from tests.reliability.conftest import (
    FAST,
    REPO,
    Served,
    assert_clean_exit,
    consent,
    environment,
    install,
    json_files_parse,
    telemetry,
)

KILLS = 22
LANES = 2
SEED = 20260101
CASE = "SIGKILL at a random point of a run"
HOW = (
    "real installer subprocesses (2 lanes), SIGKILL after a seeded, stratified random "
    "delay: a third anywhere in the measured run, two thirds while its journal lives; every "
    "*.json parsed and modes checked after each kill"
)


@dataclass
class KillOutcome:
    delay: float
    after_journal: bool
    phase: str = ""
    held: bool = False
    problem: str = ""
    next_start: str = ""
    journals: int = 0


@dataclass
class Lane:
    home: Path
    targets: Path
    manifest: Path
    delays: list[tuple[bool, float]]
    outcomes: list[KillOutcome] = field(default_factory=list)
    recoveries: int = 0


def _journal_spans(path: Path) -> list[dict]:
    """Whole span lines in a journal (a torn last line does not count)."""
    spans = []
    for line in path.read_bytes().splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and "span_id" in record:
            spans.append(record)
    return spans


def _check_modes(home: Path) -> None:
    for path in [home, *home.rglob("*")]:
        mode = stat.S_IMODE(path.lstat().st_mode)
        if path.is_dir():
            assert mode == 0o700, f"{path.name} is {oct(mode)}"
        elif path.name.endswith((".json", ".journal")):
            assert mode == 0o600, f"{path.name} is {oct(mode)}"


def _one_kill(lane: Lane, index: int, after_journal: bool, delay: float) -> KillOutcome:
    outcome = KillOutcome(delay, after_journal)
    home = lane.home
    folder = home / "telemetry"
    before = {p.name for p in folder.glob("session_*.json")} if folder.is_dir() else set()
    cmd = install_command(lane.targets / f"t{index}", lane.manifest, *FAST)
    proc = subprocess.Popen(
        cmd,
        cwd=REPO,
        env=environment({"DINOAIR_HOME": str(home)}),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    if after_journal:  # the clock starts when the run's telemetry journal appears
        deadline = time.monotonic() + 30
        while (
            proc.poll() is None
            and time.monotonic() < deadline
            and not (folder.is_dir() and any(folder.glob("*.journal")))
        ):
            time.sleep(0.003)
    try:
        proc.wait(timeout=delay)
    except subprocess.TimeoutExpired:
        proc.kill()
    code = proc.wait(timeout=60)
    try:
        json_files_parse(home)  # never a torn JSON file
        _check_modes(home)
        journals = (
            {p: _journal_spans(p) for p in folder.glob("*.journal")} if folder.is_dir() else {}
        )
        outcome.journals = len(journals)
        new = (
            ({p.name for p in folder.glob("session_*.json")} - before) if folder.is_dir() else set()
        )
        if code != -9:
            outcome.phase = "finished before the kill"
        elif any(journals.values()):
            outcome.phase = "mid-run (journal with spans)"
        elif new:
            outcome.phase = "after the session was written"
        else:
            outcome.phase = "before the first span ended"
        # A journal holding the root span was killed after its session was written: the
        # recovered session is complete; any other journal becomes a "complete": false one.
        expected = {
            p.stem: not any(sp.get("parent_span_id") is None for sp in spans)
            for p, spans in journals.items()
            if spans
        }
        # The next start: the telemetry command or another installer run recovers journals.
        # (Without a journal there is nothing to recover: the checks above are the whole test.)
        if journals:
            lane.recoveries += 1
        if not journals:
            outcome.next_start = "none needed"
            listed = {}
        elif lane.recoveries % 2:
            outcome.next_start = "dinoair-telemetry show-data"
            shown = telemetry("show-data", "--json", env={"DINOAIR_HOME": str(home)})
            assert_clean_exit(shown, 0)
            listed = {s["session_id"]: s for s in json.loads(shown.stdout)["sessions"]}
            assert not json.loads(shown.stdout)["invalid"]
        else:
            outcome.next_start = "dinoair-install"
            again = install(
                lane.targets / f"again{index}",
                lane.manifest,
                "--only",
                "preflight",
                env={"DINOAIR_HOME": str(home)},
            )
            assert_clean_exit(again, 0)
            scan = load_sessions(home, recover=False)  # read only: the installer recovered
            assert not scan.invalid, scan.invalid
            listed = {
                f.data["session_id"]: {"complete": f.data["metadata"]["complete"]}
                for f in scan.files
            }
        for session_id, incomplete in expected.items():
            assert session_id in listed, f"journal {session_id} was not recovered"
            assert listed[session_id]["complete"] is not incomplete
        assert not list(folder.glob("*.journal")), "a journal outlived the next start"
        json_files_parse(home)
        _check_modes(home)
        outcome.held = True
    except AssertionError as exc:
        outcome.problem = f"kill {index} after {delay:.2f}s: {exc}"
    return outcome


def _run_lane(lane: Lane, first: int) -> Lane:
    for offset, (after_journal, delay) in enumerate(lane.delays):
        lane.outcomes.append(_one_kill(lane, first + offset * LANES, after_journal, delay))
    return lane


def _measure(shared: Served, home: Path, target: Path) -> tuple[float, float]:
    """Seconds of a whole run, and of its journal's life (first span ended to session written)."""
    cmd = install_command(target, shared.manifest, *FAST)
    folder = home / "telemetry"
    started = time.perf_counter()
    proc = subprocess.Popen(
        cmd,
        cwd=REPO,
        env=environment({"DINOAIR_HOME": str(home)}),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    journal_at = session_at = None
    while proc.poll() is None:
        if journal_at is None and folder.is_dir() and any(folder.glob("*.journal")):
            journal_at = time.perf_counter()
        if session_at is None and folder.is_dir() and any(folder.glob("session_*.json")):
            session_at = time.perf_counter()
        time.sleep(0.002)
    ended = time.perf_counter()
    assert proc.returncode == 0
    assert journal_at is not None, "the run never had a live journal"
    return ended - started, (session_at or ended) - journal_at


def test_sigkill_at_random_points(trial, shared: Served, tmp_path: Path) -> None:
    homes = [consent(tmp_path / f"home{n}") for n in range(LANES)]
    duration, traced = _measure(shared, homes[0], tmp_path / "measure")
    rng = random.Random(SEED)
    # A third of the kills anywhere in the run (interpreter start and shutdown included), two
    # thirds while its journal lives (from the first ended span to the session write, +20%).
    anywhere = KILLS // 3
    delays = [(False, (k + rng.random()) * duration * 1.1 / anywhere) for k in range(anywhere)]
    live = KILLS - anywhere
    delays += [(True, (k + rng.random()) * traced * 1.2 / live) for k in range(live)]
    rng.shuffle(delays)
    lanes = [
        Lane(homes[n], tmp_path / f"targets{n}", shared.manifest, delays[n::LANES])
        for n in range(LANES)
    ]
    for lane in lanes:
        lane.targets.mkdir()
    with ThreadPoolExecutor(LANES) as pool:
        done = list(pool.map(_run_lane, lanes, range(LANES)))
    outcomes = [o for lane in done for o in lane.outcomes]
    for outcome in outcomes:
        trial.record(CASE, held=outcome.held, how=HOW)
    phases = Counter(o.phase for o in outcomes)
    trial.note(
        CASE,
        f"run {duration:.2f}s, journal live {traced:.2f}s; kills "
        + ", ".join(f"{n} {phase}" for phase, n in sorted(phases.items())),
    )
    recovered = sum(o.journals for o in outcomes)
    case = "journal of a killed run becomes a complete:false session at the next start"
    trial.record(
        case,
        tried=recovered,
        held=recovered if all(o.held for o in outcomes) else 0,
        how="alternately dinoair-telemetry show-data and dinoair-install as the next start",
    )
    starts = Counter(o.next_start for o in outcomes if o.journals)
    trial.note(case, ", ".join(f"{n} by {start}" for start, n in sorted(starts.items())))
    problems = [o.problem for o in outcomes if not o.held]
    assert not problems, "\n".join(problems)
    assert len(outcomes) >= 20
    assert phases["mid-run (journal with spans)"] >= 3, phases
    assert starts["dinoair-install"] >= 1 and starts["dinoair-telemetry show-data"] >= 1, starts


KILL_AFTER_SESSION = """
import os, signal
import otel_local_exporter.journal as journal
from otel_local_exporter import configure_tracing

def close(self, *, remove):
    if remove:  # the session file is written; the journal is not removed yet
        os.kill(os.getpid(), signal.SIGKILL)

journal.Journal.close = close
tracer = configure_tracing("1").get_tracer("t")
with tracer.start_as_current_span("dinoair.install"):
    with tracer.start_as_current_span("dinoair.step.a"):
        pass
"""


def test_sigkill_between_session_write_and_journal_removal(trial, consented_home: Path) -> None:
    with trial.attempt(
        "SIGKILL right after the session write, before the journal is removed",
        how="a traced subprocess SIGKILLs itself at that exact point",
    ):
        killed = subprocess.run(
            [sys.executable, "-c", KILL_AFTER_SESSION],
            cwd=REPO,
            env=environment(),
            capture_output=True,
            check=False,
        )
        assert killed.returncode == -9
        before = load_sessions(consented_home, recover=False).files
        assert [f.data["metadata"]["complete"] for f in before] == [True]
        assert list((consented_home / "telemetry").glob("*.journal"))
        after = load_sessions(consented_home).files  # the next start
        assert not list((consented_home / "telemetry").glob("*.journal"))
        assert [f.data["metadata"]["complete"] for f in after] == [True], (
            "a finished run was rewritten as incomplete"
        )
