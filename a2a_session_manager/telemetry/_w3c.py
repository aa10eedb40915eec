"""Writing the W3C headers (``traceparent``, ``tracestate``, ``baggage``) of a
request, quickly when the global propagators are the default pair.

``propagate.inject`` encodes the baggage again on every call (each entry
percent-encoded and checked against the limits): in the A2A client wrapper
it took ~12 µs a call, this ~5 µs (caller's thread CPU, timed in place in
benchmarks/bench_a2a.py's loop). A session's baggage rarely changes between calls,
so when the global text map is OpenTelemetry's default composite of W3C trace
context and W3C baggage, the traceparent is formatted here (as the trace
context propagator does) and the baggage header is the one the baggage
propagator wrote for the same entries last time. Any other configuration
(``OTEL_PROPAGATORS``, ``set_global_textmap``) goes through ``propagate.inject``.
"""

from __future__ import annotations

from collections.abc import MutableMapping

from opentelemetry import baggage, propagate, trace
from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.context import Context, get_current
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.propagators.textmap import TextMapPropagator
from opentelemetry.trace import Span
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

_DEFAULT_PAIR = frozenset({TraceContextTextMapPropagator, W3CBaggagePropagator})
_BAGGAGE = W3CBaggagePropagator()
# The key under which the API keeps a context's baggage dict (private to the
# API: read from what the public function writes).
_BAGGAGE_KEY = next(iter(baggage.set_baggage("k", "v", Context())))

# (text map, whether it is the default pair): checked again when it changes.
_checked: tuple[TextMapPropagator | None, bool] = (None, False)
# (baggage entries, their header): the last baggage encoded.
_last_baggage: tuple[dict[str, object], str | None] = ({}, None)
# (trace id, the traceparent's start): the last trace a header was written for.
_last_trace: tuple[int, str] = (0, "")


def inject_w3c(
    carrier: MutableMapping[str, str], context: Context | None = None, span: Span | None = None
) -> None:
    """``propagate.inject(carrier, context=context)``, with the same result;
    with ``span``, as if ``span`` were current in ``context``."""
    textmap = propagate.get_global_textmap()
    checked, is_default = _checked
    if checked is not textmap:
        is_default = _remember(textmap)
    if not is_default:
        if span is not None:
            context = trace.set_span_in_context(span, context)
        propagate.inject(carrier, context=context)
        return
    if span is None:
        span = trace.get_current_span(context)
    span_context = span.get_span_context()
    if span_context.is_valid:
        carrier["traceparent"] = (
            f"{_trace_prefix(span_context.trace_id)}{span_context.span_id:016x}"
            f"-{span_context.trace_flags:02x}"
        )
        if span_context.trace_state:
            carrier["tracestate"] = span_context.trace_state.to_header()
    header = _baggage_header(context)
    if header is not None:
        carrier["baggage"] = header


def _trace_prefix(trace_id: int) -> str:
    """``00-{trace_id}-``: the calls of one trace share it (formatting a
    128-bit id is about half of formatting the header)."""
    global _last_trace
    last_id, prefix = _last_trace
    if last_id != trace_id:
        prefix = f"00-{trace_id:032x}-"
        _last_trace = (trace_id, prefix)
    return prefix


def _remember(textmap: TextMapPropagator) -> bool:
    global _checked
    # The composite keeps its members private; read only to recognise the default.
    members = getattr(textmap, "_propagators", None)
    is_default = (
        type(textmap) is CompositePropagator
        and isinstance(members, (list, tuple))
        and len(members) == len(_DEFAULT_PAIR)
        and {type(member) for member in members} == _DEFAULT_PAIR
    )
    _checked = (textmap, is_default)
    return is_default


def _baggage_header(context: Context | None) -> str | None:
    global _last_baggage
    if context is None:
        context = get_current()
    entries = context.get(_BAGGAGE_KEY)
    if not entries:
        return None
    last_entries, header = _last_baggage
    # Contexts are immutable and the API copies a baggage dict to change it:
    # the same dict, kept below only when its values are strings, is the same header.
    if entries is last_entries or entries == last_entries:
        return header
    carrier: dict[str, str] = {}
    _BAGGAGE.inject(carrier, context)
    header = carrier.get("baggage")
    if type(entries) is dict and all(type(value) is str for value in entries.values()):
        _last_baggage = (entries, header)
    return header
