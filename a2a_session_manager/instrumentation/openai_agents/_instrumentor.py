"""``OpenAIAgentsInstrumentor``: adds our tracing processor to the Agents SDK's,
and wraps ``AgentRunner.run`` / ``run_streamed`` to note each run's input
(``_run_input``).

The SDK has no way to remove one processor, so ``uninstrument`` switches ours
off, and ``instrument`` adds a new one (the application may have replaced the
SDK's processors with ``set_trace_processors`` in between).
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from typing import Any

from opentelemetry.instrumentation.instrumentor import (  # type: ignore[attr-defined]
    BaseInstrumentor,
)

logger = logging.getLogger(__name__)

_processor: Any = None


class OpenAIAgentsInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Records each Agents SDK run as a session, each agent turn as a run."""

    def instrumentation_dependencies(self) -> Collection[str]:
        return ("openai-agents >= 0.3",)

    def instrument(self, **kwargs: Any) -> Any:
        try:
            import agents  # noqa: F401  - only to learn whether it is installed
        except ImportError:
            logger.warning("openai-agents is not installed: nothing to instrument")
            return None
        return super().instrument(**kwargs)

    def _instrument(self, **kwargs: Any) -> None:
        global _processor
        from agents import add_trace_processor

        from a2a_session_manager.instrumentation.openai_agents._processor import (
            SessionTracingProcessor,
        )
        from a2a_session_manager.instrumentation.openai_agents._run_input import wrap_runner

        _processor = SessionTracingProcessor()
        add_trace_processor(_processor)
        wrap_runner()

    def _uninstrument(self, **kwargs: Any) -> None:
        from a2a_session_manager.instrumentation.openai_agents._run_input import unwrap_runner

        if _processor is not None:
            _processor.enabled = False
        unwrap_runner()
