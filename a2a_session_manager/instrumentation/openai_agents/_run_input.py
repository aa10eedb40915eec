"""The input a ``Runner.run`` / ``run_streamed`` was given, for the tracing processor.

The SDK's traces do not carry the run's input: the session records it from
the first LLM request. A run that an input guardrail stops before any model
call sends no request, and its user message would be lost; the processor then
records it from here. ``AgentRunner.run`` and ``run_streamed`` (what
``Runner.run``, ``run_sync`` and ``run_streamed`` call) are wrapped to note
it in a context variable, which the trace started inside sees.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Any

from opentelemetry.instrumentation.utils import unwrap
from wrapt import wrap_function_wrapper

_RUN_INPUT: ContextVar[Any] = ContextVar("a2a_agents_run_input", default=None)
_MODULE = "agents.run"


def _input(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    # run(starting_agent, input, **options)
    return args[1] if len(args) > 1 else kwargs.get("input")


async def _run(
    wrapped: Callable[..., Awaitable[Any]],
    instance: Any,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> Any:
    token = _RUN_INPUT.set(_input(args, kwargs))
    try:
        return await wrapped(*args, **kwargs)
    finally:
        _RUN_INPUT.reset(token)


def _run_streamed(
    wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    # The run's task is created inside: it copies the context, input included.
    token = _RUN_INPUT.set(_input(args, kwargs))
    try:
        return wrapped(*args, **kwargs)
    finally:
        _RUN_INPUT.reset(token)


def wrap_runner() -> None:
    wrap_function_wrapper(_MODULE, "AgentRunner.run", _run)
    wrap_function_wrapper(_MODULE, "AgentRunner.run_streamed", _run_streamed)


def unwrap_runner() -> None:
    from agents.run import AgentRunner

    unwrap(AgentRunner, "run")
    unwrap(AgentRunner, "run_streamed")


def current_user_texts() -> list[str]:
    """The user messages that end the current run's input, as plain texts: a
    string input, or the last user items of an input list (an earlier
    conversation before them was recorded when it happened). Empty when they
    are not plain text (or the run resumes a saved state)."""
    run_input = _RUN_INPUT.get()
    if isinstance(run_input, str):
        return [run_input]
    if not isinstance(run_input, list):
        return []
    texts: list[str] = []
    for item in reversed(run_input):
        if not isinstance(item, dict) or item.get("role") != "user":
            break
        text = _text(item.get("content"))
        if text is None:
            return []
        texts.append(text)
    return texts[::-1]


def _text(content: Any) -> str | None:
    if isinstance(content, str):
        return content
    if isinstance(content, list) and len(content) == 1:  # one ``input_text`` part
        (part,) = content
        if isinstance(part, dict) and part.get("type") == "input_text":
            text = part.get("text")
            return text if isinstance(text, str) else None
    return None
