"""The signed known-issues feed: a real loopback feed server that counts its requests, real
Ed25519 keys, the real installer failing, and the maintainers' keygen / sign / verify."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization as ser
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from fixtures.commands import install_command
from fixtures.demo_fixture import Fixture, build_fixture, write_manifest
from fixtures.model_server import ModelServer
from otel_local_exporter import (
    TelemetryConfig,
    cached_issues,
    load_sessions,
    lookup,
    refresh,
    sign_payload,
)
from telemetry_cli.cli import cli

REPO = Path(__file__).resolve().parent.parent


class FeedServer:
    """Serves ``body`` at any path on 127.0.0.1, after ``delay`` seconds; keeps each request."""

    def __init__(self) -> None:
        self.body = b"{}"
        self.delay = 0.0
        self.requests: list[dict[str, str]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests.append({"path": self.path, **dict(self.headers)})
                time.sleep(server.delay)
                self.send_response(200)
                self.send_header("Content-Length", str(len(server.body)))
                self.end_headers()
                self.wfile.write(server.body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/known_issues.json"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    server = FeedServer()
    yield server
    server.close()


@pytest.fixture
def keys(monkeypatch: pytest.MonkeyPatch) -> bytes:
    """A maintainers' key pair of this test; the installer checks with its public half."""
    key = Ed25519PrivateKey.generate()
    public = key.public_key().public_bytes(ser.Encoding.Raw, ser.PublicFormat.Raw)
    monkeypatch.setenv("DINOAIR_KNOWN_ISSUES_KEY", base64.b64encode(public).decode())
    return key.private_bytes(ser.Encoding.PEM, ser.PrivateFormat.PKCS8, ser.NoEncryption())


def _feed(*issues: dict) -> str:
    return json.dumps({"schema_version": 1, "issues": list(issues)})


ISSUE = {
    "signature": "0123456789ab",
    "url": "https://example.test/issues/7",
    "title": "the model server drops large downloads",
    "fixed_in": "9.0.0",
    "workaround": "re-run with --jobs 1",
}


def _switch_on(home: Path, on: bool = True) -> None:
    config = TelemetryConfig.load(home)
    config.enable()
    config.fix_notifications_enabled = on
    config.save()


def test_a_good_feed_is_cached_and_the_request_carries_nothing_about_the_user(
    feed_server: FeedServer, keys: bytes, dinoair_home: Path
) -> None:
    _switch_on(dinoair_home)
    feed_server.body = json.dumps(sign_payload(_feed(ISSUE), keys)).encode()
    done = refresh(dinoair_home, feed_server.url, "0.2.0")
    assert done.outcome == "fetched", done
    (request,) = feed_server.requests
    assert request["path"] == "/known_issues.json", "no query string"
    assert request["User-Agent"] == "dinoair-installer/0.2.0"
    assert "Cookie" not in request and "Authorization" not in request
    user_id = TelemetryConfig.load(dinoair_home).user_id
    assert user_id and user_id not in json.dumps(request)
    assert lookup(dinoair_home, "0123456789ab") is not None
    assert lookup(dinoair_home, "ffffffffffff") is None
    # At most once a day: the next refresh does not ask again.
    assert refresh(dinoair_home, feed_server.url, "0.2.0").outcome == "fresh"
    assert len(feed_server.requests) == 1


def test_a_pattern_matches_the_parts_of_a_signature(
    feed_server: FeedServer, keys: bytes, dinoair_home: Path
) -> None:
    _switch_on(dinoair_home)
    pattern = {**ISSUE, "signature": None, "match": {"step": "models", "message": "HTTP <N>.*"}}
    del pattern["signature"]
    feed_server.body = json.dumps(sign_payload(_feed(pattern), keys)).encode()
    assert refresh(dinoair_home, feed_server.url, "0.2.0").outcome == "fetched"
    parts = {"step": "models", "category": "network", "message": "HTTP <N> Service Unavailable"}
    assert lookup(dinoair_home, "aaaaaaaaaaaa", parts) is not None
    assert lookup(dinoair_home, "aaaaaaaaaaaa", {**parts, "step": "comfyui"}) is None


def test_a_tampered_feed_and_a_wrong_key_are_refused_and_the_cache_kept(
    feed_server: FeedServer, keys: bytes, dinoair_home: Path
) -> None:
    _switch_on(dinoair_home)
    good = sign_payload(_feed(ISSUE), keys)
    feed_server.body = json.dumps(good).encode()
    assert refresh(dinoair_home, feed_server.url, "0.2.0").outcome == "fetched"
    tampered = {**good, "payload": good["payload"].replace("9.0.0", "0.0.1")}
    feed_server.body = json.dumps(tampered).encode()
    done = refresh(dinoair_home, feed_server.url, "0.2.0", force=True)
    assert done.outcome == "refused" and "signature" in done.detail
    other = Ed25519PrivateKey.generate().private_bytes(
        ser.Encoding.PEM, ser.PrivateFormat.PKCS8, ser.NoEncryption()
    )
    feed_server.body = json.dumps(sign_payload(_feed(ISSUE), other)).encode()
    assert refresh(dinoair_home, feed_server.url, "0.2.0", force=True).outcome == "refused"
    feed_server.body = b"not json"
    assert refresh(dinoair_home, feed_server.url, "0.2.0", force=True).outcome == "refused"
    (issue,) = cached_issues(dinoair_home)
    assert issue.fixed_in == "9.0.0", "the good feed stays"


def test_unreachable_and_slow_feeds_fail_quickly(
    feed_server: FeedServer, keys: bytes, dinoair_home: Path
) -> None:
    _switch_on(dinoair_home)
    closed = FeedServer()
    url = closed.url
    closed.close()
    started = time.monotonic()
    done = refresh(dinoair_home, url, "0.2.0")
    assert done.outcome == "failed" and "could not be fetched" in done.detail
    feed_server.delay = 5
    feed_server.body = json.dumps(sign_payload(_feed(ISSUE), keys)).encode()
    done = refresh(dinoair_home, feed_server.url, "0.2.0", timeout=0.5)
    assert done.outcome == "failed"
    assert time.monotonic() - started < 4
    assert cached_issues(dinoair_home) == []


def test_no_request_with_the_switch_off_or_a_kill_switch(
    feed_server: FeedServer, keys: bytes, dinoair_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _switch_on(dinoair_home, on=False)
    assert refresh(dinoair_home, feed_server.url, "0.2.0").outcome == "off"
    _switch_on(dinoair_home, on=True)
    monkeypatch.setenv("DO_NOT_TRACK", "1")
    assert refresh(dinoair_home, feed_server.url, "0.2.0", force=True).outcome == "off"
    assert feed_server.requests == []


def test_keygen_sign_verify(tmp_path: Path) -> None:
    runner = CliRunner()
    key_file = tmp_path / "feed.key"
    result = runner.invoke(cli, ["known-issues", "keygen", str(key_file)])
    assert result.exit_code == 0, result.output
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"
    public = result.output.strip().rsplit(" ", 1)[-1]
    feed = tmp_path / "feed.json"
    feed.write_text(_feed(ISSUE))
    result = runner.invoke(cli, ["known-issues", "sign", str(feed), "--key", str(key_file)])
    assert result.exit_code == 0 and "Signed 1 issues" in result.output
    signed = tmp_path / "feed.signed.json"
    env = {"DINOAIR_KNOWN_ISSUES_KEY": public}
    result = runner.invoke(cli, ["known-issues", "verify", str(signed)], env=env)
    assert result.exit_code == 0 and "the signature is good" in result.output
    result = runner.invoke(cli, ["known-issues", "verify", str(signed)])  # the shipped key
    assert result.exit_code == 1 and "does not match" in result.output
    assert "Traceback" not in result.output


# -- the installer ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fixture]:
    built = build_fixture(tmp_path_factory.mktemp("fixture"))
    with ModelServer(built.models_dir) as srv:
        write_manifest(built, srv.base_url)
        yield built


def _failing_install(demo: Fixture, tmp_path: Path, feed_url: str) -> subprocess.CompletedProcess:
    data = json.loads(Path(demo.manifest).read_text())
    data.setdefault("project", {})["known_issues"] = feed_url
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps(data))
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the install folder's parent should be")
    cmd = install_command(blocker / "DinoAir", manifest, "--only", "preflight")
    return subprocess.run(
        cmd, cwd=REPO, env=dict(os.environ), capture_output=True, text=True, timeout=120
    )


def test_a_failed_install_prints_the_known_issue_from_the_cache(
    demo: Fixture, feed_server: FeedServer, keys: bytes, dinoair_home: Path, tmp_path: Path
) -> None:
    _switch_on(dinoair_home, on=False)
    first = _failing_install(demo, tmp_path, feed_server.url)
    assert first.returncode == 1, first.stderr
    assert feed_server.requests == [], "fix notifications off: no request"
    assert "Known issue" not in first.stderr
    doc = load_sessions(dinoair_home).files[0].data
    step = next(s for s in doc["spans"] if s["attributes"].get("installer.step") == "preflight")
    signature = step["attributes"]["installer.error.signature"]
    # The maintainers publish it; the user's cache has it (an explicit refresh).
    feed_server.body = json.dumps(sign_payload(_feed({**ISSUE, "signature": signature}), keys))
    feed_server.body = feed_server.body.encode()  # type: ignore[attr-defined]
    assert refresh(dinoair_home, feed_server.url, "0.2.0", force=True).outcome == "fetched"
    second = _failing_install(demo, tmp_path, feed_server.url)
    assert second.returncode == 1
    assert f"Known issue: {ISSUE['title']} ({ISSUE['url']})" in second.stderr
    assert "Fixed in 9.0.0 (you have" in second.stderr
    assert "Workaround: re-run with --jobs 1" in second.stderr
    assert len(feed_server.requests) == 1, "the failed run read the cache, not the network"
    # known-issues and status say so too.
    listed = CliRunner().invoke(cli, ["known-issues"])
    assert signature in listed.output and "fixed in 9.0.0" in listed.output
    status = CliRunner().invoke(cli, ["status"])
    assert "2 of your failures are fixed in 9.0.0" in status.output


def test_the_installer_refreshes_in_the_background_with_the_switch_on(
    demo: Fixture, feed_server: FeedServer, keys: bytes, dinoair_home: Path, tmp_path: Path
) -> None:
    _switch_on(dinoair_home, on=True)
    feed_server.body = json.dumps(sign_payload(_feed(ISSUE), keys)).encode()
    result = _failing_install(demo, tmp_path, feed_server.url)
    assert result.returncode == 1
    assert len(feed_server.requests) == 1 and cached_issues(dinoair_home)
    _failing_install(demo, tmp_path, feed_server.url)
    assert len(feed_server.requests) == 1, "at most once a day"
