"""OpenTelemetry instrumentation of the ``a2a-sdk`` (Agent2Agent protocol)::

    from a2a_session_manager.instrumentation.a2a import A2AInstrumentor

    A2AInstrumentor().instrument()    # client calls and served requests become A2A spans
    A2AInstrumentor().uninstrument()

Also reachable as ``configure(instrument=("a2a",))`` and through the
``opentelemetry_instrumentor`` entry point ``a2a_session_manager_a2a``.
Spans follow the conventions' A2A page (``docs/gen-ai/a2a.md``): named by
method (``SendMessage``, ``SendStreamingMessage``, ``GetTask``, ``CancelTask``,
``SubscribeToTask``), CLIENT or SERVER, with ``a2a.task.id``,
``a2a.task.state``, ``a2a.message.id`` and ``gen_ai.conversation.id`` (the
``contextId``). The trace context and session travel in the request headers.
"""

from a2a_session_manager.instrumentation.a2a._instrumentor import A2AInstrumentor

__all__ = ["A2AInstrumentor"]
