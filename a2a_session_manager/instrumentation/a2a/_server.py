"""Wrappers of the a2a-sdk server: a SERVER span per request, and the agent's
work recorded in the session of its A2A conversation.

The caller's headers (``ServerCallContext.state["headers"]``) continue its
trace. The agent records into a session of its own, ``a2a-{contextId}``
(``telemetry._a2a_sessions``): the caller's ``contextId`` and baggage session
are claims, so this process never writes into a session the caller names;
the caller's session becomes the parent (``remote`` or, when the
``remote_sessions`` policy accepts it, ``remote-trusted``). While the agent
executor runs, that session is current and the A2A task is the current run
(its id is the task id), so LLM and tool calls inside land there.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any, Final

import wrapt
from opentelemetry import context as otel_context
from opentelemetry.context import Context
from opentelemetry.trace import Span, SpanKind, Tracer

from a2a_session_manager.instrumentation.a2a import _wrappers as wrappers
from a2a_session_manager.instrumentation.a2a._records import Exchange
from a2a_session_manager.instrumentation.a2a._spans import A2ACall, agent_attributes
from a2a_session_manager.instrumentation.a2a._wrappers import Wrapper
from a2a_session_manager.telemetry import semconv
from a2a_session_manager.telemetry._a2a_sessions import a2a_session_id
from a2a_session_manager.telemetry._context import (
    Scope,
    claim_link,
    extract,
    remote_claim,
    with_session_baggage,
    with_span_and_scope,
)
from a2a_session_manager.telemetry._guard import internal_errors

# Where the request's span and caller context wait for the agent executor.
_STATE_KEY: Final = "a2a_session_manager.server_span"
_VERSION_HEADER: Final = "a2a-version"  # the a2a-sdk's VERSION_HEADER, as HTTP lowercases it


def session_attributes(context_id: str, caller: Context) -> dict[str, str]:
    """What every span of the agent's session carries: its id and parent claim."""
    session_id = a2a_session_id(context_id)
    attributes = {semconv.SESSION_ID: session_id}
    claim = remote_claim(caller)
    if claim is not None and claim != session_id:
        attributes[semconv.A2A_SESSION_PARENT_ID] = claim
        attributes[semconv.A2A_SESSION_PARENT_LINK] = claim_link(claim, caller)
    return attributes


def _caller(call_context: Any, attributes: dict[str, Any]) -> Context:
    """The caller's context from the request headers (and the protocol version it asked for)."""
    headers = getattr(call_context, "state", {}).get("headers")
    if not isinstance(headers, Mapping):
        return Context()
    carrier = {str(k).lower(): str(v) for k, v in headers.items()}
    version = carrier.get(_VERSION_HEADER)
    if version:
        attributes[semconv.A2A_PROTOCOL_VERSION] = version
    return extract(carrier, context=Context())


class _ServedCall(A2ACall):
    """A request this agent serves: its session is named at the end, from the
    ``contextId`` the call carried and the caller's claim."""

    __slots__ = ("caller",)

    def __init__(self, span: Span, exchange: Exchange, caller: Context) -> None:
        super().__init__(span, exchange)
        self.caller = caller

    def end(self, exc: BaseException | None, extra: Mapping[str, Any] | None = None) -> None:
        attributes: dict[str, Any] = dict(extra or {})
        with internal_errors("naming the A2A session"):
            if self.exchange.context_id:
                attributes.update(session_attributes(self.exchange.context_id, self.caller))
        super().end(exc, attributes)


def _start(
    tracer: Tracer, method: str, handler: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[A2ACall, dict[str, Any]]:
    exchange = Exchange()
    caller = Context()
    attributes: dict[str, Any] = {semconv.A2A_PROTOCOL_METHOD_NAME: method}
    call_context = args[1] if len(args) > 1 else kwargs.get("context")
    with internal_errors("reading an A2A request"):
        caller = _caller(call_context, attributes)
        attributes.update(agent_attributes(getattr(handler, "_agent_card", None)))
        request = args[0] if args else kwargs.get("params")
        if request is not None:
            exchange.request(request)
    span = tracer.start_span(method, caller, kind=SpanKind.SERVER, attributes=attributes)
    with internal_errors("handing the A2A span to the agent executor"):
        if call_context is not None:
            call_context.state[_STATE_KEY] = (span, caller)
    return _ServedCall(span, exchange, caller), kwargs


def call_wrapper(tracer: Tracer, method: str) -> Wrapper:
    """``on_message_send`` / ``on_get_task`` / ``on_cancel_task``."""
    return wrappers.call_wrapper(functools.partial(_start, tracer, method))


def stream_wrapper(tracer: Tracer, method: str) -> Wrapper:
    """``on_message_send_stream`` / ``on_subscribe_to_task``: async generators
    (one the client went away from ends, not as an error of ours)."""
    return wrappers.stream_wrapper(functools.partial(_start, tracer, method))


class TracedExecutor(wrapt.ObjectProxy):  # type: ignore[misc,type-arg]
    """An ``AgentExecutor`` whose ``execute`` runs in the conversation's session,
    with the A2A task as the current run and the request's span as parent."""

    async def execute(self, context: Any, event_queue: Any) -> Any:
        token = None
        with internal_errors("entering the A2A session"):
            ctx = _executor_context(context)
            if ctx is not None:
                token = otel_context.attach(ctx)
        try:
            return await self.__wrapped__.execute(context, event_queue)
        finally:
            if token is not None:
                otel_context.detach(token)


def _executor_context(request_context: Any) -> Context | None:
    call_context = getattr(request_context, "call_context", None)
    handed = getattr(call_context, "state", {}).get(_STATE_KEY)
    context_id = request_context.context_id
    if handed is None or not context_id:
        return None
    span, caller = handed
    attributes = session_attributes(context_id, caller)
    session_id = attributes[semconv.SESSION_ID]
    attributes[semconv.GEN_AI_CONVERSATION_ID] = session_id
    scope = Scope(session_id, request_context.task_id or None, attributes)
    # Baggage names this session: an agent called from here links to it.
    return with_span_and_scope(span, scope, with_session_baggage(session_id, caller))


def init_wrapper(
    wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    """``DefaultRequestHandler(agent_executor, ...)``: the executor is traced."""
    with internal_errors("wrapping the agent executor"):
        if args and not isinstance(args[0], TracedExecutor):
            args = (TracedExecutor(args[0]), *args[1:])
        elif "agent_executor" in kwargs and not isinstance(
            kwargs["agent_executor"], TracedExecutor
        ):
            kwargs = {**kwargs, "agent_executor": TracedExecutor(kwargs["agent_executor"])}
    return wrapped(*args, **kwargs)
