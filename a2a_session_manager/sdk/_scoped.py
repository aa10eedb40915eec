"""One object that works as ``with``, ``async with`` and decorator.

``session``, ``run`` and ``tool`` subclass :class:`Scoped`. Entering opens a
span and attaches a context that holds it; leaving detaches the context and
finishes the span exactly once (completed, failed or cancelled). A user's
exception passes through untouched: it is recorded, never replaced.

One object may be entered by many threads and tasks at once (a module-level
``RUN = asm.run("agent")``): the entries open in each thread or task are kept
in a context variable, not on the object, so each ``__exit__`` ends the entry
its own thread or task opened, innermost first when an object is re-entered.

Decorated generators and async generators keep their span open until they
are exhausted or closed, and attach its context only while their own code
runs, so the caller's context never sees it between items.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import AsyncGenerator, Callable, Generator
from contextvars import ContextVar
from types import TracebackType
from typing import Any, Generic, TypeVar

from opentelemetry import context
from opentelemetry.context import Context

logger = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])

NO_RESULT: Any = object()


class Active:
    """One entry of a scoped object: its context while attached, and how it ends."""

    __slots__ = ("context", "token")

    def __init__(self, ctx: Context) -> None:
        self.context = ctx
        self.token: object | None = None

    def finish(self, exc: BaseException | None, result: Any = NO_RESULT) -> None:
        raise NotImplementedError


# The ``with`` entries open in this thread or task, innermost first, as
# immutable links (owner, entry, rest): a task started inside a block inherits
# the chain and can never change its parent's.
_Chain = tuple["Scoped[Any]", Active, "_Chain"] | None
_OPEN: ContextVar[_Chain] = ContextVar("a2a_session_manager.open_scopes", default=None)


def _pop_deeper(owner: Scoped[Any], top: _Chain) -> Active | None:
    """The innermost entry of ``owner`` below ``top`` (blocks left out of order
    by manual ``__exit__`` calls), removed from this context's chain."""
    above: list[tuple[Scoped[Any], Active]] = []
    link = top
    while link is not None and link[0] is not owner:
        above.append((link[0], link[1]))
        link = link[2]
    if link is None:
        return None
    rest = link[2]
    for other, active in reversed(above):
        rest = (other, active, rest)
    _OPEN.set(rest)
    return link[1]


A = TypeVar("A", bound=Active)


class Scoped(Generic[A]):
    """Base of ``session``/``run``/``tool`` objects; ``with`` binds an ``A``
    (``ActiveSession``, ``ActiveRun``, ``ActiveTool``)."""

    def _open(self, args: tuple[Any, ...] | None, kwargs: dict[str, Any] | None) -> A:
        raise NotImplementedError

    def _prepare(self, func: Callable[..., Any]) -> None:
        """Called once when decorating ``func`` (names, signatures)."""

    # -- with / async with -------------------------------------------------
    def __enter__(self) -> A:
        active = self._open(None, None)
        active.token = context.attach(active.context)
        _OPEN.set((self, active, _OPEN.get()))
        return active

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        top = _OPEN.get()
        if top is not None and top[0] is self:  # the usual case: the innermost entry
            _OPEN.set(top[2])
            active: Active | None = top[1]
        else:
            active = _pop_deeper(self, top)
        if active is None:
            logger.warning(
                "%s %r was not entered in this thread or task: nothing to leave",
                type(self).__name__,
                getattr(self, "name", None),
            )
            return
        context.detach(active.token)  # type: ignore[arg-type]
        active.finish(exc)

    async def __aenter__(self) -> A:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.__exit__(exc_type, exc, tb)

    # -- decorator ---------------------------------------------------------
    def __call__(self, func: F) -> F:
        self._prepare(func)
        opener = self._open
        wrapper: Callable[..., Any]
        if inspect.isasyncgenfunction(func):
            wrapper = _async_generator_wrapper(opener, func)
        elif inspect.isgeneratorfunction(func):
            wrapper = _generator_wrapper(opener, func)
        elif inspect.iscoroutinefunction(func):
            wrapper = _coroutine_wrapper(opener, func)
        else:
            wrapper = _function_wrapper(opener, func)
        return functools.wraps(func)(wrapper)  # type: ignore[return-value]


Opener = Callable[[tuple[Any, ...] | None, dict[str, Any] | None], Active]


def _function_wrapper(opener: Opener, func: Callable[..., Any]) -> Callable[..., Any]:
    attach = context.attach
    detach = context.detach

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        active = opener(args, kwargs)
        token = attach(active.context)
        try:
            result = func(*args, **kwargs)
        except BaseException as exc:
            detach(token)
            active.finish(exc)
            raise
        detach(token)
        active.finish(None, result)
        return result

    return wrapper


def _coroutine_wrapper(opener: Opener, func: Callable[..., Any]) -> Callable[..., Any]:
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        active = opener(args, kwargs)
        token = context.attach(active.context)
        try:
            result = await func(*args, **kwargs)
        except BaseException as exc:
            context.detach(token)
            active.finish(exc)
            raise
        context.detach(token)
        active.finish(None, result)
        return result

    return wrapper


def _generator_wrapper(opener: Opener, func: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Generator[Any, Any, Any]:
        active = opener(args, kwargs)
        ctx = active.context
        token = context.attach(ctx)
        try:
            inner = func(*args, **kwargs)
        finally:
            context.detach(token)
        to_send: Any = None
        to_throw: BaseException | None = None
        try:
            while True:
                token = context.attach(ctx)
                try:
                    if to_throw is not None:
                        thrown, to_throw = to_throw, None
                        item = inner.throw(thrown)
                    else:
                        item = inner.send(to_send)
                finally:
                    context.detach(token)
                try:
                    to_send = yield item
                except GeneratorExit:
                    token = context.attach(ctx)
                    try:
                        inner.close()
                    finally:
                        context.detach(token)
                    raise
                except BaseException as exc:
                    to_throw = exc
        except StopIteration as stop:
            active.finish(None, stop.value)
            return stop.value
        except BaseException as exc:
            active.finish(exc)
            raise

    return wrapper


def _async_generator_wrapper(opener: Opener, func: Callable[..., Any]) -> Callable[..., Any]:
    async def wrapper(*args: Any, **kwargs: Any) -> AsyncGenerator[Any, Any]:
        active = opener(args, kwargs)
        ctx = active.context
        token = context.attach(ctx)
        try:
            inner = func(*args, **kwargs)
        finally:
            context.detach(token)
        to_send: Any = None
        to_throw: BaseException | None = None
        try:
            while True:
                token = context.attach(ctx)
                try:
                    if to_throw is not None:
                        thrown, to_throw = to_throw, None
                        item = await inner.athrow(thrown)
                    else:
                        item = await inner.asend(to_send)
                finally:
                    context.detach(token)
                try:
                    to_send = yield item
                except GeneratorExit:
                    token = context.attach(ctx)
                    try:
                        await inner.aclose()
                    finally:
                        context.detach(token)
                    raise
                except BaseException as exc:
                    to_throw = exc
        except StopAsyncIteration:
            active.finish(None)
            return
        except BaseException as exc:
            active.finish(exc)
            raise

    return wrapper
