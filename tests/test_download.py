"""The model downloader against a real loopback server that misbehaves on request.

No mocks: real sockets, real timeouts, real files in ``tmp_path``. The server's request log says
exactly what went over the wire, so resume tests assert the bytes, not just the outcome.
"""

from __future__ import annotations

import _thread
import hashlib
import itertools
import json
import random
import socket
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fixtures.model_server import Fault, ModelServer
from installer.download import (
    RECORD_NAME,
    DownloadSpec,
    download_all,
    download_one,
)
from installer.errors import ChecksumError, InstallError, NetworkError, categorize

SIZE = 300_000  # several 64 KiB server slices, a few hundred KB: fast but not trivial
FAST = {"timeout": 5.0, "retries": 3, "backoff": 0.01}


@pytest.fixture
def model_server():
    """A started loopback model server (the lead may move this to tests/conftest.py)."""
    with ModelServer() as srv:
        yield srv


@pytest.fixture(autouse=True)
def _loopback_without_proxy(monkeypatch):
    """A proxy configured on the test machine must not capture 127.0.0.1."""
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


class Events:
    """Collects ``on_event`` calls (list.append is atomic, so worker threads may call it)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict]] = []

    def __call__(self, name: str, attrs: dict) -> None:
        self.calls.append((name, dict(attrs)))

    def named(self, name: str) -> list[dict]:
        return [attrs for event, attrs in self.calls if event == name]


def _bytes(size: int = SIZE, seed: int = 1) -> bytes:
    return random.Random(seed).randbytes(size)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _spec(
    srv: ModelServer,
    folder: Path,
    name: str,
    data: bytes,
    *,
    size: int | None = None,
    sha256: str | None = None,
) -> DownloadSpec:
    """Serve ``data`` as ``name`` and describe it (or a deliberately different size/hash)."""
    url = srv.add(name, data)
    return DownloadSpec(
        name,
        url,
        folder / "models" / "checkpoints" / name,
        len(data) if size is None else size,
        sha256 or _sha(data),
    )


def _part(spec: DownloadSpec) -> Path:
    return spec.dest.with_name(spec.dest.name + ".part")


def _records(spec: DownloadSpec) -> dict:
    return json.loads((spec.dest.parent / RECORD_NAME).read_text())


def _gets(srv: ModelServer) -> list:
    return [r for r in srv.requests if r.method == "GET"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- the happy paths and the verification record --------------------------------------------------


def test_full_download_places_file_records_it_and_reports_milestones(model_server, tmp_path):
    data = _bytes()
    spec = _spec(model_server, tmp_path, "model.safetensors", data)
    events = Events()
    counted: list[int] = []

    result = download_one(spec, **FAST, on_event=events, on_bytes=counted.append)

    assert result.status == "downloaded"
    assert (result.bytes_transferred, result.resumed_from, result.attempts) == (SIZE, 0, 1)
    assert spec.dest.read_bytes() == data
    assert not _part(spec).exists()
    record = _records(spec)["model.safetensors"]
    stat = spec.dest.stat()
    assert record == {"size": SIZE, "sha256": _sha(data), "mtime_ns": stat.st_mtime_ns}
    assert sum(counted) == SIZE
    assert [e["percent"] for e in events.named("download_progress")] == [25, 50, 75, 100]
    assert events.calls[-1] == (
        "download_complete",
        {"file": "model.safetensors", "bytes": SIZE, "resumed_from": 0},
    )
    assert all("://" not in str(v) for _, attrs in events.calls for v in attrs.values())
    (request,) = _gets(model_server)
    assert request.range is None
    assert request.user_agent == "dinoair-installer"


def test_second_run_trusts_the_record_without_any_request(model_server, tmp_path):
    spec = _spec(model_server, tmp_path, "model.bin", _bytes())
    download_one(spec, **FAST)
    model_server.clear_log()

    result = download_one(spec, **FAST)

    assert result.status == "verified"
    assert (result.bytes_transferred, result.attempts) == (0, 0)
    assert model_server.requests == []


def test_present_file_without_record_is_hashed_once_then_trusted(model_server, tmp_path):
    data = _bytes()
    spec = _spec(model_server, tmp_path, "model.bin", data)
    spec.dest.parent.mkdir(parents=True)
    spec.dest.write_bytes(data)

    assert download_one(spec, **FAST).status == "hashed"
    assert _records(spec)["model.bin"]["sha256"] == _sha(data)
    assert download_one(spec, **FAST).status == "verified"
    assert model_server.requests == []


def test_changed_file_is_hashed_again_despite_the_record(model_server, tmp_path):
    data = _bytes()
    spec = _spec(model_server, tmp_path, "model.bin", data)
    download_one(spec, **FAST)
    spec.dest.write_bytes(data)  # same content, new mtime: the record no longer vouches for it

    assert download_one(spec, **FAST).status == "hashed"


def test_present_wrong_file_is_moved_aside_not_deleted(model_server, tmp_path):
    data = _bytes()
    spec = _spec(model_server, tmp_path, "model.bin", data)
    spec.dest.parent.mkdir(parents=True)
    stale = _bytes(seed=2)
    spec.dest.write_bytes(stale)
    events = Events()

    result = download_one(spec, **FAST, on_event=events)

    assert result.status == "downloaded"
    assert spec.dest.read_bytes() == data
    (aside,) = spec.dest.parent.glob("model.bin.corrupt-*")
    assert aside.read_bytes() == stale
    assert events.named("download_existing_mismatch") == [
        {"file": "model.bin", "moved_to": aside.name}
    ]


# -- resuming -------------------------------------------------------------------------------------


def test_cut_mid_stream_resumes_and_fetches_only_the_missing_bytes(model_server, tmp_path):
    data = _bytes()
    spec = _spec(model_server, tmp_path, "model.bin", data)
    model_server.set_fault("model.bin", Fault.cut(after=100_000))
    events = Events()

    result = download_one(spec, **FAST, on_event=events)

    assert spec.dest.read_bytes() == data
    assert (result.attempts, result.resumed_from, result.bytes_transferred) == (2, 100_000, SIZE)
    first, second = _gets(model_server)
    assert first.range is None and first.bytes_sent == 100_000
    assert second.range == "bytes=100000-" and second.status == 206
    assert first.bytes_sent + second.bytes_sent == SIZE
    (retry,) = events.named("download_retry")
    assert retry["attempt"] == 2 and retry["resume_from"] == 100_000
    assert retry["reason"].startswith("connection closed early")


def test_any_cut_point_resumes_to_the_exact_file_with_no_byte_sent_twice():
    data = _bytes(100_000, seed=5)
    with ModelServer({"m.bin": data}) as srv:

        @settings(max_examples=25, deadline=None)
        @given(cuts=st.lists(st.integers(0, len(data) - 1), max_size=3))
        def check(cuts: list[int]) -> None:
            srv.clear_log()
            srv.set_fault("m.bin", *(Fault.cut(after=c) for c in cuts))
            with tempfile.TemporaryDirectory() as folder:
                spec = DownloadSpec(
                    "m.bin", srv.url("m.bin"), Path(folder) / "m.bin", len(data), _sha(data)
                )
                result = download_one(spec, timeout=5, retries=3, backoff=0.001)
                assert spec.dest.read_bytes() == data
            offset, attempts = 0, 1
            for cut in cuts:  # a cut only fires when the request has more than `cut` bytes to send
                if cut >= len(data) - offset:
                    break
                offset, attempts = offset + cut, attempts + 1
            assert (result.attempts, result.resumed_from) == (attempts, offset)
            assert srv.bytes_sent("m.bin") == result.bytes_transferred == len(data)

        check()


def test_connection_reset_is_retried(model_server, tmp_path):
    data = _bytes()
    spec = _spec(model_server, tmp_path, "model.bin", data)
    model_server.set_fault("model.bin", Fault.cut(after=70_000, reset=True))

    result = download_one(spec, **FAST)

    assert spec.dest.read_bytes() == data
    assert result.attempts == 2


def test_body_shorter_than_announced_is_resumed(model_server, tmp_path):
    data = _bytes()
    spec = _spec(model_server, tmp_path, "model.bin", data)
    model_server.set_fault("model.bin", Fault.short(missing=1_000))

    result = download_one(spec, **FAST)

    assert spec.dest.read_bytes() == data
    assert result.resumed_from == SIZE - 1_000
    assert model_server.bytes_sent() == SIZE
    assert _gets(model_server)[1].range == f"bytes={SIZE - 1_000}-"


def test_part_left_by_a_previous_run_is_resumed(model_server, tmp_path):
    data = _bytes()
    spec = _spec(model_server, tmp_path, "model.bin", data)
    spec.dest.parent.mkdir(parents=True)
    _part(spec).write_bytes(data[:123_456])
    events = Events()

    result = download_one(spec, **FAST, on_event=events)

    assert spec.dest.read_bytes() == data
    assert (result.resumed_from, result.bytes_transferred) == (123_456, SIZE - 123_456)
    (request,) = _gets(model_server)
    assert request.range == "bytes=123456-" and request.bytes_sent == SIZE - 123_456
    assert events.named("download_complete")[0]["resumed_from"] == 123_456
    assert [e["percent"] for e in events.named("download_progress")] == [25, 50, 75, 100]


def test_corrupt_part_from_a_previous_run_fails_once_then_a_rerun_succeeds(model_server, tmp_path):
    data = _bytes()
    spec = _spec(model_server, tmp_path, "model.bin", data)
    spec.dest.parent.mkdir(parents=True)
    _part(spec).write_bytes(_bytes(100_000, seed=9))

    with pytest.raises(ChecksumError):
        download_one(spec, **FAST)
    assert not _part(spec).exists() and not spec.dest.exists()

    assert download_one(spec, **FAST).status == "downloaded"
    assert spec.dest.read_bytes() == data


def test_resume_survives_a_redirect(model_server, tmp_path):
    data = _bytes()
    model_server.add("model.bin", data)
    model_server.set_fault("alias.bin", Fault.redirect("model.bin"))
    spec = DownloadSpec(
        "alias.bin", model_server.url("alias.bin"), tmp_path / "alias.bin", SIZE, _sha(data)
    )
    _part(spec).write_bytes(data[:200_000])

    result = download_one(spec, **FAST)

    assert spec.dest.read_bytes() == data and result.resumed_from == 200_000
    redirect, served = _gets(model_server)
    assert (redirect.path, redirect.status) == ("alias.bin", 302)
    assert (served.path, served.range, served.status) == ("model.bin", "bytes=200000-", 206)
    assert served.user_agent == "dinoair-installer"


def test_server_ignoring_range_restarts_cleanly(model_server, tmp_path):
    data = _bytes()
    spec = _spec(model_server, tmp_path, "model.bin", data)
    spec.dest.parent.mkdir(parents=True)
    _part(spec).write_bytes(data[:150_000])
    model_server.set_fault("model.bin", Fault.ignore_range())

    result = download_one(spec, **FAST)

    assert spec.dest.read_bytes() == data
    assert (result.resumed_from, result.bytes_transferred, result.attempts) == (0, SIZE, 1)
    (request,) = _gets(model_server)
    assert request.range == "bytes=150000-" and request.status == 200


def test_416_with_a_complete_part_verifies_it_without_transfer(model_server, tmp_path):
    data = _bytes()
    spec = _spec(model_server, tmp_path, "model.bin", data)
    spec.dest.parent.mkdir(parents=True)
    _part(spec).write_bytes(data)  # e.g. killed between the last byte and the rename

    result = download_one(spec, **FAST)

    assert result.status == "downloaded"
    assert (result.bytes_transferred, result.resumed_from) == (0, SIZE)
    assert spec.dest.read_bytes() == data and not _part(spec).exists()
    (request,) = _gets(model_server)
    assert request.status == 416 and request.range == f"bytes={SIZE}-"


def test_416_with_a_complete_but_wrong_part_is_a_checksum_error(model_server, tmp_path):
    spec = _spec(model_server, tmp_path, "model.bin", _bytes())
    spec.dest.parent.mkdir(parents=True)
    _part(spec).write_bytes(_bytes(seed=3))

    with pytest.raises(ChecksumError):
        download_one(spec, **FAST)
    assert not _part(spec).exists() and not spec.dest.exists()


def test_416_for_a_partial_part_restarts_from_zero(model_server, tmp_path):
    data = _bytes()
    spec = _spec(model_server, tmp_path, "model.bin", data)
    spec.dest.parent.mkdir(parents=True)
    _part(spec).write_bytes(data[:50_000])
    model_server.set_fault("model.bin", Fault.refuse_range())

    result = download_one(spec, **FAST)

    assert spec.dest.read_bytes() == data
    assert (result.resumed_from, result.bytes_transferred) == (0, SIZE)
    refused, fresh = _gets(model_server)
    assert (refused.status, refused.range) == (416, "bytes=50000-")
    assert (fresh.status, fresh.range, fresh.bytes_sent) == (200, None, SIZE)


# -- the wrong file -------------------------------------------------------------------------------


def test_checksum_mismatch_removes_everything_and_says_why(model_server, tmp_path):
    data = _bytes()
    expected = "ab" * 32
    spec = _spec(model_server, tmp_path, "model.bin", data, sha256=expected)

    with pytest.raises(ChecksumError) as caught:
        download_one(spec, **FAST)

    assert categorize(caught.value) == "installation"
    message = str(caught.value)
    assert "model.bin" in message and expected[:12] in message and _sha(data)[:12] in message
    assert not spec.dest.exists() and not _part(spec).exists()
    assert len(_gets(model_server)) == 1  # a wrong file is not downloaded again and again


def test_server_serving_different_content_is_caught(model_server, tmp_path):
    spec = _spec(model_server, tmp_path, "model.bin", _bytes())
    model_server.set_fault("model.bin", Fault.different(_bytes(seed=4)))

    with pytest.raises(ChecksumError):
        download_one(spec, **FAST)
    assert not spec.dest.exists() and not _part(spec).exists()


@pytest.mark.parametrize("served", [SIZE + 10, SIZE - 10], ids=["bigger", "smaller"])
def test_server_announcing_another_size_fails_before_streaming(model_server, tmp_path, served):
    data = _bytes(served)
    spec = _spec(model_server, tmp_path, "model.bin", data, size=SIZE)

    with pytest.raises(ChecksumError, match="announces"):
        download_one(spec, **FAST)
    assert not spec.dest.exists() and not _part(spec).exists()


def test_more_bytes_than_expected_without_content_length(model_server, tmp_path):
    data = _bytes()
    spec = _spec(model_server, tmp_path, "model.bin", data)
    model_server.set_fault("model.bin", Fault.long(extra=5_000, announce=False))

    with pytest.raises(ChecksumError, match=f"got {SIZE + 1} bytes"):
        download_one(spec, **FAST)
    assert not spec.dest.exists() and not _part(spec).exists()


def test_trailing_bytes_beyond_content_length_are_ignored(model_server, tmp_path):
    data = _bytes()
    spec = _spec(model_server, tmp_path, "model.bin", data)
    model_server.set_fault("model.bin", Fault.long(extra=5_000))

    assert download_one(spec, **FAST).status == "downloaded"
    assert spec.dest.read_bytes() == data


def test_fewer_bytes_without_content_length_ends_as_a_size_mismatch(model_server, tmp_path):
    data = _bytes(SIZE - 10)
    spec = _spec(model_server, tmp_path, "model.bin", data, size=SIZE)
    model_server.set_fault("model.bin", Fault.long(extra=0, announce=False))

    with pytest.raises(ChecksumError, match=f"server has {SIZE - 10} bytes"):
        download_one(spec, **FAST)
    ranges = [r.range for r in _gets(model_server)]
    assert ranges == [None, f"bytes={SIZE - 10}-"]  # resumed, and the 416 told the real size
    assert not _part(spec).exists()


# -- network failures -----------------------------------------------------------------------------


def test_refused_port_is_a_network_error_after_retries(tmp_path):
    port = _free_port()
    spec = DownloadSpec(
        "model.bin", f"http://127.0.0.1:{port}/model.bin", tmp_path / "model.bin", SIZE, "ab" * 32
    )
    events = Events()

    with pytest.raises(NetworkError) as caught:
        download_one(spec, timeout=2, retries=2, backoff=0.01, on_event=events)

    assert categorize(caught.value) == "network"
    assert str(caught.value) == (
        f"could not download model.bin from 127.0.0.1:{port}: connection refused after 3 attempts"
    )
    assert [e["attempt"] for e in events.named("download_retry")] == [2, 3]
    assert not spec.dest.exists()


@pytest.mark.parametrize("code", [503, 500, 429, 408])
def test_transient_status_is_retried_then_succeeds(model_server, tmp_path, code):
    data = _bytes()
    spec = _spec(model_server, tmp_path, "model.bin", data)
    model_server.set_fault("model.bin", Fault.http(code))
    events = Events()

    result = download_one(spec, **FAST, on_event=events)

    assert result.attempts == 2 and spec.dest.read_bytes() == data
    assert events.named("download_retry") == [
        {"file": "model.bin", "attempt": 2, "reason": f"HTTP {code}", "resume_from": 0}
    ]


def test_persistent_503_is_a_network_error(model_server, tmp_path):
    spec = _spec(model_server, tmp_path, "model.bin", _bytes())
    model_server.set_fault("model.bin", Fault.http(503, times=None))

    with pytest.raises(NetworkError, match="HTTP 503 after 4 attempts") as caught:
        download_one(spec, **FAST)

    assert caught.value.category == "network"
    assert len(_gets(model_server)) == 4


@pytest.mark.parametrize("code", [404, 403, 410])
def test_client_error_fails_at_once_as_installation(model_server, tmp_path, code):
    spec = _spec(model_server, tmp_path, "model.bin", _bytes())
    model_server.set_fault("model.bin", Fault.http(code, times=None))
    events = Events()

    with pytest.raises(InstallError, match=f"HTTP {code}") as caught:
        download_one(spec, **FAST, on_event=events)

    assert not isinstance(caught.value, NetworkError)
    assert categorize(caught.value) == "installation"
    assert len(_gets(model_server)) == 1 and events.named("download_retry") == []


def test_proxy_authentication_is_a_network_error_without_retry(model_server, tmp_path):
    spec = _spec(model_server, tmp_path, "model.bin", _bytes())
    model_server.set_fault("model.bin", Fault.http(407, times=None))

    with pytest.raises(NetworkError, match="proxy requires authentication"):
        download_one(spec, **FAST)
    assert len(_gets(model_server)) == 1


def test_stalled_server_times_out_instead_of_hanging(model_server, tmp_path):
    spec = _spec(model_server, tmp_path, "model.bin", _bytes())
    model_server.set_fault("model.bin", Fault.stall(after=64 * 1024, seconds=30, times=None))

    started = time.monotonic()
    with pytest.raises(NetworkError, match="timed out after 1 attempts"):
        download_one(spec, timeout=0.5, retries=0, backoff=0.01)
    elapsed = time.monotonic() - started

    assert 0.4 < elapsed < 2.5
    assert _part(spec).stat().st_size == 64 * 1024  # kept: the next run resumes from here


def test_short_stall_within_the_timeout_is_fine(model_server, tmp_path):
    data = _bytes()
    spec = _spec(model_server, tmp_path, "model.bin", data)
    model_server.set_fault("model.bin", Fault.stall(after=100_000, seconds=0.2))

    result = download_one(spec, timeout=2, retries=0, backoff=0.01)

    assert result.attempts == 1 and spec.dest.read_bytes() == data


# -- parallel downloads and Ctrl-C ---------------------------------------------------------------


def test_parallel_downloads_keep_order_and_count_bytes(model_server, tmp_path):
    blobs = {f"m{i}.bin": _bytes(seed=10 + i) for i in range(3)}
    specs = [_spec(model_server, tmp_path, name, data) for name, data in blobs.items()]
    lock = threading.Lock()
    total = [0]

    def count(n: int) -> None:
        with lock:
            total[0] += n

    results = download_all(specs, jobs=3, progress=True, on_bytes=count, **FAST)

    assert [r.name for r in results] == list(blobs)
    assert all(r.status == "downloaded" for r in results)
    assert total[0] == 3 * SIZE
    assert set(_records(specs[0])) == set(blobs)  # one record file, written safely by 3 threads
    assert all(s.dest.read_bytes() == blobs[s.name] for s in specs)


def test_one_failure_lets_the_others_finish_then_raises(model_server, tmp_path):
    specs = [_spec(model_server, tmp_path, f"m{i}.bin", _bytes(seed=20 + i)) for i in range(3)]
    model_server.set_fault("m1.bin", Fault.http(503, times=None))
    events = Events()

    with pytest.raises(NetworkError, match=r"m1\.bin"):
        download_all(specs, jobs=3, progress=False, on_event=events, **FAST)

    assert specs[0].dest.exists() and specs[2].dest.exists() and not specs[1].dest.exists()
    assert {e["file"] for e in events.named("download_complete")} == {"m0.bin", "m2.bin"}


def test_ctrl_c_stops_workers_promptly_and_keeps_parts_for_resume(model_server, tmp_path):
    blobs = {f"m{i}.bin": _bytes(seed=30 + i) for i in range(3)}
    specs = [_spec(model_server, tmp_path, name, data) for name, data in blobs.items()]
    for name in blobs:
        model_server.set_fault(name, Fault.throttle(50_000, times=1))  # ~6 s per file
    timer = threading.Timer(0.5, _thread.interrupt_main)

    started = time.monotonic()
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            download_all(specs, jobs=3, progress=False, **FAST)
    finally:
        timer.cancel()
    assert time.monotonic() - started < 3.0  # long before any file could finish

    for spec in specs:
        assert not spec.dest.exists()
        assert 0 < _part(spec).stat().st_size < SIZE
    results = download_all(specs, jobs=3, progress=False, **FAST)
    got = [(r.resumed_from, r.bytes_transferred) for r in results]
    assert all(
        r.resumed_from > 0 and r.bytes_transferred == SIZE - r.resumed_from for r in results
    ), (SIZE, got)
    wrong = [s.name for s in specs if s.dest.read_bytes() != blobs[s.name]]
    assert not wrong, (wrong, got, [_sha(s.dest.read_bytes()) == s.sha256 for s in specs])


def test_spec_from_manifest_checkpoint(tmp_path):
    from installer.manifest import Checkpoint

    checkpoint = Checkpoint(
        "sd.safetensors", "https://example.invalid/sd", 10, "ab" * 32, "models/checkpoints"
    )
    spec = DownloadSpec.from_checkpoint(checkpoint, tmp_path)
    assert spec.dest == tmp_path / "models" / "checkpoints" / "sd.safetensors"
    assert (spec.name, spec.size, spec.sha256) == ("sd.safetensors", 10, "ab" * 32)


# -- segmented downloads (several connections for one large file) -------------------------------

MIB = 1 << 20
BIG = 8 * MIB  # eight 1 MiB pieces with connections=4 (plan_pieces: ~4 pieces per connection)
SEGMENTED = {**FAST, "connections": 4, "segment_threshold": 2 * MIB}


def _sidecar(spec: DownloadSpec) -> Path:
    return spec.dest.with_name(spec.dest.name + ".part.ranges")


def _covered(spec: DownloadSpec) -> int:
    return sum(end - start for start, end in json.loads(_sidecar(spec).read_text())["done"])


def _assert_ranges_disjoint(requests: list) -> None:
    """No byte sent twice: what the 206 answers carried does not overlap."""
    spans = sorted(
        (start, start + r.bytes_sent)
        for r in requests
        if r.status == 206
        for start in [int(r.range.removeprefix("bytes=").split("-")[0])]
    )
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert start >= end, spans


def test_large_file_comes_as_disjoint_ranges_over_several_connections(model_server, tmp_path):
    data = _bytes(BIG)
    spec = _spec(model_server, tmp_path, "big.bin", data)
    model_server.set_fault("big.bin", Fault.throttle(32 * MIB))  # so the connections overlap
    events = Events()
    counted: list[int] = []

    result = download_one(spec, **SEGMENTED, on_event=events, on_bytes=counted.append)

    assert spec.dest.read_bytes() == data and result.status == "downloaded"
    assert (result.bytes_transferred, sum(counted), result.attempts) == (BIG, BIG, 1)
    gets = _gets(model_server)
    assert len(gets) == 8 and all(r.status == 206 for r in gets)
    _assert_ranges_disjoint(gets)
    assert model_server.bytes_sent() == BIG
    assert 2 <= model_server.peak_gets <= 4
    assert not _part(spec).exists() and not _sidecar(spec).exists()
    assert [e["percent"] for e in events.named("download_progress")] == [25, 50, 75, 100]
    assert _records(spec)["big.bin"]["sha256"] == _sha(data)


def test_a_cut_segment_resumes_without_any_byte_sent_twice(model_server, tmp_path):
    data = _bytes(BIG)
    spec = _spec(model_server, tmp_path, "big.bin", data)
    model_server.set_fault("big.bin", Fault.cut(after=300_000, starting_at=2 * MIB))
    events = Events()

    result = download_one(spec, **SEGMENTED, on_event=events)

    assert spec.dest.read_bytes() == data and result.attempts == 2
    assert model_server.bytes_sent() == BIG, "only the cut piece's rest was asked again"
    _assert_ranges_disjoint(_gets(model_server))
    (retry,) = events.named("download_retry")
    assert retry["attempt"] == 2


def test_the_next_run_resumes_every_unfinished_range_from_the_sidecar(model_server, tmp_path):
    data = _bytes(BIG)
    spec = _spec(model_server, tmp_path, "big.bin", data)
    model_server.set_fault("big.bin", Fault.cut(after=256 * 1024, times=None))
    with pytest.raises(NetworkError):
        download_one(spec, **{**SEGMENTED, "retries": 0})
    held = _covered(spec)
    assert held == model_server.bytes_sent() == 8 * 256 * 1024, "every piece kept its prefix"
    model_server.clear_faults()
    model_server.clear_log()

    result = download_one(spec, **SEGMENTED)

    assert spec.dest.read_bytes() == data
    assert model_server.bytes_sent() == BIG - held == result.bytes_transferred
    assert result.resumed_from == held
    assert not _sidecar(spec).exists()


def test_one_segment_failing_for_good_leaves_the_others_done(model_server, tmp_path):
    data = _bytes(BIG)
    spec = _spec(model_server, tmp_path, "big.bin", data)
    model_server.set_fault("big.bin", Fault.cut(after=0, times=None, starting_at=3 * MIB))

    with pytest.raises(NetworkError) as failure:
        download_one(spec, **{**SEGMENTED, "retries": 2})

    assert categorize(failure.value) == "network"
    assert _covered(spec) == BIG - MIB, "all but the failing piece is kept"
    model_server.clear_faults()
    model_server.clear_log()
    download_one(spec, **SEGMENTED)
    assert spec.dest.read_bytes() == data
    (request,) = _gets(model_server)
    assert request.range == f"bytes={3 * MIB}-{4 * MIB - 1}"


@pytest.mark.parametrize("code", [429, 503])
def test_a_server_allowing_two_connections_is_served_with_two(model_server, tmp_path, code):
    data = _bytes(BIG)
    spec = _spec(model_server, tmp_path, "big.bin", data)
    model_server.set_fault("big.bin", Fault.limit(2, code=code), Fault.throttle(32 * MIB))

    result = download_one(spec, **SEGMENTED)

    # Usually one attempt; a second when the server still counts a connection the client has
    # finished with, and refuses the only one left (then the usual backoff and retry).
    assert spec.dest.read_bytes() == data and result.attempts <= 2
    gets = _gets(model_server)
    assert code in {r.status for r in gets}, "the limit was hit"
    assert sum(r.bytes_sent for r in gets if r.status == 206) == BIG
    _assert_ranges_disjoint(gets)


def test_an_expired_signed_url_is_resolved_again_from_the_original(model_server, tmp_path):
    data = _bytes(BIG)
    model_server.add("cdn-big.bin", data)
    model_server.set_fault("big.bin", Fault.signed("cdn-big.bin", uses=4))
    spec = DownloadSpec(
        "big.bin", model_server.url("big.bin"), tmp_path / "big.bin", BIG, _sha(data)
    )
    events = Events()

    result = download_one(spec, **SEGMENTED, on_event=events)

    assert spec.dest.read_bytes() == data and result.attempts == 1
    gets = _gets(model_server)
    assert all(r.path == "cdn-big.bin" for r in gets if r.status in (206, 403))
    assert 403 in {r.status for r in gets}, "a link expired on the way"
    assert len([r for r in gets if r.path == "big.bin"]) >= 2, "the original URL was asked again"
    assert all(
        "://" not in str(v) and "sig=" not in str(v) for _, a in events.calls for v in a.values()
    )


def test_a_server_that_stops_honouring_ranges_keeps_the_hashed_prefix(model_server, tmp_path):
    data = _bytes(BIG)
    spec = _spec(model_server, tmp_path, "big.bin", data)
    model_server.set_fault("big.bin", Fault.ignore_range(times=1, starting_at=4 * MIB))

    result = download_one(spec, **{**SEGMENTED, "connections": 2})

    assert spec.dest.read_bytes() == data
    gets = _gets(model_server)
    assert [r.status for r in gets].count(200) == 1
    last = gets[-1]
    assert result.resumed_from >= MIB and last.range == f"bytes={result.resumed_from}-"
    assert last.bytes_sent == BIG - result.resumed_from
    assert not _sidecar(spec).exists()


def test_open_connections_stay_bounded_across_files(model_server, tmp_path):
    files = {f"m{i}.bin": _bytes(4 * MIB, seed=i) for i in range(3)}
    specs = [_spec(model_server, tmp_path, name, data) for name, data in files.items()]
    for name in files:
        model_server.set_fault(name, Fault.throttle(16 * MIB))

    download_all(specs, jobs=3, progress=False, **{**SEGMENTED, "connections": 2})

    assert all(spec.dest.read_bytes() == files[spec.name] for spec in specs)
    # At most max(connections, jobs) = 3 open at once; one more may show at the server while
    # its handler is still closing a connection whose last byte the client already has.
    # Without the bound it would be 6.
    assert 3 <= model_server.peak_gets <= 4


def test_one_connection_picks_up_a_segmented_part(model_server, tmp_path):
    data = _bytes(BIG)
    spec = _spec(model_server, tmp_path, "big.bin", data)
    model_server.set_fault("big.bin", Fault.cut(after=256 * 1024, times=None))
    with pytest.raises(NetworkError):
        download_one(spec, **{**SEGMENTED, "retries": 0})
    model_server.clear_faults()
    model_server.clear_log()

    result = download_one(spec, **{**SEGMENTED, "connections": 1})

    assert spec.dest.read_bytes() == data and result.resumed_from == 256 * 1024
    (request,) = _gets(model_server)
    assert request.range == f"bytes={256 * 1024}-"


def test_ctrl_c_keeps_every_range_and_the_next_run_fetches_only_the_rest(model_server, tmp_path):
    data = _bytes(BIG)
    spec = _spec(model_server, tmp_path, "big.bin", data)
    model_server.set_fault("big.bin", Fault.throttle(2 * MIB))  # 4 connections: ~1 s for all
    timer = threading.Timer(0.5, _thread.interrupt_main)

    started = time.monotonic()
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            download_all([spec], jobs=1, progress=False, **SEGMENTED)
    finally:
        timer.cancel()
    assert time.monotonic() - started < 3.0
    deadline = time.monotonic() + 5  # the file's thread records the ranges as it stops
    while any(t.name.startswith("dinoair-") for t in threading.enumerate()):
        assert time.monotonic() < deadline
        time.sleep(0.05)

    held = _covered(spec)
    assert 0 < held < BIG and not spec.dest.exists()
    model_server.clear_faults()
    model_server.clear_log()
    [result] = download_all([spec], jobs=1, progress=False, **SEGMENTED)
    assert spec.dest.read_bytes() == data
    assert result.bytes_transferred == BIG - held == model_server.bytes_sent()


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 64), st.integers(0, 64)), max_size=20))
def test_range_set_matches_a_set_of_bytes(spans):
    from installer.download._segments import RangeSet

    ranges, model = RangeSet(), set()
    for a, b in spans:
        start, end = min(a, b), max(a, b)
        ranges.add(start, end)
        model.update(range(start, end))
    assert ranges.covered() == len(model)
    assert ranges.prefix() == next(i for i in range(66) if i not in model)
    for start, end in ranges.gaps(64):
        assert not model & set(range(start, end))
    assert sum(e - s for s, e in ranges.gaps(64)) == 64 - len(model & set(range(64)))
    assert all(s < e for s, e in ranges.spans())


# -- the fixture server itself (the demo and benchmarks rely on it too) -------------------------


def test_model_server_range_head_and_416(model_server):
    url = model_server.add("f.bin", b"0123456789")

    def get(range_header: str | None = None, method: str = "GET"):
        headers = {"Range": range_header} if range_header else {}
        request = urllib.request.Request(url, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers), exc.read()

    assert get()[0::2] == (200, b"0123456789")
    status, headers, body = get("bytes=3-5")
    assert (status, headers["Content-Range"], body) == (206, "bytes 3-5/10", b"345")
    assert get("bytes=7-")[2] == b"789" and get("bytes=-2")[2] == b"89"
    status, headers, _ = get("bytes=10-")
    assert (status, headers["Content-Range"]) == (416, "bytes */10")
    status, headers, body = get(method="HEAD")
    assert (status, headers["Content-Length"], body) == (200, "10", b"")
    log = model_server.requests
    assert [r.method for r in log][-1] == "HEAD" and log[1].bytes_sent == 3


def test_model_server_serves_a_folder_and_queues_faults(tmp_path):
    (tmp_path / "a.bin").write_bytes(b"abc" * 1000)
    with ModelServer(tmp_path) as srv:
        srv.set_fault("a.bin", Fault.http(503), Fault.cut(after=10))
        codes = []
        for _ in range(3):
            try:
                with urllib.request.urlopen(srv.url("a.bin"), timeout=5) as response:
                    received = 0
                    while chunk := response.read1(1 << 16):
                        received += len(chunk)
                    codes.append((response.status, received))
            except urllib.error.HTTPError as exc:
                codes.append((exc.code, 0))
        assert codes == [(503, 0), (200, 10), (200, 3000)]
        assert [r.fault for r in srv.requests] == ["status", "cut", None]
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(srv.url("../a.bin"), timeout=5)
