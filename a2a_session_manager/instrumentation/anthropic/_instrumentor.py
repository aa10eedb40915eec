"""``AnthropicInstrumentor``: wraps the client's ``messages`` methods in place (wrapt)
and unwraps them.

Wrapped, where the installed client has them: ``create`` (JSON and
``stream=True``; ``with_raw_response`` / ``with_streaming_response`` call it),
``parse`` and ``stream`` (the helper), for ``messages`` and ``beta.messages``,
sync and async.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from typing import Any

from opentelemetry.instrumentation.utils import unwrap
from wrapt import wrap_function_wrapper

from a2a_session_manager.instrumentation._client_instrumentor import ClientInstrumentor, present

logger = logging.getLogger(__name__)

_INSTRUMENTS = ("anthropic >= 0.40",)


_MODULES = ("anthropic.resources.messages.messages", "anthropic.resources.beta.messages.messages")
# (class, method, kind): kind is "call" (create / parse) or "stream" (the helper).
_METHODS = (
    ("Messages", "create", "call"),
    ("Messages", "parse", "call"),
    ("Messages", "stream", "stream"),
    ("AsyncMessages", "create", "call"),
    ("AsyncMessages", "parse", "call"),
    ("AsyncMessages", "stream", "stream"),
)


class AnthropicInstrumentor(ClientInstrumentor):
    """Records every ``messages.create`` / ``parse`` / ``stream`` call of the
    ``anthropic`` clients as a ``chat {model}`` span."""

    package = "anthropic"

    def instrumentation_dependencies(self) -> Collection[str]:
        return _INSTRUMENTS

    def _instrument(self, **kwargs: Any) -> None:
        # Imported here: they import ``anthropic``, which is optional.
        from a2a_session_manager.instrumentation.anthropic._wrappers import (
            async_wrapper,
            stream_wrapper,
            sync_wrapper,
        )

        tracer = self._tracer(kwargs)
        for module in _MODULES:
            for class_name, method, kind in _METHODS:
                if not present(module, class_name, method):
                    logger.debug("anthropic has no %s.%s.%s here", module, class_name, method)
                    continue
                is_async = class_name.startswith("Async")
                if kind == "stream":
                    wrapper = stream_wrapper(tracer, is_async)
                else:
                    wrapper = async_wrapper(tracer) if is_async else sync_wrapper(tracer)
                wrap_function_wrapper(module, f"{class_name}.{method}", wrapper)

    def _uninstrument(self, **kwargs: Any) -> None:
        self._tracer_provider = None
        for module in _MODULES:
            for class_name, method, _ in _METHODS:
                if present(module, class_name, method):
                    unwrap(f"{module}.{class_name}", method)
