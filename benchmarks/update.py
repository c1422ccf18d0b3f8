"""An update between two demo releases with models in place, against a fresh install of the new one.

The demo fixture is installed at ``v0.0.1-demo`` with checkpoint models of 2 GiB in all (256 MiB
with ``--quick``) served by a loopback :class:`~fixtures.model_server.ModelServer`; then the same
command runs with a manifest naming ``v0.0.2-demo`` (what a DinoAir update is). The baseline is a
fresh install of ``v0.0.2-demo`` into an empty folder in the same run, same machine, same uv
cache. The update must take at most 0.2x of it and download 0 model bytes (the server counts).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from fixtures.commands import install_command

from .harness import PYTHON, Result, clean_env, fmt_ns, now_ns, run_quiet
from .spans import consented_home

NAME = "update"
LIMIT = 0.2


def run(quick: bool) -> list[Result]:
    from fixtures.demo_fixture import build_fixture, write_manifest
    from fixtures.model_server import ModelServer

    # 128 MiB a file: the fixture draws each file's bytes in one call, which caps a file's size.
    count = 2 if quick else 16
    models = {f"bench_model_{n}.safetensors": 128 * 2**20 for n in range(count)}
    with tempfile.TemporaryDirectory(prefix="bench-update-") as tmp:
        root = Path(tmp)
        fixture = build_fixture(root / "fixture", models=models)
        home = consented_home(root)
        env = {k: v for k, v in clean_env().items() if not k.startswith(("PIP_", "UV_"))}
        env.update(
            DINOAIR_HOME=str(home),
            PIP_CONFIG_FILE=os.devnull,
            PIP_INDEX_URL=fixture.torch_index,
            UV_CACHE_DIR=str(root / "uv-cache"),
        )
        with ModelServer(fixture.models_dir) as server:
            first = write_manifest(fixture, server.base_url)
            data = json.loads(first.read_text())
            data["comfyui"]["ref"] = fixture.next_tag
            second = root / "next.json"
            second.write_text(json.dumps(data))
            target = root / "DinoAir"
            run_quiet(install_command(target, first, "--skip", "webgui", python=PYTHON), env=env)

            server.clear_log()
            start = now_ns()
            done = run_quiet(
                install_command(target, second, "--skip", "webgui", python=PYTHON), env=env
            )
            update_ns = now_ns() - start
            model_bytes = sum(r.bytes_sent for r in server.requests if r.method == "GET")
            if b"Updated to" not in done.stdout and b"updated ComfyUI in place" not in done.stdout:
                raise RuntimeError("the update run did not update: " + done.stdout.decode()[-400:])

            fresh = root / "Fresh"
            server.clear_log()
            start = now_ns()
            run_quiet(install_command(fresh, second, "--skip", "webgui", python=PYTHON), env=env)
            fresh_ns = now_ns() - start
            fresh_bytes = sum(r.bytes_sent for r in server.requests if r.method == "GET")
            shutil.rmtree(fresh, ignore_errors=True)
    ratio = update_ns / fresh_ns
    total = sum(models.values())
    return [
        Result(
            name=NAME,
            figure=f"update v0.0.1 -> v0.0.2 with {total / 2**30:.2f} GiB of models in place",
            baseline=f"fresh install of v0.0.2 {fmt_ns(fresh_ns)} ({fresh_bytes} model bytes)",
            subject=f"{fmt_ns(update_ns)}, {model_bytes} model bytes downloaded",
            ratio=ratio,
            target=f"<= {LIMIT}x, 0 bytes",
            passed=ratio <= LIMIT and model_bytes == 0,
            raw={
                "update_ns": update_ns,
                "fresh_ns": fresh_ns,
                "update_model_bytes": model_bytes,
                "fresh_model_bytes": fresh_bytes,
                "model_bytes_in_place": total,
            },
            note="the update clones the old venv (hard links), installs only the difference, swaps",
        )
    ]
