"""OpenTelemetry instrumentation of the ``anthropic`` client (``Anthropic``,
``AsyncAnthropic``, and the Bedrock / Vertex clients that share its resources)::

    from a2a_session_manager.instrumentation.anthropic import AnthropicInstrumentor

    AnthropicInstrumentor().instrument()    # every messages call becomes a chat span
    AnthropicInstrumentor().uninstrument()  # the client's own methods are restored

Also reachable as ``configure(instrument=("anthropic",))`` and through the
``opentelemetry_instrumentor`` entry point ``a2a_anthropic``.
"""

from a2a_session_manager.instrumentation.anthropic._instrumentor import AnthropicInstrumentor

__all__ = ["AnthropicInstrumentor"]
