"""What ``status`` reports: the effective state and why, the saved choice, and the data on disk.

This module must stay light: ``status`` answers without importing the OpenTelemetry SDK. It only
reads (the config, a listing of the data folder); it never creates the home or recovers journals.
"""

from __future__ import annotations

import contextlib
import fnmatch
from pathlib import Path
from typing import Any

from otel_local_exporter import (
    CRASH_GLOB,
    CRASHES_DIR,
    JOURNAL_SUFFIX,
    SESSION_GLOB,
    SESSIONS_DIR,
    TelemetryConfig,
    data_files,
    kill_switch,
    resolve_consent,
    telemetry_home,
)


def gather_status(home: Path | None = None) -> dict[str, Any]:
    """Everything ``status`` shows, as plain data (``status --json`` prints exactly this)."""
    home = home or telemetry_home()
    config = TelemetryConfig.load(home)
    decision = resolve_consent(config, home=home)
    return {
        "enabled": decision.enabled,
        "source": decision.source,
        "reason": decision.reason,
        "kill_switch": kill_switch(),
        "effective": {
            "telemetry": decision.enabled,
            "error_reporting": decision.error_reporting,
            "usage_analytics": decision.usage_analytics,
        },
        "config_state": config.state,
        "config_problem": config.problem,
        "config_path": str(config.path),
        "config_exists": config.exists,
        "config": None if config.problem else config.to_dict(),
        "data": data_summary(home),
    }


def data_summary(home: Path) -> dict[str, Any]:
    """Counts and bytes of the collected data, from a folder listing (no file is parsed)."""
    counts = {"sessions": 0, "crash_reports": 0, "journals": 0, "other": 0}
    total = 0
    files = data_files(home)
    for path in files:
        with contextlib.suppress(OSError):
            total += path.lstat().st_size
        if path.parent.name == SESSIONS_DIR and fnmatch.fnmatch(path.name, SESSION_GLOB):
            counts["sessions"] += 1
        elif path.parent.name == CRASHES_DIR and fnmatch.fnmatch(path.name, CRASH_GLOB):
            counts["crash_reports"] += 1
        elif path.name.endswith(JOURNAL_SUFFIX):
            counts["journals"] += 1
        else:
            counts["other"] += 1
    return {
        "home": str(home),
        "home_exists": _is_dir(home),
        "sessions_folder": str(home / SESSIONS_DIR),
        "crashes_folder": str(home / CRASHES_DIR),
        **counts,
        "files": len(files),
        "bytes": total,
    }


def _is_dir(path: Path) -> bool:
    try:
        return path.is_dir()
    except OSError:  # a name too long, no permission: there is no data we could show
        return False
