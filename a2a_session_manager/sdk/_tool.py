"""``tool``: one tool call, as an ``execute_tool`` span with arguments and result."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any, TypeVar, overload

from opentelemetry import context
from opentelemetry.context import Context
from opentelemetry.trace import Span

from a2a_session_manager.sdk._runtime import RUNTIME
from a2a_session_manager.sdk._scoped import NO_RESULT, Active, Scoped
from a2a_session_manager.sdk._spans import record_outcome, span_name
from a2a_session_manager.sdk._tool_registry import RegisteredTool, register_tool
from a2a_session_manager.telemetry import semconv
from a2a_session_manager.telemetry._context import (
    NO_ATTRIBUTES,
    SCOPE_KEY,
    SPAN_KEY,
    Scope,
    scope_in,
)
from a2a_session_manager.telemetry._guard import internal_errors
from a2a_session_manager.telemetry._json import to_json_text

F = TypeVar("F", bound=Callable[..., Any])


class ActiveTool(Active):
    """A tool call in progress (``with tool("search") as t: t.set_result(...)``)."""

    __slots__ = ("_result", "_span", "call_id", "name")

    def __init__(self, ctx: Context, span: Span | None, name: str, call_id: str | None) -> None:
        self.context = ctx
        self.token = None
        self._span = span
        self._result: Any = NO_RESULT
        self.name = name
        self.call_id = call_id

    def set_result(self, result: Any) -> None:
        """Record the tool's result (the decorator does this with the return value)."""
        self._result = result

    def finish(self, exc: BaseException | None, result: Any = NO_RESULT) -> None:
        span = self._span
        if span is None:
            return
        if result is NO_RESULT:
            result = self._result
        if result is not NO_RESULT and RUNTIME.capture_content and span.is_recording():
            with internal_errors("recording a tool result"):
                span.set_attribute(semconv.GEN_AI_TOOL_CALL_RESULT, to_json_text(result))
        if exc is not None:
            record_outcome(span, exc)
        span.end()


class Tool(Scoped[ActiveTool]):
    """What ``tool(...)`` returns: a context manager and a decorator."""

    def __init__(
        self, name: str | None, call_id: str | None, arguments: Mapping[str, Any] | None
    ) -> None:
        super().__init__()
        self._named = name is not None
        self._call_id = call_id
        self._arguments = arguments
        self._signature: inspect.Signature | None = None
        self._skip_first = False
        self._names: tuple[str, ...] | None = None
        self._positional = 0
        self._set_name(name or "tool")

    def _set_name(self, name: str) -> None:
        self.name = name
        self._span_name = span_name(semconv.OPERATION_EXECUTE_TOOL, name)
        self._base: dict[str, Any] = {
            semconv.GEN_AI_OPERATION_NAME: semconv.OPERATION_EXECUTE_TOOL,
            semconv.GEN_AI_TOOL_NAME: name,
        }
        if self._call_id is not None:
            self._base[semconv.GEN_AI_TOOL_CALL_ID] = self._call_id
        self._cached: tuple[Mapping[str, str], dict[str, Any]] | None = None

    def _prepare(self, func: Callable[..., Any]) -> None:
        if not self._named:
            self._set_name(getattr(func, "__name__", None) or repr(func))
        try:
            self._signature = inspect.signature(func)
        except (TypeError, ValueError):
            self._signature = None
        if self._signature is None:
            return
        parameters = list(self._signature.parameters.values())
        self._skip_first = bool(parameters) and parameters[0].name in ("self", "cls")
        kinds = [p.kind for p in parameters]
        plain = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
        if all(kind in plain for kind in kinds):
            # Binding by position and name gives what ``bind_partial`` gives
            # (parameter order, only what was passed) without its cost.
            self._names = tuple(p.name for p in parameters)
            self._positional = kinds.count(inspect.Parameter.POSITIONAL_OR_KEYWORD)

    def __call__(self, func: F) -> F:
        wrapper = super().__call__(func)
        register_tool(RegisteredTool(self.name, wrapper, self._signature, inspect.getdoc(func)))
        return wrapper

    def _bind(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any] | None:
        """The arguments by parameter name, or ``None`` where only ``bind_partial``
        knows the answer (``*args``, positional-only, or a call it would reject)."""
        names = self._names
        if names is None or len(args) > self._positional:
            return None
        arguments = dict(zip(names, args, strict=False))  # fewer args than names
        if kwargs:
            if any(key not in names or key in arguments for key in kwargs):
                return None
            for name in names[len(args) :]:
                if name in kwargs:
                    arguments[name] = kwargs[name]
        return arguments

    def _arguments_json(self, args: tuple[Any, ...] | None, kwargs: dict[str, Any] | None) -> str:
        if args is None and kwargs is None:
            return to_json_text(dict(self._arguments) if self._arguments is not None else {})
        if self._signature is None:
            return to_json_text({"args": list(args or ()), "kwargs": kwargs or {}})
        args, kwargs = args or (), kwargs or {}
        arguments = self._bind(args, kwargs)
        if arguments is None:
            arguments = dict(self._signature.bind_partial(*args, **kwargs).arguments)
        if self._skip_first:
            arguments.pop(next(iter(self._signature.parameters)), None)
        return to_json_text(arguments) if arguments else "{}"

    def _span_attributes(self, scope: Scope | None) -> dict[str, Any]:
        """The tool's attributes plus the scope's, built once per scope."""
        scope_attributes = scope.attributes if scope is not None else NO_ATTRIBUTES
        cached = self._cached
        if cached is not None and cached[0] is scope_attributes:
            return cached[1]
        attributes = {**self._base, **scope_attributes}
        self._cached = (scope_attributes, attributes)  # one tuple: safe across threads
        return attributes

    def _open(self, args: tuple[Any, ...] | None, kwargs: dict[str, Any] | None) -> ActiveTool:
        parent = context.get_current()
        tracer = RUNTIME.tracer
        if tracer is None:
            return ActiveTool(parent, None, self.name, self._call_id)
        scope = parent.get(SCOPE_KEY)
        if scope.__class__ is not Scope:
            scope = scope_in(parent)
        attributes = self._span_attributes(scope)  # type: ignore[arg-type]
        if RUNTIME.capture_content:
            attributes = dict(attributes)
            with internal_errors("recording tool arguments"):
                attributes[semconv.GEN_AI_TOOL_CALL_ARGUMENTS] = self._arguments_json(args, kwargs)
        span = tracer.start_span(self._span_name, parent, attributes=attributes)
        return ActiveTool(Context({**parent, SPAN_KEY: span}), span, self.name, self._call_id)


@overload
def tool(func_or_name: F, *, name: str | None = None, call_id: str | None = None) -> F: ...
@overload
def tool(
    func_or_name: str | None = None,
    *,
    name: str | None = None,
    call_id: str | None = None,
    arguments: Mapping[str, Any] | None = None,
) -> Tool: ...
def tool(
    func_or_name: Any = None,
    *,
    name: str | None = None,
    call_id: str | None = None,
    arguments: Mapping[str, Any] | None = None,
) -> Any:
    """A tool call: ``@tool``, ``@tool("name")``, or ``with tool("name", call_id=...,
    arguments={...}) as t: t.set_result(r)``.

    Decorated calls record their arguments (bound by the signature) and
    return value, and register the function under its name (``get_tool``).
    A call without ``call_id`` is linked to the pending call of the latest
    LLM reply with the same tool name and arguments.
    """
    if callable(func_or_name):
        return Tool(name, call_id, arguments)(func_or_name)
    return Tool(func_or_name if func_or_name is not None else name, call_id, arguments)
