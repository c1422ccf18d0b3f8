"""The front door on a machine that has only Python and git: ``.ci/run`` runs this.

``python .ci/frontdoor_fresh.py --python PY [--chroot ROOT]`` runs, with the interpreter ``PY``
(a bare ``python3 -m venv --without-pip``, or the stock ``python3`` of a debootstrap root):

1. ``PY install.py --help`` with an empty home: the front door builds the installer's own
   environment through the machine's real index settings (the only online part);
2. ``PY telemetry_cli.py status``;
3. a full offline demo install through ``PY install.py``, the demo fixture built and its models
   served on 127.0.0.1 from outside (a chroot shares the loopback), consent yes; then checks
   that ``install_summary.json`` says success with ``verify`` completed and a session was written.

With ``--chroot ROOT`` the work files live in ``ROOT/srv/<work name>`` and are named by their
outside path on both sides: inside, ``ROOT``'s own path is a symlink to ``/``, so the paths the
fixture writes into its manifest are right in and out of the chroot. Prints one line per stage.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from fixtures.demo_fixture import build_fixture, write_manifest  # noqa: E402
from fixtures.model_server import ModelServer  # noqa: E402
from otel_local_exporter import TelemetryConfig  # noqa: E402

TRACKED = ("install.py", "telemetry_cli.py", "pyproject.toml")
PACKAGES = ("frontdoor", "requirements", "installer", "otel_local_exporter", "telemetry_cli")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--python", required=True)
    parser.add_argument("--chroot", type=Path)
    parser.add_argument("--work", type=Path, required=True, help="an empty folder for this run")
    args = parser.parse_args(argv)
    work: Path = args.work.absolute()
    python = (
        args.python if args.chroot or "/" not in args.python else str(Path(args.python).absolute())
    )
    prefix: list[str] = []
    if args.chroot:
        root = args.chroot.absolute()
        work = root / "srv" / work.name
        alias = root / str(root).lstrip("/")  # ROOT/<ROOT's own path> -> / inside the chroot
        alias.parent.mkdir(parents=True, exist_ok=True)
        if not alias.is_symlink():
            alias.symlink_to("/")
        prefix = ["chroot", str(root)]
    shutil.rmtree(work, ignore_errors=True)
    checkout = work / "checkout"
    checkout.mkdir(parents=True)
    for name in TRACKED:
        shutil.copy2(REPO / name, checkout / name)
    for name in PACKAGES:
        shutil.copytree(REPO / name, checkout / name, ignore=shutil.ignore_patterns("__pycache__"))
    home = work / "home"
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": str(work),
        "DINOAIR_HOME": str(home),
        "LANG": "C.UTF-8",
        **{k: v for k, v in os.environ.items() if k.startswith(("PIP_", "UV_", "SSL_CERT"))},
        **{k: v for k, v in os.environ.items() if k.lower() in ("http_proxy", "https_proxy")},
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
    }

    def run(*cmd: str, extra: dict[str, str] | None = None) -> None:
        started = time.monotonic()
        full = [*prefix, python, *cmd]
        done = subprocess.run(
            full, cwd=checkout, env={**env, **(extra or {})}, capture_output=True, text=True
        )
        took = time.monotonic() - started
        if done.returncode != 0:
            sys.stderr.write(done.stdout[-3000:] + done.stderr[-3000:])
            raise SystemExit(f"frontdoor-fresh: {' '.join(cmd[:2])} exited {done.returncode}")
        print(f"frontdoor-fresh: {Path(cmd[0]).name} {cmd[1]} ok in {took:.1f} s", flush=True)

    run(str(checkout / "install.py"), "--help")
    run(str(checkout / "telemetry_cli.py"), "status")

    fixture = build_fixture(work / "fixture")
    target = work / "DinoAir"
    config = TelemetryConfig.load(home)
    config.enable()
    config.save()
    offline = {
        "PIP_CONFIG_FILE": os.devnull,
        "PIP_INDEX_URL": fixture.torch_index,
        "UV_CACHE_DIR": str(work / "uv-cache"),
    }
    with ModelServer(fixture.models_dir) as server:
        write_manifest(fixture, server.base_url)
        run(
            str(checkout / "install.py"),
            "--target",
            str(target),
            "--manifest",
            str(fixture.manifest),
            "--yes",
            extra=offline,
        )
    summary = json.loads((target / "install_summary.json").read_text(encoding="utf-8"))
    steps = {s["name"]: s["status"] for s in summary["steps"]}
    sessions = list((home / "telemetry").glob("*.json"))
    if not summary["success"] or steps.get("verify") != "completed" or not sessions:
        raise SystemExit(f"frontdoor-fresh: install not as expected: {steps}, {sessions}")
    print(f"frontdoor-fresh: demo installed, verify completed, {len(sessions)} session file(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
