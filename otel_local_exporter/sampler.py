"""``ConsentSampler``: the gate every span passes before anything is recorded.

A dropped span becomes a ``NonRecordingSpan``: no attributes are kept, no processor or exporter
ever sees it, and nothing touches the disk. The environment kill switches are read at every
decision, so setting one mid-run stops recording from the next span on.
"""

from __future__ import annotations

from collections.abc import Sequence

from opentelemetry.context import Context
from opentelemetry.sdk.trace.sampling import Decision, Sampler, SamplingResult
from opentelemetry.trace import Link, SpanKind, get_current_span
from opentelemetry.trace.span import TraceState
from opentelemetry.util.types import Attributes

from .config import ConsentDecision, kill_switch


class ConsentSampler(Sampler):
    """Record and sample only with consent; otherwise drop, whatever the parent decided."""

    def __init__(self, decision: ConsentDecision) -> None:
        self.decision = decision

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: TraceState | None = None,
    ) -> SamplingResult:
        parent_state = get_current_span(parent_context).get_span_context().trace_state
        if not self.decision.enabled or kill_switch() is not None:
            return SamplingResult(Decision.DROP, None, parent_state)
        # Pass the caller's attributes through, or the span silently loses them.
        return SamplingResult(Decision.RECORD_AND_SAMPLE, attributes, parent_state)

    def get_description(self) -> str:
        switch = kill_switch()
        if switch:
            return f"ConsentSampler{{drop:env:{switch}}}"
        verdict = "record" if self.decision.enabled else "drop"
        return f"ConsentSampler{{{verdict}:{self.decision.source}}}"
