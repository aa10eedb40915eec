"""Running a batch of tool calls: concurrently, each under its timeout, each
recorded as one ``execute_tool`` span, none able to sink the others.

Async tools run on the event loop; sync tools each run in a daemon thread of
their own with the context of their span, so whatever they record lands in
the same session and run. A sync tool that times out cannot be stopped
(Python threads cannot be killed): its result is reported as a timeout at
once, and the thread finishes in the background, where it neither keeps the
interpreter alive nor holds up later calls (``_daemon_threads``).
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from opentelemetry import trace

from a2a_session_manager.sdk import tool
from a2a_session_manager.sdk._spans import describe
from a2a_session_manager.telemetry import semconv
from a2a_session_manager.tools._daemon_threads import DaemonCall
from a2a_session_manager.tools._errors import ToolArgumentsError, ToolTimeoutError
from a2a_session_manager.tools._parsing import ToolCall
from a2a_session_manager.tools._resolved import ResolvedTool
from a2a_session_manager.tools._results import ToolResult

logger = logging.getLogger(__name__)


def _is_async(function: Callable[..., Any]) -> bool:
    return inspect.iscoroutinefunction(function) or inspect.iscoroutinefunction(
        getattr(function, "__call__", None)  # noqa: B004 - objects with ``async def __call__``
    )


def _bind(resolved: ResolvedTool, arguments: dict[str, Any]) -> inspect.BoundArguments | None:
    if resolved.signature is None:
        return None
    try:
        return resolved.signature.bind(**arguments)
    except TypeError as exc:
        raise ToolArgumentsError(f"invalid arguments for tool {resolved.name!r}: {exc}") from None


class ToolRunner:
    """Runs calls for one processor, at most ``max_concurrency`` at once."""

    def __init__(self, *, timeout: float | None, max_concurrency: int) -> None:
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        if timeout is not None and timeout <= 0:
            raise ValueError("timeout must be positive (or None for no timeout)")
        self.timeout = timeout
        self.max_concurrency = max_concurrency

    async def run_all(
        self,
        calls: Sequence[tuple[ToolCall, ResolvedTool]],
        parent_event_id: str | None,
    ) -> list[ToolResult]:
        """One result per call, in the order of ``calls``."""
        gate = asyncio.Semaphore(self.max_concurrency)
        return list(
            await asyncio.gather(
                *(self._run_one(call, resolved, parent_event_id, gate) for call, resolved in calls)
            )
        )

    async def _run_one(
        self,
        call: ToolCall,
        resolved: ResolvedTool,
        parent_event_id: str | None,
        gate: asyncio.Semaphore,
    ) -> ToolResult:
        timeout = resolved.timeout if resolved.timeout is not None else self.timeout
        async with gate:
            started = time.perf_counter()
            try:
                with tool(call.name, call_id=call.id, arguments=call.arguments) as active:
                    if parent_event_id is not None:
                        trace.get_current_span().set_attribute(
                            semconv.A2A_TOOL_PARENT_EVENT_ID, parent_event_id
                        )
                    bound = _bind(resolved, call.arguments)
                    result = await self._invoke(resolved, call, bound, timeout)
                    active.set_result(result)
            except Exception as exc:  # recorded on the span by ``tool``; a result, not a crash
                return ToolResult(
                    tool=call.name,
                    call_id=call.id,
                    arguments=call.arguments,
                    error=describe(exc),
                    error_type=type(exc).__qualname__,
                    duration_ms=(time.perf_counter() - started) * 1000,
                )
        return ToolResult(
            tool=call.name,
            call_id=call.id,
            arguments=call.arguments,
            result=result,
            duration_ms=(time.perf_counter() - started) * 1000,
        )

    async def _invoke(
        self,
        resolved: ResolvedTool,
        call: ToolCall,
        bound: inspect.BoundArguments | None,
        timeout: float | None,
    ) -> Any:
        args: tuple[Any, ...] = bound.args if bound is not None else ()
        kwargs: dict[str, Any] = bound.kwargs if bound is not None else dict(call.arguments)
        function = resolved.function
        deadline = asyncio.timeout(timeout)
        try:
            async with deadline:
                if _is_async(function):
                    return await function(*args, **kwargs)
                result = await _in_daemon_thread(
                    functools.partial(function, *args, **kwargs), resolved.name
                )
                if inspect.isawaitable(result):  # a sync callable that returned a coroutine
                    result = await result
                return result
        except TimeoutError:
            if deadline.expired():
                raise ToolTimeoutError(
                    f"tool {resolved.name!r} timed out after {timeout:g} s"
                ) from None
            raise  # the tool's own TimeoutError


async def _in_daemon_thread(function: Callable[[], Any], name: str) -> Any:
    call = DaemonCall(function, name=f"a2a-tool {name}")
    try:
        return await call.future
    except BaseException:  # timed out or cancelled: the thread runs on, unwaited for
        still_running = call.abandon()
        if still_running is not None:
            logger.warning(
                "sync tool %r was given up on while still running; its thread finishes "
                "in the background (%d sync tool call(s) now running after their call ended)",
                name,
                still_running,
            )
        raise
