"""The names of our own tracers."""

from __future__ import annotations

from typing import Final

TRACER_NAME: Final = "a2a_session_manager"


def is_own_tracer(name: str) -> bool:
    """Spans of our tracers (the SDK's, ``a2a_session_manager.instrumentation.*``)
    carry their session attributes from the start; others get them on start."""
    return name == TRACER_NAME or name.startswith("a2a_session_manager.")
