"""Killing an installer run the way a power cut would: the whole process tree, at once."""

from __future__ import annotations

import contextlib

import psutil


def kill_tree(pid: int) -> int:
    """SIGKILL ``pid`` and every process below it; returns how many were alive to kill.

    Listing the children and then killing them one by one races with the tree itself: a tool
    that exits in between makes ``kill`` raise ``NoSuchProcess``, and a tool the installer starts
    in between is never killed and runs on beside the next run (both seen under heavy load).
    So each process is stopped (SIGSTOP) first, top down, until the walk finds no new one: a
    stopped process can neither exit nor start another. Then every one of them gets SIGKILL.
    """
    try:
        root = psutil.Process(pid)
        if root.status() == psutil.STATUS_ZOMBIE:
            return 0  # it finished by itself
        root.suspend()
    except psutil.NoSuchProcess:
        return 0
    stopped: dict[int, psutil.Process] = {pid: root}
    while True:
        try:
            found = [p for p in root.children(recursive=True) if p.pid not in stopped]
        except psutil.NoSuchProcess:
            found = []
        if not found:
            break
        for proc in found:
            with contextlib.suppress(psutil.NoSuchProcess):
                proc.suspend()
            stopped[proc.pid] = proc
    for proc in stopped.values():
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.kill()
    return len(stopped)
