"""Nothing is recorded that the catalogue, and so the consent notice, does not name.

Real installs (a full run on a stubbed NVIDIA machine, each failure category, Ctrl-C, a crash)
write real sessions and crash reports under a temp home; every span name, attribute key, event
name, event attribute key, resource key and crash-report field found there must have an entry in
``otel_local_exporter.catalogue`` and a line in the notice people agree to.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from fixtures.commands import install_command
from fixtures.demo_fixture import Fixture
from fixtures.model_server import Fault, ModelServer
from otel_local_exporter import (
    CATALOGUE,
    collection_notice,
    find_field,
    load_crashes,
    load_sessions,
)
from tests.conftest import has_part_file
from tests.gpu_tools import RTX_3090_535, nvidia

from .conftest import (
    FAST,
    assert_clean_exit,
    consent,
    environment,
    install,
    install_crashing,
    manifest_data,
    write_manifest_file,
)


def _wait_for(predicate, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not predicate() and time.monotonic() < deadline:
        time.sleep(0.05)


@pytest.fixture(scope="module")
def recorded(demo: Fixture, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A telemetry home holding the sessions of every kind of run, and their crash reports."""
    root = tmp_path_factory.mktemp("catalogue")
    home = consent(root / "home")
    bin_dir = root / "bin"
    nvidia(bin_dir, RTX_3090_535, "12.2")
    env = environment({"DINOAIR_HOME": str(home), "PATH": f"{bin_dir}:{environment()['PATH']}"})
    with ModelServer(demo.models_dir) as srv:
        data = manifest_data(demo, srv.base_url)
        good = write_manifest_file(root / "manifest.json", data)
        # success: every step, a venv, torch for the stubbed GPU, verify.
        done = install(root / "full", good, env=env, fast=False, timeout=300)
        assert_clean_exit(done, 0)
        # installation: a checksum mismatch.
        big = max(demo.models, key=lambda m: m.size)
        srv.set_fault(big.name, Fault.different(b"\x00" * big.size, times=None))
        assert_clean_exit(install(root / "checksum", good, env=env), 1)
        # network: HTTP 503.
        srv.set_fault(big.name, Fault.http(503, times=None))
        assert_clean_exit(install(root / "503", good, env=env), 1)
        srv.clear_faults()
        # system: the target below a regular file.
        blocker = root / "blocker"
        blocker.write_text("x")
        assert_clean_exit(install(blocker / "DinoAir", good, env=env), 1)
        # configuration: a checkpoint name leaving its folder.
        bad = json.loads(good.read_text())
        bad["checkpoints"][0]["name"] = "../escape"
        bad_manifest = write_manifest_file(root / "bad.json", bad)
        assert_clean_exit(install(root / "config", bad_manifest, env=env), 1)
        # cancelled: Ctrl-C while the downloads stall.
        for model in demo.models:
            srv.set_fault(model.name, Fault.stall(after=1024, seconds=60, times=None))
        target = root / "cancelled"
        proc = subprocess.Popen(
            install_command(target, good, *FAST), env=env, text=True,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip
        _wait_for(lambda: has_part_file(target))
        time.sleep(0.3)
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=60)
        assert proc.returncode == 130
        srv.clear_faults()
        # unexpected: a bug in a step (a crash report) and one outside any step.
        assert_clean_exit(install_crashing(root / "crash", good, "boom 42", env=env), 1)
        result = install_crashing(root / "out", good, "boom", where="outside", env=env)
        assert_clean_exit(result, 1)
    yield home


def _recorded_keys(home: Path) -> set[tuple[str, str]]:
    keys: set[tuple[str, str]] = set()
    for stored in load_sessions(home).files:
        for span in stored.data["spans"]:
            keys.add(("span", span["name"]))
            keys.update(("attribute", k) for k in span["attributes"])
            for event in span["events"]:
                keys.add(("event", event["name"]))
                keys.update((f"event:{event['name']}", k) for k in event["attributes"])
        keys.update(("resource", k) for k in stored.data["resource"])
    for crash in load_crashes(home).files:
        keys.update(("crash", k) for k in crash.data)
    return keys


def test_every_recorded_key_is_in_the_catalogue_and_the_notice(recorded: Path) -> None:
    keys = _recorded_keys(recorded)
    kinds = {kind for kind, _ in keys}
    assert {"span", "attribute", "event", "resource", "crash"} <= kinds
    # The runs did record the hardware and the failures (or the check would prove little).
    assert ("attribute", "installer.system.gpu_model") in keys
    assert ("attribute", "installer.error.signature") in keys
    assert ("event", "cancelled") in keys and ("crash", "signature") in keys
    notice = "\n".join(collection_notice(recorded))
    missing = []
    for kind, key in sorted(keys):
        if kind.startswith("event:"):
            entry = find_field("event", kind[len("event:") :])
            if entry is None or key not in entry.keys:
                missing.append(f"{kind} {key}")
            continue
        entry = find_field(kind, key)
        if entry is None:
            missing.append(f"{kind} {key}")
        elif kind != "crash" and entry.key not in notice:
            missing.append(f"{kind} {key}: no line in the notice")
    assert not missing, "recorded but not in the catalogue:\n" + "\n".join(missing)
    assert all(f.key in notice for f in CATALOGUE)
