"""``AnthropicInstrumentor``: wraps the client's ``messages`` methods in place (wrapt)
and unwraps them.

Wrapped, where the installed client has them: ``create`` (JSON and
``stream=True``; ``with_raw_response`` / ``with_streaming_response`` call it),
``parse`` and ``stream`` (the helper), for ``messages`` and ``beta.messages``,
sync and async.
"""

from __future__ import annotations

import importlib
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

_INSTRUMENTS = ("anthropic >= 0.40",)

try:
    _VERSION = version("a2a-session-manager")
except PackageNotFoundError:  # running from a source tree that is not installed
    _VERSION = "0.0.0"

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


def _present(module_name: str, class_name: str, method: str) -> bool:
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        return False
    return callable(getattr(getattr(module, class_name, None), method, None))


class AnthropicInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Records every ``messages.create`` / ``parse`` / ``stream`` call of the
    ``anthropic`` clients as a ``chat {model}`` span."""

    _tracer_provider: Any = None

    def instrumentation_dependencies(self) -> Collection[str]:
        return _INSTRUMENTS

    def instrument(self, **kwargs: Any) -> Any:
        """Wrap the client's methods; again with the same arguments, a no-op.
        Given a different explicit ``tracer_provider``, the wrappers move to it."""
        try:
            import anthropic  # noqa: F401  - only to learn whether it is installed
        except ImportError:
            logger.warning(
                "anthropic is not installed: AnthropicInstrumentor.instrument() does nothing"
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
        # Imported here: they import ``anthropic``, which is optional.
        from a2a_session_manager.instrumentation.anthropic._wrappers import (
            async_wrapper,
            stream_wrapper,
            sync_wrapper,
        )

        self._tracer_provider = kwargs.get("tracer_provider")
        tracer = trace.get_tracer(
            "a2a_session_manager.instrumentation.anthropic",
            _VERSION,
            tracer_provider=self._tracer_provider,
        )
        for module in _MODULES:
            for class_name, method, kind in _METHODS:
                if not _present(module, class_name, method):
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
                if _present(module, class_name, method):
                    unwrap(f"{module}.{class_name}", method)
