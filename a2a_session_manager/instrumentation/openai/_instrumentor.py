"""``OpenAIInstrumentor``: wraps the client's resource methods in place (wrapt) and unwraps them.

The Azure clients use the same resource classes as ``OpenAI`` / ``AsyncOpenAI``,
so wrapping those classes covers all four clients; the provider is told apart
per call from the client object.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from typing import Any

from opentelemetry.instrumentation.utils import unwrap
from wrapt import wrap_function_wrapper

from a2a_session_manager.instrumentation._client_instrumentor import ClientInstrumentor, present

logger = logging.getLogger(__name__)

_INSTRUMENTS = ("openai >= 1.40",)


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


class OpenAIInstrumentor(ClientInstrumentor):
    """Records every ``chat.completions.create`` / ``parse`` and ``responses.create`` /
    ``parse`` call of the ``openai`` clients as a ``chat {model}`` span."""

    package = "openai"

    def instrumentation_dependencies(self) -> Collection[str]:
        return _INSTRUMENTS

    def _instrument(self, **kwargs: Any) -> None:
        # Imported here, not at the top: they import ``openai``, which is optional.
        from a2a_session_manager.instrumentation.openai._wrappers import (
            CHAT,
            RESPONSES,
            async_wrapper,
            sync_wrapper,
        )

        tracer = self._tracer(kwargs)
        apis = {"chat": CHAT, "responses": RESPONSES}
        for module, class_name, method, api, is_async in _TARGETS:
            if not present(module, class_name, method):
                logger.debug("openai has no %s.%s here; not wrapped", class_name, method)
                continue
            factory = async_wrapper if is_async else sync_wrapper
            wrap_function_wrapper(module, f"{class_name}.{method}", factory(tracer, apis[api]))

    def _uninstrument(self, **kwargs: Any) -> None:
        self._tracer_provider = None
        for module, class_name, method, _, _ in _TARGETS:
            unwrap(f"{module}.{class_name}", method)
