"""Model download throughput against aria2c and curl, what a resume re-sends, and peak memory.

The file (1 GiB of random bytes, 64 MiB with ``--quick``) is generated once into ``build/bench/``
and reused while its size matches; its SHA-256 is kept beside it (``.sha256``, keyed by size and
mtime) so it is computed once. The server is :class:`fixtures.model_server.ModelServer`, run in
its own process (``python -m benchmarks.download serve DIR``) so no client shares a GIL with it.
Every client is a whole process (ours: ``python -m benchmarks.download fetch ...``, which calls
``installer.download.download_all`` exactly as the models step does: ranges over 8 connections
into the ``.part``, SHA-256 over the growing prefix, size and hash verified, ``fsync``, renamed
into place, recorded), timed from start to exit, the rounds rotating the order of the clients.
Before every timed run the page cache is dropped where the machine allows it (root), so the
server reads the file from disk and no client finds another's pages.

* capped: the server caps every connection at 40 MiB/s (token bucket) and answers each request
  20 ms late, like a CDN. Ours vs ``aria2c -x8 -s8`` (installed with apt-get if missing; the
  figure says why it is skipped where it cannot be), vs "aria2c + sha256sum + sync" (the same
  work as ours: verified and durable), and vs ``curl -o`` (one connection).
* uncapped: the same server without a cap: ours vs ``curl -o && sha256sum && sync``.
* resume: the first run (8 connections) is stopped at 50 %, by a cut of every connection (the
  server's link drops once half the file went out) and, separately, by Ctrl-C; a second run
  resumes. Figure: the bytes the server sent twice over both runs, per connection.
* memory: the peak RSS of our client process for the 1 GiB download and, in a full run, for a
  7 GiB file (sparse on the server's side, so it costs no disk to serve).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from .harness import BUILD, PYTHON, ROOT, Result, clean_env, fmt_bytes, median

NAME = "download"
ARIA2_LIMIT = 0.9  # ours / aria2c -x8 -s8, capped
CURL_LIMIT = 4.0  # ours / curl -o, capped
UNCAPPED_LIMIT = 0.9  # ours / curl -o && sha256sum && sync, uncapped
CAP = 40 << 20  # bytes per second per connection
LATENCY = 0.02  # seconds before each answer
CONNECTIONS = 8
MEMORY_LIMIT = 100 << 20
MiB = 1 << 20
GiB = 1 << 30


# -- the files -----------------------------------------------------------------------------------


def model_file(size: int, *, sparse: bool = False) -> tuple[Path, str]:
    """``build/bench/serve-<size>/model.bin`` and its SHA-256: random bytes, or a sparse file
    of zeros (``sparse``: costs no disk, for the memory figure)."""
    folder = BUILD / f"serve-{size // MiB}m{'-sparse' if sparse else ''}"
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
    print(f"   generating {fmt_bytes(size)} in {path} (once)", flush=True)
    digest = hashlib.sha256()
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as fh:
        if sparse:
            fh.truncate(size)
        left = size
        while left:
            block = bytes(min(left, 16 * MiB)) if sparse else os.urandom(min(left, 16 * MiB))
            if not sparse:
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
            if words[0] == "cut":  # every GET of NAME is cut after N body bytes
                server.set_fault(words[1], Fault.cut(after=int(words[2]), times=None))
            elif words[0] == "outage":  # NAME N: every connection cut once N bytes went out
                server.set_fault(words[1], Fault.outage(int(words[2])))
            elif words[0] == "throttle":  # NAME RATE LATENCY: a cap on every connection
                fault = Fault.throttle(int(words[2]), latency=float(words[3]))
                server.set_fault(words[1], fault)
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


# -- clients: each a whole process ---------------------------------------------------------------


def fetch(url: str, dest: str, size: str, sha256: str, connections: str) -> int:
    """Our client: ``download_all`` as the models step calls it; prints its peak RSS (bytes)."""
    import logging

    from installer.download import DownloadSpec, download_all

    logging.basicConfig(level=logging.ERROR)
    spec = DownloadSpec("model.bin", url, Path(dest), int(size), sha256)
    [result] = download_all(
        [spec], jobs=1, timeout=30, retries=0, progress=False, connections=int(connections)
    )
    if result.status != "downloaded":
        raise SystemExit(f"expected a download, got {result.status}")
    print(_peak_rss(), flush=True)
    return 0


def _peak_rss() -> int:
    """This process's own peak RSS in bytes.

    ``VmHWM`` is the high-water mark of this process's memory map, which starts anew at exec.
    ``ru_maxrss`` is not: Linux carries it across ``execve``, so a client started by a large
    parent (the harness, after the report benchmarks) would report the parent's size.
    """
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _remove(path: Path) -> None:
    """Delete ``path`` and what the downloaders leave beside it (its page cache goes with it)."""
    for p in (
        path,
        path.with_name(path.name + ".part"),
        path.with_name(path.name + ".part.ranges"),
        path.with_name(path.name + ".aria2"),
        path.with_name(".dinoair-verified.json"),
    ):
        p.unlink(missing_ok=True)


def drop_caches() -> bool:
    """Empty the page cache (needs root); False where the machine does not allow it."""
    try:
        os.sync()
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
        return True
    except OSError:
        return False


def aria2c() -> tuple[str | None, str]:
    """The aria2c binary, installing Debian's ``aria2`` when missing; or None and why not."""
    found = shutil.which("aria2c")
    if found:
        return found, ""
    apt = shutil.which("apt-get")
    if apt is None or os.geteuid() != 0:
        return None, "aria2c is not installed and apt-get is not available as root"
    print("   installing aria2 (apt-get install -y aria2)", flush=True)
    done = subprocess.run(
        [apt, "install", "-y", "aria2"], capture_output=True, text=True, check=False
    )
    found = shutil.which("aria2c")
    if found:
        return found, ""
    return None, f"apt-get install aria2 failed: {done.stderr.strip()[-200:]}"


class Client:
    """A command that downloads ``url`` to ``dest``; ``label`` names it in the table."""

    def __init__(self, label: str, argv: Sequence[str], dest: Path, *, shell: bool = False):
        self.label = label
        self.argv = list(argv)
        self.dest = dest
        self.shell = shell
        self.times: list[float] = []
        self.rss: list[int] = []

    def run(self) -> None:
        _remove(self.dest)
        self.dest.parent.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        done = subprocess.run(
            self.argv, env=clean_env(), cwd=ROOT, capture_output=True, text=True, check=False
        )
        spent = time.perf_counter() - start
        if done.returncode != 0:
            raise RuntimeError(f"{self.label} exited {done.returncode}: {done.stderr[-1000:]}")
        self.times.append(spent)
        if done.stdout.strip().isdigit():
            self.rss.append(int(done.stdout.strip()))
        _remove(self.dest)

    def rate(self, size: int) -> float:
        return size / median(self.times)


def ours(url: str, out: Path, size: int, sha: str, connections: int = CONNECTIONS) -> Client:
    dest = out / "ours" / "model.bin"
    argv = [PYTHON, "-m", "benchmarks.download", "fetch", url, str(dest), str(size), sha]
    return Client(f"ours ({connections} connections)", [*argv, str(connections)], dest)


def curl(url: str, out: Path, then_verify: str | None = None) -> Client:
    dest = out / "curl" / "model.bin"
    cmd = f"curl -s -S -f --noproxy '*' -o {dest} {url}"
    if then_verify:
        cmd += f" && sha256sum {dest} | grep -q {then_verify} && sync {dest}"
        return Client("curl -o && sha256sum && sync", ["sh", "-c", cmd], dest)
    return Client("curl -o", ["sh", "-c", cmd], dest)


def aria(binary: str, url: str, out: Path, then_verify: str | None = None) -> Client:
    dest = out / "aria2" / "model.bin"
    cmd = (
        f"{binary} -x{CONNECTIONS} -s{CONNECTIONS} -k1M --no-conf -q --file-allocation=none "
        f"--allow-overwrite=true --auto-file-renaming=false --all-proxy='' "
        f"-d {dest.parent} -o {dest.name} {url}"
    )
    if then_verify:
        cmd += f" && sha256sum {dest} | grep -q {then_verify} && sync {dest}"
        return Client("aria2c + sha256sum + sync", ["sh", "-c", cmd], dest)
    return Client(f"aria2c -x{CONNECTIONS} -s{CONNECTIONS}", ["sh", "-c", cmd], dest)


def rounds(clients: Sequence[Client], count: int, cold: bool) -> None:
    """``count`` rounds of every client, the order rotating each round; caches dropped before
    each run when ``cold``."""
    for index in range(count):
        shift = index % len(clients)
        for client in [*clients[shift:], *clients[:shift]]:
            if cold:
                drop_caches()
            client.run()


# -- figures -------------------------------------------------------------------------------------


def measure_capped(server: ServerProcess, path: Path, sha: str, quick: bool) -> list[Result]:
    size = path.stat().st_size
    out = BUILD / "download-out"
    url = f"{server.base_url}/{path.name}"
    binary, why_not = aria2c()
    subject = ours(url, out, size, sha)
    plain_curl = curl(url, out)
    clients = [subject, plain_curl]
    arias: list[Client] = []
    if binary:
        arias = [aria(binary, url, out), aria(binary, url, out, then_verify=sha)]
        clients += arias
    cold = drop_caches()
    server.command("clear")
    server.command(f"throttle {path.name} {CAP} {LATENCY}")
    try:
        subject.run()  # warm-up (imports, bytecode); not counted
        subject.times.clear()
        rounds(clients, 3, cold)
    finally:
        server.command("clear")
    cap = f"{CAP // MiB} MiB/s per connection, {LATENCY * 1000:.0f} ms per request"
    where = f"{fmt_bytes(size)}, loopback capped at {cap}, {'cold' if cold else 'warm'} cache"
    ours_bps = subject.rate(size)
    results = []
    raw = {
        "bytes": size,
        "cold_cache": cold,
        "seconds": {c.label: c.times for c in clients},
        "mib_per_s": {c.label: c.rate(size) / MiB for c in clients},
    }
    if arias:
        plain, verified = arias
        ratio = ours_bps / plain.rate(size)
        results.append(
            Result(
                name=NAME,
                figure=f"download {where}, SHA-256 verified, fsynced",
                baseline=f"{plain.label} {plain.rate(size) / MiB:.0f} MiB/s",
                subject=f"{ours_bps / MiB:.0f} MiB/s",
                ratio=ratio,
                target=f">= {ARIA2_LIMIT}x aria2c",
                passed=ratio >= ARIA2_LIMIT,
                raw=raw,
                note=f"{verified.label} (the same work as ours): "
                f"{verified.rate(size) / MiB:.0f} MiB/s, ours "
                f"{ours_bps / verified.rate(size):.2f}x of it",
            )
        )
    else:
        print(f"   aria2c figure skipped: {why_not}", flush=True)
    ratio = ours_bps / plain_curl.rate(size)
    results.append(
        Result(
            name=NAME,
            figure=f"download {where}, SHA-256 verified, fsynced",
            baseline=f"curl -o {plain_curl.rate(size) / MiB:.0f} MiB/s",
            subject=f"{ours_bps / MiB:.0f} MiB/s",
            ratio=ratio,
            target=f">= {CURL_LIMIT}x curl",
            passed=ratio >= CURL_LIMIT,
            raw=raw,
            note="" if arias else f"aria2c not measured: {why_not}",
        )
    )
    return results


def measure_uncapped(server: ServerProcess, path: Path, sha: str) -> Result:
    size = path.stat().st_size
    out = BUILD / "download-out"
    url = f"{server.base_url}/{path.name}"
    subject = ours(url, out, size, sha)
    baseline = curl(url, out, then_verify=sha)
    plain = curl(url, out)
    cold = drop_caches()
    server.command("clear")
    subject.run()
    subject.times.clear()
    rounds([subject, baseline, plain], 3, cold)
    ratio = subject.rate(size) / baseline.rate(size)
    return Result(
        name=NAME,
        figure=f"download {fmt_bytes(size)}, loopback uncapped, "
        f"{'cold' if cold else 'warm'} cache, SHA-256 verified, fsynced",
        baseline=f"{baseline.label} {baseline.rate(size) / MiB:.0f} MiB/s",
        subject=f"{subject.rate(size) / MiB:.0f} MiB/s",
        ratio=ratio,
        target=f">= {UNCAPPED_LIMIT}x",
        passed=ratio >= UNCAPPED_LIMIT,
        raw={
            "bytes": size,
            "cold_cache": cold,
            "seconds": {c.label: c.times for c in (subject, baseline, plain)},
            "peak_rss_bytes": subject.rss,
        },
        note=f"plain curl -o (no hash, no fsync): {plain.rate(size) / MiB:.0f} MiB/s; "
        f"ours' peak RSS {fmt_bytes(max(subject.rss, default=0))}",
    )


def measure_resume(server: ServerProcess, path: Path, sha: str) -> list[Result]:
    """Stop a download over 8 connections at 50 %, then resume it; two ways of stopping.

    * a cut: the link drops for all connections at once when half the file has been sent (the
      server cuts them all); the run fails (``retries=0``) and keeps what arrived.
    * Ctrl-C at 50 % of the bytes received: the lossier case, since the connections are closed
      by the client with bytes still in flight in the sockets' buffers.

    Figure: the bytes the server sent twice over both runs, per connection.
    """
    from installer.download import DownloadSpec, download_all
    from installer.errors import NetworkError

    size = path.stat().st_size
    out = BUILD / "download-out" / "resume"
    out.mkdir(parents=True, exist_ok=True)
    spec = DownloadSpec("model.bin", f"{server.base_url}/{path.name}", out / "model.bin", size, sha)
    options = {"jobs": 1, "timeout": 30, "retries": 0, "progress": False}
    received = [0]
    lock = threading.Lock()

    def count(n: int) -> None:
        with lock:
            received[0] += n
            if interrupt and received[0] >= size // 2 > received[0] - n:
                os.kill(os.getpid(), signal.SIGINT)  # what Ctrl-C does, once

    results = []
    for interrupt in (False, True):
        _remove(spec.dest)
        received[0] = 0
        server.command("clear")
        if not interrupt:
            server.command(f"outage {path.name} {size // 2}")
        try:
            download_all([spec], connections=CONNECTIONS, on_bytes=count, **options)
            raise RuntimeError("the download should have stopped")
        except (KeyboardInterrupt, NetworkError):
            pass
        deadline = time.monotonic() + 30  # the file's own thread records its ranges last
        while time.monotonic() < deadline and any(
            t.name.startswith("dinoair-") for t in threading.enumerate()
        ):
            time.sleep(0.05)
        part = spec.dest.with_name(spec.dest.name + ".part")
        ranges = json.loads(part.with_name(part.name + ".ranges").read_text())["done"]
        kept = sum(end - start for start, end in ranges)
        sent_first = sum(r["bytes_sent"] for r in server.log())
        server.command("clear")
        [result] = download_all([spec], connections=CONNECTIONS, **options)
        second = server.log()
        sent = sum(r["bytes_sent"] for r in second)
        ok_file = result.status == "downloaded" and spec.dest.stat().st_size == size
        _remove(spec.dest)
        resent = sent_first + sent - size  # bytes the server had to send twice
        lost = received[0] - kept  # of those, received by the downloader and not kept
        how = "Ctrl-C" if interrupt else "a cut of every connection"
        note = (
            f"kept {kept * 100 // size}% in .part.ranges; received and not kept {fmt_bytes(lost)}"
            f"; {len(second)} range requests on resume"
        )
        if interrupt:
            note += (
                "; the rest of what was re-sent was in the sockets' buffers when Ctrl-C closed them"
            )
        results.append(
            Result(
                name=NAME,
                figure=f"resume after {how} at 50% ({fmt_bytes(size)}, {CONNECTIONS} connections)",
                baseline=f"remaining {fmt_bytes(size - kept)}",
                subject=f"re-sent {fmt_bytes(resent)} ({fmt_bytes(resent / CONNECTIONS)} per "
                "connection)",
                ratio=(size - kept + resent) / (size - kept) if kept < size else None,
                target="re-sent <= 1 MiB per connection",
                passed=ok_file and resent <= CONNECTIONS * MiB and kept > 0,
                raw={
                    "bytes": size,
                    "stopped_by": how,
                    "kept_bytes": kept,
                    "server_bytes_sent_first_run": sent_first,
                    "server_bytes_sent_on_resume": sent,
                    "resent_bytes": resent,
                    "received_not_kept_bytes": lost,
                    "resume_requests": len(second),
                },
                note=note,
            )
        )
    return results


def measure_memory(quick: bool, rss_1g: list[int]) -> Result:
    """Peak RSS of our client on a 7 GiB file in a full run (sparse on the server's side)."""
    size = 256 * MiB if quick else 7 * GiB
    path, sha = model_file(size, sparse=True)
    with server_for(path.parent) as server:
        subject = ours(f"{server.base_url}/{path.name}", BUILD / "download-out", size, sha)
        subject.run()
    peak = max(subject.rss)
    return Result(
        name=NAME,
        figure=f"peak memory of the downloader, {fmt_bytes(size)} file",
        baseline=f"1 GiB file: {fmt_bytes(max(rss_1g, default=0))}",
        subject=fmt_bytes(peak),
        ratio=None,
        target=f"< {fmt_bytes(MEMORY_LIMIT)}",
        passed=peak < MEMORY_LIMIT,
        raw={"bytes": size, "peak_rss_bytes": peak, "seconds": subject.times},
        note=f"whole process (Python, tqdm, urllib), {size / median(subject.times) / MiB:.0f}"
        " MiB/s uncapped; one 256 KiB buffer per connection, nothing grows with the file",
    )


def run(quick: bool) -> list[Result]:
    size = 64 * MiB if quick else GiB
    path, sha = model_file(size)
    with server_for(path.parent) as server:
        results = measure_capped(server, path, sha, quick)
        uncapped = measure_uncapped(server, path, sha)
        results.append(uncapped)
        results += measure_resume(server, path, sha)
    results.append(measure_memory(quick, uncapped.raw["peak_rss_bytes"]))
    return results


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "serve":
        sys.exit(serve(sys.argv[2]))
    if len(sys.argv) == 7 and sys.argv[1] == "fetch":
        sys.exit(fetch(*sys.argv[2:]))
    sys.exit("usage: python -m benchmarks.download serve FOLDER | fetch URL DEST SIZE SHA256 N")
