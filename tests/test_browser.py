"""The installed web GUI in a real browser: Debian's headless Chromium, driven by Playwright.

The stack is started the way a user starts it (start.sh, Node.js hidden), with the Ollama
stand-in as the installer's Ollama: it streams /api/chat answers as Ollama does. Playwright's
own browser download is never used (``executable_path`` points at the system Chromium); the
tests are skipped, with the reason, only where no Chromium can be had (`.ci/browser-deps`
installs it). ``DINOAIR_SCREENSHOT=path`` saves the page as the docs show it.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from tests.stack_target import (
    build_target,
    free_port,
    hide_node,
    http_get,
    install_standin_ollama,
    wait_for,
)

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no chromium on PATH (Debian: `bash .ci/browser-deps`)"
)
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ANSWER = "Hello from the DinoAir stand-in model."


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """ComfyUI (fake), the stand-in Ollama and the real GUI, started by the real start.sh."""
    tmp_path = tmp_path_factory.mktemp("stack")
    target = build_target(tmp_path)
    install_standin_ollama(target)
    port = {"comfyui": free_port(), "gui": free_port(), "ollama": free_port()}
    proc = subprocess.Popen(
        [
            *("bash", str(target / "start.sh"), "--no-browser"),
            *("--comfyui-port", str(port["comfyui"]), "--gui-port", str(port["gui"])),
            *("--ollama-port", str(port["ollama"])),
        ],
        env=hide_node(dict(os.environ), tmp_path),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_for(lambda: http_get(f"http://127.0.0.1:{port['gui']}/api/config"))
        wait_for(lambda: http_get(f"http://127.0.0.1:{port['comfyui']}/system_stats"))
        wait_for(lambda: http_get(f"http://127.0.0.1:{port['ollama']}/api/version"))
        model = json.loads((target / "webgui" / "config.json").read_text())["model"]
        yield {"port": port, "target": target, "tmp": tmp_path, "model": model}
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(timeout=20)


@pytest.fixture(scope="module")
def browser(stack: dict[str, Any]) -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(stack["tmp"] / "chromium-profile"),  # a fresh --user-data-dir
            executable_path=CHROMIUM,
            headless=True,
            args=ARGS,
            viewport={"width": 900, "height": 640},
        )
        try:
            yield context
        finally:
            context.close()


def test_page_loads_with_the_model_and_the_comfyui_link(
    stack: dict[str, Any], browser: Any
) -> None:
    page = browser.new_page()
    page.goto(f"http://127.0.0.1:{stack['port']['gui']}/")
    sync_api.expect(page.locator("#model")).to_have_text(stack["model"])
    link = page.locator("#comfyui")
    comfyui = f"http://127.0.0.1:{stack['port']['comfyui']}"
    sync_api.expect(link).to_have_attribute("href", comfyui)
    assert http_get(comfyui + "/system_stats") is not None  # it points at the running ComfyUI
    sync_api.expect(page.locator("#ollama")).to_have_text(
        f"http://127.0.0.1:{stack['port']['ollama']}"
    )
    page.close()


def test_enter_sends_and_the_answer_streams_in(stack: dict[str, Any], browser: Any) -> None:
    page = browser.new_page()
    page.goto(f"http://127.0.0.1:{stack['port']['gui']}/")
    sync_api.expect(page.locator("#model")).to_have_text(stack["model"])
    page.locator("#prompt").fill("Say hello")
    page.locator("#prompt").press("Enter")
    sync_api.expect(page.locator("#log .user")).to_have_text("Say hello")
    answer = page.locator("#log div:not(.user)").last
    sync_api.expect(answer).to_have_text(ANSWER + " ", timeout=10_000)
    sync_api.expect(page.locator("#prompt")).to_have_value("")
    if os.environ.get("DINOAIR_SCREENSHOT"):
        page.screenshot(path=os.environ["DINOAIR_SCREENSHOT"])
    page.close()


def test_an_ollama_that_is_down_shows_a_readable_error(stack: dict[str, Any], browser: Any) -> None:
    """The GUI server alone, told Ollama listens on a port where nothing does."""
    gui, dead = free_port(), free_port()
    server = subprocess.Popen(
        [
            *("python3", str(stack["target"] / "webgui" / "server.py")),
            *("--port", str(gui)),
        ],
        env={**os.environ, "DINOAIR_OLLAMA_URL": f"http://127.0.0.1:{dead}"},
        stdout=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: http_get(f"http://127.0.0.1:{gui}/api/config"))
        page = browser.new_page()
        page.goto(f"http://127.0.0.1:{gui}/")
        page.locator("#prompt").fill("Anyone there?")
        page.locator("#prompt").press("Enter")
        error = page.locator("#log .error")
        sync_api.expect(error).to_have_text(
            f"Ollama does not answer at http://127.0.0.1:{dead}. Start DinoAir with start.sh "
            '(or start.bat), which starts Ollama, or run "ollama serve". The chat needs '
            f'Ollama running with the model "{stack["model"]}" pulled.'
        )
        assert "Failed to fetch" not in page.locator("#log").inner_text()
        page.close()
    finally:
        server.terminate()
        server.wait(timeout=5)
