"""Child servers the installer starts and must stop: each in a process group of its own.

ComfyUI and Ollama start helpers of their own; a group lets the installer stop exactly what it
started (the whole group, and nothing else), first politely, then for good.
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
            process.terminate()
        else:
            os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=grace)
    except (OSError, subprocess.TimeoutExpired):
        try:
            if os.name == "nt":
                process.kill()
            else:
                os.killpg(process.pid, signal.SIGKILL)
        except OSError:
            pass
        process.wait()
