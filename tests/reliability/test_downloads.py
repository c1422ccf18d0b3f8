"""Model downloads against a misbehaving server: resume or fail with the right category.

Each case is a real installer run (telemetry on, fast path, ``--retries 1``) against its own
loopback ``ModelServer`` with a fault on the 3 MiB checkpoint. Whatever happens, the file at the
model's final path is either absent or exactly the manifest's file: a ``.part`` may stay (it is
the resume state), a corrupt model never does. The cases run two at a time (one per core).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
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


def _model(fixture: Fixture):
    return max(fixture.models, key=lambda m: m.size)  # demo_base: 3 MiB


def _final(target: Path, name: str) -> Path:
    return target / "ComfyUI" / CHECKPOINT_DEST / name


def _no_corrupt_model(fixture: Fixture, target: Path) -> None:
    for model in fixture.models:
        path = _final(target, model.name)
        if path.exists():
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            assert digest == model.sha256, f"a corrupt {model.name} was left in place"


def _run(
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
        result = install(target, manifest, *args, env={"DINOAIR_HOME": str(home)})
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
    run = _run(fixture, root, (Fault.cut(after=model.size // 2),))
    _expect(run, 0, None)
    ranged = [r for r in run.server.requests if r.path == model.name and r.range]
    assert len(ranged) == 1 and run.server.bytes_sent(model.name) == model.size, (
        "resumed: only the missing half was fetched again"
    )


def reset_once(case: Case, fixture: Fixture, root: Path) -> None:
    model = _model(fixture)
    _expect(_run(fixture, root, (Fault.cut(after=model.size // 3, reset=True),)), 0, None)


def cut_always_then_resume(case: Case, fixture: Fixture, root: Path) -> None:
    model = _model(fixture)
    with ModelServer(fixture.models_dir) as srv:
        run = _run(fixture, root, (Fault.cut(after=MIB, times=None),), server=srv)
        _expect(run, 1, "network")
        part = _final(run.target, model.name + ".part")
        assert part.stat().st_size == 2 * MIB, "each attempt resumed where the last stopped"
        srv.clear_faults()
        srv.clear_log()
        again = _run(fixture, root, server=srv, target=run.target)
        _expect(again, 0, None)
        assert srv.bytes_sent(model.name) == model.size - 2 * MIB, "the next run resumed too"


def stall_once(case: Case, fixture: Fixture, root: Path) -> None:
    run = _run(fixture, root, (Fault.stall(after=256 * 1024, seconds=30),), "--timeout", "1")
    _expect(run, 0, None)


def stall_always(case: Case, fixture: Fixture, root: Path) -> None:
    run = _run(
        fixture, root, (Fault.stall(after=256 * 1024, seconds=30, times=None),), "--timeout", "1"
    )
    _expect(run, 1, "network")


def short_once(case: Case, fixture: Fixture, root: Path) -> None:
    _expect(_run(fixture, root, (Fault.short(missing=100_000),)), 0, None)


def short_always(case: Case, fixture: Fixture, root: Path) -> None:
    _expect(_run(fixture, root, (Fault.short(missing=100_000, times=None),)), 1, "network")


def long_announced(case: Case, fixture: Fixture, root: Path) -> None:
    _expect(_run(fixture, root, (Fault.long(extra=50_000),)), 0, None)


def long_unannounced(case: Case, fixture: Fixture, root: Path) -> None:
    model = _model(fixture)
    run = _run(fixture, root, (Fault.long(extra=50_000, announce=False),))
    _expect(run, 1, "installation")
    assert not _final(run.target, model.name + ".part").exists(), "a wrong .part is dropped"


def refused_range(case: Case, fixture: Fixture, root: Path) -> None:
    model = _model(fixture)
    run = _run(fixture, root, (Fault.cut(after=MIB), Fault.refuse_range()))
    _expect(run, 0, None)
    statuses = [r.status for r in run.server.requests if r.path == model.name]
    assert 416 in statuses, statuses


def ignored_range(case: Case, fixture: Fixture, root: Path) -> None:
    _expect(_run(fixture, root, (Fault.cut(after=MIB), Fault.ignore_range())), 0, None)


def different_same_size(case: Case, fixture: Fixture, root: Path) -> None:
    model = _model(fixture)
    run = _run(fixture, root, (Fault.different(b"\x5a" * model.size),))
    _expect(run, 1, "installation")
    assert not _final(run.target, model.name).exists()
    assert not _final(run.target, model.name + ".part").exists()


def different_after_resume(case: Case, fixture: Fixture, root: Path) -> None:
    """The file changes on the server between the cut and the resume."""
    model = _model(fixture)
    other = bytes(reversed(model.path.read_bytes()))
    run = _run(fixture, root, (Fault.cut(after=MIB), Fault.different(other)))
    _expect(run, 1, "installation")
    assert not _final(run.target, model.name).exists()


def http_503_always(case: Case, fixture: Fixture, root: Path) -> None:
    _expect(_run(fixture, root, (Fault.http(503, times=None),)), 1, "network")


def http_404(case: Case, fixture: Fixture, root: Path) -> None:
    _expect(_run(fixture, root, (Fault.http(404, times=None),)), 1, "installation")


def corrupt_in_place(case: Case, fixture: Fixture, root: Path) -> None:
    model = _model(fixture)
    target = root / "DinoAir"
    final = _final(target, model.name)
    # A first run puts ComfyUI in place; then the model file is damaged behind its back.
    _expect(_run(fixture, root, target=target), 0, None)
    data = bytearray(final.read_bytes())
    data[len(data) // 2] ^= 0xFF
    final.write_bytes(bytes(data))
    run = _run(fixture, root, target=target)
    _expect(run, 0, None)
    kept = list(final.parent.glob(model.name + ".corrupt-*"))
    assert len(kept) == 1 and kept[0].read_bytes() == bytes(data), "the damaged file is kept"


def stale_wrong_part(case: Case, fixture: Fixture, root: Path) -> None:
    model = _model(fixture)
    target = root / "DinoAir"
    _expect(_run(fixture, root, target=target), 0, None)
    final = _final(target, model.name)
    final.unlink()
    final.with_name(model.name + ".part").write_bytes(b"\x00" * MIB)  # not the file's prefix
    run = _run(fixture, root, target=target)
    _expect(run, 1, "installation")
    assert not final.with_name(model.name + ".part").exists()
    _expect(_run(fixture, root, target=target), 0, None)


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

    with ThreadPoolExecutor(2) as pool:
        outcomes = list(pool.map(attempt, enumerate(CASES)))
    failures = []
    for case, error in outcomes:
        trial.record(f"downloads: {case.name}", held=error is None, how=case.how)
        if error is not None:
            failures.append(f"{case.name}: {type(error).__name__}: {error}")
    assert not failures, "\n".join(failures)
