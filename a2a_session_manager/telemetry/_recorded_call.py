"""Whether one of our chat spans already records the provider call in progress.

A router (LiteLLM) may send its call through a client we also instrument (the
``openai`` client, for OpenAI-compatible providers). The router's span is the
one that knows the routing, so it records the call, and the client's wrapper
steps aside while it runs: one provider call, one chat span. A context
variable, so it follows the call into threads started with a copied context
and into asyncio tasks, and never leaks into separate calls.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar, Token

_recorded: ContextVar[bool] = ContextVar("a2a_call_recorded", default=False)


# True inside a call that one of our chat spans already records. The context
# variable's own ``get``: asked on every wrapped call, without a Python frame.
call_recorded: Callable[[], bool] = _recorded.get


def recording_call() -> Token[bool]:
    """Mark the calls made from here on as recorded; undo with :func:`end_recording`."""
    return _recorded.set(True)


def end_recording(token: Token[bool]) -> None:
    _recorded.reset(token)
