"""``report --from`` over 10,000 and 100,000 sessions: seconds and peak memory, against 10 s.

The data is a folder of bundles of 100 sessions each, as a year of many users' exports would
be: three in four JSON bundles (``export``'s indented format), one in four OTLP/JSON lines
written by the real encoder, every session with a distinct id. Twenty template bundles are
generated from ``fixtures.bundles`` (with real variety: results, failures, messages, hardware)
and copied with new session ids, so a 100,000-session folder takes seconds to build, not
minutes; it is kept in ``build/bench/`` between runs.

Each size runs ``python -m telemetry_cli report --from FOLDER --json`` as a fresh process
(start-up included), a few rounds; the figure is the best round's wall time (a shared machine
can only slow a process down), the median wall time, the median CPU seconds of all processes
(user + sys: what the report costs, steady even when other work crowds the machine) and the
peak resident memory of the largest process (``getrusage`` of the children). The target is
absolute: 100,000 sessions in 10 s.
"""

from __future__ import annotations

import random
from pathlib import Path

from .harness import BUILD, PYTHON, Result, clean_env, fmt_bytes, median, run_quiet

NAME = "report_from"
TARGET_S = 10.0
PER_BUNDLE = 100
TEMPLATES = 20
PREFIX = "abcdef"  # every template session id starts with it, then 2 hex of the template


def _templates(folder: Path) -> list[tuple[bytes, bool]]:
    from fixtures.bundles import json_bundle, otlp_lines, random_truth, session_doc

    rng = random.Random(2026)
    out = []
    for t in range(TEMPLATES):
        docs = []
        for k in range(PER_BUNDLE):
            sid = f"{PREFIX}{t:02x}{k:04x}{rng.getrandbits(80):020x}"
            docs.append(session_doc(random_truth(rng, sid)))
        otlp = t % 4 == 3
        out.append((otlp_lines(docs) if otlp else json_bundle(docs), otlp))
    return out


def dataset(sessions: int) -> Path:
    """A folder of ``sessions // 100`` bundles (built once, then reused)."""
    folder = BUILD / f"report-from-{sessions}"
    done = folder / ".complete"
    if done.exists():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    templates = _templates(folder)
    for index in range(sessions // PER_BUNDLE):
        t = index % TEMPLATES
        blob, otlp = templates[t]
        # A new 8-hex head for this copy's ids: the template head, replaced in every id.
        head = f"{index:08x}".encode()
        copy = blob.replace(f"{PREFIX}{t:02x}".encode(), head)
        name = f"user{index:06d}.{'jsonl' if otlp else 'json'}"
        (folder / name).write_bytes(copy)
    done.touch()
    return folder


_WRAPPER = """
import json, resource, subprocess, sys, time
start = time.perf_counter()
done = subprocess.run(sys.argv[1:], capture_output=True, check=False)
wall = time.perf_counter() - start
use = resource.getrusage(resource.RUSAGE_CHILDREN)
if done.returncode or b'"sessions"' not in done.stdout[:200]:
    sys.exit(done.stderr.decode(errors="replace")[-2000:] or "no report")
print(json.dumps({"wall_s": wall, "cpu_s": use.ru_utime + use.ru_stime,
                  "peak_rss_bytes": use.ru_maxrss * 1024}))
"""


def _measure(folder: Path, rounds: int) -> dict[str, float]:
    """Best of ``rounds`` (with the medians of wall and CPU time); each run under a fresh
    wrapper whose only children are the report and its workers, so ``getrusage`` gives exactly
    their CPU time and largest resident set."""
    import json

    env = clean_env()
    command = [PYTHON, "-m", "telemetry_cli", "report", "--from", str(folder), "--json"]
    runs = [
        json.loads(run_quiet([PYTHON, "-c", _WRAPPER, *command], env=env).stdout)
        for _ in range(rounds)
    ]
    best = min(runs, key=lambda r: r["wall_s"])
    return {
        **best,
        "median_wall_s": median([r["wall_s"] for r in runs]),
        "median_cpu_s": median([r["cpu_s"] for r in runs]),
    }


def run(quick: bool) -> list[Result]:
    sizes = (10_000,) if quick else (10_000, 100_000)
    results = []
    for sessions in sizes:
        folder = dataset(sessions)
        got = _measure(folder, rounds=3)
        per = got["wall_s"] / sessions * 1e6
        results.append(
            Result(
                name=NAME,
                figure=f"`report --from` over {sessions:,} sessions",
                baseline=f"target {TARGET_S:.0f} s",
                subject=f"{got['wall_s']:.2f} s (median {got['median_wall_s']:.2f} s; "
                f"CPU median {got['median_cpu_s']:.1f} s), peak {fmt_bytes(got['peak_rss_bytes'])}",
                ratio=got["wall_s"] / TARGET_S,
                target="<= 1.0x (10 s)",
                passed=got["wall_s"] <= TARGET_S,
                raw={**got, "sessions": sessions, "us_per_session": per},
                note=f"{sessions // PER_BUNDLE} bundles; {per:.0f} us a session; peak memory "
                "of the largest process",
            )
        )
    return results
