"""Model download throughput from a loopback HTTP server, and what a resume transfers.

The file (1 GiB of random bytes, 64 MiB with ``--quick``) is generated once into ``build/bench/``
and reused while its size matches; its SHA-256 is kept beside it (``.sha256``, keyed by size and
mtime) so it is computed once. The server is :class:`fixtures.model_server.ModelServer`, run in
its own process (``python -m benchmarks.download serve DIR``) so neither client shares a GIL
with it.

* throughput: baseline ``curl -s -o`` (Python ``shutil.copyfileobj`` over ``urllib`` where curl
  is missing); subject ``installer.download.download_all`` exactly as the models step calls it:
  streamed into ``.part``, SHA-256 computed while streaming, size and hash verified, ``fsync``,
  renamed into place, recorded. Rounds alternate; the destinations are deleted between rounds.
* resume: the server cuts the connection at 50%; a run with ``retries=0`` fails and keeps the
  ``.part``; a second run resumes. Figure: body bytes the server sent to the second run (its own
  request log) and the bytes the downloader counted, against the bytes that were missing.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .harness import (
    BUILD,
    PYTHON,
    ROOT,
    FsyncMeter,
    Result,
    clean_env,
    fmt_bytes,
    fmt_ns,
    interleave,
    median,
    now_ns,
)

NAME = "download"
THROUGHPUT_LIMIT = 0.9
RESUME_SLACK = 1 << 20
MiB = 1 << 20


# -- the file ------------------------------------------------------------------------------------


def model_file(size: int) -> tuple[Path, str]:
    """``build/bench/serve-<size>/model.bin`` of ``size`` random bytes and its SHA-256."""
    folder = BUILD / f"serve-{size // MiB}m"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "model.bin"
    sidecar = folder / "model.bin.sha256"
    if path.exists() and path.stat().st_size == size and sidecar.exists():
        st = path.stat()
        try:
            saved = json.loads(sidecar.read_text())
            if saved.get("size") == size and saved.get("mtime_ns") == st.st_mtime_ns:
                return path, saved["sha256"]
        except (ValueError, KeyError):
            pass
    print(f"   generating {fmt_bytes(size)} of random bytes in {path} (once)", flush=True)
    digest = hashlib.sha256()
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as fh:
        left = size
        while left:
            block = os.urandom(min(left, 16 * MiB))
            fh.write(block)
            digest.update(block)
            left -= len(block)
    os.replace(tmp, path)
    st = path.stat()
    sidecar.write_text(
        json.dumps({"size": size, "mtime_ns": st.st_mtime_ns, "sha256": digest.hexdigest()})
    )
    return path, digest.hexdigest()


# -- the server, in its own process --------------------------------------------------------------


def serve(folder: str) -> int:
    """Serve ``folder`` until stdin closes; stdin commands: ``cut NAME N``, ``log``, ``clear``."""
    from fixtures.model_server import Fault, ModelServer

    with ModelServer(Path(folder)) as server:
        print(server.base_url, flush=True)
        for line in sys.stdin:
            words = line.split()
            if not words:
                continue
            if words[0] == "cut":
                server.set_fault(words[1], Fault.cut(after=int(words[2])))
            elif words[0] == "clear":
                server.clear_log()
                server.clear_faults()
            elif words[0] == "log":
                log = [
                    {
                        "path": r.path,
                        "range": r.range,
                        "status": r.status,
                        "bytes_sent": r.bytes_sent,
                        "fault": r.fault,
                    }
                    for r in server.requests
                ]
                print(json.dumps(log), flush=True)
            print("ok", flush=True)
    return 0


class ServerProcess:
    def __init__(self, folder: Path) -> None:
        self.proc = subprocess.Popen(
            [PYTHON, "-m", "benchmarks.download", "serve", str(folder)],
            cwd=ROOT,
            env=clean_env(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        self.base_url = self.proc.stdout.readline().strip()
        if not self.base_url.startswith("http://127.0.0.1:"):
            self.close()
            raise RuntimeError(f"model server did not start: {self.base_url!r}")

    def command(self, line: str) -> list[str]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        out = []
        while (reply := self.proc.stdout.readline().strip()) != "ok":
            if not reply and self.proc.poll() is not None:
                raise RuntimeError("model server exited")
            out.append(reply)
        return out

    def log(self) -> list[dict[str, Any]]:
        return json.loads(self.command("log")[0])

    def close(self) -> None:
        if self.proc.stdin:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@contextlib.contextmanager
def server_for(folder: Path) -> Iterator[ServerProcess]:
    server = ServerProcess(folder)
    try:
        yield server
    finally:
        server.close()


# -- clients -------------------------------------------------------------------------------------


def _remove(path: Path) -> None:
    """Delete ``path`` and what the downloader leaves beside it (its page cache goes with it)."""
    for p in (path, path.with_name(path.name + ".part"), path.with_name(".dinoair-verified.json")):
        p.unlink(missing_ok=True)


def curl_client(url: str, dest: Path) -> tuple[str, Any]:
    curl = shutil.which("curl")
    if curl:

        def run() -> None:
            subprocess.run(
                [curl, "-s", "-S", "-f", "--noproxy", "*", "-o", str(dest), url], check=True
            )

        return "curl -o", run

    def py() -> None:
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(url, timeout=30) as response, open(dest, "wb") as fh:
            shutil.copyfileobj(response, fh, 1 << 20)

    return "urllib+copyfileobj", py


def installer_client(spec: Any) -> Any:
    from installer.download import download_all

    def run() -> None:
        [result] = download_all([spec], jobs=1, timeout=30, retries=0, progress=False)
        if result.status != "downloaded":
            raise RuntimeError(f"expected a download, got {result.status}")

    return run


# -- figures -------------------------------------------------------------------------------------


def measure_throughput(server: ServerProcess, path: Path, sha: str, quick: bool) -> Result:
    from installer.download import DownloadSpec

    size = path.stat().st_size
    rounds = 3
    out = BUILD / "download-out"
    out.mkdir(parents=True, exist_ok=True)
    url = f"{server.base_url}/{path.name}"
    curl_dest = out / "curl.bin"
    spec = DownloadSpec("model.bin", url, out / "installer" / "model.bin", size, sha)
    label, baseline = curl_client(url, curl_dest)

    def between() -> None:
        _remove(curl_dest)
        _remove(spec.dest)

    with FsyncMeter() as fsyncs:
        base_ns, subj_ns = interleave(
            baseline, fsyncs.around(installer_client(spec)), rounds, warmup=1, between=between
        )
    between()
    base_bps = size / (median(base_ns) / 1e9)
    subj_bps = size / (median(subj_ns) / 1e9)
    ratio = subj_bps / base_bps
    fsync_ns = fsyncs.ns / (rounds + 1)
    sha_ns = _sha256_cost(path)
    disk_bps = size / (_durable_write_cost(path, out / "disk.bin") / 1e9)
    return Result(
        name=NAME,
        figure=f"download {fmt_bytes(size)} from loopback, SHA-256 verified",
        baseline=f"{label} {base_bps / MiB:.0f} MiB/s",
        subject=f"{subj_bps / MiB:.0f} MiB/s",
        ratio=ratio,
        target=f">= {THROUGHPUT_LIMIT}x throughput",
        passed=ratio >= THROUGHPUT_LIMIT,
        raw={
            "bytes": size,
            "baseline": label,
            "baseline_round_ns": base_ns,
            "subject_round_ns": subj_ns,
            "baseline_mib_per_s": base_bps / MiB,
            "subject_mib_per_s": subj_bps / MiB,
            "fsync_ns_per_download": fsync_ns,
            "sha256_ns_of_file_from_memory": sha_ns,
            "durable_write_mib_per_s": disk_bps / MiB,
        },
        note=f"per download: fsync {fmt_ns(fsync_ns)}, SHA-256 alone {fmt_ns(sha_ns)} "
        f"(in memory), of {fmt_ns(median(subj_ns))}; curl does neither. Copying the file "
        f"on this disk with an fsync: {disk_bps / MiB:.0f} MiB/s",
    )


def _durable_write_cost(path: Path, dest: Path) -> int:
    """Nanoseconds to copy ``path`` (from the page cache) to ``dest`` and fsync it."""
    start = now_ns()
    with open(path, "rb") as src, open(dest, "wb") as fh:
        while block := src.read(MiB):
            fh.write(block)
        fh.flush()
        os.fsync(fh.fileno())
    spent = now_ns() - start
    dest.unlink()
    return spent


def _sha256_cost(path: Path) -> float:
    """Nanoseconds SHA-256 of the whole file takes from memory (64 MiB sampled, scaled)."""
    sample = min(path.stat().st_size, 64 * MiB)
    with open(path, "rb") as fh:
        blocks = [fh.read(MiB) for _ in range(sample // MiB)]
    times = []
    for _ in range(3):
        digest = hashlib.sha256()
        start = now_ns()
        for block in blocks:
            digest.update(block)
        times.append(now_ns() - start)
    return median(times) * path.stat().st_size / sample


def measure_resume(server: ServerProcess, path: Path, sha: str) -> Result:
    from installer.download import DownloadSpec, download_all
    from installer.errors import NetworkError

    size = path.stat().st_size
    cut = size // 2
    out = BUILD / "download-out" / "resume"
    out.mkdir(parents=True, exist_ok=True)
    spec = DownloadSpec("model.bin", f"{server.base_url}/{path.name}", out / "model.bin", size, sha)
    _remove(spec.dest)
    server.command("clear")
    server.command(f"cut {path.name} {cut}")
    quiet = logging.getLogger("installer.download")
    level, quiet.level = quiet.level, logging.ERROR  # the expected failure is not news
    try:
        download_all([spec], jobs=1, timeout=30, retries=0, progress=False)
        raise RuntimeError("the cut download should have failed with retries=0")
    except NetworkError:
        pass
    finally:
        quiet.setLevel(level)
    part = spec.dest.with_name(spec.dest.name + ".part")
    kept = part.stat().st_size if part.exists() else 0
    first = server.log()
    server.command("clear")
    [result] = download_all([spec], jobs=1, timeout=30, retries=0, progress=False)
    second = server.log()
    sent = sum(r["bytes_sent"] for r in second)
    remaining = size - kept
    ok_file = result.status == "downloaded" and spec.dest.stat().st_size == size
    _remove(spec.dest)
    worst = max(sent, result.bytes_transferred)
    return Result(
        name=NAME,
        figure=f"resume after a cut at 50% ({fmt_bytes(size)})",
        baseline=f"remaining {fmt_bytes(remaining)}",
        subject=f"sent {fmt_bytes(sent)}, received {fmt_bytes(result.bytes_transferred)}",
        ratio=worst / remaining if remaining else None,
        target="<= remaining + 1 MiB",
        passed=ok_file and worst <= remaining + RESUME_SLACK and kept > 0,
        raw={
            "bytes": size,
            "cut_after": cut,
            "part_kept_bytes": kept,
            "remaining_bytes": remaining,
            "server_bytes_sent_on_resume": sent,
            "client_bytes_transferred": result.bytes_transferred,
            "resumed_from": result.resumed_from,
            "first_run_requests": first,
            "resume_requests": second,
        },
        note=f"resume request(s): {[r['range'] for r in second]}; extra bytes {worst - remaining}",
    )


def run(quick: bool) -> list[Result]:
    size = 64 * MiB if quick else 1 << 30
    path, sha = model_file(size)
    with server_for(path.parent) as server:
        return [measure_throughput(server, path, sha, quick), measure_resume(server, path, sha)]


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "serve":
        sys.exit(serve(sys.argv[2]))
    sys.exit("usage: python -m benchmarks.download serve FOLDER")
