"""The step model: a dependency graph whose listed order is valid, and phases as child spans."""

from __future__ import annotations

from pathlib import Path

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from installer.context import RESOURCES, InstallContext, Step
from installer.errors import InstallError
from installer.runner import run_install
from installer.steps import STEP_NAMES, STEPS
from otel_local_exporter import attributes as attr
from tests.contexts import make_ctx


def test_every_need_names_an_earlier_step_and_resources_are_known() -> None:
    seen: set[str] = set()
    for step in STEPS:
        assert set(step.needs) <= seen, f"{step.name} needs a step listed after it"
        assert step.uses <= RESOURCES, step.name
        seen.add(step.name)
    assert STEP_NAMES[0] == "preflight" and not STEPS[0].needs


def test_a_phase_is_a_child_span_of_its_step_with_its_attributes(tmp_path: Path) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))

    def run(ctx: InstallContext) -> None:
        with ctx.phase("update", from_ref="v1") as record:
            record.attributes["to_ref"] = "v2"
        with pytest.raises(InstallError), ctx.phase("rollback"):
            raise InstallError("could not check out v1")

    ctx = make_ctx(tmp_path / "t", None)
    step = Step("phased", run, describe=lambda c: "phases")
    run_install([step], ctx, provider.get_tracer("test"))
    spans = {s.name: s for s in exporter.get_finished_spans()}
    update, rollback, parent = (
        spans["dinoair.phase.update"],
        spans["dinoair.phase.rollback"],
        spans["dinoair.step.phased"],
    )
    assert update.parent is not None and update.parent.span_id == parent.context.span_id
    assert update.attributes[attr.PHASE_NAME] == "update"
    assert update.attributes[f"{attr.PHASE_PREFIX}from_ref"] == "v1"
    assert update.attributes[f"{attr.PHASE_PREFIX}to_ref"] == "v2"
    assert rollback.status.is_ok is False
    assert rollback.attributes[attr.ERROR_CATEGORY] == "installation"
    assert [e.name for e in rollback.events] == ["exception"]
    # the step caught the phase's failure: the step itself completed
    assert parent.attributes[attr.STEP_STATUS] == "completed"


def test_a_phase_outside_a_runner_is_a_plain_block(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path, None)
    with ctx.phase("repair", checked=3) as record:
        record.attributes["fixed"] = 1
    assert record.attributes == {"checked": 3, "fixed": 1}
