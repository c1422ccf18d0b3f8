"""Model downloads against a misbehaving server: resume or fail with the right category.

Each case is a real installer run (telemetry on, fast path, ``--retries 1``) against its own
loopback ``ModelServer`` with a fault on the 3 MiB checkpoint. Whatever happens, the file at the
model's final path is either absent or exactly the manifest's file: a ``.part`` may stay (it is
the resume state), a corrupt model never does. Every case runs twice: over one connection
(``--connections 1``) and segmented (the default: three 1 MiB ranges in parallel), where cuts
are placed inside a range. The last cases exist only segmented. Two run at a time (one per core).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

from fixtures.demo_fixture import CHECKPOINT_DEST, Fixture
from fixtures.model_server import Fault, ModelServer
from otel_local_exporter import load_sessions
from tests.reliability.conftest import (
    assert_clean_exit,
    consent,
    install,
    manifest_data,
    write_manifest_file,
)

MIB = 1024 * 1024


@dataclass
class Run:
    """What one installer run under a fault looked like."""

    code: int
    category: str | None
    target: Path
    server: ModelServer
    stderr: str


@dataclass
class Case:
    name: str
    how: str
    check: Callable[[Case, Fixture, Path], None]
    runs: list[str] = field(default_factory=list)
    segmented: bool = False  # run with several connections (else --connections 1)
    modes: tuple[bool, ...] = (False, True)

    def cut_at(self, size: int) -> int:
        """Half of what one request asks for: the file when single, a 1 MiB range segmented."""
        return MIB // 2 if self.segmented else size // 2

    def args(self) -> tuple[str, ...]:
        return () if self.segmented else ("--connections", "1")


def _model(fixture: Fixture):
    return max(fixture.models, key=lambda m: m.size)  # demo_base: 3 MiB


def _final(target: Path, name: str) -> Path:
    return target / CHECKPOINT_DEST / name  # models live beside the checkout (docs/lifecycle.md)


def _no_corrupt_model(fixture: Fixture, target: Path) -> None:
    for model in fixture.models:
        path = _final(target, model.name)
        if path.exists():
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            assert digest == model.sha256, f"a corrupt {model.name} was left in place"


def _run(
    case: Case,
    fixture: Fixture,
    root: Path,
    faults: tuple[Fault, ...] = (),
    *args: str,
    server: ModelServer | None = None,
    target: Path | None = None,
) -> Run:
    home = root / "home"
    if not home.exists():
        consent(home)
    own = server is None
    srv = server or ModelServer(fixture.models_dir).start()
    try:
        if faults:
            srv.set_fault(_model(fixture).name, *faults)
        manifest = write_manifest_file(root / "manifest.json", manifest_data(fixture, srv.base_url))
        target = target or root / "DinoAir"
        result = install(target, manifest, *case.args(), *args, env={"DINOAIR_HOME": str(home)})
        assert_clean_exit(result, 0, 1)
        scan = load_sessions(home)
        assert not scan.invalid
        doc = scan.files[0].data
        errors = [e for e in doc["events"] if e["event_type"] == "error"]
        category = errors[0]["error_category"] if errors else None
        if errors:
            assert errors[0]["step_name"] == "models"
        _no_corrupt_model(fixture, target)
        return Run(result.returncode, category, target, srv, result.stderr)
    finally:
        if own:
            srv.clear_faults()
            srv.stop()


def _expect(run: Run, code: int, category: str | None) -> None:
    assert (run.code, run.category) == (code, category), run.stderr


# -- the cases -----------------------------------------------------------------------------------


def cut_once(case: Case, fixture: Fixture, root: Path) -> None:
    model = _model(fixture)
    run = _run(case, fixture, root, (Fault.cut(after=case.cut_at(model.size)),))
    _expect(run, 0, None)
    ranged = [r for r in run.server.requests if r.path == model.name and r.range]
    assert len(ranged) == (4 if case.segmented else 1), ranged
    assert run.server.bytes_sent(model.name) == model.size, "only the missing bytes came again"


def reset_once(case: Case, fixture: Fixture, root: Path) -> None:
    model = _model(fixture)
    fault = Fault.cut(after=case.cut_at(model.size) * 2 // 3, reset=True)
    _expect(_run(case, fixture, root, (fault,)), 0, None)


def _held(part: Path) -> int:
    """Bytes a ``.part`` holds for the next run: its recorded ranges, or its length."""
    sidecar = part.with_name(part.name + ".ranges")
    if sidecar.exists():
        return sum(end - start for start, end in json.loads(sidecar.read_text())["done"])
    return part.stat().st_size


def cut_always_then_resume(case: Case, fixture: Fixture, root: Path) -> None:
    model = _model(fixture)
    with ModelServer(fixture.models_dir) as srv:
        after = MIB // 4 if case.segmented else MIB
        run = _run(case, fixture, root, (Fault.cut(after=after, times=None),), server=srv)
        _expect(run, 1, "network")
        held = _held(_final(run.target, model.name + ".part"))
        # Two attempts, each resuming where the last stopped: one connection 2 x 1 MiB;
        # segmented, each of the three ranges twice 256 KiB.
        assert held == (6 * after if case.segmented else 2 * after), held
        srv.clear_faults()
        srv.clear_log()
        again = _run(case, fixture, root, server=srv, target=run.target)
        _expect(again, 0, None)
        assert srv.bytes_sent(model.name) == model.size - held, "the next run resumed too"


def stall_once(case: Case, fixture: Fixture, root: Path) -> None:
    run = _run(case, fixture, root, (Fault.stall(after=256 * 1024, seconds=30),), "--timeout", "1")
    _expect(run, 0, None)


def stall_always(case: Case, fixture: Fixture, root: Path) -> None:
    run = _run(
        case,
        fixture,
        root,
        (Fault.stall(after=256 * 1024, seconds=30, times=None),),
        "--timeout",
        "1",
    )
    _expect(run, 1, "network")


def short_once(case: Case, fixture: Fixture, root: Path) -> None:
    _expect(_run(case, fixture, root, (Fault.short(missing=100_000),)), 0, None)


def short_always(case: Case, fixture: Fixture, root: Path) -> None:
    _expect(_run(case, fixture, root, (Fault.short(missing=100_000, times=None),)), 1, "network")


def long_announced(case: Case, fixture: Fixture, root: Path) -> None:
    _expect(_run(case, fixture, root, (Fault.long(extra=50_000),)), 0, None)


def long_unannounced(case: Case, fixture: Fixture, root: Path) -> None:
    model = _model(fixture)
    run = _run(case, fixture, root, (Fault.long(extra=50_000, announce=False),))
    if case.segmented:  # each range is read to its end and no further: the extra never lands
        _expect(run, 0, None)
        return
    _expect(run, 1, "installation")
    assert not _final(run.target, model.name + ".part").exists(), "a wrong .part is dropped"


def refused_range(case: Case, fixture: Fixture, root: Path) -> None:
    model = _model(fixture)
    run = _run(case, fixture, root, (Fault.cut(after=MIB), Fault.refuse_range()))
    _expect(run, 0, None)
    statuses = [r.status for r in run.server.requests if r.path == model.name]
    assert 416 in statuses, statuses


def ignored_range(case: Case, fixture: Fixture, root: Path) -> None:
    _expect(_run(case, fixture, root, (Fault.cut(after=MIB), Fault.ignore_range())), 0, None)


def different_same_size(case: Case, fixture: Fixture, root: Path) -> None:
    model = _model(fixture)
    run = _run(case, fixture, root, (Fault.different(b"\x5a" * model.size),))
    _expect(run, 1, "installation")
    assert not _final(run.target, model.name).exists()
    assert not _final(run.target, model.name + ".part").exists()


def different_after_resume(case: Case, fixture: Fixture, root: Path) -> None:
    """The file changes on the server between the cut and the resume."""
    model = _model(fixture)
    other = bytes(reversed(model.path.read_bytes()))
    run = _run(case, fixture, root, (Fault.cut(after=MIB), Fault.different(other)))
    _expect(run, 1, "installation")
    assert not _final(run.target, model.name).exists()


def http_503_always(case: Case, fixture: Fixture, root: Path) -> None:
    _expect(_run(case, fixture, root, (Fault.http(503, times=None),)), 1, "network")


def http_404(case: Case, fixture: Fixture, root: Path) -> None:
    _expect(_run(case, fixture, root, (Fault.http(404, times=None),)), 1, "installation")


def corrupt_in_place(case: Case, fixture: Fixture, root: Path) -> None:
    model = _model(fixture)
    target = root / "DinoAir"
    final = _final(target, model.name)
    # A first run puts ComfyUI in place; then the model file is damaged behind its back.
    _expect(_run(case, fixture, root, target=target), 0, None)
    data = bytearray(final.read_bytes())
    data[len(data) // 2] ^= 0xFF
    final.write_bytes(bytes(data))
    run = _run(case, fixture, root, target=target)
    _expect(run, 0, None)
    kept = list(final.parent.glob(model.name + ".corrupt-*"))
    assert len(kept) == 1 and kept[0].read_bytes() == bytes(data), "the damaged file is kept"


def stale_wrong_part(case: Case, fixture: Fixture, root: Path) -> None:
    model = _model(fixture)
    target = root / "DinoAir"
    _expect(_run(case, fixture, root, target=target), 0, None)
    final = _final(target, model.name)
    final.unlink()
    final.with_name(model.name + ".part").write_bytes(b"\x00" * MIB)  # not the file's prefix
    run = _run(case, fixture, root, target=target)
    _expect(run, 1, "installation")
    assert not final.with_name(model.name + ".part").exists()
    _expect(_run(case, fixture, root, target=target), 0, None)


def one_segment_fails_for_good(case: Case, fixture: Fixture, root: Path) -> None:
    model = _model(fixture)
    with ModelServer(fixture.models_dir) as srv:
        fault = Fault.cut(after=0, times=None, starting_at=MIB)
        run = _run(case, fixture, root, (fault,), server=srv)
        _expect(run, 1, "network")
        held = _held(_final(run.target, model.name + ".part"))
        assert held == model.size - MIB, "the other ranges are done and kept"
        srv.clear_faults()
        srv.clear_log()
        _expect(_run(case, fixture, root, server=srv, target=run.target), 0, None)
        assert [r.range for r in srv.requests if r.path == model.name] == [
            f"bytes={MIB}-{2 * MIB - 1}"
        ]


def two_connections_allowed(case: Case, fixture: Fixture, root: Path) -> None:
    model = _model(fixture)
    faults = (Fault.limit(2, code=503), Fault.throttle(4 * MIB))
    run = _run(case, fixture, root, faults)
    _expect(run, 0, None)
    served = [r for r in run.server.requests if r.path == model.name]
    assert 503 in {r.status for r in served}, "the limit was hit"
    assert sum(r.bytes_sent for r in served if r.status == 206) == model.size


def signed_url_expires(case: Case, fixture: Fixture, root: Path) -> None:
    model = _model(fixture)
    with ModelServer(fixture.models_dir) as srv:
        srv.add("cdn-" + model.name, model.path.read_bytes())
        faults = (Fault.signed("cdn-" + model.name, uses=2), Fault.throttle(4 * MIB))
        run = _run(case, fixture, root, faults, server=srv)
        _expect(run, 0, None)
        statuses = [(r.path, r.status) for r in srv.requests if r.method == "GET"]
        assert ("cdn-" + model.name, 403) in statuses, statuses
        assert not [r for r in srv.requests if r.path == model.name and r.status == 206]
        session = json.dumps(load_sessions(root / "home").files[0].data)
        assert "sig=" not in session and "cdn-" not in session


CASES = [
    Case("server closes mid-stream, once", "FIN after 1.5 MiB; resumes with Range", cut_once),
    Case("server resets mid-stream, once", "TCP RST (SO_LINGER 0) after 1 MiB", reset_once),
    Case(
        "server closes mid-stream every time",
        "cut after 1 MiB on every request: network error; the next run resumes from the .part",
        cut_always_then_resume,
    ),
    Case(
        "server stalls past the timeout, once", "silent 30 s after 256 KiB, --timeout 1", stall_once
    ),
    Case(
        "server stalls past the timeout every time",
        "as above, on every request: network",
        stall_always,
    ),
    Case(
        "fewer bytes than announced, once", "Content-Length says 3 MiB, 100 kB missing", short_once
    ),
    Case("fewer bytes than announced every time", "on every request: network", short_always),
    Case("more bytes than announced", "50 kB beyond Content-Length", long_announced),
    Case(
        "more bytes than the file, no Content-Length",
        "size check fails: installation, .part dropped",
        long_unannounced,
    ),
    Case(
        "416 to a Range request", "cut, then 416 on resume: starts over from byte 0", refused_range
    ),
    Case("200 (Range ignored) to a Range request", "cut, then the full body again", ignored_range),
    Case("a different file, same size", "sha256 mismatch: installation", different_same_size),
    Case(
        "the file changes between cut and resume",
        "prefix of one, tail of another: installation",
        different_after_resume,
    ),
    Case("HTTP 503 on every request", "network", http_503_always),
    Case("HTTP 404", "installation, not retried", http_404),
    Case(
        "a corrupt model already at the final path",
        "moved aside as .corrupt-*, downloaded again",
        corrupt_in_place,
    ),
    Case(
        "a stale .part that is not the file's prefix",
        "fails once (installation, .part dropped), the re-run succeeds",
        stale_wrong_part,
    ),
    Case(
        "one range's connection fails every time",
        "the others finish and are kept (network); the re-run fetches only that range",
        one_segment_fails_for_good,
        modes=(True,),
    ),
    Case(
        "the server allows 2 connections (503 to the rest)",
        "the file goes on over the connections it gets",
        two_connections_allowed,
        modes=(True,),
    ),
    Case(
        "a signed redirect expires mid-download (403)",
        "the original URL is followed again; no URL reaches the session",
        signed_url_expires,
        modes=(True,),
    ),
]


def test_download_faults(trial, demo: Fixture, tmp_path: Path) -> None:
    def attempt(index_case: tuple[int, Case]) -> tuple[Case, BaseException | None]:
        index, case = index_case
        root = tmp_path / f"case{index:02d}"
        root.mkdir()
        try:
            case.check(case, demo, root)
        except BaseException as exc:  # reported below with the case's name
            return case, exc
        return case, None

    runs = [replace(case, segmented=segmented) for case in CASES for segmented in case.modes]
    with ThreadPoolExecutor(2) as pool:
        outcomes = list(pool.map(attempt, enumerate(runs)))
    failures = []
    for case, error in outcomes:
        mode = "segmented" if case.segmented else "one connection"
        trial.record(f"downloads ({mode}): {case.name}", held=error is None, how=case.how)
        if error is not None:
            failures.append(f"{case.name} ({mode}): {type(error).__name__}: {error}")
    assert not failures, "\n".join(failures)
