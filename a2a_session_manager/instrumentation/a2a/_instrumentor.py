"""``A2AInstrumentor``: wraps the a2a-sdk client and request handler in place (wrapt)."""

from __future__ import annotations

import logging
from collections.abc import Collection
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from opentelemetry import trace
from opentelemetry.instrumentation.instrumentor import (  # type: ignore[attr-defined]
    BaseInstrumentor,
)
from opentelemetry.instrumentation.utils import unwrap
from wrapt import wrap_function_wrapper

from a2a_session_manager.telemetry import semconv

logger = logging.getLogger(__name__)

_INSTRUMENTS = ("a2a-sdk >= 1.0",)

try:
    _VERSION = version("a2a-session-manager")
except PackageNotFoundError:  # running from a source tree that is not installed
    _VERSION = "0.0.0"

_CLIENT = ("a2a.client.base_client", "BaseClient")
_HANDLER = ("a2a.server.request_handlers.default_request_handler_v2", "DefaultRequestHandlerV2")
# (method, span name; None: SendMessage or SendStreamingMessage, as the client decides)
_CLIENT_STREAMS = (("send_message", None), ("subscribe", semconv.A2A_METHOD_SUBSCRIBE_TO_TASK))
_CLIENT_CALLS = (
    ("get_task", semconv.A2A_METHOD_GET_TASK),
    ("cancel_task", semconv.A2A_METHOD_CANCEL_TASK),
)
_SERVER_STREAMS = (
    ("on_message_send_stream", semconv.A2A_METHOD_SEND_STREAMING_MESSAGE),
    ("on_subscribe_to_task", semconv.A2A_METHOD_SUBSCRIBE_TO_TASK),
)
_SERVER_CALLS = (
    ("on_message_send", semconv.A2A_METHOD_SEND_MESSAGE),
    ("on_get_task", semconv.A2A_METHOD_GET_TASK),
    ("on_cancel_task", semconv.A2A_METHOD_CANCEL_TASK),
)


class A2AInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Records every call of the a2a-sdk client and every request its
    ``DefaultRequestHandler`` serves as the conventions' A2A spans, and runs
    the agent executor in the session of the A2A conversation."""

    _tracer_provider: Any = None

    def instrumentation_dependencies(self) -> Collection[str]:
        return _INSTRUMENTS

    def instrument(self, **kwargs: Any) -> Any:
        """Wrap the SDK's methods; again with the same arguments, a no-op."""
        try:
            import a2a.client.base_client  # noqa: F401  - only to learn whether it is installed
        except ImportError:
            logger.warning("a2a-sdk is not installed: A2AInstrumentor.instrument() does nothing")
            return None
        provider = kwargs.get("tracer_provider")
        if (
            self.is_instrumented_by_opentelemetry
            and provider is not None
            and provider is not self._tracer_provider
        ):
            self.uninstrument()
        return super().instrument(**kwargs)

    def _instrument(self, **kwargs: Any) -> None:
        from a2a_session_manager.instrumentation.a2a import _client, _server

        self._tracer_provider = kwargs.get("tracer_provider")
        tracer = trace.get_tracer(
            "a2a_session_manager.instrumentation.a2a",
            _VERSION,
            tracer_provider=self._tracer_provider,
        )
        module, cls = _CLIENT
        for name, span_name in _CLIENT_STREAMS:
            wrap_function_wrapper(
                module, f"{cls}.{name}", _client.stream_wrapper(tracer, span_name)
            )
        for name, span_name in _CLIENT_CALLS:
            wrap_function_wrapper(module, f"{cls}.{name}", _client.call_wrapper(tracer, span_name))
        module, cls = _HANDLER
        for name, span_name in _SERVER_STREAMS:
            wrap_function_wrapper(
                module, f"{cls}.{name}", _server.stream_wrapper(tracer, span_name)
            )
        for name, span_name in _SERVER_CALLS:
            wrap_function_wrapper(module, f"{cls}.{name}", _server.call_wrapper(tracer, span_name))
        wrap_function_wrapper(module, f"{cls}.__init__", _server.init_wrapper)

    def _uninstrument(self, **kwargs: Any) -> None:
        self._tracer_provider = None
        module, cls = _CLIENT
        for name, _ in (*_CLIENT_STREAMS, *_CLIENT_CALLS):
            unwrap(f"{module}.{cls}", name)
        module, cls = _HANDLER
        for name, _ in (*_SERVER_STREAMS, *_SERVER_CALLS):
            unwrap(f"{module}.{cls}", name)
        unwrap(f"{module}.{cls}", "__init__")
