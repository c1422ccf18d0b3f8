"""``python -m benchmarks [--quick] [--only NAME ...]``: run figures, print and save the table."""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
import traceback

from .harness import BUILD, Result, machine, markdown_table, text_table

# Cheap figures first; the download needs its 1 GiB file and the installer a fixture.
FIGURES = {
    "spans": "benchmarks.spans",
    "sanitizer": "benchmarks.sanitizer",
    "cli": "benchmarks.cli",
    "frontdoor": "benchmarks.frontdoor",
    "report_from": "benchmarks.report_from",
    "download": "benchmarks.download",
    "installer": "benchmarks.installer_rerun",
    "deps": "benchmarks.deps",
    "pipeline": "benchmarks.pipeline",
    "update": "benchmarks.update",
    "hardware": "benchmarks.hardware",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Benchmark DinoAir's telemetry and installer against baselines measured in "
        "the same run. Writes build/bench/results.json and build/bench/table.md.",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smaller sizes (64 MiB download, 1 MB sanitizer text, up to 1,000 "
        "sessions) for a run of a minute or two",
    )
    parser.add_argument(
        "--only",
        action="append",
        metavar="NAME",
        default=[],
        help=f"run only this figure group (repeatable, or comma-separated): {', '.join(FIGURES)}",
    )
    args = parser.parse_args(argv)
    wanted = [n.strip() for item in args.only for n in item.split(",") if n.strip()]
    unknown = [n for n in wanted if n not in FIGURES]
    if unknown:
        parser.error(f"unknown figure {', '.join(unknown)}; choose from {', '.join(FIGURES)}")
    names = wanted or list(FIGURES)
    mode = "quick" if args.quick else "full"
    info = machine()
    print(
        f"DinoAir benchmarks ({mode}) on {info['cpu']}, {info['cores']} cores, "
        f"{info['platform']}, {info['python']}; load {info['load_at_start']}",
        flush=True,
    )

    results: list[Result] = []
    failures: dict[str, str] = {}
    durations: dict[str, float] = {}
    for name in names:
        print(f"-- {name} ...", flush=True)
        started = time.monotonic()
        try:
            module = importlib.import_module(FIGURES[name])
            got = module.run(args.quick)
        except Exception:
            failures[name] = traceback.format_exc()
            print(f"   {name} could not be measured:\n{failures[name]}", file=sys.stderr)
            continue
        finally:
            durations[name] = round(time.monotonic() - started, 1)
        for result in got:
            print(
                f"   {result.figure}: {result.subject} vs {result.baseline} -> "
                f"{'-' if result.ratio is None else f'{result.ratio:.2f}x'} "
                f"({'pass' if result.passed else 'MISS'})",
                flush=True,
            )
        results.extend(got)

    print()
    print(text_table(results))
    notes = [f"  {r.figure}: {r.note}" for r in results if r.note]
    if notes:
        print("\nnotes:\n" + "\n".join(notes))

    BUILD.mkdir(parents=True, exist_ok=True)
    out = {
        "mode": mode,
        "machine": info,
        "seconds_per_group": durations,
        "figures": [r.to_dict() for r in results],
        "errors": failures,
        "missed": [r.figure for r in results if not r.passed],
    }
    # A partial run (--only) keeps the other groups' latest figures in results.json.
    path = BUILD / "results.json"
    if wanted and path.exists():
        try:
            previous = json.loads(path.read_text(encoding="utf-8"))
        except ValueError:
            previous = {}
        if previous.get("mode") == mode:
            kept = [f for f in previous.get("figures", []) if f.get("name") not in names]
            out["figures"] = kept + out["figures"]
            out["missed"] = [f["figure"] for f in out["figures"] if not f["passed"]]
            out["seconds_per_group"] = {**previous.get("seconds_per_group", {}), **durations}
    path.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    all_results = [Result(**f) for f in out["figures"]]
    order = {name: i for i, name in enumerate(FIGURES)}
    all_results.sort(key=lambda r: order.get(r.name, len(order)))
    (BUILD / "table.md").write_text(markdown_table(all_results, info, mode), encoding="utf-8")
    missed = len(out["missed"])
    print(
        f"\nwrote {path} and {BUILD / 'table.md'}; {len(all_results) - missed} pass, "
        f"{missed} missed{', ' + str(len(failures)) + ' group(s) failed' if failures else ''}"
    )
    # Benchmarks report; they do not gate. Exit non-zero only when a figure could not be measured.
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
