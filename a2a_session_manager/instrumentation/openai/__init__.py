"""OpenTelemetry instrumentation of the ``openai`` client (``OpenAI``, ``AsyncOpenAI``
and the Azure clients)::

    from a2a_session_manager.instrumentation.openai import OpenAIInstrumentor

    OpenAIInstrumentor().instrument()    # every chat / responses call becomes a span
    OpenAIInstrumentor().uninstrument()  # the client's own methods are restored

Also reachable as ``configure(instrument=("openai",))`` and through the
``opentelemetry_instrumentor`` entry point (``opentelemetry-instrument``).
"""

from a2a_session_manager.instrumentation.openai._instrumentor import OpenAIInstrumentor

__all__ = ["OpenAIInstrumentor"]
