"""``dinoair-telemetry``: the command that shows, exports, clears, enables and disables telemetry.

``main`` is imported lazily so ``python -m telemetry_cli.cli`` does not load the module twice.
"""

from __future__ import annotations

from typing import Any

__all__ = ["main"]


def __getattr__(name: str) -> Any:
    if name == "main":
        from .cli import main

        return main
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
