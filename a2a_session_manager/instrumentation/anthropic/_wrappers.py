"""wrapt wrappers for ``messages.create`` / ``parse`` / ``stream``, built by
factories that close over the tracer.

Each call: request attributes → ``chat {model}`` span (current while the
client works, so its own spans nest under it) → the client's call → the
response's attributes, or a stream proxy that ends the span later. The
client's exception is re-raised as is; anything failing on our side is
logged, never raised.

``messages.stream(...)`` returns a manager that sends the request only when
its ``with`` block is entered: the wrapper replaces the manager's request
(the one private name we touch, checked before use) with one that starts the
span and hands the helper a proxy of the raw event stream, so whichever of
the helper's readers the caller uses (iteration, ``text_stream``,
``get_final_message()``), the events pass through the accumulator.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

from anthropic import AsyncStream, Stream
from anthropic._response import APIResponse, AsyncAPIResponse
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.instrumentation.utils import is_instrumentation_enabled
from opentelemetry.trace import Span, Tracer

from a2a_session_manager.instrumentation._chat_wrappers import (
    Wrapper,
    async_chat_wrapper,
    sync_chat_wrapper,
)
from a2a_session_manager.instrumentation.anthropic._attributes import (
    client_attributes,
    request_content,
    request_parameters,
    response_attributes,
    response_content,
)
from a2a_session_manager.instrumentation.anthropic._stream import MessageAccumulator
from a2a_session_manager.instrumentation.openai._spans import end_span
from a2a_session_manager.instrumentation.openai._stream import AsyncStreamProxy, SyncStreamProxy
from a2a_session_manager.telemetry._context import scope_attributes
from a2a_session_manager.telemetry._deferred_content import ContentProducer
from a2a_session_manager.telemetry._fast_spans import start_client_span
from a2a_session_manager.telemetry._guard import internal_errors, log_internal_error
from a2a_session_manager.telemetry._recorded_call import call_recorded

logger = logging.getLogger(__name__)

_RAW_HEADER = "X-Stainless-Raw-Response"
# Tuples, not unions: ``A | B`` is built anew on every call.
_SEQUENCES = (list, tuple)
_STREAMS = (Stream, AsyncStream)
_RESPONSES = (APIResponse, AsyncAPIResponse)


def _copy(items: Any) -> Any:
    # A shallow copy: the items as sent, whatever the caller appends later.
    return list(items) if isinstance(items, _SEQUENCES) else items


def _call_content(snapshot: Any, message: Any) -> dict[str, Any]:
    values = request_content(*snapshot) if snapshot is not None else {}
    values.update(response_content(message))
    return values


class _Call:
    """One call's span and what its content is built from."""

    __slots__ = ("model", "raw", "snapshot", "span")

    def __init__(self, span: Span, snapshot: Any, model: Any, raw: Any) -> None:
        self.span = span
        self.snapshot = snapshot
        self.model = model
        self.raw = raw  # the client's raw-response header: "raw", "stream" or None

    def request_content(self) -> ContentProducer:
        snapshot = self.snapshot
        return lambda: request_content(*snapshot) if snapshot is not None else {}

    def end(self, message: Any) -> None:
        content = partial(_call_content, self.snapshot, message)
        # ``response_attributes`` keeps only str, int and a tuple of str: the
        # write skips checking them again.
        end_span(self.span, partial(response_attributes, message), content=content, typed=True)

    def fail(self, error: BaseException) -> None:
        recording = self.span.is_recording()
        end_span(self.span, error=error, content=self.request_content() if recording else None)

    def proxy(self, stream: Any, is_async: bool) -> Any:
        proxy_type = AsyncStreamProxy if is_async else SyncStreamProxy
        accumulator = MessageAccumulator(self.model)
        return proxy_type(stream, self.span, accumulator, self.request_content())


def _start(tracer: Tracer, instance: Any, kwargs: dict[str, Any], current: Context) -> _Call | None:
    try:
        attributes = client_attributes(getattr(instance, "_client", None))
        attributes.update(request_parameters(kwargs))
        attributes.update(scope_attributes(current))
        model = kwargs.get("model")
        name = f"chat {model}" if isinstance(model, str) else "chat"
        span = start_client_span(tracer, name, attributes, current)
        snapshot = None
        if span.is_recording():
            messages = kwargs.get("messages")
            if messages is not None and not isinstance(messages, _SEQUENCES):
                kwargs["messages"] = messages = list(messages)  # a one-shot iterable, read once
            snapshot = (kwargs.get("system"), _copy(messages), _copy(kwargs.get("tools")))
        headers = kwargs.get("extra_headers")
        raw = headers.get(_RAW_HEADER) if isinstance(headers, dict) else None
        return _Call(span, snapshot, model, raw)
    except Exception:
        log_internal_error("starting a chat span")
        return None


def _finish(call: _Call, result: Any, is_async: bool) -> Any:
    """End the span from ``result``, or hand it to a stream proxy; returns what the user gets."""
    span = call.span
    try:
        if not span.is_recording():
            span.end()
            return result
        if isinstance(result, _STREAMS):
            return call.proxy(result, is_async)
        if isinstance(result, APIResponse) and call.raw == "raw":
            # ``with_raw_response``: the client caches what ``parse()`` returns.
            parsed = result.parse()
            if isinstance(parsed, Stream):
                end_span(span, content=call.request_content())
            else:
                call.end(parsed)
            return result
        if isinstance(result, _RESPONSES):
            # A body the caller reads later (``with_streaming_response``, async
            # ``with_raw_response``): the request is recorded, not the reply.
            end_span(span, content=call.request_content())
            return result
    except Exception:
        log_internal_error("reading the Anthropic response")
        end_span(span)
        return result
    call.end(result)
    return result


def sync_wrapper(tracer: Tracer) -> Wrapper:
    return sync_chat_wrapper(partial(_start, tracer), _finish)


def async_wrapper(tracer: Tracer) -> Wrapper:
    return async_chat_wrapper(partial(_start, tracer), _finish)


# -- messages.stream(...) -------------------------------------------------------


def _request_attribute(manager: Any) -> str | None:
    """The manager's private request attribute (``_MessageStreamManager__api_request``)."""
    for cls in type(manager).__mro__:
        name = f"_{cls.__name__}__api_request"
        if name in getattr(manager, "__dict__", {}):
            return name
    return None


def _traced_request(tracer: Tracer, instance: Any, kwargs: dict[str, Any], request: Any) -> Any:
    def send() -> Any:
        if not is_instrumentation_enabled() or call_recorded():
            return request()
        current = otel_context.get_current()
        call = _start(tracer, instance, {**kwargs, "stream": True}, current)
        if call is None:
            return request()
        token = otel_context.attach(trace.set_span_in_context(call.span, current))
        try:
            stream = request()
        except BaseException as error:
            with internal_errors("ending a failed chat span"):
                call.fail(error)
            raise
        finally:
            otel_context.detach(token)
        return _finish(call, stream, is_async=False)

    return send


async def _traced_async_request(
    tracer: Tracer, instance: Any, kwargs: dict[str, Any], request: Awaitable[Any]
) -> Any:
    if not is_instrumentation_enabled() or call_recorded():
        return await request
    current = otel_context.get_current()
    call = _start(tracer, instance, {**kwargs, "stream": True}, current)
    if call is None:
        return await request
    token = otel_context.attach(trace.set_span_in_context(call.span, current))
    try:
        stream = await request
    except BaseException as error:
        with internal_errors("ending a failed chat span"):
            call.fail(error)
        raise
    finally:
        otel_context.detach(token)
    return _finish(call, stream, is_async=True)


def stream_wrapper(tracer: Tracer, is_async: bool) -> Wrapper:
    def traced(
        wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        manager = wrapped(*args, **kwargs)
        with internal_errors("instrumenting messages.stream"):
            name = _request_attribute(manager)
            if name is None:
                logger.debug("unknown stream manager %r: its call is not recorded", manager)
                return manager
            request = getattr(manager, name)
            if is_async:
                coroutine = _traced_async_request(tracer, instance, kwargs, request)
                setattr(manager, name, coroutine)
            else:
                setattr(manager, name, _traced_request(tracer, instance, kwargs, request))
        return manager

    return traced
