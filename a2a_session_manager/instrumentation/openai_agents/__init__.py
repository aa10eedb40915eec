"""Sessions and runs from the OpenAI Agents SDK (``openai-agents``)::

    asm.configure(instrument=("openai", "openai_agents"))
    result = await Runner.run(agent, "...")   # one session; each agent turn a run

The SDK's LLM calls are recorded by the ``openai`` instrumentation (once);
this one adds the session, the agent runs, handoffs and guardrail results.
"""

from a2a_session_manager.instrumentation.openai_agents._instrumentor import (
    OpenAIAgentsInstrumentor,
)

__all__ = ["OpenAIAgentsInstrumentor"]
