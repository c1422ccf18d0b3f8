"""TelemetryConfig, the kill switches and consent precedence, on real files."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from otel_local_exporter import TelemetryConfig, kill_switch, resolve_consent

INVALID_CONTENTS = {
    "null": b"null",
    "list": b"[1]",
    "string": b'"x"',
    "not json": b"{telemetry_enabled: yes",
    "non-utf8": b'{"telemetry_enabled": true, "user_id": "\xff\xfe"}',
    "string bool": b'{"telemetry_enabled": "false"}',
    "number switch": b'{"telemetry_enabled": true, "error_reporting_enabled": 1}',
    "id not text": b'{"telemetry_enabled": true, "user_id": 42}',
    "empty": b"",
}


def test_missing_file_is_undecided_and_off(dinoair_home: Path) -> None:
    config = TelemetryConfig.load(dinoair_home)
    assert config.state == "undecided"
    decision = resolve_consent(config)
    assert (decision.enabled, decision.source) == (False, "undecided")
    assert not dinoair_home.exists(), "reading must create nothing"


def test_enable_save_load_round_trip_with_private_modes(dinoair_home: Path) -> None:
    config = TelemetryConfig.load(dinoair_home)
    config.enable(usage_analytics=False)
    assert config.save() is None
    again = TelemetryConfig.load(dinoair_home)
    assert again.to_dict() == config.to_dict()
    assert again.state == "enabled" and again.usage_analytics_enabled is False
    assert len(again.user_id or "") == 32 and again.consent_timestamp.endswith("Z")
    assert stat.S_IMODE(os.stat(dinoair_home).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(config.path).st_mode) == 0o600
    decision = resolve_consent(again)
    assert decision.enabled and decision.error_reporting and not decision.usage_analytics


def test_user_id_is_random_and_install_id_stable(dinoair_home: Path) -> None:
    first = TelemetryConfig.load(dinoair_home)
    first.enable()
    first.save()
    second = TelemetryConfig(path=dinoair_home / "other.json")
    second.enable()
    assert first.user_id != second.user_id
    reloaded = TelemetryConfig.load(dinoair_home)
    reloaded.disable()
    reloaded.enable()
    assert reloaded.install_id == first.install_id and reloaded.user_id == first.user_id


def test_disable_stamps_opt_out_and_turns_all_off(dinoair_home: Path) -> None:
    config = TelemetryConfig.load(dinoair_home)
    config.enable()
    config.disable()
    config.save()
    data = json.loads(config.path.read_text())
    assert data["telemetry_enabled"] is False
    assert data["error_reporting_enabled"] is False and data["usage_analytics_enabled"] is False
    assert data["opt_out_timestamp"].endswith("Z")
    assert resolve_consent().source == "config" and not resolve_consent().enabled


@pytest.mark.parametrize("name", sorted(INVALID_CONTENTS))
def test_invalid_files_mean_off_with_a_reason_and_are_kept_aside(
    dinoair_home: Path, name: str
) -> None:
    dinoair_home.mkdir(mode=0o700)
    bad = INVALID_CONTENTS[name]
    (dinoair_home / "telemetry_config.json").write_bytes(bad)
    config = TelemetryConfig.load(dinoair_home)
    assert config.state == "invalid"
    assert config.problem and "invalid" in config.problem
    decision = resolve_consent(config)
    assert not decision.enabled and decision.source == "config-invalid"
    config.enable()
    kept = config.save()
    assert kept is not None and kept.read_bytes() == bad, "the bad file must be kept, not lost"
    assert kept.name.startswith("telemetry_config.json.invalid-")
    assert TelemetryConfig.load(dinoair_home).state == "enabled"


def test_a_folder_where_the_file_should_be(dinoair_home: Path) -> None:
    (dinoair_home / "telemetry_config.json").mkdir(parents=True)
    config = TelemetryConfig.load(dinoair_home)
    assert config.state == "invalid" and "folder" in (config.problem or "")
    config.disable()
    kept = config.save()
    assert kept is not None and kept.is_dir()
    assert TelemetryConfig.load(dinoair_home).state == "disabled"


def test_a_symlinked_config_is_not_followed(dinoair_home: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside.json"
    outside.write_text('{"telemetry_enabled": true}')
    dinoair_home.mkdir()
    (dinoair_home / "telemetry_config.json").symlink_to(outside)
    config = TelemetryConfig.load(dinoair_home)
    assert config.state == "invalid" and "link" in (config.problem or "")
    config.disable()
    config.save()
    assert outside.read_text() == '{"telemetry_enabled": true}', "never written through a link"


@pytest.mark.parametrize(
    ("name", "value", "off"),
    [
        ("DINOAIR_DISABLE_TELEMETRY", "1", True),
        ("DINOAIR_DISABLE_TELEMETRY", "TRUE", True),
        ("DINOAIR_DISABLE_TELEMETRY", "yes", True),
        ("DINOAIR_DISABLE_TELEMETRY", "On", True),
        ("DINOAIR_DISABLE_TELEMETRY", "0", False),
        ("DINOAIR_DISABLE_TELEMETRY", "", False),
        ("DO_NOT_TRACK", "1", True),
        ("DO_NOT_TRACK", "true", True),
        ("DO_NOT_TRACK", "0", False),
        ("DO_NOT_TRACK", "", False),
        ("OTEL_SDK_DISABLED", "true", True),
        ("OTEL_SDK_DISABLED", "True", True),
        ("OTEL_SDK_DISABLED", "1", False),
    ],
)
def test_kill_switches_beat_the_config(
    consented_home: Path, monkeypatch: pytest.MonkeyPatch, name: str, value: str, off: bool
) -> None:
    monkeypatch.setenv(name, value)
    decision = resolve_consent()
    assert (kill_switch() == name) is off
    assert decision.enabled is (not off)
    if off:
        assert decision.source == f"env:{name}" and name in decision.reason


def test_run_flag_beats_the_config_but_not_the_saved_choice(consented_home: Path) -> None:
    decision = resolve_consent(run_disabled=True)
    assert (decision.enabled, decision.source) == (False, "run-flag")
    assert TelemetryConfig.load(consented_home).state == "enabled"


def test_save_follows_no_symlinked_home(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    target.mkdir()
    link = tmp_path / "home"
    link.symlink_to(target)
    config = TelemetryConfig(path=link / "telemetry_config.json")
    config.enable()
    with pytest.raises(OSError):
        config.save()
    assert list(target.iterdir()) == []
