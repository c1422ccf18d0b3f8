"""Child servers the installer starts and must stop: each in a process group of its own.

ComfyUI and Ollama start helpers of their own; a group lets the installer stop exactly what it
started (the whole group, and nothing else), first politely, then for good. On Windows the
polite stop is the group's Ctrl-Break (Ctrl-C is off in a new process group), and the final one
``taskkill /F /T``: a venv's ``python.exe`` is a launcher that runs the real Python as its child,
and ``TerminateProcess`` on the launcher alone would leave that child (ComfyUI, on its port)
running.
"""

from __future__ import annotations

import os
import signal
import subprocess
from typing import Any


def own_group() -> dict[str, Any]:
    """``Popen`` keywords that start the child in a new process group."""
    if os.name == "nt":
        return {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP}  # type: ignore[attr-defined]
    return {"start_new_session": True}


def stop(process: subprocess.Popen[bytes], grace: float = 10.0) -> None:
    """Stop ``process`` and its group, then reap it; a no-op when it has already exited."""
    if process.poll() is not None:
        return
    try:
        if os.name == "nt":
            process.send_signal(signal.CTRL_BREAK_EVENT)  # type: ignore[attr-defined]
        else:
            os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=grace)
    except (OSError, subprocess.TimeoutExpired):
        kill_tree(process, windows=os.name == "nt")
        process.wait()


def kill_tree(process: subprocess.Popen[bytes], windows: bool) -> None:
    """End ``process`` and everything it started, for good (``process.kill()`` when Windows'
    taskkill fails)."""
    try:
        if not windows:
            os.killpg(process.pid, signal.SIGKILL)
            return
        done = subprocess.run(
            ["taskkill", "/F", "/T", "/PID", str(process.pid)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=False,
        )
        if done.returncode != 0 and process.poll() is None:
            process.kill()
    except OSError:
        pass
