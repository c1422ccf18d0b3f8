"""What ``report-issue --submit`` sends leaks nothing: every failure category, a fake GitHub.

A person with a recognisable user name, home folder and secrets in the environment runs failing
installs (installation, network, system, configuration, cancelled, unexpected); each run is then
submitted to a fake GitHub API on 127.0.0.1, and everything that server received (paths,
headers, bodies) is scanned for the person's name, home, host and secrets.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import time

import pytest

from fixtures.commands import install_command
from fixtures.demo_fixture import Fixture
from fixtures.model_server import Fault, ModelServer
from otel_local_exporter import load_crashes, load_sessions
from tests.conftest import has_part_file
from tests.github_server import FakeGitHub

from .conftest import (
    FAST,
    assert_clean_exit,
    environment,
    install,
    install_crashing,
    manifest_data,
    telemetry,
    write_manifest_file,
)

USER = "zelda_quixote"
HF_TOKEN = "hf_" + "Q" * 34
SECRET_KEY = "sk-" + "z" * 40
CATEGORIES = ("installation", "network", "system", "configuration", "cancelled", "unexpected")


def _wait_for(predicate, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not predicate() and time.monotonic() < deadline:
        time.sleep(0.05)


@pytest.fixture(scope="module")
def world(demo: Fixture, tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("submit")
    home = root / USER
    home.mkdir()
    env = environment(
        {
            "HOME": str(home), "USER": USER, "LOGNAME": USER, "USERNAME": USER,
            "DINOAIR_HOME": None, "HF_TOKEN": HF_TOKEN, "OPENAI_API_KEY": SECRET_KEY,
            "GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1",
        }
    )  # fmt: skip
    assert_clean_exit(telemetry("enable", "--yes", env=env, cwd=home), 0)
    manifests = home / "my manifests"
    manifests.mkdir()
    with ModelServer(demo.models_dir) as srv:
        data = manifest_data(demo, srv.base_url)
        good = write_manifest_file(manifests / "manifest.json", data)
        big = max(demo.models, key=lambda m: m.size)
        srv.set_fault(big.name, Fault.different(b"\x00" * big.size, times=None))
        assert_clean_exit(install(home / "i1", good, env=env, cwd=home), 1)  # installation
        srv.set_fault(big.name, Fault.http(503, times=None))
        assert_clean_exit(install(home / "i2", good, env=env, cwd=home), 1)  # network
        srv.clear_faults()
        blocker = home / "blocker file"
        blocker.write_text("x")
        assert_clean_exit(install(blocker / "DinoAir", good, env=env, cwd=home), 1)  # system
        bad = json.loads(good.read_text())
        bad["checkpoints"][0]["name"] = f"../{USER}"
        bad_manifest = write_manifest_file(manifests / "bad.json", bad)
        assert_clean_exit(install(home / "i4", bad_manifest, env=env, cwd=home), 1)  # config
        for model in demo.models:  # cancelled
            srv.set_fault(model.name, Fault.stall(after=1024, seconds=60, times=None))
        target = home / "cancelled"
        proc = subprocess.Popen(
            install_command(target, good, *FAST), cwd=home, env=env, text=True,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip
        _wait_for(lambda: has_part_file(target))
        time.sleep(0.3)
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=60)
        srv.clear_faults()
        message = f"cannot write {home}/x for {USER} with HF_TOKEN={HF_TOKEN}"
        assert_clean_exit(install_crashing(home / "i6", good, message, env=env, cwd=home), 1)
    telemetry_home = home / ".dinoair"
    ids = [f.data["session_id"] for f in load_sessions(telemetry_home).files]
    ids += [
        c.data["crash_id"]
        for c in load_crashes(telemetry_home).files
        if not c.data.get("session_id")
    ]
    return home, env, ids


def test_submit_sends_nothing_that_identifies_the_person(world) -> None:
    home, env, ids = world
    fake = FakeGitHub()
    try:
        env = {**env, "GITHUB_API_URL": fake.url, "GH_TOKEN": "test-token",
               "DINOAIR_HOME": str(home / ".dinoair")}  # fmt: skip
        categories = set()
        for session_id in ids:
            result = telemetry(
                "report-issue", session_id[:12], "--submit", "--yes",
                "--repo", "https://github.com/o/r", env=env, cwd=home,
            )  # fmt: skip
            assert result.returncode == 0, result.stderr
            categories.update(c for c in CATEGORIES if c in result.stdout)
        assert categories >= {"installation", "network", "system", "configuration", "unexpected"}
        sent = fake.sent()
        assert sum(r["method"] == "POST" for r in fake.requests) >= len(ids) - 1
        for value in (USER, str(home), HF_TOKEN, SECRET_KEY, socket.gethostname()):
            assert value not in sent, f"{value!r} reached the fake GitHub"
        assert "test-token" not in "".join(r["raw"] for r in fake.requests), "token only in headers"
    finally:
        fake.close()
