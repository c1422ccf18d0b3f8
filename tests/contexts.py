"""An :class:`InstallContext` for calling one step directly, with its events collected."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from installer.context import InstallContext, Options
from installer.manifest import load_manifest

Events = list[tuple[str, dict[str, Any]]]


def make_ctx(
    target: Path, manifest: Path | None, events: Events | None = None, **options: Any
) -> InstallContext:
    """``manifest`` None means the bundled default manifest."""
    sink: Callable[[str, dict[str, Any]], None] = (
        (lambda name, attrs: events.append((name, attrs)))
        if events is not None
        else (lambda name, attrs: None)
    )
    return InstallContext(
        options=Options(target=target, **options),
        manifest=load_manifest(manifest),
        echo=lambda line: None,
        _sink=sink,
    )
