"""The dependency install: the ``python_deps`` step against plain ``uv pip install -r`` and plain
``pip install -r``, on the same requirements, from the same local index, with cold caches.

The index (:class:`fixtures.package_index.PackageIndex` on 127.0.0.1) holds a ComfyUI-shaped set:
a ``torch`` build, torchvision, torchaudio and 40 other packages in a dependency graph, wheels of
incompressible bytes (so the transfer and the unpacking cost what they would), about 150 MB in
all (40 MB with ``--quick``). Each run starts with an empty venv folder and an empty cache. The
step does what the installer does (venv, torch from the torch index, constraint file, the rest
with the date pin); the baselines create their venv and install ``requirements.txt`` in one go.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from .harness import PYTHON, Result, clean_env, fmt_ns, median

NAME = "deps"
LIMIT = 1.2


def _index(quick: bool):
    from fixtures.package_index import PackageIndex

    scale = 0.25 if quick else 1.0
    rng = random.Random(9)
    index = PackageIndex()

    def blob(size: int) -> dict[str, str]:
        return {"payload/data.py": f"DATA = {rng.randbytes(int(size * scale) // 2).hex()!r}\n"}

    index.add("torch", "2.8.0+cpu", requires=["filelock", "sympy"], modules=blob(60_000_000))
    index.add("torchvision", "0.23.0", requires=["torch", "pillow"], modules=blob(6_000_000))
    index.add("torchaudio", "2.8.0", requires=["torch"], modules=blob(4_000_000))
    names = [f"pkg{i:02d}" for i in range(40)]
    for i, name in enumerate(names):
        requires = [names[j] for j in (i + 1, i + 7) if j < len(names) and i % 3 == 0]
        index.add(name, "1.0.0", requires=requires, modules=blob(rng.randint(200_000, 4_000_000)))
    for name in ("filelock", "sympy", "pillow"):
        index.add(name, "1.0.0", modules=blob(1_000_000))
    top = ["torch", "torchvision", "torchaudio", *names[::2]]
    return index, top


def _timed(cmd: list[str], env: dict[str, str], cwd: Path) -> int:
    start = time.perf_counter_ns()
    done = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{cmd[0]} failed: {done.stderr.decode(errors='replace')[-1500:]}")
    return time.perf_counter_ns() - start


def _step(root: Path, manifest: Path, env: dict[str, str]) -> int:
    """The python_deps step, in a child process so its imports and caches start cold too."""
    code = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from installer.context import InstallContext, Options\n"
        "from installer.manifest import load_manifest\n"
        "from installer.steps import python_deps\n"
        "ctx = InstallContext(options=Options(target=Path(sys.argv[1])),"
        " manifest=load_manifest(Path(sys.argv[2])), echo=lambda line: None)\n"
        "start = time.perf_counter_ns()\n"
        "python_deps.run(ctx)\n"
        "print(time.perf_counter_ns() - start)\n"
    )
    done = subprocess.run(
        [PYTHON, "-c", code, str(root), str(manifest)], env=env, capture_output=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"python_deps failed: {done.stderr.decode(errors='replace')[-1500:]}")
    return int(done.stdout.decode().strip().splitlines()[-1])


def run(quick: bool) -> list[Result]:
    import json

    import uv

    from fixtures.demo_fixture import torch_section

    uv_bin = uv.find_uv_bin()
    index, top = _index(quick)
    rounds = 1 if quick else 3
    times: dict[str, list[int]] = {"step": [], "uv": [], "pip": []}
    with tempfile.TemporaryDirectory(prefix="bench-deps-") as tmp, index:
        tmp_path = Path(tmp)
        base_env = {k: v for k, v in clean_env().items() if not k.startswith(("PIP_", "UV_"))}
        base_env.update(PIP_CONFIG_FILE=os.devnull, PIP_INDEX_URL=index.url)
        manifest = tmp_path / "manifest.json"
        section = torch_section(index.url)
        section["builds"][0]["requirements"] = ["torch==2.8.0+cpu", "torchvision", "torchaudio"]
        manifest.write_text(
            json.dumps(
                {
                    "comfyui": {"repo": "unused", "ref": "v1", "released": "2030-01-01"},
                    "torch": section,
                    "ollama_models": [],
                    "checkpoints": [],
                    "webgui": "w",
                    "workflows": "w",
                }
            )
        )

        def fresh(name: str) -> tuple[Path, dict[str, str]]:
            root = tmp_path / name
            shutil.rmtree(root, ignore_errors=True)
            (root / "ComfyUI").mkdir(parents=True)
            (root / "ComfyUI" / "requirements.txt").write_text("\n".join(top) + "\n")
            env = {
                **base_env,
                "UV_CACHE_DIR": str(root / "uv-cache"),
                "PIP_CACHE_DIR": str(root / "pip-cache"),
            }
            return root, env

        for _ in range(rounds):
            root, env = fresh("step")
            times["step"].append(_step(root, manifest, env))
            root, env = fresh("uv")
            req = str(root / "ComfyUI" / "requirements.txt")
            venv = root / "venv"
            times["uv"].append(
                _timed([uv_bin, "venv", "-q", "--python", PYTHON, str(venv)], env, root)
                + _timed(
                    [
                        uv_bin,
                        "pip",
                        "install",
                        "-q",
                        "--python",
                        str(venv / "bin" / "python"),
                        "--index-url",
                        index.url,
                        "-r",
                        req,
                    ],
                    env,
                    root,
                )
            )
        root, env = fresh("pip")
        venv = root / "venv"
        times["pip"].append(
            _timed([PYTHON, "-m", "venv", str(venv)], env, root)
            + _timed(
                [
                    str(venv / "bin" / "python"),
                    "-m",
                    "pip",
                    "install",
                    "-q",
                    "--disable-pip-version-check",
                    "-r",
                    str(root / "ComfyUI" / "requirements.txt"),
                ],
                env,
                root,
            )
        )
    step, plain_uv, plain_pip = (median(times[k]) for k in ("step", "uv", "pip"))
    size = sum(len(f.data) for f in index.files)
    raw = {"ns": times, "index_bytes": size, "packages": len({f.project for f in index.files})}
    return [
        Result(
            name=NAME,
            figure=f"dependency install, {raw['packages']} packages, {size / 1e6:.0f} MB of "
            "wheels from a local index, cold caches",
            baseline=f"plain `uv venv` + `uv pip install -r` {fmt_ns(plain_uv)}",
            subject=f"python_deps step {fmt_ns(step)}",
            ratio=step / plain_uv,
            target=f"<= {LIMIT}x",
            passed=step / plain_uv <= LIMIT,
            raw=raw,
            note=f"plain `python -m venv` + `pip install -r`: {fmt_ns(plain_pip)}; the step is "
            f"{plain_pip / step:.1f}x faster than pip (medians of {rounds} cold runs; pip once)",
        )
    ]
