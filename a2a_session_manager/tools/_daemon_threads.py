"""Sync tools in threads of their own, so a tool that never returns can hurt
nothing but itself.

Python cannot stop a thread, so a sync tool past its timeout keeps running.
In a shared ``ThreadPoolExecutor`` that costs twice: its workers are joined
when the interpreter exits (a hung tool keeps the process alive forever),
and every hung worker is a slot later calls wait for (after ``max_workers``
hung tools, a fast tool "times out" without ever running). Here each call
gets a fresh daemon thread instead: the interpreter never waits for it, and
a later call never waits behind it. Calls still running after their caller
gave up on them are counted (``running_after_their_call``) and logged by the
runner.

A thread costs tens of microseconds to start: nothing next to a tool call.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import threading
from collections.abc import Callable
from typing import Any

_lock = threading.Lock()
_abandoned_running = 0


def running_after_their_call() -> int:
    """How many sync tool calls still run although their call ended (timed out
    or cancelled)."""
    return _abandoned_running


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.done():  # the caller stopped waiting (timeout or cancellation)
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


class DaemonCall:
    """``function()`` running in a new daemon thread, with a copy of the current
    context (the tool's span, session and run, as ``asyncio.to_thread`` does);
    ``await call.future`` for its result."""

    __slots__ = ("_abandoned", "_finished", "future")

    def __init__(self, function: Callable[[], Any], *, name: str) -> None:
        loop = asyncio.get_running_loop()
        self.future: asyncio.Future[Any] = loop.create_future()
        self._finished = False
        self._abandoned = False
        thread = threading.Thread(
            target=self._run,
            args=(loop, contextvars.copy_context(), function),
            name=name,
            daemon=True,
        )
        thread.start()

    def _run(
        self,
        loop: asyncio.AbstractEventLoop,
        ctx: contextvars.Context,
        function: Callable[[], Any],
    ) -> None:
        global _abandoned_running
        result: Any = None
        error: BaseException | None = None
        try:
            result = ctx.run(function)
        except BaseException as exc:  # handed to the caller, as an executor would
            error = exc
        with _lock:
            self._finished = True
            if self._abandoned:
                _abandoned_running -= 1
        # RuntimeError: the loop is closed, so nobody waits for this result any more.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(_settle, self.future, result, error)

    def abandon(self) -> int | None:
        """Stop waiting for this call. ``None`` if it had already finished, else
        how many calls now run after their call ended, this one included."""
        global _abandoned_running
        with _lock:
            if self._finished:
                return None
            if not self._abandoned:
                self._abandoned = True
                _abandoned_running += 1
            return _abandoned_running
