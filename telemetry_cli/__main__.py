"""``python -m telemetry_cli`` == ``dinoair-telemetry``."""

from __future__ import annotations

from telemetry_cli.cli import main

if __name__ == "__main__":
    main()
