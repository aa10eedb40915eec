"""Stream proxies: the user iterates the client's own stream; we watch each item.

A proxy (``wrapt.ObjectProxy``) hands every chunk to an accumulator and ends
the span exactly once: when the stream is exhausted, fails, is closed, leaves
its ``with`` block, or is garbage collected half read. Per chunk it does only
attribute reads and list appends; parsing, JSON and token counting wait for
the end.

A stream that did not end normally is marked ``a2a_session_manager.stream.interrupted``:
``"cut"`` when reading it failed (the connection dropped; the span's status
is ERROR, finish reason ``"error"``), ``"abandoned"`` when the caller closed
or dropped it before the end (the finish reasons received so far are kept,
``"error"`` when none came). Either way the span keeps what arrived: text,
tool calls, and usage (from the provider when it came, else counted).

Speed: every attribute read on a wrapt proxy subclass goes through wrapt's
``__getattr__`` hook (about 100 ns), so the proxy keeps one ``_self_state``
(a plain slotted object) and reads it once per chunk.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any, Protocol

import wrapt
from opentelemetry.trace import Span

from a2a_session_manager.instrumentation.openai._attributes import (
    responses_response_attributes,
    responses_response_content,
)
from a2a_session_manager.instrumentation.openai._messages import (
    assistant_message,
    field,
)
from a2a_session_manager.instrumentation.openai._spans import end_span
from a2a_session_manager.instrumentation.openai._usage import (
    counted_usage_attributes,
    usage_attributes,
)
from a2a_session_manager.telemetry import semconv
from a2a_session_manager.telemetry._deferred_content import ContentProducer
from a2a_session_manager.telemetry._guard import log_internal_error

logger = logging.getLogger(__name__)

# The finish reason of a reply that did not finish (the conventions' value).
FINISH_ERROR = "error"


class Accumulator(Protocol):
    def add(self, item: Any) -> None: ...

    @property
    def complete(self) -> bool:
        """Whether the reply's last event arrived (a close after it abandons nothing)."""
        ...

    def attributes(self) -> dict[str, Any]: ...

    def content(self) -> dict[str, Any]: ...


# The request's prompt as chat messages, read only if usage must be counted.
PromptReader = Callable[[], list[Mapping[str, Any]] | None]


def _counted(
    model: Any, prompt: PromptReader, text: str, calls: list[tuple[Any, Any, Any]]
) -> dict[str, Any]:
    """Counted usage, or none when it cannot be counted (the rest is still recorded)."""
    try:
        messages = prompt()
        if messages is None:
            return {}
        return counted_usage_attributes(str(model or ""), messages, text, calls)
    except Exception:
        log_internal_error("counting tokens")
        return {}


class _ToolCallDeltas:
    __slots__ = ("arguments", "id", "name")

    def __init__(self) -> None:
        self.id: str | None = None
        self.name: str | None = None
        self.arguments: list[str] = []


class _ChoiceDeltas:
    __slots__ = ("calls", "finish_reason", "text")

    def __init__(self) -> None:
        self.text: list[str] = []
        self.calls: dict[int, _ToolCallDeltas] = {}
        self.finish_reason: str | None = None

    def calls_list(self) -> list[tuple[Any, Any, Any]]:
        return [(c.id, c.name, "".join(c.arguments)) for _, c in sorted(self.calls.items())]


class ChatAccumulator:
    """Assembles ``ChatCompletionChunk`` deltas: text, tool calls (arguments
    joined across chunks, per index), finish reasons and usage."""

    __slots__ = (
        "choices",
        "complete",
        "fingerprint",
        "model",
        "prompt",
        "request_model",
        "response_id",
        "usage",
    )

    def __init__(self, prompt: PromptReader, request_model: Any) -> None:
        self.prompt = prompt
        self.request_model = request_model
        self.response_id: str | None = None
        self.model: str | None = None
        self.fingerprint: str | None = None
        self.usage: Any = None
        self.choices: dict[int, _ChoiceDeltas] = {}
        # Set by whoever sees the stream's ``[DONE]``: the chunks themselves do not say.
        self.complete = False

    def add(self, chunk: Any) -> None:
        if self.response_id is None:
            self.response_id = chunk.id
            self.model = chunk.model
            self.fingerprint = chunk.system_fingerprint
        usage = chunk.usage
        if usage is not None:
            self.usage = usage
        for choice in chunk.choices:
            state = self.choices.get(choice.index)
            if state is None:
                state = self.choices[choice.index] = _ChoiceDeltas()
            delta = choice.delta
            content = delta.content
            if content:
                state.text.append(content)
            calls = delta.tool_calls
            if calls:
                for call in calls:
                    deltas = state.calls.get(call.index)
                    if deltas is None:
                        deltas = state.calls[call.index] = _ToolCallDeltas()
                    if deltas.id is None:  # sent once, on the call's first delta
                        deltas.id = call.id
                    function = call.function
                    if function is not None:
                        arguments = function.arguments
                        if arguments:
                            deltas.arguments.append(arguments)
                        if deltas.name is None:
                            deltas.name = function.name
            finish_reason = choice.finish_reason
            if finish_reason is not None:
                state.finish_reason = finish_reason

    def attributes(self) -> dict[str, Any]:
        attributes: dict[str, Any] = {}
        if self.response_id:
            attributes[semconv.GEN_AI_RESPONSE_ID] = self.response_id
        if self.model:
            attributes[semconv.GEN_AI_RESPONSE_MODEL] = self.model
        if self.fingerprint:
            attributes[semconv.OPENAI_RESPONSE_SYSTEM_FINGERPRINT] = self.fingerprint
        choices = [state for _, state in sorted(self.choices.items())]
        reasons = [c.finish_reason for c in choices if c.finish_reason is not None]
        if reasons:
            attributes[semconv.GEN_AI_RESPONSE_FINISH_REASONS] = reasons
        usage = usage_attributes(self.usage)
        if not usage:
            text = "".join("".join(c.text) for c in choices)
            calls = [call for c in choices for call in c.calls_list()]
            usage = _counted(self.model or self.request_model, self.prompt, text, calls)
        attributes.update(usage)
        return attributes

    def content(self) -> dict[str, Any]:
        choices = [state for _, state in sorted(self.choices.items())]
        messages = [assistant_message("".join(c.text), c.calls_list()) for c in choices]
        return {semconv.GEN_AI_OUTPUT_MESSAGES: messages}


class ResponsesAccumulator:
    """Follows Responses stream events; the final ``response`` object has it all,
    and text / function-call items are kept in case the stream breaks before it."""

    __slots__ = ("calls", "prompt", "request_model", "response", "started", "text")

    def __init__(self, prompt: PromptReader, request_model: Any) -> None:
        self.prompt = prompt
        self.request_model = request_model
        self.started: Any = None
        self.response: Any = None
        self.text: list[str] = []
        self.calls: list[Any] = []

    def add(self, event: Any) -> None:
        kind = event.type
        if kind == "response.output_text.delta":
            self.text.append(event.delta)
        elif kind == "response.output_item.done":
            if event.item.type == "function_call":
                self.calls.append(event.item)
        elif kind in ("response.completed", "response.incomplete", "response.failed"):
            self.response = event.response
        elif kind == "response.created":
            self.started = event.response

    def attributes(self) -> dict[str, Any]:
        if self.response is not None:
            return responses_response_attributes(self.response)
        # The stream ended before its final event: keep what arrived.
        attributes: dict[str, Any] = {}
        response_id = field(self.started, "id")
        if isinstance(response_id, str):
            attributes[semconv.GEN_AI_RESPONSE_ID] = response_id
        model = field(self.started, "model")
        if isinstance(model, str):
            attributes[semconv.GEN_AI_RESPONSE_MODEL] = model
        text = "".join(self.text)
        calls = self._calls()
        attributes.update(_counted(model or self.request_model, self.prompt, text, calls))
        return attributes

    @property
    def complete(self) -> bool:
        return self.response is not None

    def _calls(self) -> list[tuple[Any, Any, Any]]:
        return [(field(c, "call_id"), field(c, "name"), field(c, "arguments")) for c in self.calls]

    def content(self) -> dict[str, Any]:
        if self.response is not None:
            return responses_response_content(self.response)
        message = assistant_message("".join(self.text), self._calls())
        return {semconv.GEN_AI_OUTPUT_MESSAGES: [message]}


class _Broken:
    """An accumulator that failed: ignores further items, reports what it had."""

    __slots__ = ("inner",)

    def __init__(self, inner: Accumulator) -> None:
        self.inner = inner

    def add(self, item: Any) -> None:
        pass

    @property
    def complete(self) -> bool:
        return self.inner.complete

    def attributes(self) -> dict[str, Any]:
        return self.inner.attributes()

    def content(self) -> dict[str, Any]:
        return self.inner.content()


class StreamState:
    """One stream's span, accumulator and the wrapped stream's step function."""

    __slots__ = (
        "accumulator",
        "add",
        "finished",
        "first_chunk_ns",
        "request_content",
        "span",
        "step",
    )

    def __init__(
        self,
        span: Span,
        accumulator: Accumulator,
        step: Any,
        request_content: ContentProducer | None,
    ) -> None:
        self.span = span
        self.accumulator = accumulator
        # The first chunk notes its arrival time, then hands over to the
        # accumulator: later chunks pay nothing for time to first chunk.
        self.add = self._first_chunk
        self.first_chunk_ns: int | None = None
        self.step = step  # the wrapped stream's bound __next__ / __anext__
        self.request_content = request_content
        self.finished = False

    def finish(self, error: BaseException | None = None, how: str | None = None) -> None:
        """End the span once. ``how``: None for a stream read to its end, else
        ``STREAM_CUT`` or ``STREAM_ABANDONED`` (ignored once the last event came)."""
        if self.finished:
            return
        self.finished = True
        if how == semconv.STREAM_ABANDONED and self.accumulator.complete:
            how = None
        attributes, content = self._attributes(), self._content()
        if how is not None:
            attributes = _interrupted(attributes, how)
        end_span(self.span, attributes, error, content)

    def _first_chunk(self, item: Any) -> None:
        self.first_chunk_ns = time.time_ns()
        self.add = self.accumulator.add
        self.add(item)

    def first_chunk_at(self, time_ns: int | None) -> None:
        """For chunks handed over after the fact (a body read by the caller):
        when the first of them arrived."""
        self.first_chunk_ns = time_ns
        self.add = self.accumulator.add

    def _attributes(self) -> Callable[[], dict[str, Any]]:
        """The accumulator's attributes, with the time to first chunk."""
        accumulator, first = self.accumulator, self.first_chunk_ns
        start = getattr(self.span, "start_time", None)
        if first is None or not isinstance(start, int):
            return accumulator.attributes

        def attributes() -> dict[str, Any]:
            values = accumulator.attributes()
            values[semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] = max(first - start, 0) / 1e9
            return values

        return attributes

    def end_of_stream(self) -> None:
        self.finish()

    def failed(self, error: BaseException) -> None:
        """Reading the stream raised: a failure cuts it; a cancellation or
        ``KeyboardInterrupt`` is the caller's, and abandons it."""
        if isinstance(error, Exception):
            self.finish(error, semconv.STREAM_CUT)
        else:
            self.finish(None, semconv.STREAM_ABANDONED)

    def abandoned(self) -> None:
        self.finish(None, semconv.STREAM_ABANDONED)

    def _content(self) -> ContentProducer:
        # Closes over the request and the accumulator only: a deferred
        # producer must not keep the stream (and its connection) alive.
        request, accumulator = self.request_content, self.accumulator

        def content() -> dict[str, Any]:
            values = request() if request is not None else {}
            values.update(accumulator.content())
            return values

        return content

    def failed_chunk(self) -> None:
        # Stop reading chunks after the first failure; the span still ends.
        self.accumulator = _Broken(self.accumulator)
        self.add = self.accumulator.add
        log_internal_error("reading a stream chunk")


def _interrupted(
    attributes: Callable[[], dict[str, Any]], how: str
) -> Callable[[], dict[str, Any]]:
    def marked() -> dict[str, Any]:
        values = attributes()
        values[semconv.A2A_STREAM_INTERRUPTED] = how
        if how == semconv.STREAM_CUT or not values.get(semconv.GEN_AI_RESPONSE_FINISH_REASONS):
            values[semconv.GEN_AI_RESPONSE_FINISH_REASONS] = [FINISH_ERROR]
        return values

    return marked


class _StreamProxy(wrapt.ObjectProxy):  # type: ignore[misc,type-arg]
    """What sync and async proxies share: the state and the one-time end."""

    _step_name = "__next__"

    def __init__(
        self,
        wrapped: Any,
        span: Span,
        accumulator: Accumulator,
        request_content: ContentProducer | None = None,
    ) -> None:
        super().__init__(wrapped)
        self._self_state = StreamState(
            span, accumulator, getattr(wrapped, self._step_name), request_content
        )

    def __del__(self) -> None:
        # A stream dropped half read: end its span with what arrived.
        try:
            self._self_state.abandoned()
        except Exception:
            logger.debug("ending an abandoned stream's span failed", exc_info=True)


class SyncStreamProxy(_StreamProxy):
    def __iter__(self) -> SyncStreamProxy:
        return self

    def __next__(self) -> Any:
        state = self._self_state
        try:
            item = state.step()
        except StopIteration:
            state.end_of_stream()
            raise
        except BaseException as error:
            state.failed(error)
            raise
        try:
            state.add(item)
        except Exception:
            state.failed_chunk()
        return item

    def __enter__(self) -> SyncStreamProxy:
        self.__wrapped__.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> Any:
        try:
            return self.__wrapped__.__exit__(exc_type, exc, tb)
        finally:
            self._self_state.abandoned()

    def close(self) -> None:
        try:
            self.__wrapped__.close()
        finally:
            self._self_state.abandoned()


class AsyncStreamProxy(_StreamProxy):
    _step_name = "__anext__"

    def __aiter__(self) -> AsyncStreamProxy:
        return self

    async def __anext__(self) -> Any:
        state = self._self_state
        try:
            item = await state.step()
        except StopAsyncIteration:
            state.end_of_stream()
            raise
        except BaseException as error:
            state.failed(error)
            raise
        try:
            state.add(item)
        except Exception:
            state.failed_chunk()
        return item

    async def __aenter__(self) -> AsyncStreamProxy:
        await self.__wrapped__.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> Any:
        try:
            return await self.__wrapped__.__aexit__(exc_type, exc, tb)
        finally:
            self._self_state.abandoned()

    async def close(self) -> None:
        try:
            await self.__wrapped__.close()
        finally:
            self._self_state.abandoned()

    async def aclose(self) -> None:
        await self.close()
