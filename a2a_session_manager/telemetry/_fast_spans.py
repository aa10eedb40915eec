"""Starting a chat span whose attributes skip the SDK's checks, all of them.

The conventions ask for the sampling-relevant attributes (operation,
provider, request model, server address and port) at span creation, for
samplers and for processors that look at a span when it starts. Passed to
``start_span`` the SDK cleans them one by one (about 4 µs of the OpenAI
wrapper's 38 µs per call, measured side by side in one process). When nobody
reads them at start, that is: the tracer is the SDK's, its sampler is one of
the SDK's own (they decide on the parent and the trace id only) and every
span processor's ``on_start`` is known not to read our spans' attributes,
the span starts bare and gets every attribute in one trusted write
(``_fast_attributes``) before anything else sees it. Otherwise, or when any
of this cannot be checked (another SDK, a new version), the sampling
attributes go through ``start_span`` as the conventions say.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from opentelemetry.context import Context
from opentelemetry.sdk.trace import SpanProcessor
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.sdk.trace.sampling import (
    ParentBased,
    Sampler,
    StaticSampler,
    TraceIdRatioBased,
)
from opentelemetry.trace import Span, SpanKind, Tracer

from a2a_session_manager.telemetry import semconv
from a2a_session_manager.telemetry._fast_attributes import set_trusted_attributes

SAMPLING_ATTRIBUTES = (
    semconv.GEN_AI_OPERATION_NAME,
    semconv.GEN_AI_PROVIDER_NAME,
    semconv.GEN_AI_REQUEST_MODEL,
    semconv.SERVER_ADDRESS,
    semconv.SERVER_PORT,
)

# ``should_sample`` of the SDK's samplers that never read attributes; subclasses
# that keep it (``ParentBasedTraceIdRatio``, the env-configured ones) count too.
_BLIND_SAMPLING: frozenset[Any] = frozenset(
    {StaticSampler.should_sample, TraceIdRatioBased.should_sample}
)
# ``should_sample`` of samplers that read no attributes themselves and decide
# through the samplers held in these attributes (see :func:`delegating_sampler`).
_DELEGATES: dict[Any, tuple[str, ...]] = {
    ParentBased.should_sample: (
        "_root",
        "_remote_parent_sampled",
        "_remote_parent_not_sampled",
        "_local_parent_sampled",
        "_local_parent_not_sampled",
    ),
}
# ``on_start`` methods that do not read our spans' attributes (see :func:`blind_on_start`).
_BLIND_ON_START: set[Any] = {
    SpanProcessor.on_start,
    SimpleSpanProcessor.on_start,
    BatchSpanProcessor.on_start,
}

Processor = TypeVar("Processor", bound=type[SpanProcessor])
SamplerType = TypeVar("SamplerType", bound=type[Sampler])


def blind_on_start(cls: Processor) -> Processor:
    """Class decorator: ``cls.on_start`` never reads the attributes of spans
    our instrumentations start, so they may arrive just after it."""
    _BLIND_ON_START.add(cls.on_start)
    return cls


def delegating_sampler(*delegates: str) -> Callable[[SamplerType], SamplerType]:
    """Class decorator: ``cls.should_sample`` reads no attributes itself and
    decides through the samplers held in the attributes named ``delegates``."""

    def register(cls: SamplerType) -> SamplerType:
        _DELEGATES[cls.should_sample] = delegates
        return cls

    return register


def _blind_sampler(sampler: Any, depth: int = 0) -> bool:
    should_sample = getattr(type(sampler), "should_sample", None)
    if should_sample in _BLIND_SAMPLING:
        return True
    names = _DELEGATES.get(should_sample)
    if names is None or depth > 4:
        return False
    inner = [getattr(sampler, name, None) for name in names]
    return all(d is not None and _blind_sampler(d, depth + 1) for d in inner)


# id(processors) -> (sampler, processors, verdict); the objects are held so
# that their ids cannot be reused while cached. The SDK replaces its processor
# tuple when one is added, so a new processor gets a new verdict.
_verdicts: dict[int, tuple[Any, Any, bool]] = {}
_VERDICTS_SIZE = 64


def _unread_at_start(tracer: Tracer) -> bool:
    """Whether no sampler or processor of ``tracer`` reads attributes at start."""
    try:
        sampler = tracer.sampler  # type: ignore[attr-defined]
        processors = tracer.span_processor._span_processors  # type: ignore[attr-defined]
    except AttributeError:  # another SDK's tracer
        return False
    known = _verdicts.get(id(processors))
    if known is not None and known[0] is sampler and known[1] is processors:
        return known[2]
    verdict = (
        type(processors) is tuple
        and _blind_sampler(sampler)
        and all(getattr(type(p), "on_start", None) in _BLIND_ON_START for p in processors)
    )
    if len(_verdicts) >= _VERDICTS_SIZE:
        _verdicts.clear()
    _verdicts[id(processors)] = (sampler, processors, verdict)
    return verdict


def start_client_span(
    tracer: Tracer, name: str, attributes: dict[str, Any], context: Context | None = None
) -> Span:
    """``tracer.start_span(name, context, kind=CLIENT)`` with ``attributes``
    (clean values our instrumentation built; the dict is consumed)."""
    if _unread_at_start(tracer):
        span = tracer.start_span(name, context, SpanKind.CLIENT)
    else:
        at_start = {key: attributes.pop(key) for key in SAMPLING_ATTRIBUTES if key in attributes}
        span = tracer.start_span(name, context, SpanKind.CLIENT, at_start)
    if attributes and span.is_recording():
        set_trusted_attributes(span, attributes)
    return span
