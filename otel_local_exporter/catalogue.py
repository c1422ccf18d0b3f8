"""The catalogue: every span name, attribute, event and crash-report field that can be recorded.

One source for three readers: the consent notice people agree to (:mod:`.notice`), the
``dinoair-telemetry fields`` inventory, and the "What is collected" list in
``docs/telemetry.md``. Each entry says what it is, an example, why it is kept and which switch
gates it. A test runs real installs (success, each failure category, cancelled, crash) and fails
when a recorded key has no entry here, so nothing can be recorded without being in the text
people say yes to. A new field: add it here in the same commit that records it.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Final

from . import schema as s

__all__ = [
    "CATALOGUE",
    "ERROR_REPORTING",
    "KINDS",
    "SWITCHES",
    "TELEMETRY",
    "USAGE_ANALYTICS",
    "Field",
    "catalogue_markdown",
    "find_field",
    "withheld",
    "withheld_crash_fields",
]

TELEMETRY: Final = "telemetry"
ERROR_REPORTING: Final = "error_reporting"
USAGE_ANALYTICS: Final = "usage_analytics"
SWITCHES = (TELEMETRY, ERROR_REPORTING, USAGE_ANALYTICS)
# The flag of ``dinoair-telemetry enable`` that switches a part off (telemetry: ``disable``).
SWITCH_FLAGS = {ERROR_REPORTING: "--no-error-reporting", USAGE_ANALYTICS: "--no-usage-analytics"}

KINDS = ("span", "attribute", "event", "resource", "crash")


@dataclass(frozen=True)
class Field:
    """One thing that can be recorded. ``key`` may end in ``*`` (a family: ``dinoair.step.*``);
    an event lists the attribute ``keys`` it carries."""

    kind: str  # one of KINDS
    key: str
    type: str
    example: str
    purpose: str  # plain words, shown in the consent notice
    switch: str = TELEMETRY
    keys: tuple[str, ...] = ()
    since: int = 1  # the consent notice version that first named it (notice.NOTICE_VERSION)

    def matches(self, key: str) -> bool:
        return fnmatch.fnmatchcase(key, self.key) if "*" in self.key else key == self.key

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {
            "kind": self.kind,
            "key": self.key,
            "type": self.type,
            "example": self.example,
            "purpose": self.purpose,
            "switch": self.switch,
        }
        if self.keys:
            out["keys"] = list(self.keys)
        out["since_notice"] = self.since
        return out


def _new(field: Field, since: int = 2) -> Field:
    """An entry the hand-written notice of version 1 did not name: recorded only for users who
    agreed to a notice of version ``since`` or later."""
    return replace(field, since=since)


def _span(key: str, example: str, purpose: str) -> Field:
    return Field("span", key, "span", example, purpose)


def _attr(key: str, type_: str, example: str, purpose: str, switch: str = TELEMETRY) -> Field:
    return Field("attribute", key, type_, example, purpose, switch)


def _arg(name: str, type_: str, example: str, purpose: str) -> Field:
    return _attr(f"{s.ARG_PREFIX}{name}", type_, example, purpose, USAGE_ANALYTICS)


def _hw(key: str, type_: str, example: str, purpose: str) -> Field:
    return _attr(key, type_, example, purpose, USAGE_ANALYTICS)


def _event(name: str, keys: str, purpose: str, switch: str = TELEMETRY) -> Field:
    return Field("event", name, "event", f"{name} {{{keys}}}", purpose, switch, tuple(keys.split()))


def _crash(key: str, type_: str, example: str, purpose: str) -> Field:
    return Field("crash", key, type_, example, purpose, ERROR_REPORTING)


_SP = s.SYSTEM_PREFIX

_ENTRIES: tuple[Field, ...] = (
    # -- spans ------------------------------------------------------------------------------------
    _span("dinoair.install", "dinoair.install", "one run of the installer, from start to end"),
    _span("dinoair.step.*", "dinoair.step.models", "one installation step and how it ended"),
    _span("dinoair.phase.*", "dinoair.phase.rollback", "a named part of a step (update, rollback)"),
    _span(
        "dinoair.uninstall",
        "dinoair.uninstall",
        "one run of --uninstall: what it removed, in bytes",
    ),
    # -- the run ----------------------------------------------------------------------------------
    _attr(s.INSTALLER_VERSION, "string", "0.2.0", "the installer version that ran"),
    _attr(s.RUN_RESULT, "string", "failed", "the run's result: success, failed or cancelled"),
    # -- steps ------------------------------------------------------------------------------------
    _attr(s.STEP_NAME, "string", "models", "which step a span is"),
    _attr(s.STEP_STATUS, "string", "skipped", "completed, skipped, failed or cancelled"),
    _attr(s.STEP_SKIP_REASON, "string", "already_verified", "why a step was skipped (a code)"),
    _attr(s.STEP_BYTES_DOWNLOADED, "int", "3145728", "how many bytes a step downloaded"),
    _attr(s.STEP_CHILD_CPU_SECONDS, "float", "12.4", "CPU seconds used by the tools a step ran"),
    _attr(s.STEP_CHILD_PEAK_RSS_MIB, "float", "512.0", "peak memory (MiB) of the tools a step ran"),
    _attr(s.PHASE_NAME, "string", "rollback", "which phase a span is"),
    _attr(f"{s.PHASE_PREFIX}*", "any", "files=3", "counts and times a phase records"),
    # -- errors -----------------------------------------------------------------------------------
    _attr(s.ERROR_CATEGORY, "string", "network", "the kind of failure (network, system, ...)"),
    _attr(
        s.ERROR_TYPE,
        "string",
        "URLError",
        "the type of the error that failed a step",
        ERROR_REPORTING,
    ),
    _attr(
        s.ERROR_SIGNATURE,
        "string",
        "3f9a0c2b7d14",
        "a short id of the failure, to match it with known issues",
        ERROR_REPORTING,
    ),
    _event(
        s.EXCEPTION_EVENT,
        f"exception.type exception.message exception.stacktrace exception.escaped "
        f"{s.ERROR_CATEGORY}",
        "the error's type, sanitized message and stack trace",
        ERROR_REPORTING,
    ),
    _event("cancelled", s.ERROR_CATEGORY, "that you stopped the run with Ctrl-C"),
    # -- usage: the options you chose -------------------------------------------------------------
    _arg("no_models", "bool", "false", "whether you skipped the model downloads"),
    _arg("custom_target", "bool", "true", "whether you chose the install folder (not which)"),
    _arg("custom_manifest", "bool", "false", "whether you gave a manifest (not which)"),
    _arg("only", "string[]", "['models']", "the steps you chose with --only"),
    _arg("skip", "string[]", "['webgui']", "the steps you skipped with --skip"),
    _arg("jobs", "int", "4", "parallel downloads chosen"),
    _arg("retries", "int", "3", "download retries chosen"),
    _arg("verbose", "bool", "false", "whether you asked for verbose output"),
    _arg("yes", "bool", "true", "whether you ran with --yes"),
    _arg("gpu", "string", "auto", "the --gpu choice"),
    _arg("cuda_version", "string", "12.4", "the --cuda-version you gave"),
    _arg("rocm_version", "string", "6.2", "the --rocm-version you gave"),
    _arg("custom_torch_index", "bool", "false", "whether you gave a torch index (not which)"),
    _arg("installer", "string", "uv", "the --installer choice"),
    _new(_arg("sequential", "bool", "false", "whether you ran the steps one at a time")),
    _new(_arg("repair", "bool", "false", "whether you ran --repair")),
    _new(_arg("python", "string", "3.12", "the --python version you chose for the venv")),
    _new(_arg("models_from", "int", "1", "how many --models-from folders you gave (not which)")),
    _new(_arg("strict_nodes", "bool", "false", "whether you ran --strict-nodes")),
    # -- usage: the coarse hardware profile -------------------------------------------------------
    _hw(f"{_SP}cpu_count", "int", "8", "how many CPUs"),
    _hw(f"{_SP}memory_gib", "int", "16", "memory in whole GiB"),
    _hw(f"{_SP}machine", "string", "x86_64", "the processor architecture"),
    _hw(
        s.SYSTEM_ACCELERATOR, "string", "nvidia", "the kind of GPU: nvidia, amd, intel, apple, cpu"
    ),
    _hw(s.SYSTEM_GPU_MODEL, "string", "NVIDIA GeForce RTX 4090", "the GPU model name"),
    _hw(s.SYSTEM_VRAM_GIB, "int", "24", "GPU memory in whole GiB"),
    _hw(s.SYSTEM_DRIVER_MAJOR, "int", "550", "the GPU driver's major version"),
    _hw(s.SYSTEM_CUDA_VERSION, "string", "12.4", "the highest CUDA version the driver runs"),
    _hw(s.SYSTEM_ROCM_VERSION, "string", "6.2", "the ROCm version found"),
    _hw(s.SYSTEM_TORCH_BUILD, "string", "cu124", "the torch build installed"),
    _new(_hw(s.SYSTEM_COMPUTE_CAPABILITY, "string", "8.6", "the GPU's compute capability")),
    _new(
        _hw(
            s.SYSTEM_BUILD_RULE,
            "string",
            "driver_mvc",
            "which rule chose the torch build (driver, legacy card, your override, none)",
        )
    ),
    _new(_hw(s.SYSTEM_KERNEL_TEST, "bool", "true", "whether verify ran real kernels on the GPU")),
    _new(
        _hw(
            s.SYSTEM_INSTALLER_ENV,
            "string",
            "reused",
            "how install.py got the installer's own environment (reused, created, rebuilt)",
        )
    ),
    _new(
        _hw(
            s.SYSTEM_INSTALLER_ENV_SECONDS,
            "float",
            "0.4",
            "how long getting the installer's own environment took",
        )
    ),
    _hw(s.SYSTEM_TORCH_DEVICE, "string", "cuda", "the device torch saw when verified"),
    # -- what the steps noted on the way (events on step spans) -----------------------------------
    _event(
        "hardware_detected",
        "accelerator source gpu_count reason torch_build build_rule",
        "the kind of GPU found, how, and the torch build chosen",
        USAGE_ANALYTICS,
    ),
    _event("python_checked", "version", "the Python version (major.minor)"),
    _event("tool_detected", "tool found", "whether git, uv, ollama... were found"),
    _event("disk_checked", "free_gib needed_gib enough", "free and needed disk space in GiB"),
    _event("clone_completed", "commit seconds shallow", "the ComfyUI commit fetched, and how fast"),
    _event("clone_retry", "attempt attempts delay_seconds", "a retried ComfyUI clone"),
    _event("checkout_reused", "commit", "that the existing ComfyUI checkout was kept"),
    _event("stale_partial_removed", "count", "leftovers of an interrupted clone removed"),
    _event("checkout_moved_aside", "reason folder", "a damaged checkout moved aside"),
    _event("venv_created", "seconds tool python managed", "how the Python environment was made"),
    _event(
        "component",
        "component status source",
        "whether Ollama or the web GUI was installed, already there, or skipped",
    ),
    _event("model_paths_written", "file", "that ComfyUI was told where the models folder is"),
    _event(
        "fetch_retry", "attempt attempts delay_seconds", "a retried fetch of a new ComfyUI release"
    ),
    _event(
        "user_folders_carried_over",
        "folders source",
        "which of your ComfyUI folders were carried into a new checkout",
    ),
    _event("venv_cloned", "files seconds", "an update's venv started as a copy of the one in use"),
    _event("venv_clone_failed", "error", "why that copy could not be made (the error's type)"),
    _event(
        "custom_nodes_installed",
        "nodes installed disabled seconds",
        "how many custom nodes' requirements were installed, how many nodes were disabled",
    ),
    _event(
        "kernel_tested",
        "passed",
        "whether a matmul and a conv ran right on the GPU",
        USAGE_ANALYTICS,
    ),
    _event("ollama_installed", "archive size", "the Ollama release archive unpacked"),
    _event(
        "stack_checked",
        "comfyui_device webgui",
        "that ComfyUI (and the device type it reports) and the web GUI answered",
        USAGE_ANALYTICS,
    ),
    _event("venv_recreated", "reason", "why the Python environment was made again"),
    _event(
        "requirements_installed",
        "installer requirements resolved downloaded installed bytes seconds torch_build "
        "exclude_newer",
        "how many Python packages were resolved, downloaded and installed, and how fast",
    ),
    _event("installer_fallback", "installer reason", "why pip was used instead of uv"),
    _event(
        "torch_checked",
        "torch device device_count cuda hip",
        "the torch version and the device it saw",
        USAGE_ANALYTICS,
    ),
    _event("quick_test_passed", "seconds flags", "ComfyUI's quick self-test passed, and its flags"),
    _event("torch_build_mismatch", "chosen_build seen_build", "a torch build other than chosen"),
    _event(
        "workflows_installed", "copied updated unchanged kept", "how many workflows were copied"
    ),
    _event("workflow_user_copy_kept", "workflow", "a workflow you edited was kept"),
    _event("model_present", "model", "an Ollama model already there"),
    _event("model_pulled", "model duration_ms", "an Ollama model pulled, and how long it took"),
    _event(
        "models_ready",
        "files bytes_transferred downloaded verified hashed",
        "how many checkpoint files were downloaded or verified",
    ),
    _event("download_retry", "file attempt reason resume_from", "a retried download and why"),
    _event("download_progress", "file percent", "download progress at 25, 50, 75, 100 %"),
    _event("download_complete", "file bytes resumed_from", "a finished download, and its size"),
    _event("download_existing_mismatch", "file moved_to", "a damaged model file moved aside"),
    _event("webgui_copied", "written unchanged", "how many web GUI files were copied"),
    _event("npm_installed", "command", "the npm command that installed the web GUI"),
    _event("summary_written", "steps success", "the install summary was written"),
    # -- the resource (who recorded it) -----------------------------------------------------------
    Field("resource", "service.name", "string", "dinoair-installer", "which program recorded"),
    Field("resource", "service.version", "string", "0.2.0", "its version"),
    Field("resource", "os.type", "string", "linux", "the operating system"),
    Field("resource", "os.version", "string", "6.8.0", "the operating system's version"),
    Field("resource", "process.runtime.name", "string", "cpython", "the Python implementation"),
    Field("resource", "process.runtime.version", "string", "3.12.3", "the Python version"),
    Field(
        "resource", "host.arch", "string", "amd64", "the processor architecture", USAGE_ANALYTICS
    ),
    # -- crash reports (unexpected failures only) -------------------------------------------------
    _crash("crash_id", "string", "9b1e...", "a random id of the crash report"),
    _crash("timestamp", "string", "2026-01-01T12:00:00Z", "when it happened"),
    _crash("session_id", "string", "4bf9...", "the run it belongs to"),
    _crash("trace_id", "string", "4bf9...", "the run it belongs to"),
    _crash("span_id", "string", "00f0...", "the step span it belongs to"),
    _crash("error_category", "string", "unexpected", "the kind of failure"),
    _crash("error_type", "string", "RuntimeError", "the error's type"),
    _crash("error_message", "string", "boom at <PATH>", "the sanitized message"),
    _crash("stack_trace", "string", "Traceback ...", "the sanitized stack trace"),
    _crash("failing_step", "string", "workflows", "the step that failed"),
    _crash("signature", "string", "3f9a0c2b7d14", "the failure's short id"),
    _crash("installer_version", "string", "0.2.0", "the installer version"),
    _crash("version", "string", s.SCHEMA_VERSION, "the format's version"),
    _crash(
        "system",
        "object",
        "{os, os_version, python_version, cpu_count, memory_gib, disk_free_gib}",
        "OS and Python version, CPU count, memory and free disk in whole GiB",
    ),
)


# What the hand-written notice of version 1 did not name: the GPU and torch profile, the tools'
# CPU time and memory, the failure signature, phases, and the events the steps note on the way.
_NEW_IN_2 = frozenset(
    {
        ("span", "dinoair.phase.*"),
        ("attribute", s.PHASE_NAME),
        ("attribute", f"{s.PHASE_PREFIX}*"),
        ("attribute", s.STEP_CHILD_CPU_SECONDS),
        ("attribute", s.STEP_CHILD_PEAK_RSS_MIB),
        ("attribute", s.ERROR_SIGNATURE),
        ("attribute", s.SYSTEM_ACCELERATOR),
        ("attribute", s.SYSTEM_GPU_MODEL),
        ("attribute", s.SYSTEM_VRAM_GIB),
        ("attribute", s.SYSTEM_DRIVER_MAJOR),
        ("attribute", s.SYSTEM_CUDA_VERSION),
        ("attribute", s.SYSTEM_ROCM_VERSION),
        ("attribute", s.SYSTEM_TORCH_BUILD),
        ("attribute", s.SYSTEM_TORCH_DEVICE),
        ("crash", "signature"),
    }
)
_IN_1_EVENTS = frozenset({s.EXCEPTION_EVENT, "cancelled"})

CATALOGUE: tuple[Field, ...] = tuple(
    _new(f)
    if (f.kind, f.key) in _NEW_IN_2 or (f.kind == "event" and f.key not in _IN_1_EVENTS)
    else f
    for f in _ENTRIES
)


def withheld(agreed: int | None) -> tuple[frozenset[str], tuple[str, ...], frozenset[str]]:
    """What a user who agreed to notice version ``agreed`` did not agree to: exact attribute
    keys, attribute key prefixes (families ending in ``*``) and event names. ``None`` (a file
    written before notices had versions) is version 1."""
    version = agreed or 1
    newer = [f for f in CATALOGUE if f.since > version]
    exact = frozenset(f.key for f in newer if f.kind == "attribute" and "*" not in f.key)
    prefixes = tuple(f.key.rstrip("*") for f in newer if f.kind == "attribute" and "*" in f.key)
    events = frozenset(f.key for f in newer if f.kind == "event")
    return exact, prefixes, events


def usage_events() -> frozenset[str]:
    """The events that describe the machine (usage analytics): dropped with that switch off."""
    return frozenset(f.key for f in CATALOGUE if f.kind == "event" and f.switch == USAGE_ANALYTICS)


def withheld_crash_fields(agreed: int | None) -> frozenset[str]:
    """The crash-report fields the notice of version ``agreed`` did not name."""
    return frozenset(f.key for f in CATALOGUE if f.kind == "crash" and f.since > (agreed or 1))


def find_field(kind: str, key: str, fields: Iterable[Field] = CATALOGUE) -> Field | None:
    """The entry that covers ``key`` of ``kind`` (an exact entry before a family), or ``None``."""
    candidates = [f for f in fields if f.kind == kind and f.matches(key)]
    candidates.sort(key=lambda f: "*" in f.key)
    return candidates[0] if candidates else None


_SWITCH_WORDS = {
    TELEMETRY: "telemetry",
    ERROR_REPORTING: "error reporting",
    USAGE_ANALYTICS: "usage analytics",
}
_KIND_TITLES = {
    "span": "Spans",
    "attribute": "Span attributes",
    "event": "Span events",
    "resource": "Resource (which program recorded)",
    "crash": "Crash-report fields (unexpected failures only)",
}


def catalogue_markdown() -> str:
    """The catalogue as Markdown tables: the "What is collected" section of docs/telemetry.md
    (a test keeps that file equal to this; ``dinoair-telemetry fields --markdown`` prints it)."""
    out: list[str] = []
    for kind in KINDS:
        fields = [f for f in CATALOGUE if f.kind == kind]
        out += [f"### {_KIND_TITLES[kind]}", ""]
        if kind == "event":
            out += ["| Event | Keys | Switch | Why |", "|---|---|---|---|"]
            out += [
                f"| `{f.key}` | {', '.join(f'`{k}`' for k in f.keys)} | "
                f"{_SWITCH_WORDS[f.switch]} | {f.purpose} |"
                for f in fields
            ]
        else:
            out += ["| Key | Type | Example | Switch | Why |", "|---|---|---|---|---|"]
            out += [
                f"| `{f.key}` | {f.type} | `{f.example}` | {_SWITCH_WORDS[f.switch]} | "
                f"{f.purpose} |"
                for f in fields
            ]
        out.append("")
    return "\n".join(out).rstrip() + "\n"
