"""start.sh opens the GUI in the browser, and says so plainly when this machine has none.

The real start.sh and start.py with the stack of tests/stack_target.py (ComfyUI a small fake
that exits after 3 s, so start.sh ends by itself); the browser is a stub named by ``BROWSER``,
as Python's webbrowser module reads it, or none at all (a PATH without any).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.stack_target import build_target, free_port, hide_node


def run_start(tmp_path: Path, **env: str) -> tuple[str, int]:
    target = build_target(tmp_path)
    gui = free_port()
    base = hide_node(dict(os.environ), tmp_path)
    base.pop("BROWSER", None)
    base.pop("DISPLAY", None)
    base.pop("WAYLAND_DISPLAY", None)
    done = subprocess.run(
        [
            *("bash", str(target / "start.sh")),
            *("--comfyui-port", str(free_port()), "--gui-port", str(gui)),
            *("--ollama-port", str(free_port())),
        ],
        env={**base, "FAKE_COMFYUI_SECONDS": "3", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    return done.stdout + done.stderr, gui


def test_the_gui_opens_in_the_browser(tmp_path: Path) -> None:
    opened = tmp_path / "opened"
    browser = tmp_path / "browser"
    browser.write_text(f'#!/bin/sh\necho "$1" > "{opened}"\n')
    browser.chmod(0o755)
    output, gui = run_start(tmp_path, BROWSER=str(browser))
    assert f"DinoAir GUI: http://127.0.0.1:{gui}" in output
    assert opened.read_text().strip() == f"http://127.0.0.1:{gui}"
    assert "No web browser found" not in output


def test_without_a_browser_start_sh_says_where_to_go(tmp_path: Path) -> None:
    output, gui = run_start(tmp_path)
    assert f"No web browser found here: open http://127.0.0.1:{gui} in one.\nPress Ctrl-C" in output
