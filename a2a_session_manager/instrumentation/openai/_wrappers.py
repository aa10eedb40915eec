"""wrapt wrappers for the client's methods, built by factories that close over the tracer.

Each call: request attributes → ``chat {model}`` span (current while the
client works, so its HTTP spans nest under it) → the client's own call →
the response's attributes, or a stream proxy that ends the span later. The
user's call is never changed: the client's exception is re-raised as is
(bare ``raise``), and anything that goes wrong on our side is logged, never
raised (see ``_guard``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from openai import AsyncStream, Stream
from openai._legacy_response import LegacyAPIResponse
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.instrumentation.utils import is_instrumentation_enabled
from opentelemetry.trace import Span, SpanKind, Tracer
from pydantic import BaseModel

from a2a_session_manager.instrumentation.openai._attributes import (
    chat_request_attributes,
    chat_response_attributes,
    client_attributes,
    responses_request_attributes,
    responses_response_attributes,
)
from a2a_session_manager.instrumentation.openai._guard import internal_errors, log_internal_error
from a2a_session_manager.instrumentation.openai._spans import end_span
from a2a_session_manager.instrumentation.openai._stream import (
    Accumulator,
    AsyncStreamProxy,
    ChatAccumulator,
    PromptReader,
    ResponsesAccumulator,
    SyncStreamProxy,
)
from a2a_session_manager.instrumentation.openai._usage import chat_prompt, responses_prompt

Wrapper = Callable[[Callable[..., Any], Any, tuple[Any, ...], dict[str, Any]], Any]


@dataclass
class _Api:
    """What differs between chat completions and responses."""

    request_attributes: Callable[[dict[str, Any]], dict[str, Any]]
    response_attributes: Callable[[Any], dict[str, Any]]
    accumulator: Callable[[PromptReader, Any], Accumulator]
    prompt: Callable[[dict[str, Any]], list[Mapping[str, Any]] | None]


def _chat_request(kwargs: dict[str, Any]) -> dict[str, Any]:
    messages = kwargs.get("messages")
    if messages is not None and not isinstance(messages, list | tuple):
        # A one-shot iterable (a generator) is read once here and passed on as a list.
        messages = kwargs["messages"] = list(messages)
    return chat_request_attributes(kwargs, messages)


def _chat_prompt(kwargs: dict[str, Any]) -> list[Mapping[str, Any]] | None:
    messages = kwargs.get("messages")
    return chat_prompt(messages) if isinstance(messages, list | tuple) else None


def _responses_prompt(kwargs: dict[str, Any]) -> list[Mapping[str, Any]] | None:
    return responses_prompt(kwargs.get("instructions"), kwargs.get("input"))


CHAT = _Api(_chat_request, chat_response_attributes, ChatAccumulator, _chat_prompt)
RESPONSES = _Api(
    responses_request_attributes,
    responses_response_attributes,
    ResponsesAccumulator,
    _responses_prompt,
)


def _start(tracer: Tracer, api: _Api, instance: Any, kwargs: dict[str, Any]) -> Span | None:
    try:
        attributes = client_attributes(getattr(instance, "_client", None))
        attributes.update(api.request_attributes(kwargs))
        model = kwargs.get("model")
        name = f"chat {model}" if isinstance(model, str) else "chat"
        return tracer.start_span(name, kind=SpanKind.CLIENT, attributes=attributes)
    except Exception:
        log_internal_error("starting a chat span")
        return None


def _finish(span: Span, api: _Api, kwargs: dict[str, Any], result: Any) -> Any:
    """End the span from ``result``, or hand it to a stream proxy; returns what the user gets."""
    try:
        if not span.is_recording():
            span.end()
            return result
        if isinstance(result, Stream | AsyncStream):
            return _proxy(span, api, kwargs, result)
        if isinstance(result, LegacyAPIResponse):  # ``with_raw_response``: same call, raw result
            return _finish_raw(span, api, kwargs, result)
        if not isinstance(result, BaseModel):
            # ``with_streaming_response``: the body is the caller's to read, not ours.
            end_span(span)
            return result
    except Exception:
        log_internal_error("reading the OpenAI response")
        end_span(span)
        return result
    end_span(span, lambda: api.response_attributes(result))
    return result


def _proxy(span: Span, api: _Api, kwargs: dict[str, Any], stream: Any) -> Any:
    accumulator = api.accumulator(lambda: api.prompt(kwargs), kwargs.get("model"))
    proxy_type = AsyncStreamProxy if isinstance(stream, AsyncStream) else SyncStreamProxy
    return proxy_type(stream, span, accumulator)


def _finish_raw(span: Span, api: _Api, kwargs: dict[str, Any], raw: Any) -> Any:
    # The client caches what ``parse()`` returns, so parsing here costs the user
    # nothing; for a stream, the cached object becomes our proxy.
    parsed = raw.parse()
    if isinstance(parsed, Stream | AsyncStream):
        raw._parsed_by_type[raw._cast_to] = _proxy(span, api, kwargs, parsed)
    else:
        end_span(span, lambda: api.response_attributes(parsed))
    return raw


def sync_wrapper(tracer: Tracer, api: _Api) -> Wrapper:
    def traced(
        wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        if not is_instrumentation_enabled():
            return wrapped(*args, **kwargs)
        span = _start(tracer, api, instance, kwargs)
        if span is None:
            return wrapped(*args, **kwargs)
        token = otel_context.attach(trace.set_span_in_context(span))
        try:
            result = wrapped(*args, **kwargs)
        except BaseException as error:
            with internal_errors("ending a failed chat span"):
                end_span(span, error=error)
            raise
        finally:
            otel_context.detach(token)
        return _finish(span, api, kwargs, result)

    return traced


def async_wrapper(tracer: Tracer, api: _Api) -> Wrapper:
    async def traced(
        wrapped: Callable[..., Awaitable[Any]],
        instance: Any,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Any:
        if not is_instrumentation_enabled():
            return await wrapped(*args, **kwargs)
        span = _start(tracer, api, instance, kwargs)
        if span is None:
            return await wrapped(*args, **kwargs)
        token = otel_context.attach(trace.set_span_in_context(span))
        try:
            result = await wrapped(*args, **kwargs)
        except BaseException as error:
            with internal_errors("ending a failed chat span"):
                end_span(span, error=error)
            raise
        finally:
            otel_context.detach(token)
        return _finish(span, api, kwargs, result)

    return traced
