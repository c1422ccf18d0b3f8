"""What the downloader tells the user is true (issue 22, findings 5 and 6): the cause of a failure
with credentials in the URL or behind a proxy, no stray warning among the bars, a resumed
download that says so, and a rate that is the real average."""

from __future__ import annotations

import base64
import hashlib
import http.server
import io
import logging
import random
import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from tqdm import tqdm

from fixtures.model_server import ModelServer
from installer.download import DownloadSpec, download_all, download_one
from installer.download._progress import make_bar
from installer.errors import NetworkError

FAST = {"timeout": 5.0, "retries": 1, "backoff": 0.01}


@pytest.fixture(autouse=True)
def _loopback_without_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _spec(url: str, dest: Path, data: bytes) -> DownloadSpec:
    return DownloadSpec("model.bin", url, dest, len(data), hashlib.sha256(data).hexdigest())


def test_credentials_in_the_url_to_a_closed_port_is_connection_refused(tmp_path: Path) -> None:
    port = _closed_port()
    spec = _spec(f"http://user:pass@127.0.0.1:{port}/model.bin", tmp_path / "m.bin", b"x" * 10)
    with pytest.raises(NetworkError) as caught:
        download_one(spec, **FAST)
    message = str(caught.value)
    assert "connection refused" in message and "DNS" not in message
    assert f"127.0.0.1:{port}" in message and "pass" not in message


@pytest.fixture
def basic_auth_server() -> Iterator[tuple[str, bytes, list[str]]]:
    data = random.Random(3).randbytes(100_000)
    seen: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.headers.get("Authorization", ""))
            expected = "Basic " + base64.b64encode(b"user:p@ss").decode()
            if self.headers.get("Authorization") != expected:
                self.send_response(401)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://user:p%40ss@127.0.0.1:{server.server_port}/model.bin", data, seen
    finally:
        server.shutdown()
        server.server_close()


def test_credentials_in_the_url_reach_the_server_as_basic_auth(
    tmp_path: Path, basic_auth_server: tuple[str, bytes, list[str]]
) -> None:
    url, data, seen = basic_auth_server
    result = download_one(_spec(url, tmp_path / "m.bin", data), **FAST)
    assert result.status == "downloaded" and (tmp_path / "m.bin").read_bytes() == data
    assert seen and all(h.startswith("Basic ") for h in seen)


def test_a_proxy_that_is_down_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    proxy = _closed_port()
    monkeypatch.setenv("http_proxy", f"http://127.0.0.1:{proxy}")
    monkeypatch.delenv("no_proxy")
    monkeypatch.delenv("NO_PROXY")
    spec = _spec("http://models.example/model.bin", tmp_path / "m.bin", b"x" * 10)
    with pytest.raises(NetworkError) as caught:
        download_one(spec, **FAST)
    assert str(caught.value).startswith(
        f"could not download model.bin from models.example via proxy 127.0.0.1:{proxy}: "
        "connection refused"
    ), caught.value


def test_every_failed_file_is_in_the_steps_one_line(tmp_path: Path) -> None:
    port = _closed_port()
    specs = [
        DownloadSpec(n, f"http://127.0.0.1:{port}/{n}", tmp_path / n, 10, "ab" * 32)
        for n in ("a.bin", "b.bin")
    ]
    with pytest.raises(NetworkError) as caught:
        download_all(specs, progress=False, jobs=2, **FAST)
    message = str(caught.value)
    assert "\n" not in message and "a.bin" in message and "b.bin" in message, message
    assert message.count("connection refused") == 2, message


def test_a_failed_file_prints_no_warning_among_the_bars(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    spec = _spec(f"http://127.0.0.1:{_closed_port()}/model.bin", tmp_path / "m.bin", b"x" * 10)
    caplog.set_level(logging.WARNING)
    with pytest.raises(NetworkError, match="connection refused"):
        download_all([spec], progress=False, **FAST)
    assert not [r for r in caplog.records if r.name.startswith("installer.download")]


def test_a_resumed_download_says_where_it_resumed(tmp_path: Path) -> None:
    data = random.Random(5).randbytes(3 * 2**20)
    with ModelServer({"model.bin": data}) as server:
        dest = tmp_path / "model.bin"
        dest.with_name("model.bin.part").write_bytes(data[: 768 * 1024])
        out = io.StringIO()
        bar = tqdm(total=len(data), file=out, unit="B", unit_scale=True, unit_divisor=1024)
        result = download_one(_spec(server.url("model.bin"), dest, data), bar=bar, **FAST)
        bar.close()
    assert result.resumed_from == 768 * 1024 and dest.read_bytes() == data
    assert "model.bin (resumed at 768 KiB of 3.0 MiB)" in bar.desc


def test_the_bar_shows_the_real_average_rate(tmp_path: Path) -> None:
    """A burst then a slow trickle: the bar shows bytes over elapsed time, not the burst."""
    spec = _spec("http://127.0.0.1:9/model.bin", tmp_path / "m.bin", b"x" * 10 * 2**20)
    out = io.StringIO()
    bar = make_bar(spec, 0, progress=True, file=out)
    started = time.monotonic()
    bar.update(2**20)  # the first chunk arrives at once
    for _ in range(5):
        time.sleep(0.2)
        bar.update(1024)
    bar.refresh()  # what the bar shows now
    elapsed = time.monotonic() - started
    shown = re.findall(r"([\d.]+)([kMG]?)B/s", out.getvalue())[-1]
    rate = float(shown[0]) * {"": 1, "k": 1024, "M": 2**20, "G": 2**30}[shown[1]]
    bar.close()
    average = (2**20 + 5 * 1024) / elapsed
    assert 0.8 * average <= rate <= 1.25 * average, (rate, average)
