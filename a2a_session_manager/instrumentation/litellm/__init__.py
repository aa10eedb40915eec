"""OpenTelemetry instrumentation of LiteLLM (``litellm.completion`` / ``acompletion``)::

    from a2a_session_manager.instrumentation.litellm import LiteLLMInstrumentor

    LiteLLMInstrumentor().instrument()    # every completion becomes a ``chat`` span
    LiteLLMInstrumentor().uninstrument()

Also reachable as ``configure(instrument=("litellm",))`` and through the
``opentelemetry_instrumentor`` entry point ``a2a_litellm``.
"""

from a2a_session_manager.instrumentation.litellm._instrumentor import LiteLLMInstrumentor

__all__ = ["LiteLLMInstrumentor"]
