"""The wrapt wrapper around a client's call, shared by the client
instrumentations: start the chat span (never raising), make it current while
the client works, end it failed on an exception (re-raised unchanged), or
hand the result to the provider's ``finish`` (a stream proxy, a parsed
response). Sync and async side by side.

A wrapper that ``owns_call`` (LiteLLM's, whose call goes through the clients
we also instrument) marks the call recorded while it runs, so the client
wrappers inside it step aside; ``arguments`` reshapes the call's positional
and keyword arguments before ``start`` reads them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.instrumentation.utils import is_instrumentation_enabled
from opentelemetry.trace import Span

from a2a_session_manager.telemetry._guard import internal_errors
from a2a_session_manager.telemetry._recorded_call import (
    call_recorded,
    end_recording,
    recording_call,
)

Wrapper = Callable[[Callable[..., Any], Any, tuple[Any, ...], dict[str, Any]], Any]


class ChatCall(Protocol):
    span: Span

    def fail(self, error: BaseException) -> None: ...


C = TypeVar("C", bound=ChatCall)
Start = Callable[[Any, dict[str, Any], Context], C | None]  # (instance, kwargs, current context)
Finish = Callable[[C, Any, bool], Any]  # (call, result, is_async) -> what the user gets
Arguments = Callable[[tuple[Any, ...], dict[str, Any]], tuple[tuple[Any, ...], dict[str, Any]]]


def sync_chat_wrapper(
    start: Start[C],
    finish: Finish[C],
    *,
    owns_call: bool = False,
    arguments: Arguments | None = None,
) -> Wrapper:
    def traced(
        wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        # Inside a call another of our instrumentations records (LiteLLM's), step aside.
        if not is_instrumentation_enabled() or (not owns_call and call_recorded()):
            return wrapped(*args, **kwargs)
        if arguments is not None:
            args, kwargs = arguments(args, kwargs)
        # Read once: the span's parent, the session and run ids, the new context.
        current = otel_context.get_current()
        call = start(instance, kwargs, current)
        if call is None:
            return wrapped(*args, **kwargs)
        token = otel_context.attach(trace.set_span_in_context(call.span, current))
        recorded = recording_call() if owns_call else None
        try:
            result = wrapped(*args, **kwargs)
        except BaseException as error:
            with internal_errors("ending a failed chat span"):
                call.fail(error)
            raise
        finally:
            if recorded is not None:
                end_recording(recorded)
            otel_context.detach(token)
        return finish(call, result, False)

    return traced


def async_chat_wrapper(
    start: Start[C],
    finish: Finish[C],
    *,
    owns_call: bool = False,
    arguments: Arguments | None = None,
) -> Wrapper:
    async def traced(
        wrapped: Callable[..., Awaitable[Any]],
        instance: Any,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Any:
        if not is_instrumentation_enabled() or (not owns_call and call_recorded()):
            return await wrapped(*args, **kwargs)
        if arguments is not None:
            args, kwargs = arguments(args, kwargs)
        current = otel_context.get_current()
        call = start(instance, kwargs, current)
        if call is None:
            return await wrapped(*args, **kwargs)
        token = otel_context.attach(trace.set_span_in_context(call.span, current))
        recorded = recording_call() if owns_call else None
        try:
            result = await wrapped(*args, **kwargs)
        except BaseException as error:
            with internal_errors("ending a failed chat span"):
                call.fail(error)
            raise
        finally:
            if recorded is not None:
                end_recording(recorded)
            otel_context.detach(token)
        return finish(call, result, True)

    return traced
