"""Pull the manifest's Ollama models that ``ollama list`` does not show yet.

Ollama is optional: without the ``ollama`` tool, or with its server not running, the step is
skipped with a reason the user can act on, and the rest of DinoAir still installs. A pull that
fails is an ``installation`` error naming ``logs/ollama-pull.log``.
"""

from __future__ import annotations

import subprocess
import time

from ..context import NETWORK, InstallContext, Step
from ..errors import InstallError, SystemRequirementError

LOG_NAME = "ollama-pull.log"
_LIST_TIMEOUT = 60.0  # seconds; `ollama list` only asks the local server


def skip_if(ctx: InstallContext) -> str | None:
    return "no_models_flag" if ctx.options.no_models else None


def describe(ctx: InstallContext) -> str:
    if "ollama" in ctx.tools and not ctx.tools["ollama"]:  # preflight looked and found none
        return "skip: Ollama is not installed (preflight found no `ollama`)"
    models = ", ".join(ctx.manifest.ollama_models) or "none"
    return f"pull the Ollama models not present yet ({models}) with `ollama pull`"


def run(ctx: InstallContext) -> None:
    ollama = ctx.tools.get("ollama")
    if not ollama:
        ctx.skip(
            "ollama_not_found",
            "install Ollama (from ollama.com), then re-run to pull "
            + ", ".join(ctx.manifest.ollama_models),
        )
    if not ctx.manifest.ollama_models:
        ctx.skip("no_ollama_models")
    present = _installed(ctx, ollama)
    results: list[dict[str, str]] = []
    ctx.outcomes["ollama_models"] = results  # filled as we go, so a failure still shows progress
    for model in ctx.manifest.ollama_models:
        if normalize(model) in present:
            ctx.event("model_present", model=model)
            results.append({"name": model, "status": "present"})
            continue
        started = time.monotonic()
        ctx.run([ollama, "pull", model], log_name=LOG_NAME, what=f"ollama pull {model}")
        ctx.event(
            "model_pulled", model=model, duration_ms=round((time.monotonic() - started) * 1000)
        )
        results.append({"name": model, "status": "pulled"})


def normalize(model: str) -> str:
    """``llama3.2`` and ``llama3.2:latest`` name the same model; names are case-insensitive."""
    model = model.strip().lower()
    for prefix in ("registry.ollama.ai/library/", "library/"):
        if model.startswith(prefix):
            model = model[len(prefix) :]
    last = model.rsplit("/", 1)[-1]
    return model if ":" in last else f"{model}:latest"


def parse_list(output: str) -> set[str]:
    """The model names in ``ollama list`` output (a header line, then one model a line)."""
    names = set()
    for line in output.splitlines():
        fields = line.split()
        if not fields or fields[0].upper() == "NAME":
            continue
        names.add(normalize(fields[0]))
    return names


def _installed(ctx: InstallContext, ollama: str) -> set[str]:
    try:
        proc = subprocess.run(
            [ollama, "list"],
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=_LIST_TIMEOUT,
            errors="replace",
        )
    except OSError as exc:
        raise SystemRequirementError(
            f"ollama cannot be started: {exc.strerror or exc}",
            hint="reinstall Ollama (from ollama.com) or remove it from PATH, then re-run",
        ) from None
    except subprocess.TimeoutExpired:
        raise InstallError(
            f"`ollama list` did not answer within {_LIST_TIMEOUT:.0f} s",
            hint="restart Ollama, then re-run the installer",
        ) from None
    if proc.returncode != 0:
        message = (proc.stderr or proc.stdout).strip().splitlines()
        first = message[-1] if message else f"exit code {proc.returncode}"
        if "connect" in first.lower() or "running" in first.lower():
            ctx.skip(
                "ollama_not_running",
                "start Ollama (the Ollama app, or `ollama serve`), then re-run to pull "
                + ", ".join(ctx.manifest.ollama_models),
            )
        raise InstallError(
            f"`ollama list` failed: {first}",
            hint="check that Ollama works (`ollama list`), then re-run",
        )
    return parse_list(proc.stdout)


STEP = Step(
    name="ollama_models",
    run=run,
    describe=describe,
    skip_if=skip_if,
    needs=("preflight",),
    uses=frozenset({NETWORK}),
)
