"""The install's screen on a terminal: live lines per running step, finished steps once.

The real installer runs on the demo fixture under a pseudo-terminal (``os.openpty``, the pty its
controlling terminal, so Ctrl-C is the byte ``\\x03`` typed into it); what it wrote is fed to
pyte, a terminal emulator, and the final screen is read as a person would see it. Without a
terminal the plain lines stay as they were (tests/test_install.py, tests/test_pipeline.py).
"""

from __future__ import annotations

import fcntl
import io
import os
import re
import struct
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import click
import pyte
import pytest

from fixtures.commands import install_command
from fixtures.demo_fixture import (
    Fixture,
    add_torch_builds,
    build_fixture,
    build_ollama_archive,
    ollama_section,
    write_manifest,
)
from fixtures.model_server import Fault, ModelServer
from fixtures.package_index import PackageIndex
from installer.console import Console, live_stream
from installer.steps import STEP_NAMES
from tests.stack_target import free_port

REPO = Path(__file__).resolve().parent.parent
COLUMNS, ROWS = 110, 80
FINISHED = re.compile(r"^\[(\d+)/(\d+)\] (\w+): (ok|skipped|FAILED|CANCELLED)\b")
LIVE = re.compile(r"^\[\d+/\d+\] \w+: \d+:\d\d ")  # a live line: the time so far after the name


def screen_of(data: bytes, columns: int = COLUMNS, rows: int = ROWS) -> pyte.Screen:
    screen = pyte.Screen(columns, rows)
    screen.set_mode(pyte.modes.LNM)  # a new line starts at column 0, as a tty's ONLCR makes it
    pyte.ByteStream(screen).feed(data)
    return screen


def rows_of(screen: pyte.Screen) -> list[str]:
    return [line.rstrip() for line in screen.display]


def finished_names(rows: list[str]) -> list[str]:
    return [m.group(3) for row in rows if (m := FINISHED.match(row))]


# -- the console on its own, drawing into a buffer ------------------------------------------------


class Terminal(io.StringIO):
    """What the console draws on: a buffer that says it is a terminal of a known width."""

    def isatty(self) -> bool:
        return True


def wait_until(check: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_live_lines_redraw_in_place_and_finished_steps_print_once_above_them() -> None:
    term = Terminal()
    console = Console(lambda line: None, 9, live=term)
    console.started(3, "python_deps", "create a venv; install torch")
    console.started(7, "models", "download 2 checkpoint files")
    received = [0]
    console.track("models", lambda: received[0])
    progress = console.progress_for("models")
    for done in range(0, 4 * 2**20 + 1, 2**20):
        received[0] = done
        progress(done, 4 * 2**20, None)
        time.sleep(0.12)
    console.progress_for("python_deps")(None, None, "uv (torch and requirements): 12 resolved")
    wait_until(lambda: "12 resolved" in screen_text(term))
    rows = rows_of(screen_of(term.getvalue().encode()))
    assert rows[0].startswith("[3/9] python_deps: 0:0") and rows[0].endswith("12 resolved")
    assert rows[1].startswith("[7/9] models: 0:0") and "4.0 MiB of 4.0 MiB (100%)" in rows[1]
    assert re.search(r"\d+(\.\d)? MiB/s$", rows[1])  # the speed of what was received
    console.note("models", "resumed model.safetensors")
    console.finished(7, "models", "ok in 1.2s")
    console.finished(3, "python_deps", "FAILED [network] the index could not be reached")
    console.close()
    screen = screen_of(term.getvalue().encode())
    assert [row for row in rows_of(screen) if row] == [
        "  models: resumed model.safetensors",
        "[7/9] models: ok in 1.2s",
        "[3/9] python_deps: FAILED [network] the index could not be reached",
    ]
    assert not screen.cursor.hidden
    assert screen.cursor.y == 3 and screen.cursor.x == 0  # on the line below, nothing half-drawn


def screen_text(term: Terminal) -> str:
    return "\n".join(rows_of(screen_of(term.getvalue().encode())))


def test_a_live_line_is_cut_to_the_terminal_width_so_redraws_stay_in_place() -> None:
    term = Terminal()
    console = Console(lambda line: None, 9, live=term)
    console.started(4, "verify", "import torch " + "and more " * 40)
    wait_until(lambda: "import torch" in term.getvalue())
    console.started(8, "webgui", "copy the web GUI")
    wait_until(lambda: "copy the web GUI" in term.getvalue())
    console.finished(4, "verify", "ok in 0.4s")
    console.close()
    rows = [row for row in rows_of(screen_of(term.getvalue().encode(), columns=80)) if row]
    assert rows == ["[4/9] verify: ok in 0.4s"]  # the width fallback (80) held: nothing wrapped


@pytest.mark.parametrize(
    ("env", "verbose", "echo", "live"),
    [
        ({"TERM": "xterm"}, False, click.echo, True),
        ({"TERM": "xterm"}, False, print, True),
        ({"TERM": "xterm", "NO_COLOR": ""}, False, click.echo, False),
        ({"TERM": "dumb"}, False, click.echo, False),
        ({}, False, click.echo, False),
        ({"TERM": "xterm"}, True, click.echo, False),
        ({"TERM": "xterm"}, False, [].append, False),  # lines for someone else: plain
    ],
)
def test_live_only_on_a_terminal_that_takes_cursor_movement(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], verbose: bool, echo: object, live: bool
) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("TERM", raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    primary, secondary = os.openpty()
    with os.fdopen(secondary, "w") as tty:
        monkeypatch.setattr(sys, "stdout", tty)
        assert (live_stream(echo, verbose=verbose) is tty) is live  # type: ignore[arg-type]
    os.close(primary)
    monkeypatch.setenv("TERM", "xterm")
    monkeypatch.setattr(sys, "stdout", io.StringIO())  # a pipe or a file: never live
    assert live_stream(click.echo) is None


# -- the real installer under a pseudo-terminal --------------------------------------------------


@dataclass
class Pty:
    proc: subprocess.Popen[bytes]
    output: bytearray
    primary: int

    def screen(self) -> pyte.Screen:
        return screen_of(bytes(self.output))

    def type(self, data: bytes) -> None:
        os.write(self.primary, data)


@contextmanager
def under_pty(cmd: list[str], env: dict[str, str]) -> Iterator[Pty]:
    """``cmd`` with a pseudo-terminal as its controlling terminal, stdout and stderr."""
    primary, secondary = os.openpty()
    fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLUMNS, 0, 0))

    def controlling_tty() -> None:
        fcntl.ioctl(1, termios.TIOCSCTTY, 0)

    proc = subprocess.Popen(
        cmd,
        stdin=subprocess.DEVNULL,  # no consent prompt: the home below has said yes
        stdout=secondary,
        stderr=secondary,
        env=env,
        cwd=REPO,
        start_new_session=True,
        preexec_fn=controlling_tty,
    )
    os.close(secondary)
    output = bytearray()

    def read() -> None:
        while True:
            try:
                chunk = os.read(primary, 65536)
            except OSError:  # EIO: the child closed its end
                return
            if not chunk:
                return
            output.extend(chunk)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        yield Pty(proc, output, primary)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)
        reader.join(timeout=5)
        os.close(primary)


def installer_env(index_url: str) -> dict[str, str]:
    """The test's environment (its own consented home, see conftest) on a terminal that takes
    cursor movement, pip and uv seeing only ``index_url``."""
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    env.update(TERM="xterm", OLLAMA_HOST=f"127.0.0.1:{free_port()}", PIP_INDEX_URL=index_url)
    return env


@pytest.fixture(scope="module")
def fixture(tmp_path_factory: pytest.TempPathFactory) -> Fixture:
    return build_fixture(tmp_path_factory.mktemp("fixture"))


def test_a_whole_install_on_a_terminal_ends_with_each_step_once_and_no_live_line(
    tmp_path: Path, fixture: Fixture, consented_home: Path
) -> None:
    with ModelServer(fixture.models_dir) as server:
        write_manifest(fixture, server.base_url)
        for model in fixture.models:  # a few seconds of downloading: live lines get redrawn
            server.set_fault(model.name, Fault.throttle(512 * 1024))
        cmd = install_command(tmp_path / "DinoAir", fixture.manifest)
        with under_pty(cmd, installer_env(fixture.torch_index)) as pty:
            assert pty.proc.wait(timeout=240) == 0, bytes(pty.output).decode(errors="replace")
            time.sleep(0.2)  # the reader's last chunk
            screen = pty.screen()
    rows = rows_of(screen)
    names = finished_names(rows)
    assert sorted(names) == sorted(STEP_NAMES), rows  # every step, once
    assert not [row for row in rows if LIVE.match(row)], rows  # no live line left over
    assert b"\x1b[?25l" in pty.output and not screen.cursor.hidden  # hidden while drawing only
    assert b"\x1b[1A" in pty.output  # it did redraw in place
    assert any(row.startswith("DinoAir is installed in") for row in rows)
    assert any("models: ok in" in row for row in rows)


def test_ctrl_c_with_three_steps_running_leaves_a_clean_screen_listing_them(
    tmp_path: Path, fixture: Fixture, consented_home: Path
) -> None:
    archive = build_ollama_archive(tmp_path / "release")
    index = PackageIndex(file_delay=30.0)  # python_deps waits on every wheel
    add_torch_builds(index)
    with ModelServer(fixture.models_dir) as server, index:
        url = server.add(archive.name, archive.read_bytes())
        for model in fixture.models:
            server.set_fault(model.name, Fault.throttle(16 * 1024))
        server.set_fault(archive.name, Fault.throttle(256))  # the 2.6 KiB archive: ~10 s
        own_index, fixture.torch_index = fixture.torch_index, index.url
        try:
            manifest = write_manifest(fixture, server.base_url, ollama=ollama_section(archive, url))
        finally:
            fixture.torch_index = own_index
        cmd = install_command(tmp_path / "DinoAir", manifest)
        # A cache of its own: the suite's shared uv cache may hold the wheels already, and then
        # python_deps ends before the slow index is ever asked.
        env = {**installer_env(index.url), "UV_CACHE_DIR": str(tmp_path / "uv-cache")}
        with under_pty(cmd, env) as pty:
            running = ("python_deps", "ollama_models", "models")

            def three_live() -> bool:
                live = [row for row in rows_of(pty.screen()) if LIVE.match(row)]
                return all(any(f"] {name}: " in row for row in live) for name in running)

            wait_until(three_live, timeout=120)
            pty.type(b"\x03")  # Ctrl-C, as typed: the terminal sends SIGINT to the installer
            assert pty.proc.wait(timeout=60) == 130
            time.sleep(0.2)
            screen = pty.screen()
    rows = rows_of(screen)
    assert not [row for row in rows if LIVE.match(row)], "\n".join(rows)
    assert not [row for row in rows if "^C" in row], rows  # the echoed ^C was drawn over
    assert not screen.cursor.hidden
    cancelled = {
        m.group(3) for row in rows if (m := FINISHED.match(row)) and m.group(4) == "CANCELLED"
    }
    assert cancelled == set(running), rows
    names = finished_names(rows)
    assert len(names) == len(set(names)), rows  # each step once
    assert any(row.startswith("Summary:") for row in rows), rows


# -- the steps' progress, as it reaches a live line ----------------------------------------------


def test_downloads_report_bytes_held_across_files_and_draw_no_bar(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import hashlib

    from installer.download import DownloadSpec, download_all

    files = {"a.bin": os.urandom(3 * 2**20), "b.bin": os.urandom(2**20 + 17)}
    seen: list[tuple[int, int]] = []
    with ModelServer(files) as server:
        (tmp_path / "b.bin").write_bytes(files["b.bin"][:4096])  # a wrong file: set aside, fetched
        specs = [
            DownloadSpec(name, server.url(name), tmp_path / name, len(data), _sha(data))
            for name, data in files.items()
        ]
        download_all(
            specs,
            jobs=2,
            connections=4,
            segment_threshold=2**20,
            on_progress=lambda done, total: seen.append((done, total)),
        )
    whole = sum(len(data) for data in files.values())
    assert seen and seen[-1] == (whole, whole)
    assert all(0 <= done <= total == whole for done, total in seen)
    assert capsys.readouterr().err == ""  # no tqdm bar drawn beside the live line
    for name, data in files.items():
        assert (
            hashlib.sha256((tmp_path / name).read_bytes()).digest() == hashlib.sha256(data).digest()
        )


def _sha(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


def test_python_deps_counts_go_to_the_live_line_and_nothing_is_drawn() -> None:
    from installer.steps.python_deps import Progress

    stream, reported = io.StringIO(), []
    progress = Progress("uv", enabled=False, stream=stream, report=reported.append)
    progress.phase("torch and requirements")
    progress.feed("Resolved 3 packages in 5ms\n")
    progress.feed("Downloading torch (846.9MiB)\n")
    progress.close()
    assert reported[0] == "uv (torch and requirements): 0 resolved, 0 downloaded, 0 installed, 0 B"
    assert reported[-1].startswith("uv (torch and requirements): 3 resolved, 0 downloaded")
    assert reported[-1].endswith(", 847 MiB")
    assert stream.getvalue() == ""
