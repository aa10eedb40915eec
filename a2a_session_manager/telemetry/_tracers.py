"""The names of our own tracers."""

from __future__ import annotations

from typing import Final

TRACER_NAME: Final = "a2a_session_manager"
# The client instrumentations: every span their tracers make is a chat span.
CHAT_CLIENTS: Final = ("openai", "anthropic", "litellm")


def chat_tracer_name(package: str) -> str:
    """The tracer of the instrumentation of the client package ``package``."""
    return f"{TRACER_NAME}.instrumentation.{package}"


_CHAT_TRACERS: Final = frozenset(chat_tracer_name(package) for package in CHAT_CLIENTS)


def is_own_tracer(name: str) -> bool:
    """Spans of our tracers (the SDK's, ``a2a_session_manager.instrumentation.*``)
    carry their session attributes from the start; others get them on start."""
    return name == TRACER_NAME or name.startswith("a2a_session_manager.")


def is_chat_tracer(name: str) -> bool:
    """Spans of this tracer are chat spans of ours, whether or not their
    attributes are set yet (``_fast_spans`` sets them just after the start)."""
    return name in _CHAT_TRACERS
