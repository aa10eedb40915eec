"""A chat span started with all its attributes in one trusted write ends up
as one started the public way; samplers and processors that may read
attributes at start still see the sampling-relevant ones."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_ON,
    ParentBased,
    Sampler,
    SamplingResult,
    TraceIdRatioBased,
)
from opentelemetry.trace import Link, SpanKind
from opentelemetry.trace.span import TraceState
from opentelemetry.util.types import Attributes

from a2a_session_manager.sdk._sampling import RecordEverySpan
from a2a_session_manager.telemetry import semconv
from a2a_session_manager.telemetry._fast_spans import (
    SAMPLING_ATTRIBUTES,
    _unread_at_start,
    start_client_span,
)

ATTRIBUTES: dict[str, Any] = {
    semconv.GEN_AI_OPERATION_NAME: "chat",
    semconv.GEN_AI_PROVIDER_NAME: "openai",
    semconv.GEN_AI_REQUEST_MODEL: "gpt-4o-mini",
    semconv.SERVER_ADDRESS: "api.openai.com",
    semconv.SERVER_PORT: 443,
    semconv.GEN_AI_REQUEST_TEMPERATURE: 0.2,
    semconv.GEN_AI_REQUEST_STOP_SEQUENCES: ("a", "b"),
    semconv.SESSION_ID: "s-1",
}
SAMPLING = {key: ATTRIBUTES[key] for key in SAMPLING_ATTRIBUTES}


class SeeingSampler(Sampler):
    """Samples everything and keeps the attributes it was shown."""

    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []

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
        self.seen.append(dict(attributes or {}))
        return ALWAYS_ON.should_sample(parent_context, trace_id, name, kind, attributes, links)

    def get_description(self) -> str:
        return "SeeingSampler"


class SeeingProcessor(SpanProcessor):
    """Keeps the attributes each span has when it starts."""

    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        self.seen.append(dict(span.attributes or {}))

    def on_end(self, span: ReadableSpan) -> None:
        pass


def _provider(**kwargs: Any) -> tuple[TracerProvider, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(**kwargs)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, exporter


def _exported(provider: TracerProvider, exporter: InMemorySpanExporter) -> dict[str, Any]:
    tracer = provider.get_tracer("a2a_session_manager.instrumentation.openai")
    start_client_span(tracer, "chat gpt-4o-mini", dict(ATTRIBUTES)).end()
    (span,) = exporter.get_finished_spans()
    assert span.kind is SpanKind.CLIENT
    return dict(span.attributes or {})


def test_every_attribute_is_exported_as_the_public_api_stores_it() -> None:
    provider, exporter = _provider()
    assert _unread_at_start(provider.get_tracer("t"))
    public = TracerProvider().get_tracer("t").start_span("chat", attributes=ATTRIBUTES)
    public.end()
    assert _exported(provider, exporter) == dict(public.attributes or {})


def test_a_sampler_that_may_read_attributes_is_shown_the_sampling_ones() -> None:
    sampler = SeeingSampler()
    provider, exporter = _provider(sampler=ParentBased(sampler))
    assert _exported(provider, exporter) == ATTRIBUTES
    assert sampler.seen == [SAMPLING]


def test_a_processor_that_may_read_attributes_at_start_sees_the_sampling_ones() -> None:
    provider, exporter = _provider()
    tracer = provider.get_tracer("t")
    assert _unread_at_start(tracer)
    seeing = SeeingProcessor()
    provider.add_span_processor(seeing)  # a new processor: asked again
    assert not _unread_at_start(tracer)
    assert _exported(provider, exporter) == ATTRIBUTES
    assert seeing.seen == [SAMPLING]


def test_the_sdks_samplers_and_ours_around_them_read_no_attributes() -> None:
    for sampler in (
        ParentBased(TraceIdRatioBased(0.5)),
        RecordEverySpan(ParentBased(ALWAYS_ON)),
        RecordEverySpan(TraceIdRatioBased(0.1)),
    ):
        assert _unread_at_start(TracerProvider(sampler=sampler).get_tracer("t"))
    for sampler in (SeeingSampler(), RecordEverySpan(SeeingSampler())):
        assert not _unread_at_start(TracerProvider(sampler=sampler).get_tracer("t"))


def test_an_unsampled_span_gets_no_attributes_and_no_error() -> None:
    provider, exporter = _provider(sampler=TraceIdRatioBased(0.0))
    tracer = provider.get_tracer("t")
    span = start_client_span(tracer, "chat", dict(ATTRIBUTES))
    assert not span.is_recording()
    span.end()
    assert exporter.get_finished_spans() == ()


def test_a_tracer_of_another_sdk_gets_the_sampling_attributes_through_start_span() -> None:
    tracer = trace.NoOpTracer()
    assert not _unread_at_start(tracer)
    span = start_client_span(tracer, "chat", dict(ATTRIBUTES))
    assert not span.is_recording()
    span.end()
