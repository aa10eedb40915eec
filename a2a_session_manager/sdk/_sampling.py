"""Sampling thins what goes to collectors, never what the session store records."""

from __future__ import annotations

from collections.abc import Sequence

from opentelemetry.context import Context
from opentelemetry.sdk.trace.sampling import Decision, Sampler, SamplingResult
from opentelemetry.trace import Link, SpanKind
from opentelemetry.trace.span import TraceState
from opentelemetry.util.types import Attributes

from a2a_session_manager.telemetry._fast_spans import delegating_sampler


@delegating_sampler("inner")
class RecordEverySpan(Sampler):
    """Wraps a sampler: a span it drops is still recorded (``RECORD_ONLY``), so
    span processors see it, while exporters such as ``BatchSpanProcessor``
    (which export sampled spans only) still see just the sampled ones."""

    def __init__(self, inner: Sampler) -> None:
        self.inner = inner

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
        result = self.inner.should_sample(
            parent_context, trace_id, name, kind, attributes, links, trace_state
        )
        if result.decision is Decision.DROP:
            # A dropping sampler returns no attributes, and the SDK gives the span
            # exactly the sampler's attributes: keep the ones the span asked for.
            kept = {**(attributes or {}), **(result.attributes or {})}
            return SamplingResult(Decision.RECORD_ONLY, kept, result.trace_state)
        return result

    def get_description(self) -> str:
        return f"RecordEverySpan{{{self.inner.get_description()}}}"
