"""Reliability rows for the stack: start.sh and ollama_models under the faults users meet.

Each row runs the real programs (start.sh -> start.py, the GUI server, the Ollama stand-in, the
installer's downloader against the loopback ModelServer); the checks themselves live in
tests/test_launch.py and tests/test_ollama.py and are reused here, so a row and its unit test
cannot drift apart.
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from fixtures.demo_fixture import build_ollama_archive
from fixtures.model_server import ModelServer
from tests import test_launch, test_ollama, test_stack_check
from tests.reliability.report import Trial
from tests.stack_target import free_port


def test_port_taken(tmp_path: Path, trial: Trial) -> None:
    how = "start.sh with ComfyUI's or the GUI's port held by another listener"
    for which, option in (("comfyui", "--comfyui-port"), ("gui", "--gui-port")):
        with trial.attempt("start: port already taken", how=how):
            test_launch.test_a_taken_port_is_one_line_with_what_to_do(
                tmp_path / which, which, option
            )


def test_ctrl_c_during_start(tmp_path: Path, trial: Trial) -> None:
    with trial.attempt(
        "start: Ctrl-C while ComfyUI is still loading",
        how="SIGINT to the terminal's group before ComfyUI answers: all stopped, ports free",
    ):
        test_launch.test_ctrl_c_during_start_stops_what_was_started(tmp_path)


def test_ollama_that_never_answers(
    tmp_path: Path, trial: Trial, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OLLAMA_HOST", f"127.0.0.1:{free_port()}")
    archive = build_ollama_archive(tmp_path / "release")
    with (
        ModelServer({archive.name: archive.read_bytes()}) as server,
        trial.attempt(
            "ollama: a server that accepts but never answers (install)",
            how="ollama_models waits --timeout, names the log, stops it",
        ),
    ):
        test_ollama.test_an_ollama_that_never_answers_is_stopped_and_named(
            tmp_path / "install", (archive, server), monkeypatch
        )
    with trial.attempt(
        "ollama: a server that accepts but never answers (start)",
        how="start.sh --timeout 3: one line naming Ollama and its log, all stopped",
    ):
        test_launch.test_an_ollama_that_never_answers_times_out_with_a_clear_line(
            tmp_path / "start"
        )


def test_ollama_archive_hash_mismatch(
    tmp_path: Path, trial: Trial, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OLLAMA_HOST", f"127.0.0.1:{free_port()}")
    archive = build_ollama_archive(tmp_path / "release")
    with (
        ModelServer({archive.name: archive.read_bytes()}) as server,
        trial.attempt(
            "ollama: release archive with the wrong SHA-256",
            how="the manifest's hash does not match: nothing unpacked, nothing run",
        ),
    ):
        test_ollama.test_archive_hash_mismatch_installs_nothing(tmp_path, (archive, server))


def test_stack_check_failures_are_told_apart(
    tmp_path: Path, trial: Trial, monkeypatch: pytest.MonkeyPatch
) -> None:
    with trial.attempt(
        "verify: a part that crashes at start",
        how="ComfyUI exits with a traceback: installation, its log and how to reinstall",
    ):
        test_stack_check.test_a_comfyui_that_exits_with_a_traceback_is_installation(
            tmp_path / "crash"
        )
    with (
        socket.socket() as holder,
        trial.attempt(
            "verify: a part's port held by another program",
            how="a real socket holds the port ComfyUI binds: system, not installation",
        ),
    ):
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        test_stack_check.test_a_comfyui_whose_port_another_program_holds_is_system(
            tmp_path / "held", holder.getsockname()[1], monkeypatch
        )
    with trial.attempt(
        "verify: a part that accepts but never answers",
        how="the muted Ollama stand-in: system, within --verify-timeout, all stopped",
    ):
        test_stack_check.test_an_ollama_that_accepts_but_never_answers_is_system(
            tmp_path / "mute", monkeypatch
        )
