"""``OpenAIInstrumentor``: wraps the client's resource methods in place (wrapt) and unwraps them.

The Azure clients use the same resource classes as ``OpenAI`` / ``AsyncOpenAI``,
so wrapping those classes covers all four clients; the provider is told apart
per call from the client object.
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

_INSTRUMENTS = ("openai >= 1.40",)

try:
    _VERSION = version("a2a-session-manager")
except PackageNotFoundError:  # running from a source tree that is not installed
    _VERSION = "0.0.0"

# (module, class, method, api, is_async). ``with_raw_response.create`` calls the
# same ``create`` with a header, so it is covered by wrapping ``create``.
_CHAT_MODULE = "openai.resources.chat.completions.completions"
_RESPONSES_MODULE = "openai.resources.responses.responses"
_TARGETS: tuple[tuple[str, str, str, str, bool], ...] = (
    (_CHAT_MODULE, "Completions", "create", "chat", False),
    (_CHAT_MODULE, "Completions", "parse", "chat", False),
    (_CHAT_MODULE, "AsyncCompletions", "create", "chat", True),
    (_CHAT_MODULE, "AsyncCompletions", "parse", "chat", True),
    (_RESPONSES_MODULE, "Responses", "create", "responses", False),
    (_RESPONSES_MODULE, "Responses", "parse", "responses", False),
    (_RESPONSES_MODULE, "AsyncResponses", "create", "responses", True),
    (_RESPONSES_MODULE, "AsyncResponses", "parse", "responses", True),
)


def _present(module_name: str, class_name: str, method: str) -> bool:
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        return False
    return callable(getattr(getattr(module, class_name, None), method, None))


class OpenAIInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Records every ``chat.completions.create`` / ``parse`` and ``responses.create`` /
    ``parse`` call of the ``openai`` clients as a ``chat {model}`` span."""

    def instrumentation_dependencies(self) -> Collection[str]:
        return _INSTRUMENTS

    _tracer_provider: Any = None

    def instrument(self, **kwargs: Any) -> Any:
        """Wrap the client's methods; again with the same arguments, a no-op.

        Given a different explicit ``tracer_provider`` (``configure()`` with a new
        provider), the wrappers move to it instead of recording into the old one.
        """
        try:
            import openai  # noqa: F401  - only to learn whether it is installed
        except ImportError:
            logger.warning("openai is not installed: OpenAIInstrumentor.instrument() does nothing")
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
        # Imported here, not at the top: they import ``openai``, which is optional.
        from a2a_session_manager.instrumentation.openai._wrappers import (
            CHAT,
            RESPONSES,
            async_wrapper,
            sync_wrapper,
        )

        self._tracer_provider = kwargs.get("tracer_provider")
        tracer = trace.get_tracer(
            "a2a_session_manager.instrumentation.openai",
            _VERSION,
            tracer_provider=kwargs.get("tracer_provider"),
        )
        apis = {"chat": CHAT, "responses": RESPONSES}
        for module, class_name, method, api, is_async in _TARGETS:
            if not _present(module, class_name, method):
                logger.debug("openai has no %s.%s here; not wrapped", class_name, method)
                continue
            factory = async_wrapper if is_async else sync_wrapper
            wrap_function_wrapper(module, f"{class_name}.{method}", factory(tracer, apis[api]))

    def _uninstrument(self, **kwargs: Any) -> None:
        self._tracer_provider = None
        for module, class_name, method, _, _ in _TARGETS:
            unwrap(f"{module}.{class_name}", method)
