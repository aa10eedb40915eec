"""``LiteLLMInstrumentor``: wraps ``litellm.completion`` and ``litellm.acompletion``
in place (wrapt) and unwraps them.

The module attributes are wrapped, as users and LiteLLM's ``Router`` call them
(``litellm.completion(...)``); a ``from litellm import completion`` taken
before ``instrument()`` keeps the unwrapped function.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from opentelemetry.instrumentation.utils import unwrap
from wrapt import wrap_function_wrapper

from a2a_session_manager.instrumentation._client_instrumentor import ClientInstrumentor

_INSTRUMENTS = ("litellm >= 1.60",)
_FUNCTIONS = (("completion", False), ("acompletion", True))


class LiteLLMInstrumentor(ClientInstrumentor):
    """Records every ``litellm.completion`` / ``acompletion`` call (JSON and
    streamed) as one ``chat {model}`` span naming the provider it was routed to."""

    package = "litellm"

    def instrumentation_dependencies(self) -> Collection[str]:
        return _INSTRUMENTS

    def _instrument(self, **kwargs: Any) -> None:
        # Imported here: they import ``litellm``, which is optional.
        from a2a_session_manager.instrumentation.litellm._wrappers import (
            async_wrapper,
            sync_wrapper,
        )

        tracer = self._tracer(kwargs)
        for name, is_async in _FUNCTIONS:
            wrapper = async_wrapper(tracer) if is_async else sync_wrapper(tracer)
            wrap_function_wrapper("litellm", name, wrapper)

    def _uninstrument(self, **kwargs: Any) -> None:
        import litellm

        self._tracer_provider = None
        for name, _ in _FUNCTIONS:
            unwrap(litellm, name)
