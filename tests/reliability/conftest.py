"""Shared parts of the reliability suite: the offline fixture, a model server, installer runs.

Everything here is real: the installer runs as a subprocess (``python -m installer``, the fast
path: no venv, no web GUI), against a real local git repository and a real loopback HTTP server,
with ``DINOAIR_HOME`` pointing at the per-test home ``tests/conftest.py`` provides.

This conftest also loads the ``tests.reliability.report`` plugin (the tried/held table), so the
table is printed whether the suite runs alone or as part of ``pytest`` over ``tests/``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from fixtures.commands import install_command
from fixtures.demo_fixture import (
    CHECKPOINT_DEST,
    DEMO_OLLAMA_MODELS,
    Fixture,
    build_fixture,
    torch_section,
)
from fixtures.model_server import ModelServer
from otel_local_exporter import TelemetryConfig
from tests.mounts import can_mount, remount_read_only, tmpfs  # noqa: F401  (re-exported)
from tests.reliability import report

REPO = Path(__file__).resolve().parents[2]
FAST = ("--skip", "python_deps", "--skip", "webgui", "--retries", "1")


def pytest_configure(config: pytest.Config) -> None:
    if not config.pluginmanager.is_registered(report):
        config.pluginmanager.register(report, "tests.reliability.report")


# -- the offline world ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Fixture:
    """The ComfyUI stand-in repository and the model files (built once for the suite)."""
    return build_fixture(tmp_path_factory.mktemp("reliability-fixture"))


def manifest_data(fixture: Fixture, base_url: str) -> dict:
    base = base_url.rstrip("/")
    return {
        "comfyui": {"repo": str(fixture.repo), "ref": fixture.tag},
        "torch": torch_section(fixture.torch_index),
        "ollama_models": list(DEMO_OLLAMA_MODELS),
        "checkpoints": [
            {
                "name": m.name,
                "url": f"{base}/{m.name}",
                "size": m.size,
                "sha256": m.sha256,
                "dest": CHECKPOINT_DEST,
            }
            for m in fixture.models
        ],
        "webgui": str(fixture.webgui_dir),
        "workflows": str(fixture.workflows_dir),
    }


def write_manifest_file(path: Path, data: Mapping) -> Path:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


@dataclass
class Served:
    server: ModelServer
    manifest: Path
    fixture: Fixture


@pytest.fixture(scope="session")
def shared(demo: Fixture, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """One fault-free model server and manifest for the tests that do not inject faults."""
    folder = tmp_path_factory.mktemp("shared-manifest")
    with ModelServer(demo.models_dir) as srv:
        manifest = write_manifest_file(folder / "manifest.json", manifest_data(demo, srv.base_url))
        yield Served(srv, manifest, demo)


@pytest.fixture
def served(demo: Fixture, tmp_path: Path) -> Iterator[Served]:
    """A model server of this test's own (faults may be injected) and a manifest pointing at it."""
    with ModelServer(demo.models_dir) as srv:
        manifest = write_manifest_file(
            tmp_path / "manifest.json", manifest_data(demo, srv.base_url)
        )
        yield Served(srv, manifest, demo)


# -- running things ------------------------------------------------------------------------------


def environment(env: Mapping[str, str | None] | None = None) -> dict[str, str]:
    """``os.environ`` with ``env`` applied (a ``None`` value removes the variable)."""
    merged = dict(os.environ)
    for key, value in (env or {}).items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged


def install(
    target: Path,
    manifest: Path,
    *args: str,
    env: Mapping[str, str | None] | None = None,
    fast: bool = True,
    timeout: float = 120,
    cwd: Path = REPO,
    preexec_fn: Callable[[], None] | None = None,
) -> subprocess.CompletedProcess[str]:
    """``python -m installer --target T --manifest M --yes [fast path] ARGS`` as a subprocess."""
    cmd = install_command(target, manifest, *(FAST if fast else ()), *args)
    return subprocess.run(
        cmd,
        cwd=cwd,
        env=environment(env),
        text=True,
        capture_output=True,
        timeout=timeout,
        check=False,
        preexec_fn=preexec_fn,
    )


def telemetry(
    *args: str,
    env: Mapping[str, str | None] | None = None,
    timeout: float = 60,
    cwd: Path = REPO,
    input: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """``python -m telemetry_cli ARGS`` as a subprocess (stdin is not a terminal)."""
    return subprocess.run(
        [sys.executable, "-m", "telemetry_cli", *args],
        cwd=cwd,
        env=environment(env),
        encoding="utf-8",
        errors="replace",
        capture_output=True,
        timeout=timeout,
        check=False,
        input=input if input is not None else "",
    )


def consent(home: Path, **switches: bool) -> Path:
    """Save a 'yes' in ``home`` (as ``dinoair-telemetry enable`` does)."""
    config = TelemetryConfig.load(home)
    config.enable(**switches)
    config.save()
    return home


def assert_clean_exit(result: subprocess.CompletedProcess[str], *codes: int) -> None:
    """An expected exit code and no Python traceback (on stderr, where Python prints them)."""
    output = f"exit {result.returncode}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
    assert result.returncode in codes, output
    assert "Traceback (most recent call last)" not in result.stderr, output


def tree_state(root: Path) -> dict[str, tuple]:
    """Every entry under ``root`` (and ``root`` itself): kind, mode, content or link target."""
    state: dict[str, tuple] = {}
    if not os.path.lexists(root):
        return state
    entries = (
        [root, *sorted(root.rglob("*"))] if root.is_dir() and not root.is_symlink() else [root]
    )
    for path in entries:
        st = path.lstat()
        key = "." if path == root else str(path.relative_to(root))
        if path.is_symlink():
            state[key] = ("link", os.readlink(path))
        elif path.is_dir():
            state[key] = ("dir", st.st_mode, st.st_mtime_ns)
        elif path.is_file():
            state[key] = ("file", st.st_mode, st.st_mtime_ns, path.read_bytes())
        else:
            state[key] = ("other", st.st_mode)
    return state


def json_files_parse(root: Path) -> list[Path]:
    """Every ``*.json`` under ``root`` parsed; returns them (raises on a torn one)."""
    found = []
    for path in sorted(root.rglob("*.json")):
        if path.is_file() and not path.is_symlink():
            json.loads(path.read_bytes().decode("utf-8"))
            found.append(path)
    return found


# -- real faults that need privileges (mount helpers live in tests/mounts.py) ---------------------


def fill_up(folder: Path) -> int:
    """Write one file into ``folder`` until the file system is really full; returns its size."""
    fd = os.open(folder / "filler.bin", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    written = 0
    try:
        for size in (64 * 1024, 4096, 1):
            block = b"\0" * size
            while True:
                try:
                    count = os.write(fd, block)
                except OSError:
                    break
                written += count
                if count < size:
                    break
    finally:
        os.close(fd)
    return written


# -- an installer run with an unexpected error (the crash-report path) ---------------------------

CRASHING_INSTALL = """
import dataclasses, sys
from installer import cli

where, message = sys.argv[1], sys.argv[2]

def explode(*args, **kwargs):
    raise RuntimeError(message)

if where == "step":  # a bug inside a step: the runner records it and writes a crash report
    cli.STEPS = tuple(dataclasses.replace(s, run=explode) if s.name == "workflows" else s
                      for s in cli.STEPS)
else:  # a bug outside any step: the command's own handler reports it
    cli._run_attributes = explode
cli.main(sys.argv[3:], prog_name="dinoair-install")
"""


def install_crashing(
    target: Path,
    manifest: Path,
    message: str,
    *args: str,
    where: str = "step",
    env: Mapping[str, str | None] | None = None,
    fast: bool = True,
    cwd: Path = REPO,
    timeout: float = 120,
    preexec_fn: Callable[[], None] | None = None,
) -> subprocess.CompletedProcess[str]:
    """The real installer command with one injected bug raising ``RuntimeError(message)``."""
    cmd = [
        sys.executable,
        "-c",
        CRASHING_INSTALL,
        where,
        message,
        "--target",
        str(target),
        "--manifest",
        str(manifest),
        "--yes",
        *(FAST if fast else ()),
        *args,
    ]
    return subprocess.run(
        cmd,
        cwd=cwd,
        env=environment(env),
        text=True,
        capture_output=True,
        timeout=timeout,
        check=False,
        preexec_fn=preexec_fn,
    )
