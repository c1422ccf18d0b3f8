"""``dinoair-install``: the command line, consent, tracing setup and the closing summary."""

from __future__ import annotations

import atexit
import gc
import logging
import os
import re
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import click

from otel_local_exporter import (
    ARG_PREFIX,
    RESULT_CANCELLED,
    RESULT_FAILED,
    RESULT_SUCCESS,
    STEP_SKIPPED,
    ConsentDecision,
    CrashReporter,
    TelemetryConfig,
    configure_tracing,
    known_issue_lines,
    resolve_consent,
    schema,
    shell_quote,
    start_refresh,
    telemetry_command,
    telemetry_home,
)

from . import __version__, consent
from .closing import closing_lines, never_ran, next_command, summary_counts
from .context import SKIP_WORDS, InstallContext, Options, Step, skip_words
from .errors import HINTS, InstallError, categorize, is_bug
from .lifecycle import commands as lifecycle
from .lifecycle.repair import Repair
from .manifest import Manifest, default_manifest_path, load_manifest
from .python_choice import venv_python_line
from .runner import ALWAYS_RUN, RunResult, run_install
from .scheduler import DEPENDENCY_FAILED
from .steps import STEP_NAMES, STEPS
from .steps.custom_nodes import disabled_line
from .steps.preflight import detect_hardware, find_tools
from .torch_plan import plan_torch
from .units import size

_logger = logging.getLogger(__name__)

EPILOG = """\b
Exit codes: 0 success, 1 a step failed, 2 usage error, 130 cancelled (Ctrl-C).
\b
Telemetry is off unless you said yes. It stays on this computer, in
$DINOAIR_HOME or ~/.dinoair; see `dinoair-telemetry --help`. Switch it off for
one run with --disable-telemetry, or always with DINOAIR_DISABLE_TELEMETRY=1.
\b
`python3 install.py` runs this command from a fresh clone with any Python 3.10+:
on its first run it sets up the installer's own environment in
~/.dinoair/installer-env (or $DINOAIR_INSTALLER_ENV) from requirements/installer.lock;
delete that folder to remove it. See docs/front-door.md.
"""

# Set by the front door (frontdoor/handover.py) as "<how>:<seconds>" before it hands over.
FRONTDOOR_ENV_VAR = "DINOAIR_FRONTDOOR_ENV"
_FRONTDOOR_HOWS = ("reused", "created", "rebuilt", "current")


def _default_target() -> Path:
    return Path.home() / "DinoAir"


@click.command(context_settings={"help_option_names": ["-h", "--help"]}, epilog=EPILOG)
@click.option(
    "--target",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder to install into.  [default: ~/DinoAir]",
)
@click.option(
    "--no-models",
    is_flag=True,
    help="Skip the Ollama and checkpoint model downloads (the checkpoints alone: about 7 GiB).",
)
@click.option(
    "--models-from",
    "models_from",
    multiple=True,
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    metavar="DIR",
    help="A folder of models you already have (repeatable): a file with the checkpoint's "
    "SHA-256 is linked into models/ instead of downloaded.",
)
@click.option(
    "--disable-telemetry",
    is_flag=True,
    help="Record no telemetry for this run; your saved choice is not changed.",
)
@click.option(
    "--manifest",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Install from this manifest instead of the bundled one (local mirrors, tests).",
)
@click.option(
    "--only",
    multiple=True,
    type=click.Choice(STEP_NAMES),
    metavar="STEP",
    help=f"Run only this step (repeatable; preflight always runs). Steps: {', '.join(STEP_NAMES)}.",
)
@click.option(
    "--skip",
    multiple=True,
    type=click.Choice(STEP_NAMES),
    metavar="STEP",
    help="Skip this step (repeatable).",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Print the plan (steps, what each would do, download sizes); change nothing.",
)
@click.option(
    "--sequential",
    is_flag=True,
    help="Run the steps one at a time in their listed order (for debugging), not side by side.",
)
@click.option(
    "--yes",
    "-y",
    is_flag=True,
    help="Answer the installer's own questions with yes. Never gives telemetry consent.",
)
@click.option(
    "--jobs",
    type=click.IntRange(1, 16),
    default=3,
    show_default=True,
    help="Parallel model downloads.",
)
@click.option(
    "--connections",
    type=click.IntRange(1, 16),
    default=8,
    show_default=True,
    help="Parallel connections for one large model file (when the server allows ranges).",
)
@click.option(
    "--retries",
    type=click.IntRange(0, 10),
    default=3,
    show_default=True,
    help="Retries for a failed clone or download (with backoff; downloads resume).",
)
@click.option(
    "--timeout",
    type=click.FloatRange(1, 600),
    default=30.0,
    show_default=True,
    help="Seconds a stalled network read may take before it is retried.",
)
@click.option(
    "--gpu",
    type=click.Choice(["auto", "nvidia", "amd", "intel", "apple", "cpu"]),
    default="auto",
    show_default=True,
    help="Which accelerator to install torch for; auto detects it.",
)
@click.option(
    "--cuda-version", metavar="X.Y", help="Install the torch build for this CUDA version."
)
@click.option(
    "--rocm-version", metavar="X.Y", help="Install the torch build for this ROCm version."
)
@click.option(
    "--torch-index",
    metavar="URL",
    help="Install torch from this package index (a mirror) instead of the manifest's.",
)
@click.option(
    "--installer",
    "installer_name",
    type=click.Choice(["uv", "pip"]),
    default="uv",
    show_default=True,
    help="What installs the Python dependencies (pip is the fallback when uv cannot run).",
)
@click.option(
    "--python",
    "python_version",
    metavar="X.Y",
    help="The Python version of ComfyUI's venv (one the manifest supports; uv finds or "
    "downloads it).  [default: this Python when torch supports it, else the manifest's first]",
)
@click.option(
    "--verify-timeout",
    type=click.FloatRange(1, 3600),
    default=300.0,
    show_default=True,
    help="Seconds ComfyUI's own quick test may take in the verify step.",
)
@click.option(
    "--repair",
    is_flag=True,
    help="Check every part again (checkout, venv, model hashes, quick test, launch scripts) "
    "and fix what is broken; what is fine is left as it is.",
)
@click.option(
    "--strict-nodes",
    is_flag=True,
    help="Fail the run (an update: roll it back) when a custom node's requirements cannot be "
    "installed, instead of moving that node to ComfyUI/custom_nodes.disabled/.",
)
@click.option(
    "--uninstall",
    is_flag=True,
    help="Remove the install folder: shows what goes with sizes, then asks (--yes without a "
    "terminal). Only a folder with the installer's install_summary.json.",
)
@click.option(
    "--keep-models",
    is_flag=True,
    help="With --uninstall: keep models/ and the file that finds them.",
)
@click.option(
    "--remove-telemetry-data",
    is_flag=True,
    help="With --uninstall: also remove the telemetry home ($DINOAIR_HOME or ~/.dinoair).",
)
@click.option("--verbose", "-v", is_flag=True, help="Stream pip/npm/ollama output and debug logs.")
@click.version_option(__version__, "--version", prog_name="dinoair-install")
def cli(
    target: Path | None,
    no_models: bool,
    models_from: tuple[Path, ...],
    disable_telemetry: bool,
    manifest: Path | None,
    only: tuple[str, ...],
    skip: tuple[str, ...],
    dry_run: bool,
    sequential: bool,
    yes: bool,
    jobs: int,
    connections: int,
    retries: int,
    timeout: float,
    gpu: str,
    cuda_version: str | None,
    rocm_version: str | None,
    torch_index: str | None,
    installer_name: str,
    python_version: str | None,
    verify_timeout: float,
    repair: bool,
    strict_nodes: bool,
    uninstall: bool,
    keep_models: bool,
    remove_telemetry_data: bool,
    verbose: bool,
) -> None:
    """Install DinoAir: ComfyUI, its Python packages, workflows, Ollama and checkpoint
    models, and the web GUI, into one folder.

    Re-running is safe and fast: verified parts are reused, interrupted downloads resume.
    """
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    options = Options(
        target=(target or _default_target()).expanduser().absolute(),
        no_models=no_models,
        models_from=tuple(p.absolute() for p in models_from),
        verbose=verbose,
        yes=yes,
        jobs=jobs,
        connections=connections,
        retries=retries,
        timeout=timeout,
        gpu=gpu,
        cuda_version=cuda_version,
        rocm_version=rocm_version,
        torch_index=torch_index,
        installer=installer_name,
        python=_python_option(python_version),
        verify_timeout=verify_timeout,
        sequential=sequential,
        repair=repair,
        strict_nodes=strict_nodes,
    )
    if uninstall:
        _uninstall(options.target, keep_models, remove_telemetry_data, yes, disable_telemetry)
        return
    if keep_models or remove_telemetry_data:
        raise click.UsageError("--keep-models and --remove-telemetry-data go with --uninstall")
    steps = STEPS
    try:
        loaded = load_manifest(manifest)
    except InstallError as exc:
        if dry_run:
            raise click.ClickException(f"{exc} ({exc.category}: {exc.hint})") from None
        # Still a traced run: preflight fails with the manifest's error, the rest is skipped.
        loaded = Manifest.unloaded(manifest or default_manifest_path())
        steps = (_failing_preflight(exc), *STEPS[1:])
    ctx = InstallContext(options=options, manifest=loaded, echo=click.echo)
    if dry_run:
        _print_plan(ctx, set(only), set(skip))
        return
    if not yes and sys.stdin.isatty() and _foreign_folder(options.target):
        click.confirm(
            f"{options.target} is not empty and holds no DinoAir install. Use it?", abort=True
        )
    lifecycle_state = _Lifecycle()
    steps = (_recovering(steps[0], lifecycle_state), *steps[1:])
    home = telemetry_home()
    decision = consent.decide(home, disable_telemetry)
    # The known-issues feed, only with fix notifications on (checked inside), in the background.
    refresher = None if disable_telemetry else start_refresh(home, loaded.known_issues, __version__)
    provider = _tracing(decision, home)
    reporter = CrashReporter(home, decision, installer_version=__version__)
    tracer = provider.get_tracer("dinoair.installer", __version__)

    def on_crash(exc: BaseException, category: str, step: str, span_context: Any) -> Any:
        return reporter.report(
            exc,
            category=category,
            step=step,
            trace_id=span_context.trace_id,
            span_id=span_context.span_id,
            disk_path=options.target,
        )

    closing: list[str | None] = []  # the update's closing line, from inside the run's span

    def finish(run_ctx: InstallContext, success: bool) -> None:
        if not lifecycle_state.recovered:  # a journal left by a killed run: the next run's
            return
        closing.append(lifecycle.finish_update(options.target, success, run_ctx))
        if lifecycle_state.repair is not None:
            closing.append(lifecycle.finish_repair(run_ctx, lifecycle_state.repair, success))

    try:
        result = run_install(
            steps,
            ctx,
            tracer,
            only=only,
            skip=skip,
            run_attributes={
                **_run_attributes(options, manifest, only, skip),
                **frontdoor_attributes(os.environ.get(FRONTDOOR_ENV_VAR, "")),
            },
            on_crash=on_crash,
            finish=finish,
        )
    except Exception as exc:  # a bug outside any step: report it, exit 1, no traceback
        category = categorize(exc)
        path = reporter.report(exc, category=category, disk_path=options.target)
        _shutdown(provider)
        where = f"; crash report: {path}" if path else ""
        click.echo(f"Error: unexpected error: {exc} ({category}{where})", err=True)
        # No session for this run: the hint names the crash report (the id ending its name).
        crash_id = path.stem.rsplit("_", 1)[-1] if path else None
        click.echo(report_hint(options.target, crash_id), err=True)
        sys.exit(1)
    _shutdown(provider)
    _print_summary(ctx, result, decision, manifest)
    for line in closing:
        if line:
            click.echo(line, err=result.outcome != RESULT_SUCCESS)
    if refresher is not None:
        refresher.join(timeout=0.5)
    sys.exit(result.exit_code)


UNINSTALL_SPAN = "dinoair.uninstall"
# The error line is the user's; the span keeps only the result (no message, no path).
_QUIET: dict[str, Any] = {"record_exception": False, "set_status_on_exception": False}


def _uninstall(
    target: Path, keep_models: bool, remove_data: bool, yes: bool, disable_telemetry: bool
) -> None:
    """Uninstall, recorded (with consent given earlier; it never asks) as a session of its own:
    a root span ``dinoair.uninstall`` with one phase ``uninstall`` (bytes removed, bytes kept,
    result). Nothing is recorded when the telemetry home itself is being removed."""
    home = telemetry_home()
    if remove_data:
        lifecycle.uninstall(target, keep_models=keep_models, telemetry_home=home, yes=yes)
        return
    try:
        decision = resolve_consent(
            TelemetryConfig.load(home), run_disabled=disable_telemetry, home=home
        )
    except Exception:  # telemetry must never stop an uninstall
        _logger.debug("consent could not be read; uninstalling without telemetry", exc_info=True)
        decision = None
    if decision is None:
        lifecycle.uninstall(target, keep_models=keep_models, telemetry_home=None, yes=yes)
        return
    provider = _tracing(decision, home)
    tracer = provider.get_tracer("dinoair.installer", __version__)
    record: dict[str, Any] = {"keep_models": keep_models}
    outcome = RESULT_FAILED
    try:
        with tracer.start_as_current_span(
            UNINSTALL_SPAN, attributes={schema.INSTALLER_VERSION: __version__}, **_QUIET
        ) as root:
            try:
                with tracer.start_as_current_span(
                    "dinoair.phase.uninstall", attributes={schema.PHASE_NAME: "uninstall"}, **_QUIET
                ) as span:
                    try:
                        lifecycle.uninstall(
                            target,
                            keep_models=keep_models,
                            telemetry_home=None,
                            yes=yes,
                            record=record,
                        )
                        outcome = RESULT_SUCCESS
                    except click.Abort:
                        outcome = RESULT_CANCELLED
                        raise
                    finally:
                        record["result"] = outcome
                        _telemetry(span.set_attributes, _phase_attributes(record))
            finally:
                _telemetry(root.set_attribute, schema.RUN_RESULT, outcome)
    finally:
        _shutdown(provider)


def _phase_attributes(record: dict[str, Any]) -> dict[str, Any]:
    return {f"{schema.PHASE_PREFIX}{key}": value for key, value in record.items()}


def _telemetry(fn: Any, *args: Any) -> None:
    try:
        fn(*args)
    except Exception:  # telemetry may observe, never break
        _logger.debug("telemetry call failed", exc_info=True)


_OURS = frozenset(
    {"ComfyUI", "models", "venv", "webgui", "logs", "start.sh", "start.bat", "install_summary.json"}
)


def _python_option(value: str | None) -> str | None:
    if value is not None and not re.fullmatch(r"\d+\.\d+", value):
        raise click.BadParameter(f"{value!r} is not a version like 3.12", param_hint="--python")
    return value


def _foreign_folder(target: Path) -> bool:
    """A non-empty folder with nothing of an earlier (even failed) DinoAir install in it."""
    try:
        names = {entry.name for entry in target.iterdir()}
    except OSError:
        return False  # missing or unreadable: preflight reports it properly
    return bool(names) and not names & _OURS


@dataclass
class _Lifecycle:
    """What the lifecycle did before the steps, for the run's closing hook."""

    recovered: bool = False  # an interrupted update was finished or undone (or there was none)
    repair: Repair | None = None  # --repair: the records set aside, the scripts as they were


def _recovering(preflight: Step, state: _Lifecycle) -> Step:
    """Preflight, after the lifecycle's own first work: finishing or undoing an update a killed
    run left half-done (a ``recover`` phase of this run), then --repair setting aside the
    records a re-run trusts. Preflight always runs and every other step waits for it, so
    nothing touches the checkout or the venv before; a recovery that fails fails preflight."""

    def run(ctx: InstallContext) -> None:
        lifecycle.recover(ctx)
        state.recovered = True
        if ctx.options.repair:
            state.repair = lifecycle.repair(ctx)
        preflight.run(ctx)

    return replace(preflight, run=run)


def _failing_preflight(exc: InstallError) -> Step:
    def run(ctx: InstallContext) -> None:
        raise exc

    return Step("preflight", run=run, describe=lambda ctx: "validate the manifest")


def _tracing(decision: ConsentDecision, home: Path) -> Any:
    try:
        return configure_tracing(__version__, decision=decision, home=home)
    except Exception:  # telemetry must never stop the install
        _logger.debug("tracing setup failed; continuing without telemetry", exc_info=True)
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.sampling import ALWAYS_OFF

        return TracerProvider(sampler=ALWAYS_OFF)


def _shutdown(provider: Any) -> None:
    try:
        provider.shutdown()
    except Exception:
        _logger.debug("telemetry shutdown failed", exc_info=True)


def _run_attributes(
    options: Options, manifest: Path | None, only: tuple[str, ...], skip: tuple[str, ...]
) -> dict[str, Any]:
    """The choices made, as usage analytics: flags and step names, never paths."""
    return {
        f"{ARG_PREFIX}no_models": options.no_models,
        f"{ARG_PREFIX}models_from": len(options.models_from),  # how many folders, never paths
        f"{ARG_PREFIX}custom_target": options.target != _default_target().absolute(),
        f"{ARG_PREFIX}custom_manifest": manifest is not None,
        f"{ARG_PREFIX}only": list(only),
        f"{ARG_PREFIX}skip": list(skip),
        f"{ARG_PREFIX}jobs": options.jobs,
        f"{ARG_PREFIX}retries": options.retries,
        f"{ARG_PREFIX}verbose": options.verbose,
        f"{ARG_PREFIX}yes": options.yes,
        f"{ARG_PREFIX}gpu": options.gpu,
        f"{ARG_PREFIX}cuda_version": options.cuda_version or "",
        f"{ARG_PREFIX}rocm_version": options.rocm_version or "",
        f"{ARG_PREFIX}custom_torch_index": options.torch_index is not None,
        f"{ARG_PREFIX}installer": options.installer,
        f"{ARG_PREFIX}python": options.python or "",
        f"{ARG_PREFIX}sequential": options.sequential,
        f"{ARG_PREFIX}repair": options.repair,
        f"{ARG_PREFIX}strict_nodes": options.strict_nodes,
    }


# Plan-time skips that only hold until an earlier step of the same run makes what is missing.
_MADE_BY = {"nothing_installed": ("comfyui", "python_deps")}


def frontdoor_attributes(value: str) -> dict[str, Any]:
    """How the front door got the installer's environment (usage analytics); {} if not used.

    The front door runs before OpenTelemetry is installed, so it records nothing itself; it
    passes ``<how>:<seconds>`` on and this root-span attribute is its only trace.
    """
    how, _, seconds = value.partition(":")
    if how not in _FRONTDOOR_HOWS:
        return {}
    try:
        took = round(float(seconds), 3)
    except ValueError:
        took = 0.0
    return {schema.SYSTEM_INSTALLER_ENV: how, schema.SYSTEM_INSTALLER_ENV_SECONDS: took}


def _print_plan(ctx: InstallContext, only: set[str], skip: set[str]) -> None:
    click.echo(f"Plan for {ctx.target} (dry run: nothing will be changed)")
    ctx.hardware = detect_hardware(ctx.options)
    find_tools(ctx)  # what preflight will find: a step that needs a missing tool says so
    click.echo(f"Hardware: {ctx.hardware.describe()}")
    plan = plan_torch(ctx.manifest, ctx.hardware, ctx.options.torch_index)
    click.echo(f"Torch: {plan.describe() if plan else 'no torch section in the manifest'}")
    if plan is not None:
        click.echo(f"Launch flags: {plan.describe_flags()}")
    click.echo(f"Installer: {ctx.options.installer}")
    try:
        click.echo(f"Python for the ComfyUI venv: {venv_python_line(ctx)}")
    except InstallError as exc:  # preflight will stop here: say so, and what to do
        click.echo(f"Python for the ComfyUI venv: preflight will stop: {exc} (fix: {exc.hint})")
    running: set[str] = set()
    for index, step in enumerate(STEPS, 1):
        if step.name in skip or (only and step.name not in only | {ALWAYS_RUN}):
            reason: str | None = "excluded_by_option"
        else:
            reason = step.skip_if(ctx)
            if reason in _MADE_BY and set(_MADE_BY[reason]) <= running:
                reason = None
        if reason:
            line = skip_words(reason)
        else:
            running.add(step.name)
            text = step.describe(ctx)
            line = text if text.startswith("skip: ") else f"run: {text}"
        click.echo(f"  {index}. {step.name:<14} {line}")
    if "models" in running:
        click.echo(
            f"Checkpoint downloads: {len(ctx.manifest.checkpoints)} files, "
            f"{size(ctx.manifest.download_bytes)} (files already verified are not downloaded "
            "again)"
        )


def _print_summary(
    ctx: InstallContext, result: RunResult, decision: ConsentDecision, manifest: Path | None
) -> None:
    click.echo("")
    click.echo(summary_counts(result.steps, never_ran(result.steps, STEP_NAMES)))
    left_out = sorted(
        (s.name for s in result.steps if s.reason == "excluded_by_option"), key=STEP_NAMES.index
    )
    for step in result.steps:
        if step.status == STEP_SKIPPED and step.reason not in (
            DEPENDENCY_FAILED,
            "excluded_by_option",
        ):
            words = step.detail or SKIP_WORDS.get(step.reason or "", "")
            detail = f" ({words})" if words else ""
            click.echo(f"  - {step.name} skipped: {step.reason}{detail}")
    if left_out:  # one line, not one per step: the user chose them together
        click.echo(f"  - left out by --only/--skip: {', '.join(left_out)}")
    disabled = disabled_line(ctx)
    if disabled:
        click.echo(disabled, err=result.outcome != RESULT_SUCCESS)
    command = next_command(ctx.target, _default_target().absolute(), manifest)
    failed = result.outcome != RESULT_SUCCESS  # a failed or cancelled run ends on stderr
    # A rolled-back update left the previous release whole: its own last line says so, and
    # "partly installed" (from this run's steps) would be untrue of the folder.
    if ctx.outcomes.get("update_result") != "rolled_back":
        for line in closing_lines(result.steps, STEP_NAMES, ctx.target, command):
            click.echo(line, err=failed)
    failure = result.failure
    if failure is not None and result.outcome != RESULT_CANCELLED:
        hint = failure.hint or HINTS.get(failure.error_category or "", "")
        click.echo(
            f"Error: step '{failure.name}' failed ({failure.error_category}): "
            f"{failure.error}. Try: {hint}",
            err=True,
        )
        for line in known_issue_lines(
            telemetry_home(), failure.signature, failure.signature_parts, __version__
        ):
            click.echo(line, err=True)
        if is_bug(failure.error_category):
            kept = result.session_id if decision.enabled else None
            click.echo(report_hint(ctx.target, kept), err=True)
    if result.crash_report:
        click.echo(f"A crash report was saved: {result.crash_report}", err=True)
    if decision.enabled and result.session_id:
        click.echo(
            f"Telemetry session {result.session_id[:12]} kept locally "
            f"(`{telemetry_command()} show-data --latest`)."
        )


def report_hint(target: Path, kept_id: str | None = None) -> str:
    """The line that ends a failure that looks like a bug: the command that drafts the report.

    It names the session when one was kept (or, after a crash outside any step, the crash
    report's id), and the install folder when it exists: its ``install_summary.json`` names the
    issue tracker and its logs are the report when nothing was kept. A folder that was never
    created is not named (``report-issue`` would find nothing there).
    """
    session = f" {kept_id[:12]}" if kept_id else ""
    folder = f" --install-dir {shell_quote(str(target))}" if target.is_dir() else ""
    if not session and not folder:
        return (
            "To report this bug, copy the error line above into a new issue "
            "(no session and no install folder was kept to draft a report from)."
        )
    return f"Draft a bug report: {telemetry_command()} report-issue{session}{folder}"


def main(argv: list[str] | None = None, prog_name: str = "dinoair-install") -> None:
    """Entry point: click's handling, except that Ctrl-C anywhere exits 130, not 1.

    The last thing the process does before Python tears down is :func:`gc.freeze` (registered
    first, so it runs after every other exit handler, the telemetry's shutdown included): the
    interpreter then frees what it loaded without the full collections it would run over every
    object of the run. A re-run's teardown took 80 to 136 ms that way, now 14 to 18 ms.
    Every file, thread and exit handler is still closed, joined and run as before.
    """
    atexit.register(gc.freeze)
    try:
        code = cli.main(args=argv, prog_name=prog_name, standalone_mode=False)
    except click.exceptions.Abort as exc:
        if isinstance(exc.__cause__, KeyboardInterrupt):
            click.echo("Installation cancelled.", err=True)
            sys.exit(130)
        click.echo("Aborted.", err=True)
        sys.exit(1)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("Installation cancelled.", err=True)
        sys.exit(130)
    sys.exit(code or 0)
