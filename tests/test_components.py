"""``report`` counts components (ComfyUI, Ollama, the web GUI) per install, through the real SDK.

Sessions are written by the real pipeline (configure_tracing, the exporter, the sanitizer); a
step's "component" span event says how the install left its part, and where a step recorded
none (older sessions) its outcome stands in.
"""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

import otel_local_exporter as attr
from otel_local_exporter import COMPONENT_EVENT, TelemetryConfig, configure_tracing
from telemetry_cli.cli import cli


def record(home: Path, steps: list[tuple[str, str, str | None, str | None]]) -> None:
    """One run: each step as (name, status, skip reason, component status or None)."""
    provider = configure_tracing("0.1.0", home=home)
    tracer = provider.get_tracer("t")
    with tracer.start_as_current_span("dinoair.install") as root:
        for name, status, reason, component in steps:
            with tracer.start_as_current_span(
                f"step {name}", attributes={attr.STEP_NAME: name}
            ) as span:
                if component is not None:
                    which = {"ollama_models": "ollama"}.get(name, name)
                    span.add_event(
                        COMPONENT_EVENT,
                        {"component": which, "status": component, "source": "archive"},
                    )
                span.set_attribute(attr.STEP_STATUS, status)
                if reason:
                    span.set_attribute(attr.STEP_SKIP_REASON, reason)
        failed = any(s == "failed" for _, s, _, _ in steps)
        root.set_attribute(attr.RUN_RESULT, "failed" if failed else "success")
    provider.shutdown()


def test_report_shows_component_success_per_component(dinoair_home: Path) -> None:
    config = TelemetryConfig.load(dinoair_home)
    config.enable()
    config.save()
    record(  # a fresh machine: Ollama installed from its archive, the GUI copied
        dinoair_home,
        [
            ("comfyui", "completed", None, None),
            ("ollama_models", "completed", None, "installed"),
            ("webgui", "completed", None, "installed"),
        ],
    )
    record(  # a re-run: Ollama there, the GUI unchanged, ComfyUI's checkout reused
        dinoair_home,
        [
            ("comfyui", "completed", None, None),
            ("ollama_models", "completed", None, "present"),
            ("webgui", "completed", None, "present"),
        ],
    )
    record(  # no Ollama to be had, and the GUI failed
        dinoair_home,
        [
            ("comfyui", "completed", None, None),
            ("ollama_models", "skipped", "ollama_not_found", "skipped"),
            ("webgui", "failed", None, None),
        ],
    )
    runner = CliRunner()
    result = runner.invoke(cli, ["report", "--json"])
    assert result.exit_code == 0, result.output
    rows = {c["component"]: c for c in json.loads(result.output)["components"]}
    assert rows["ollama"] == {
        "component": "ollama",
        "runs": 3,
        "installed": 1,
        "present": 1,
        "skipped": 1,
        "failed": 0,
        "success_rate": 1.0,  # skipped is a decision, not a failure
    }
    assert rows["webgui"]["installed"] == 1 and rows["webgui"]["present"] == 1
    assert rows["webgui"]["failed"] == 1 and rows["webgui"]["success_rate"] == 0.6667
    assert rows["comfyui"]["installed"] == 3  # no event: the completed step stands in

    text = runner.invoke(cli, ["report"]).output
    section = text.split("Components", 1)[1].split("\n\n", 1)[0]
    ollama_row = next(ln.split() for ln in section.splitlines() if ln.split()[:1] == ["ollama"])
    assert ollama_row == ["ollama", "3", "100.0%", "1", "1", "1", "0"]
