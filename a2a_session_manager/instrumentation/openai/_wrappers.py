"""wrapt wrappers for the client's methods, built by factories that close over the tracer.

Each call: request attributes → ``chat {model}`` span (current while the
client works, so its HTTP spans nest under it) → the client's own call →
the response's attributes, or a stream proxy that ends the span later. The
user's call is never changed: the client's exception is re-raised as is
(bare ``raise``), and anything that goes wrong on our side is logged, never
raised (see ``_guard``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from openai import AsyncStream, Stream
from openai._legacy_response import LegacyAPIResponse
from openai.types.chat import ChatCompletionChunk
from openai.types.responses import ResponseStreamEvent
from opentelemetry.context import Context
from opentelemetry.trace import Span, Tracer
from pydantic import BaseModel

from a2a_session_manager.instrumentation._chat_wrappers import (
    Wrapper,
    async_chat_wrapper,
    sync_chat_wrapper,
)
from a2a_session_manager.instrumentation.openai._attributes import (
    chat_request_content,
    chat_response_attributes,
    chat_response_content,
    client_attributes,
    responses_request_attributes,
    responses_request_content,
    responses_response_attributes,
    responses_response_content,
)
from a2a_session_manager.instrumentation.openai._body import record_body
from a2a_session_manager.instrumentation.openai._params import CHAT_PARAMETERS, request_attributes
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
from a2a_session_manager.telemetry._context import scope_attributes
from a2a_session_manager.telemetry._deferred_content import ContentProducer
from a2a_session_manager.telemetry._fast_spans import start_client_span
from a2a_session_manager.telemetry._guard import log_internal_error


@dataclass
class _Api:
    """What differs between chat completions and responses.

    Content (messages, instructions, tool definitions) is kept apart from the
    other attributes: it is built from ``snapshot``, taken when the call starts
    (agents append to the same list for the next call), and turned into
    attributes when the span ends, or later by the session mapper
    (``telemetry._deferred_content``).
    """

    request_attributes: Callable[[dict[str, Any]], dict[str, Any]]
    snapshot: Callable[[dict[str, Any]], Any]
    request_content: Callable[[Any], dict[str, Any]]
    response_attributes: Callable[[Any], dict[str, Any]]
    response_content: Callable[[Any], dict[str, Any]]
    accumulator: Callable[[PromptReader, Any], Accumulator]
    prompt: Callable[[Any], list[Mapping[str, Any]] | None]
    chunk_type: Any  # what one event of a streamed body is parsed into


# A tuple, not ``list | tuple``: a union is built anew on every call.
_SEQUENCES = (list, tuple)


def _chat_request(kwargs: dict[str, Any]) -> dict[str, Any]:
    messages = kwargs.get("messages")
    if messages is not None and not isinstance(messages, _SEQUENCES):
        # A one-shot iterable (a generator) is read once here and passed on as a list.
        kwargs["messages"] = list(messages)
    return request_attributes(CHAT_PARAMETERS, kwargs)


def _copy(items: Any) -> Any:
    # A shallow copy: the items as sent, whatever the caller appends later.
    return list(items) if isinstance(items, _SEQUENCES) else None


def _chat_snapshot(kwargs: dict[str, Any]) -> tuple[Any, Any]:
    messages, tools = kwargs.get("messages"), kwargs.get("tools")
    return (
        list(messages) if isinstance(messages, _SEQUENCES) else None,
        list(tools) if isinstance(tools, _SEQUENCES) else None,
    )


def _chat_request_content(snapshot: tuple[Any, Any]) -> dict[str, Any]:
    return chat_request_content(*snapshot)


def _chat_prompt(snapshot: tuple[Any, Any]) -> list[Mapping[str, Any]] | None:
    messages = snapshot[0]
    return chat_prompt(messages) if messages is not None else None


def _responses_snapshot(kwargs: dict[str, Any]) -> tuple[Any, Any, Any]:
    input_value = kwargs.get("input")
    if isinstance(input_value, _SEQUENCES):
        input_value = list(input_value)
    return kwargs.get("instructions"), input_value, _copy(kwargs.get("tools"))


def _responses_request_content(snapshot: tuple[Any, Any, Any]) -> dict[str, Any]:
    return responses_request_content(*snapshot)


def _responses_prompt(snapshot: tuple[Any, Any, Any]) -> list[Mapping[str, Any]] | None:
    return responses_prompt(snapshot[0], snapshot[1])


CHAT = _Api(
    _chat_request,
    _chat_snapshot,
    _chat_request_content,
    chat_response_attributes,
    chat_response_content,
    ChatAccumulator,
    _chat_prompt,
    ChatCompletionChunk,
)
RESPONSES = _Api(
    responses_request_attributes,
    _responses_snapshot,
    _responses_request_content,
    responses_response_attributes,
    responses_response_content,
    ResponsesAccumulator,
    _responses_prompt,
    ResponseStreamEvent,
)


def _call_content(api: _Api, snapshot: Any, response: Any) -> dict[str, Any]:
    values = api.request_content(snapshot)
    values.update(api.response_content(response))
    return values


class _Call:
    """One call's span and what its content is built from."""

    __slots__ = ("api", "client", "model", "snapshot", "span", "stream")

    def __init__(
        self, span: Span, api: _Api, snapshot: Any, model: Any, stream: bool, client: Any
    ) -> None:
        self.span = span
        self.api = api
        self.snapshot = snapshot
        self.model = model
        self.stream = stream
        self.client = client

    def request_content(self) -> ContentProducer:
        api, snapshot = self.api, self.snapshot
        return lambda: api.request_content(snapshot)

    def content(self, response: Any) -> ContentProducer:
        return partial(_call_content, self.api, self.snapshot, response)

    def accumulator(self) -> Accumulator:
        api, snapshot = self.api, self.snapshot
        return api.accumulator(lambda: api.prompt(snapshot), self.model)

    def end(self, response: Any) -> None:
        attributes = partial(self.api.response_attributes, response)
        # Both APIs' readers keep only str, int and tuples of str (their values
        # are type-checked as read): the write skips checking them again.
        end_span(self.span, attributes, content=self.content(response), typed=True)

    def fail(self, error: BaseException) -> None:
        recording = self.span.is_recording()
        end_span(self.span, error=error, content=self.request_content() if recording else None)


def _start(
    tracer: Tracer, api: _Api, instance: Any, kwargs: dict[str, Any], current: Context
) -> _Call | None:
    try:
        client = getattr(instance, "_client", None)
        attributes = client_attributes(client)
        attributes.update(api.request_attributes(kwargs))
        # The session and run ids, at start: one attribute set, not two.
        attributes.update(scope_attributes(current))
        model = kwargs.get("model")
        name = f"chat {model}" if isinstance(model, str) else "chat"
        span = start_client_span(tracer, name, attributes, current)
        snapshot = api.snapshot(kwargs) if span.is_recording() else None
        return _Call(span, api, snapshot, model, kwargs.get("stream") is True, client)
    except Exception:
        log_internal_error("starting a chat span")
        return None


def _is_stream(result: Any, is_async: bool) -> bool:
    """The client's stream, or another instrumentation's proxy around it (the
    official one returns its own iterator class when it wraps the call first)."""
    if isinstance(result, Stream | AsyncStream):
        return True
    if isinstance(result, BaseModel | LegacyAPIResponse):
        return False
    return hasattr(result, "__anext__" if is_async else "__next__")


# What a call returned, by type: told once per type (``BaseModel`` checks go
# through its ABC metaclass, about 1 µs per call in all).
_PARSED, _STREAM, _RAW, _BODY = range(4)
_result_kinds: dict[tuple[type, bool], int] = {}
_RESULT_KINDS_SIZE = 256


def _result_kind(result: Any, is_async: bool) -> int:
    key = (type(result), is_async)
    kind = _result_kinds.get(key)
    if kind is None:
        if _is_stream(result, is_async):
            kind = _STREAM
        elif isinstance(result, LegacyAPIResponse):  # ``with_raw_response``
            kind = _RAW
        elif isinstance(result, BaseModel):
            kind = _PARSED
        else:
            kind = _BODY  # ``with_streaming_response``
        if len(_result_kinds) >= _RESULT_KINDS_SIZE:
            _result_kinds.clear()
        _result_kinds[key] = kind
    return kind


def _finish(call: _Call, result: Any, is_async: bool = False) -> Any:
    """End the span from ``result``, or hand it to a stream proxy; returns what the user gets."""
    span = call.span
    try:
        if not span.is_recording():
            span.end()
            return result
        kind = _result_kind(result, is_async)
        if kind == _STREAM:
            return _proxy(call, result, is_async)
        if kind == _RAW:  # same call, raw result
            return _finish_raw(call, result)
        if kind == _BODY:
            # The body is the caller's to read; the span ends when it is read
            # (or closed), from what was read.
            if not record_body(call, result):
                end_span(span, content=call.request_content())
            return result
    except Exception:
        log_internal_error("reading the OpenAI response")
        end_span(span)
        return result
    call.end(result)
    return result


def _proxy(call: _Call, stream: Any, is_async: bool) -> Any:
    proxy_type = AsyncStreamProxy if is_async else SyncStreamProxy
    return proxy_type(stream, call.span, call.accumulator(), call.request_content())


def _finish_raw(call: _Call, raw: Any) -> Any:
    # The client caches what ``parse()`` returns, so parsing here costs the user
    # nothing; for a stream, the cached object becomes our proxy.
    parsed = raw.parse()
    if isinstance(parsed, Stream | AsyncStream):
        raw._parsed_by_type[raw._cast_to] = _proxy(call, parsed, isinstance(parsed, AsyncStream))
    else:
        call.end(parsed)
    return raw


def sync_wrapper(tracer: Tracer, api: _Api) -> Wrapper:
    return sync_chat_wrapper(partial(_start, tracer, api), _finish)


def async_wrapper(tracer: Tracer, api: _Api) -> Wrapper:
    return async_chat_wrapper(partial(_start, tracer, api), _finish)
