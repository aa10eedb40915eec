"""The SDK's process-wide state: the tracer its spans use and the session
processor that read-your-writes flushes. ``configure`` fills it in."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from opentelemetry import trace

from a2a_session_manager.telemetry._tracers import TRACER_NAME

if TYPE_CHECKING:
    from a2a_session_manager.exporters import SessionSpanProcessor


class Runtime:
    """Read on every span start; replaced attributes, never locks.

    ``tracer`` is ``None`` when the SDK is disabled (``OTEL_SDK_DISABLED``):
    decorators then only keep the current session and run in context.
    Before ``configure`` the global tracer is used, so spans still reach
    whatever provider the application set, but nothing is stored.
    """

    __slots__ = ("capture_content", "processor", "tracer")

    def __init__(self) -> None:
        self.tracer: trace.Tracer | None = trace.get_tracer(TRACER_NAME)
        self.processor: SessionSpanProcessor | None = None
        self.capture_content = True

    def reset(self) -> None:
        self.__init__()  # type: ignore[misc]


RUNTIME: Final = Runtime()
