"""Wrappers of the a2a-sdk client (``BaseClient``): one CLIENT span per call.

The caller's trace context and session (W3C ``traceparent`` and ``baggage``)
travel in the request headers through the call's ``ClientCallContext``
(its ``service_parameters`` are sent as HTTP headers); the application's own
context object is copied, never changed.
"""

from __future__ import annotations

import contextlib
import functools
from typing import Any
from urllib.parse import urlsplit

from a2a.client.client import ClientCallContext
from opentelemetry.context import Context, get_current
from opentelemetry.trace import Span, SpanKind, Tracer

from a2a_session_manager.instrumentation.a2a import _wrappers as wrappers
from a2a_session_manager.instrumentation.a2a._records import Exchange
from a2a_session_manager.instrumentation.a2a._spans import A2ACall, agent_attributes
from a2a_session_manager.instrumentation.a2a._wrappers import Wrapper
from a2a_session_manager.telemetry import semconv
from a2a_session_manager.telemetry._context import scope_in
from a2a_session_manager.telemetry._guard import log_internal_error
from a2a_session_manager.telemetry._w3c import inject_w3c

# (card, its attributes, scope, method, the start attributes): the last call's.
_START_CACHE = "_a2a_session_manager_start"


def _read_card(card: Any) -> dict[str, Any]:
    attributes = agent_attributes(card)
    if card is not None and card.supported_interfaces:
        interface = card.supported_interfaces[0]
        url = urlsplit(interface.url)
        if url.hostname:
            attributes[semconv.SERVER_ADDRESS] = url.hostname
            if url.port is not None:
                attributes[semconv.SERVER_PORT] = url.port
        if interface.protocol_version:
            attributes[semconv.A2A_PROTOCOL_VERSION] = interface.protocol_version
    return attributes


def _streams(client: Any) -> bool:
    """Whether ``send_message`` streams (the client's own rule)."""
    config = getattr(client, "_config", None)
    card = getattr(client, "_card", None)
    return bool(
        config is not None and config.streaming and card is not None and card.capabilities.streaming
    )


def _start(
    tracer: Tracer, method: str, client: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[A2ACall, dict[str, Any]]:
    # Read once: the span's parent, the session and run, the baggage to send.
    current = get_current()
    exchange = Exchange()
    try:
        exchange.span_attributes = {**_start_attributes(client, method, current)}
        request = args[0] if args else kwargs.get("request")
        if request is not None:
            exchange.request(request)
    except Exception:
        log_internal_error("reading an A2A request")
    # Samplers see the method as the span's name. Attributes passed here go
    # through the SDK's per-value checks (the 3 passed before cost ~5 µs a
    # call, thread CPU, in benchmarks/bench_a2a.py): all are set at the end.
    span = tracer.start_span(method, current, SpanKind.CLIENT)
    try:
        kwargs = {**kwargs, "context": _with_headers(kwargs.get("context"), span, current)}
    except Exception:
        log_internal_error("sending the trace context with an A2A request")
    return A2ACall(span, exchange), kwargs


def _start_attributes(client: Any, method: str, current: Context) -> dict[str, Any]:
    """The card's, method's and scope's attributes, built again only when one
    of them changes (kept on the client, for its last call)."""
    card = getattr(client, "_card", None)
    scope = scope_in(current)
    cached = getattr(client, _START_CACHE, None)
    if cached is not None and cached[0] is card:
        if cached[2] is scope and cached[3] == method:
            return cached[4]  # type: ignore[no-any-return]
        card_attributes = cached[1]
    else:
        card_attributes = _read_card(card)
    attributes = {**card_attributes, semconv.A2A_PROTOCOL_METHOD_NAME: method}
    if scope is not None:
        for key, value in scope.attributes.items():
            if key != semconv.GEN_AI_CONVERSATION_ID:  # the A2A contextId, set at the end
                attributes[key] = value
    with contextlib.suppress(AttributeError):  # a client class with slots: built each time
        setattr(client, _START_CACHE, (card, card_attributes, scope, method, attributes))
    return attributes


def _with_headers(
    call_context: ClientCallContext | None, span: Span, current: Context
) -> ClientCallContext:
    headers: dict[str, str] = {}
    inject_w3c(headers, current, span)
    if call_context is None:
        return ClientCallContext(service_parameters=headers)
    parameters = {**(call_context.service_parameters or {}), **headers}
    return call_context.model_copy(update={"service_parameters": parameters})


def call_wrapper(tracer: Tracer, method: str) -> Wrapper:
    """``get_task`` / ``cancel_task``: a coroutine returning a Task."""
    return wrappers.call_wrapper(functools.partial(_start, tracer, method))


_ABANDONED = {semconv.A2A_STREAM_INTERRUPTED: semconv.STREAM_ABANDONED}


def stream_wrapper(tracer: Tracer, method: str | None) -> Wrapper:
    """``send_message`` / ``subscribe``: an async generator of StreamResponse.
    ``method=None``: SendMessage or SendStreamingMessage, as the client decides."""
    if method is not None:
        return wrappers.stream_wrapper(functools.partial(_start, tracer, method), _ABANDONED)

    def start(
        client: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> tuple[A2ACall, dict[str, Any]]:
        name = (
            semconv.A2A_METHOD_SEND_STREAMING_MESSAGE
            if _streams(client)
            else semconv.A2A_METHOD_SEND_MESSAGE
        )
        return _start(tracer, name, client, args, kwargs)

    return wrappers.stream_wrapper(start, _ABANDONED)
