"""A second installer run over a finished install, against the first run.

The demo fixture (:func:`fixtures.demo_fixture.build_fixture`: a local git repository standing
in for ComfyUI, a wheel, two checkpoint files served by a loopback
:class:`~fixtures.model_server.ModelServer`) is installed with
``python -m installer --target T --manifest M --yes`` and a consented ``DINOAIR_HOME``, exactly
like ``make demo``. The first, full run is timed once (it creates a venv and runs pip); then the
same command runs three more times over the finished install and the median is the subject.
The steps' own durations in the second run's session, and ``python -m installer --version``
(interpreter start and imports), are kept in the raw results: they say where the time goes.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from fixtures.commands import install_command

from .harness import PYTHON, Result, clean_env, fmt_ns, median, now_ns, run_quiet
from .spans import consented_home

NAME = "installer"
LIMIT = 0.1


def _steps(home: Path) -> dict[str, Any]:
    """Status and duration of each step in the newest session."""
    from otel_local_exporter import load_sessions

    scan = load_sessions(home)
    if not scan.files:
        return {}
    doc = scan.files[0].data
    root = next((s for s in doc["spans"] if s["parent_span_id"] is None), {})
    out: dict[str, Any] = {"run_ms": root.get("duration_ms")}
    for event in doc["events"]:
        if event["event_type"] == "installation_step":
            out[event["step_name"]] = {
                "status": event["status"],
                "duration_ms": event["duration_ms"],
                "reason": event.get("reason"),
            }
    return out


def run(quick: bool) -> list[Result]:
    from fixtures.demo_fixture import build_fixture, write_manifest
    from fixtures.model_server import ModelServer

    with tempfile.TemporaryDirectory(prefix="bench-installer-") as tmp:
        root = Path(tmp)
        fixture = build_fixture(root / "fixture")
        home = consented_home(root)
        target = root / "DinoAir"
        env = {k: v for k, v in clean_env().items() if not k.startswith(("PIP_", "UV_"))}
        # Offline: the fixture's own index only, never this machine's pip settings.
        env.update(
            DINOAIR_HOME=str(home),
            PIP_CONFIG_FILE=os.devnull,
            PIP_INDEX_URL=fixture.torch_index,
            UV_CACHE_DIR=str(root / "uv-cache"),
        )
        with ModelServer(fixture.models_dir) as server:
            write_manifest(fixture, server.base_url)
            cmd = install_command(target, fixture.manifest, python=PYTHON)
            start = now_ns()
            run_quiet(cmd, env=env)
            first = now_ns() - start
            first_steps = _steps(home)
            seconds: list[int] = []
            version: list[int] = []
            for _ in range(3):
                start = now_ns()
                run_quiet([PYTHON, "-m", "installer", "--version"], env=env)
                version.append(now_ns() - start)
                server.clear_log()
                start = now_ns()
                done = run_quiet(cmd, env=env)
                seconds.append(now_ns() - start)
                fetched = server.requests
                if fetched:
                    raise RuntimeError(f"the second run downloaded again: {fetched}")
                if b"DinoAir is installed" not in done.stdout:
                    raise RuntimeError("the second run did not finish the install")
            second_steps = _steps(home)
    subj = median(seconds)
    ratio = subj / first
    skipped = {
        k: v["reason"]
        for k, v in second_steps.items()
        if isinstance(v, dict) and v["status"] == "skipped"
    }
    step_ms = sum(v["duration_ms"] for v in second_steps.values() if isinstance(v, dict))
    return [
        Result(
            name=NAME,
            figure="second installer run over a finished install (demo manifest)",
            baseline=f"first run {fmt_ns(first)}",
            subject=fmt_ns(subj),
            ratio=ratio,
            target=f"<= {LIMIT}x",
            passed=ratio <= LIMIT,
            raw={
                "first_run_ns": first,
                "second_run_ns": seconds,
                "installer_version_ns": version,
                "first_run_steps": first_steps,
                "second_run_steps": second_steps,
                "second_run_skipped": skipped,
            },
            note=(
                f"second run: steps {step_ms} ms in all, root span "
                f"{second_steps.get('run_ms', 0):.0f} ms; `python -m installer --version` "
                f"{fmt_ns(median(version))}"
            ),
        )
    ]
