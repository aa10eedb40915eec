"""The wrapt wrappers around a2a-sdk methods, on the client and the server
alike: a coroutine returning one result, or an async generator of events.

Each side supplies a :data:`Start`: it reads the request, starts the span
and returns the :class:`A2ACall` with the arguments to call the SDK with.
The call ends exactly once: on the result, on the error (re-raised as it
came), or when the stream ends, fails or is closed by its consumer.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

from opentelemetry.instrumentation.utils import is_instrumentation_enabled

from a2a_session_manager.instrumentation.a2a._spans import A2ACall
from a2a_session_manager.telemetry._guard import log_internal_error

Wrapper = Callable[[Callable[..., Any], Any, tuple[Any, ...], dict[str, Any]], Any]
# (the SDK object, args, kwargs) -> (the call, the kwargs to call the SDK with)
Start = Callable[[Any, tuple[Any, ...], dict[str, Any]], tuple[A2ACall, dict[str, Any]]]


def call_wrapper(start: Start) -> Wrapper:
    """A coroutine returning one result (a Task, a Message, a response)."""

    async def traced(
        wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        if not is_instrumentation_enabled():
            return await wrapped(*args, **kwargs)
        call, kwargs = start(instance, args, kwargs)
        try:
            result = await wrapped(*args, **kwargs)
        except BaseException as exc:
            call.end(exc)
            raise
        call.read(result, "reading an A2A response")
        call.end(None)
        return result

    return traced


def stream_wrapper(start: Start, abandoned: Mapping[str, Any] | None = None) -> Wrapper:
    """An async generator of events; ``abandoned``: the attributes of a stream
    its consumer closed or cancelled (not an error of the call)."""

    def traced(
        wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        if not is_instrumentation_enabled():
            return wrapped(*args, **kwargs)
        return _traced_stream(start, abandoned, wrapped, instance, args, kwargs)

    return traced


async def _traced_stream(
    start: Start,
    abandoned: Mapping[str, Any] | None,
    wrapped: Callable[..., Any],
    instance: Any,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> AsyncIterator[Any]:
    call, kwargs = start(instance, args, kwargs)
    try:
        exchange = call.exchange
        async for item in wrapped(*args, **kwargs):
            try:  # A2ACall.read, inlined: once per event
                exchange.result(item)
            except Exception:
                log_internal_error("reading an A2A stream event")
            yield item
    except Exception as exc:
        call.end(exc)
        raise
    except BaseException:
        call.end(None, abandoned)
        raise
    call.end(None)
