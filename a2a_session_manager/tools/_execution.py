"""Running a batch of tool calls: concurrently, each under its timeout, each
recorded as one ``execute_tool`` span, none able to sink the others.

Async tools run on the event loop; sync tools run in worker threads with the
OpenTelemetry context of their span (``wrap_context``), so whatever they
record lands in the same session and run. A sync tool that times out cannot
be stopped (Python threads cannot be killed): its result is reported as a
timeout at once, and the thread finishes in the background.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from opentelemetry import trace

from a2a_session_manager.sdk import tool, wrap_context
from a2a_session_manager.sdk._spans import describe
from a2a_session_manager.telemetry import semconv
from a2a_session_manager.tools._errors import ToolArgumentsError, ToolTimeoutError
from a2a_session_manager.tools._parsing import ToolCall
from a2a_session_manager.tools._resolved import ResolvedTool
from a2a_session_manager.tools._results import ToolResult


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
    """Runs calls for one processor; owns the worker threads of its sync tools."""

    def __init__(self, *, timeout: float | None, max_concurrency: int) -> None:
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        if timeout is not None and timeout <= 0:
            raise ValueError("timeout must be positive (or None for no timeout)")
        self.timeout = timeout
        self.max_concurrency = max_concurrency
        self._threads: ThreadPoolExecutor | None = None

    def _pool(self) -> ThreadPoolExecutor:
        if self._threads is None:
            self._threads = ThreadPoolExecutor(
                max_workers=self.max_concurrency, thread_name_prefix="a2a-tool"
            )
        return self._threads

    def close(self) -> None:
        """Release the worker threads (those still running finish first, in the background)."""
        if self._threads is not None:
            self._threads.shutdown(wait=False)
            self._threads = None

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
                in_span = wrap_context(functools.partial(function, *args, **kwargs))
                result = await asyncio.get_running_loop().run_in_executor(self._pool(), in_span)
                if inspect.isawaitable(result):  # a sync callable that returned a coroutine
                    result = await result
                return result
        except TimeoutError:
            if deadline.expired():
                raise ToolTimeoutError(
                    f"tool {resolved.name!r} timed out after {timeout:g} s"
                ) from None
            raise  # the tool's own TimeoutError
