"""wrapt wrappers for ``litellm.completion`` / ``acompletion``, built by factories
that close over the tracer.

LiteLLM answers in OpenAI's shapes (``ModelResponse``, ``ModelResponseStream``
chunks), so the OpenAI instrumentation's readers build the attributes; what
LiteLLM adds is the routing (``_routing``). While the call runs, our client
wrappers step aside (``telemetry._recorded_call``): LiteLLM may send it
through the ``openai`` client, and one call is one chat span. The user's call
is never changed: LiteLLM's exception is re-raised as is, and anything that
goes wrong on our side is logged, never raised.
"""

from __future__ import annotations

from typing import Any

from opentelemetry.trace import Span, SpanKind, Tracer

from a2a_session_manager.instrumentation._chat_wrappers import (
    Wrapper,
    async_chat_wrapper,
    sync_chat_wrapper,
)
from a2a_session_manager.instrumentation.litellm._routing import routing_attributes
from a2a_session_manager.instrumentation.openai._attributes import (
    chat_request_attributes,
    chat_request_content,
    chat_response_attributes,
    chat_response_content,
)
from a2a_session_manager.instrumentation.openai._messages import field
from a2a_session_manager.instrumentation.openai._spans import end_span
from a2a_session_manager.instrumentation.openai._stream import (
    AsyncStreamProxy,
    ChatAccumulator,
    SyncStreamProxy,
)
from a2a_session_manager.instrumentation.openai._usage import chat_prompt
from a2a_session_manager.telemetry import semconv
from a2a_session_manager.telemetry._context import scope_attributes
from a2a_session_manager.telemetry._deferred_content import ContentProducer
from a2a_session_manager.telemetry._guard import log_internal_error

# ``completion(model, messages, ...)``: the two arguments that may come by position.
_POSITIONAL = ("model", "messages")


def _by_name(
    args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    if not args or len(args) > len(_POSITIONAL):
        return args, kwargs
    named = dict(zip(_POSITIONAL, args, strict=False))
    if named.keys() & kwargs.keys():
        return args, kwargs  # LiteLLM's own TypeError, unchanged
    named.update(kwargs)
    return (), named


class _Chunk:
    """A ``ModelResponseStream`` as the chat accumulator reads it: LiteLLM's
    chunks have no ``usage`` attribute unless usage came with them."""

    __slots__ = ("choices", "id", "model", "system_fingerprint", "usage")

    def __init__(self, chunk: Any) -> None:
        self.id = chunk.id
        self.model = chunk.model
        self.system_fingerprint = getattr(chunk, "system_fingerprint", None)
        self.usage = getattr(chunk, "usage", None)
        self.choices = chunk.choices


class _StreamAccumulator(ChatAccumulator):
    __slots__ = ()

    def add(self, chunk: Any) -> None:
        first = self.response_id is None
        super().add(_Chunk(chunk))
        if first:  # read once: a chunk's hidden parameters cost ~1.8 µs to reach
            self.model = _served_model(chunk) or self.model

    def attributes(self) -> dict[str, Any]:
        attributes = super().attributes()
        attributes.update(_cache_write(self.usage))
        return attributes


def _served_model(chunk: Any) -> str | None:
    """The model the provider answered as (a dated version, say, priced as
    itself): LiteLLM's chunks name the requested one, and keep the provider's
    in their hidden parameters."""
    hidden = getattr(chunk, "_hidden_params", None)
    served = hidden.get("provider_response_model") if isinstance(hidden, dict) else None
    return served if isinstance(served, str) and served else None


def _cache_write(usage: Any) -> dict[str, Any]:
    # LiteLLM keeps Anthropic's cache writes beside the OpenAI-shaped fields.
    tokens = field(usage, "cache_creation_input_tokens") if usage is not None else None
    if isinstance(tokens, int) and not isinstance(tokens, bool) and tokens > 0:
        return {semconv.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS: tokens}
    return {}


def _response_attributes(response: Any) -> dict[str, Any]:
    attributes = chat_response_attributes(response)
    attributes.update(_cache_write(field(response, "usage")))
    return attributes


class _Call:
    """One completion's span and the request it was made from."""

    __slots__ = ("messages", "model", "span", "tools")

    def __init__(self, span: Span, kwargs: dict[str, Any], model: Any) -> None:
        self.span = span
        self.model = model
        messages, tools = kwargs.get("messages"), kwargs.get("tools")
        # Copies: agents append to the same lists for the next call.
        self.messages = list(messages) if isinstance(messages, list | tuple) else None
        self.tools = list(tools) if isinstance(tools, list | tuple) else None

    def request_content(self) -> ContentProducer:
        messages, tools = self.messages, self.tools
        return lambda: chat_request_content(messages, tools)

    def end(self, response: Any) -> None:
        request = self.request_content()

        def content() -> dict[str, Any]:
            values = request()
            values.update(chat_response_content(response))
            return values

        end_span(self.span, lambda: _response_attributes(response), content=content)

    def fail(self, error: BaseException) -> None:
        content = self.request_content() if self.span.is_recording() else None
        end_span(self.span, error=error, content=content)

    def stream(self, stream: Any, is_async: bool) -> Any:
        messages = self.messages
        accumulator = _StreamAccumulator(
            lambda: chat_prompt(messages) if messages is not None else None, self.model
        )
        proxy = AsyncStreamProxy if is_async else SyncStreamProxy
        return proxy(stream, self.span, accumulator, self.request_content())


def _start(tracer: Tracer, kwargs: dict[str, Any]) -> _Call | None:
    try:
        messages = kwargs.get("messages")
        if messages is not None and not isinstance(messages, list | tuple):
            kwargs["messages"] = list(messages)  # a one-shot iterable, read once here
        attributes = chat_request_attributes(kwargs)
        attributes.update(routing_attributes(kwargs))
        attributes.update(scope_attributes())
        model = attributes.get(semconv.GEN_AI_REQUEST_MODEL)
        name = f"chat {model}" if isinstance(model, str) else "chat"
        span = tracer.start_span(name, kind=SpanKind.CLIENT, attributes=attributes)
        return _Call(span, kwargs, model)
    except Exception:
        log_internal_error("starting a LiteLLM chat span")
        return None


def _finish(call: _Call, result: Any, is_async: bool) -> Any:
    """End the span from ``result``, or hand it to a stream proxy; returns what the user gets."""
    span = call.span
    try:
        if not span.is_recording():
            span.end()
            return result
        if field(result, "choices") is None and hasattr(
            result, "__anext__" if is_async else "__next__"
        ):
            return call.stream(result, is_async)
    except Exception:
        log_internal_error("reading the LiteLLM response")
        end_span(span)
        return result
    call.end(result)
    return result


def sync_wrapper(tracer: Tracer) -> Wrapper:
    # LiteLLM's call owns the record: the client wrappers inside it step aside.
    return sync_chat_wrapper(
        lambda _instance, kwargs, _current: _start(tracer, kwargs),
        _finish,
        owns_call=True,
        arguments=_by_name,
    )


def async_wrapper(tracer: Tracer) -> Wrapper:
    return async_chat_wrapper(
        lambda _instance, kwargs, _current: _start(tracer, kwargs),
        _finish,
        owns_call=True,
        arguments=_by_name,
    )
