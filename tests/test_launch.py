"""start.sh starts the stack, waits for it, prints the URLs and stops exactly what it started.

Real processes throughout: the real start.sh and start.py, the real Python web GUI server, the
Ollama stand-in as the installer's ``ollama/bin/ollama``; only ComfyUI is a small fake server.
Node.js is hidden from PATH: the bundled GUI must not need it.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.stack_target import (
    build_target,
    free_port,
    hide_node,
    http_get,
    install_standin_ollama,
    pid_alive,
    port_free,
    wait_for,
)


def start(target: Path, tmp_path: Path, *args: str, **env: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        ["bash", str(target / "start.sh"), "--no-browser", *args],
        env={**hide_node(dict(os.environ), tmp_path), **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def finish(proc: subprocess.Popen[bytes], timeout: float = 20) -> str:
    try:
        output, _ = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    return output.decode()


def read_until(proc: subprocess.Popen[bytes], marker: str) -> str:
    """The output up to and including the line holding ``marker`` (start.py flushes each)."""
    assert proc.stdout is not None
    seen = []
    for raw in iter(proc.stdout.readline, b""):
        seen.append(raw.decode())
        if marker in seen[-1]:
            break
    return "".join(seen)


def ports() -> tuple[list[str], dict[str, int]]:
    chosen = {"comfyui": free_port(), "gui": free_port(), "ollama": free_port()}
    args = [
        *("--comfyui-port", str(chosen["comfyui"])),
        *("--gui-port", str(chosen["gui"])),
        *("--ollama-port", str(chosen["ollama"])),
    ]
    return args, chosen


@pytest.mark.parametrize("how", ["ctrl_c", "comfyui_exits"])
def test_start_sh_starts_all_three_and_stops_them(tmp_path: Path, how: str) -> None:
    target = build_target(tmp_path)
    install_standin_ollama(target)
    args, port = ports()
    proc = start(target, tmp_path, *args, FAKE_COMFYUI_SECONDS="60" if how == "ctrl_c" else "3")
    gui = f"http://127.0.0.1:{port['gui']}"
    try:
        started = target / "ComfyUI" / "started"
        comfy_pid, *comfy_args = wait_for(lambda: started.exists() and started.read_text()).split()
        assert comfy_args == [
            *("--listen", "127.0.0.1", "--port", str(port["comfyui"])),
            "--cpu",  # the device flags the installer baked into start.py
            str(target / "venv"),  # VIRTUAL_ENV: the venv was activated
        ]
        _, body = wait_for(lambda: http_get(gui + "/api/config"))
        config = json.loads(body)
        assert config["comfyuiUrl"] == f"http://127.0.0.1:{port['comfyui']}"
        assert config["ollamaUrl"] == f"http://127.0.0.1:{port['ollama']}"
        version = wait_for(lambda: http_get(f"http://127.0.0.1:{port['ollama']}/api/version"))
        assert "standin" in version[1]
        text = read_until(proc, "Press Ctrl-C to stop.")
        if how == "ctrl_c":
            os.killpg(proc.pid, signal.SIGINT)  # what a terminal does: SIGINT to the group
        text += finish(proc)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert f"ComfyUI:     http://127.0.0.1:{port['comfyui']}\n" in text
    assert f"Ollama:      http://127.0.0.1:{port['ollama']}\n" in text
    assert f"DinoAir GUI: {gui}\n" in text
    assert "Stopping DinoAir..." in text
    assert proc.returncode == (130 if how == "ctrl_c" else 0)
    assert not pid_alive(int(comfy_pid))
    assert all(port_free(p) for p in port.values())  # every port is free again


def test_a_running_ollama_is_used_and_left_running(tmp_path: Path) -> None:
    target = build_target(tmp_path)
    args, port = ports()
    standin = install_standin_ollama(tmp_path / "system")
    system = subprocess.Popen(
        [str(standin), "serve"],
        env={**os.environ, "OLLAMA_HOST": f"127.0.0.1:{port['ollama']}"},
        stdout=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: http_get(f"http://127.0.0.1:{port['ollama']}/api/version"))
        text = finish(start(target, tmp_path, *args, FAKE_COMFYUI_SECONDS="2"))
        assert "(already running: left as it is)" in text
        assert http_get(f"http://127.0.0.1:{port['ollama']}/api/version") is not None
    finally:
        system.terminate()
        system.wait()


def test_without_ollama_the_rest_starts_and_says_so(tmp_path: Path) -> None:
    target = build_target(tmp_path)  # no install_summary.json: nothing known of the last run
    args, _ = ports()
    text = finish(start(target, tmp_path, *args, FAKE_COMFYUI_SECONDS="2"))
    assert (
        "(not installed: the chat needs Ollama: install it from ollama.com, or re-run the "
        "installer when it can download Ollama (it can where its manifest names an Ollama "
        "download for this platform))"
    ) in text
    assert "DinoAir GUI: http://127.0.0.1:" in text


@pytest.mark.parametrize(
    ("case", "said"),
    [
        (
            "no_archive",
            "the installer has no Ollama download for this platform: install it from "
            "ollama.com, then re-run the installer to pull the chat model)",
        ),
        (
            "no_models",
            "install it from ollama.com, or re-run the installer without --no-models to get it)",
        ),
    ],
)
def test_without_ollama_start_says_what_would_get_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str, said: str
) -> None:
    """The real ollama_models and finalize steps, with a manifest that has no Ollama archive for
    this platform (or with --no-models), and no Ollama anywhere: start.sh must not promise
    that re-running the installer gets Ollama when it cannot."""
    from opentelemetry.sdk.trace import TracerProvider

    from installer.manifest import default_manifest_path
    from installer.runner import run_install
    from installer.steps import finalize, ollama_models
    from tests.contexts import make_ctx

    target = build_target(tmp_path)
    bundled = default_manifest_path()
    data = json.loads(bundled.read_text())
    data["ollama"] = {"archives": []}  # as for a platform Ollama publishes no archive for
    for key in ("webgui", "workflows"):
        data[key] = str(bundled.parent / data[key])
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps(data))
    monkeypatch.setenv("OLLAMA_HOST", f"127.0.0.1:{free_port()}")  # no Ollama answers there
    ctx = make_ctx(target, manifest, no_models=case == "no_models", gpu="cpu")
    result = run_install((ollama_models.STEP, finalize.STEP), ctx, TracerProvider().get_tracer("t"))
    assert result.exit_code == 0
    step = next(s for s in result.steps if s.name == "ollama_models")
    assert (step.status, step.reason) == (
        ("skipped", "ollama_not_found") if case == "no_archive" else ("skipped", "no_models_flag")
    )
    args, _ = ports()
    text = finish(start(target, tmp_path, *args, FAKE_COMFYUI_SECONDS="2"))
    assert f"(not installed: the chat needs Ollama: {said}" in text, text
    assert "re-run the installer to get it)" not in text
    assert "DinoAir GUI: http://127.0.0.1:" in text


@pytest.mark.parametrize(
    ("which", "option"), [("comfyui", "--comfyui-port"), ("gui", "--gui-port")]
)
def test_a_taken_port_is_one_line_with_what_to_do(tmp_path: Path, which: str, option: str) -> None:
    target = build_target(tmp_path)
    args, port = ports()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", port[which]))
        busy.listen()
        proc = start(target, tmp_path, *args)
        text = finish(proc)
    assert proc.returncode == 1
    line = f"port {port[which]} for "
    (message,) = [ln for ln in text.splitlines() if line in ln]
    assert message.startswith("DinoAir did not start: ")
    assert f"start DinoAir with {option} <another port>" in message
    assert "Traceback" not in text
    assert not (target / "ComfyUI" / "started").exists()  # nothing was started


def test_an_ollama_that_never_answers_times_out_with_a_clear_line(tmp_path: Path) -> None:
    target = build_target(tmp_path)
    install_standin_ollama(target)
    args, port = ports()
    proc = start(target, tmp_path, *args, "--timeout", "3", DINOAIR_STANDIN_MUTE="1")
    text = finish(proc)
    assert proc.returncode == 1
    assert (
        f"DinoAir did not start: Ollama did not answer at http://127.0.0.1:{port['ollama']}"
        "/api/version within 3 s: see logs/start-ollama.log, or start with a longer --timeout"
    ) in text
    assert "Stopping DinoAir..." in text and "Traceback" not in text
    assert all(port_free(p) for p in port.values())


def test_ctrl_c_during_start_stops_what_was_started(tmp_path: Path) -> None:
    """Ctrl-C while ComfyUI is still loading: no orphan, no traceback."""
    target = build_target(tmp_path)
    args, port = ports()
    proc = start(target, tmp_path, *args, FAKE_COMFYUI_DELAY="30")
    started = target / "ComfyUI" / "started"
    comfy_pid = wait_for(lambda: started.exists() and started.read_text()).split()[0]
    wait_for(lambda: http_get(f"http://127.0.0.1:{port['gui']}/api/config"))
    os.killpg(proc.pid, signal.SIGINT)
    text = finish(proc)
    assert proc.returncode == 130
    assert "Stopping DinoAir..." in text and "Traceback" not in text
    assert "ComfyUI:" not in text  # the URLs are printed only once all answer
    assert not pid_alive(int(comfy_pid))
    assert port_free(port["gui"])


def test_start_py_counts_gpus_as_nvidia_smi_only_when_told_a_device(tmp_path: Path) -> None:
    """``--cuda-device N`` is nvidia-smi's number (PCI bus order): start.py then sets
    CUDA_DEVICE_ORDER=PCI_BUS_ID for ComfyUI (unless set); without the flag it sets nothing."""
    from installer.launch import launcher

    probe = (
        "import os, runpy; ns = runpy.run_path('start.py');"
        "print(ns['COMFYUI_FLAGS'], os.environ.get('CUDA_DEVICE_ORDER'))"
    )
    env = {k: v for k, v in os.environ.items() if k != "CUDA_DEVICE_ORDER"}
    seen = []
    for flags in (["--cuda-device", "1"], ["--lowvram"]):
        (tmp_path / "start.py").write_text(launcher(flags))
        done = subprocess.run(
            [sys.executable, "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True
        )
        seen.append(done.stdout.strip())
    assert seen == ["['--cuda-device', '1'] PCI_BUS_ID", "['--lowvram'] None"]
