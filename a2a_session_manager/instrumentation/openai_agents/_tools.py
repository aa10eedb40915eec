"""An Agents SDK function span → an ``execute_tool`` span of ours, once it ended.

The SDK's function span names the tool, holds its arguments (the model's JSON
text) and its output, and an error when the tool raised (the model is then
told the SDK's error text instead). It carries no call id: the session
mapper links the tool call to the LLM event that asked for it by tool name and
arguments, and skips the same result when the next request sends it back.
Without this span a failing tool would be recorded from the conversation
alone, as a tool that succeeded with an error text as its result.

When the SDK leaves the arguments out (``trace_include_sensitive_data=False``)
no span is made: the conversation's copy of the call is recorded, as before.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from opentelemetry import context
from opentelemetry.trace import Status, StatusCode

from a2a_session_manager.sdk._runtime import RUNTIME
from a2a_session_manager.sdk._spans import span_name
from a2a_session_manager.telemetry import semconv
from a2a_session_manager.telemetry._context import scope_attributes
from a2a_session_manager.telemetry._json import to_json_text

# The error type of a tool the SDK reported failed (it does not give the exception's).
TOOL_FAILED = "ToolError"


def record_function_tool(span: Any) -> None:
    """Record the finished function span ``span`` as an ``execute_tool`` span."""
    data = span.span_data
    arguments = data.input
    tracer = RUNTIME.tracer
    if tracer is None or not isinstance(arguments, str):
        return
    name = str(data.name)
    attributes: dict[str, Any] = {
        semconv.GEN_AI_OPERATION_NAME: semconv.OPERATION_EXECUTE_TOOL,
        semconv.GEN_AI_TOOL_NAME: name,
        **scope_attributes(),
    }
    if RUNTIME.capture_content:
        attributes[semconv.GEN_AI_TOOL_CALL_ARGUMENTS] = arguments
        if data.output is not None:
            attributes[semconv.GEN_AI_TOOL_CALL_RESULT] = to_json_text(data.output)
    otel_span = tracer.start_span(
        span_name(semconv.OPERATION_EXECUTE_TOOL, name),
        context.get_current(),
        attributes=attributes,
        start_time=_time_ns(span.started_at),
    )
    message = _error_message(span.error)
    if message is not None:
        otel_span.set_attributes(
            {semconv.ERROR_TYPE: TOOL_FAILED, semconv.A2A_ERROR_MESSAGE: message}
        )
        otel_span.set_status(Status(StatusCode.ERROR, message))
    otel_span.end(end_time=_time_ns(span.ended_at))


def _error_message(error: Any) -> str | None:
    """``"Error running tool: <why>"`` from the SDK's span error (``<why>`` is
    the SDK's redacted text unless the application let it through)."""
    if not error:
        return None
    if not isinstance(error, dict):
        return str(error)
    message = str(error.get("message") or "tool failed")
    data = error.get("data")
    why = data.get("error") if isinstance(data, dict) else None
    return f"{message}: {why}" if why else message


def _time_ns(iso: Any) -> int | None:
    if not isinstance(iso, str):
        return None
    try:
        return int(datetime.fromisoformat(iso).timestamp() * 1_000_000) * 1000
    except ValueError:
        return None
