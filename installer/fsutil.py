"""Writing the installer's own files (stamps, records, scripts) so a crash never tears one.

The writing itself is ``otel_local_exporter.atomic_write``, the project's one atomic write; this
module only fixes the installer's default: files in an install folder are readable by everyone
(0644), like any installed file, while telemetry files stay private (0600).
"""

from __future__ import annotations

from pathlib import Path

from otel_local_exporter import atomic_write

INSTALL_FILE_MODE = 0o644


def write_atomic(path: Path, data: bytes | str, mode: int = INSTALL_FILE_MODE) -> None:
    """Readers see the old file or the new one, whole. Safe from several threads at once."""
    atomic_write(path, data, mode=mode)
