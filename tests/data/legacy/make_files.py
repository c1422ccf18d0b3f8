"""Write the legacy files in this folder with the code of the commit that added them.

Run once, from the repository root, before the session schema got its own module:

    DINOAIR_HOME=$(mktemp -d)/.dinoair python -m tests.data.legacy.make_files

The files it wrote (``session_v1.1.0.json``, ``killed_run.journal``, ``crash_v1.1.0.json``) are
kept as they came out, so ``tests/test_schema.py`` proves that today's readers still read what
the installer of that time wrote. Do not re-run it with newer code: that would defeat the test.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

# One installer-shaped run, through the real runner and exporter: a completed step with a
# milestone, a step that skips itself, a step that fails with an unexpected error (a crash
# report), then a step skipped because of it.
RUN = """
from pathlib import Path
from installer.context import InstallContext, Options, Step
from installer.runner import run_install
from otel_local_exporter import CrashReporter, configure_tracing, resolve_consent, telemetry_home

def fetch(ctx):
    ctx.event("download.progress", percent=50)
    ctx.add_bytes(1234)

def tools(ctx):
    ctx.skip("already_installed")

def boom(ctx):
    raise RuntimeError("unexpected failure in /home/alice/DinoAir/models/x.bin")

steps = [
    Step("preflight", run=lambda ctx: None, describe=lambda ctx: "check"),
    Step("models", run=fetch, describe=lambda ctx: "fetch"),
    Step("ollama_models", run=tools, describe=lambda ctx: "tools"),
    Step("workflows", run=boom, describe=lambda ctx: "boom"),
    Step("finalize", run=lambda ctx: None, describe=lambda ctx: "finish"),
]
home = telemetry_home()
decision = resolve_consent(home=home)
provider = configure_tracing("0.1.0", decision=decision, home=home)
reporter = CrashReporter(home, decision, installer_version="0.1.0")
target = Path(home).parent / "target"
ctx = InstallContext(options=Options(target=target), manifest=None, echo=lambda line: None)
result = run_install(
    steps, ctx, provider.get_tracer("legacy"),
    run_attributes={"installer.arg.no_models": True},
    on_crash=lambda exc, cat, step, sc: reporter.report(
        exc, category=cat, step=step, trace_id=sc.trace_id, span_id=sc.span_id, disk_path=target),
)
provider.shutdown()
"""

# A run killed with SIGKILL after two steps ended: its journal stays behind.
KILLED = """
import os, signal
from otel_local_exporter import configure_tracing
from otel_local_exporter import attributes as attr
tracer = configure_tracing("0.1.0").get_tracer("legacy")
span = tracer.start_as_current_span
with span("dinoair.install", attributes={attr.INSTALLER_VERSION: "0.1.0"}):
    for name in ("preflight", "comfyui"):
        with span(f"dinoair.step.{name}", attributes={attr.STEP_NAME: name}) as s:
            s.set_attribute(attr.STEP_STATUS, "completed")
    with span("dinoair.step.models", attributes={attr.STEP_NAME: "models"}):
        os.kill(os.getpid(), signal.SIGKILL)
"""


def main() -> None:
    from otel_local_exporter import TelemetryConfig, telemetry_home

    home = telemetry_home()
    config = TelemetryConfig.load(home)
    config.enable()
    config.save()
    env = {**os.environ, "DINOAIR_HOME": str(home)}
    subprocess.run([sys.executable, "-c", RUN], env=env, check=True)
    killed = subprocess.run([sys.executable, "-c", KILLED], env=env, check=False)
    assert killed.returncode == -signal.SIGKILL, killed.returncode
    (session,) = (home / "telemetry").glob("session_*.json")
    (journal,) = (home / "telemetry").glob("*.journal")
    (crash,) = (home / "crashes").glob("crash_*.json")
    shutil.copyfile(session, HERE / "session_v1.1.0.json")
    shutil.copyfile(journal, HERE / "killed_run.journal")
    shutil.copyfile(crash, HERE / "crash_v1.1.0.json")


if __name__ == "__main__":
    main()
