"""The W3C headers ``inject`` writes are the global propagators' own, whether
it takes its fast path (the default trace context and baggage pair, an
unchanged baggage reused) or hands over to ``propagate.inject``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry import baggage, propagate, trace
from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.context import Context
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags, TraceState
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

import a2a_session_manager as asm
from a2a_session_manager.telemetry._w3c import inject_w3c
from tests.support.otel import clean_otel

__all__ = ["clean_otel"]

SPAN = NonRecordingSpan(
    SpanContext(
        trace_id=0x0AF7651916CD43DD8448EB211C80319C,
        span_id=0xB7AD6B7169203331,
        is_remote=False,
        trace_flags=TraceFlags(TraceFlags.SAMPLED),
        trace_state=TraceState([("vendor", "value")]),
    )
)


@pytest.fixture
def textmap() -> Iterator[None]:
    """The global text map is put back as it was."""
    before = propagate.get_global_textmap()
    yield
    propagate.set_global_textmap(before)


def _contexts() -> list[Context]:
    with_span = trace.set_span_in_context(SPAN, Context())
    session = baggage.set_baggage("session.id", "coordinator 1/ä", with_span)
    return [
        Context(),
        with_span,
        session,
        baggage.set_baggage("user", "a,b;c=d", session),  # needs percent-encoding
        baggage.set_baggage("session.id", "coordinator-2", session),  # changed entry
        session,  # back to the first baggage
        baggage.set_baggage("session.id", "no span", Context()),
    ]


def _expected(context: Context) -> dict[str, str]:
    carrier: dict[str, str] = {}
    propagate.inject(carrier, context=context)
    return carrier


@pytest.mark.parametrize(
    "propagators",
    [
        None,  # as configured by default: tracecontext, baggage
        [W3CBaggagePropagator(), TraceContextTextMapPropagator()],
        [TraceContextTextMapPropagator()],
        [W3CBaggagePropagator()],
    ],
)
def test_headers_match_the_global_propagators(
    textmap: None, propagators: list[object] | None
) -> None:
    if propagators is not None:
        propagate.set_global_textmap(CompositePropagator(propagators))  # type: ignore[arg-type]
    for context in _contexts() * 2:  # twice: the reused baggage header too
        carrier: dict[str, str] = {}
        inject_w3c(carrier, context)
        assert carrier == _expected(context)


def test_a_span_given_apart_from_the_context(textmap: None) -> None:
    context = baggage.set_baggage("session.id", "s-1", Context())
    carrier: dict[str, str] = {}
    inject_w3c(carrier, context, span=SPAN)
    assert carrier == _expected(trace.set_span_in_context(SPAN, context))
    assert carrier["traceparent"] == "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    assert carrier["tracestate"] == "vendor=value"


def test_public_inject_follows_a_changed_session(clean_otel: None) -> None:
    handle = asm.configure(tracer_provider=TracerProvider())
    try:
        for name in ("first", "second", "first"):
            with asm.session(name):
                assert f"session.id={name}" in asm.inject({})["baggage"]
    finally:
        handle.shutdown()
