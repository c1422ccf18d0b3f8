"""Shared fixtures: every test gets its own DINOAIR_HOME and a clean telemetry environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from otel_local_exporter import TelemetryConfig
from otel_local_exporter.config import KILL_SWITCHES


@pytest.fixture(autouse=True)
def dinoair_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private, not-yet-created telemetry home; the user's real ~/.dinoair is never touched."""
    home = tmp_path_factory.mktemp("home") / ".dinoair"
    monkeypatch.setenv("DINOAIR_HOME", str(home))
    for name in (*KILL_SWITCHES, "OTEL_RESOURCE_ATTRIBUTES"):
        monkeypatch.delenv(name, raising=False)
    return home


@pytest.fixture(autouse=True)
def package_settings(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """No test reaches a real package index: pip and uv see one empty local index only.

    The machine's own pip configuration (pip.conf, PIP_*) and UV_* settings are hidden; a test
    that wants an index sets PIP_INDEX_URL itself. uv's cache is private to the test session.
    """
    import os

    for name in list(os.environ):
        if name.startswith(("PIP_", "UV_")):
            monkeypatch.delenv(name)
    empty = tmp_path_factory.getbasetemp() / "empty-index" / "simple"
    empty.mkdir(parents=True, exist_ok=True)
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("PIP_INDEX_URL", empty.as_uri())
    monkeypatch.setenv("UV_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "uv-cache"))
    return empty


@pytest.fixture
def consented_home(dinoair_home: Path) -> Path:
    """A home whose config says yes to everything."""
    config = TelemetryConfig.load(dinoair_home)
    config.enable()
    config.save()
    return dinoair_home


def has_part_file(target: Path) -> bool:
    """Whether a download has started below ``target``. The tree changes while it is walked
    (the clone's partial folder is renamed into place), so a vanished folder means "not yet"."""
    try:
        return any(target.rglob("*.part"))
    except OSError:
        return False


def snapshot(root: Path) -> dict[str, tuple[int, bytes]]:
    """Every entry under ``root`` with its mode and content, to prove nothing changed."""
    if not root.exists():
        return {}
    entries: dict[str, tuple[int, bytes]] = {}
    for path in sorted(root.rglob("*")):
        stat = path.lstat()
        data = path.read_bytes() if path.is_file() and not path.is_symlink() else b""
        entries[str(path.relative_to(root))] = (stat.st_mode, data)
    return entries
