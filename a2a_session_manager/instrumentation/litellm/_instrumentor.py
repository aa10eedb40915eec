"""``LiteLLMInstrumentor``: wraps ``litellm.completion`` and ``litellm.acompletion``
in place (wrapt) and unwraps them.

The module attributes are wrapped, as users and LiteLLM's ``Router`` call them
(``litellm.completion(...)``); a ``from litellm import completion`` taken
before ``instrument()`` keeps the unwrapped function.
"""

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

logger = logging.getLogger(__name__)

_INSTRUMENTS = ("litellm >= 1.60",)

try:
    _VERSION = version("a2a-session-manager")
except PackageNotFoundError:  # running from a source tree that is not installed
    _VERSION = "0.0.0"

_FUNCTIONS = (("completion", False), ("acompletion", True))


class LiteLLMInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Records every ``litellm.completion`` / ``acompletion`` call (JSON and
    streamed) as one ``chat {model}`` span naming the provider it was routed to."""

    _tracer_provider: Any = None

    def instrumentation_dependencies(self) -> Collection[str]:
        return _INSTRUMENTS

    def instrument(self, **kwargs: Any) -> Any:
        """Wrap the functions; again with the same arguments, a no-op.
        Given a different explicit ``tracer_provider``, the wrappers move to it."""
        try:
            import litellm  # noqa: F401  - only to learn whether it is installed
        except ImportError:
            logger.warning(
                "litellm is not installed: LiteLLMInstrumentor.instrument() does nothing"
            )
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
        # Imported here: they import ``litellm``, which is optional.
        from a2a_session_manager.instrumentation.litellm._wrappers import (
            async_wrapper,
            sync_wrapper,
        )

        self._tracer_provider = kwargs.get("tracer_provider")
        tracer = trace.get_tracer(
            "a2a_session_manager.instrumentation.litellm",
            _VERSION,
            tracer_provider=self._tracer_provider,
        )
        for name, is_async in _FUNCTIONS:
            wrapper = async_wrapper(tracer) if is_async else sync_wrapper(tracer)
            wrap_function_wrapper("litellm", name, wrapper)

    def _uninstrument(self, **kwargs: Any) -> None:
        import litellm

        self._tracer_provider = None
        for name, _ in _FUNCTIONS:
            unwrap(litellm, name)
