"""Anthropic messages → the conventions' structured messages (role + parts).

Content blocks map to parts: ``text`` → text, ``thinking`` → reasoning
(``redacted_thinking``: a reasoning part without content), ``tool_use`` →
tool_call (same id), ``tool_result`` → tool_call_response (same id); images
and documents keep only their kind. A user message's ``tool_result`` blocks
become a ``tool`` message (the role the session mapper reads tool results
from), followed by a ``user`` message with the rest, if any: the API puts
tool results first in such a message.

Inputs may be dicts (what users write) or the client's pydantic blocks (what
users send back from a response): every field is read with ``field``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from a2a_session_manager.instrumentation.openai._messages import (
    field,
    text_part,
    tool_call_part,
    tool_response_part,
)
from a2a_session_manager.telemetry import semconv

Message = dict[str, Any]
Part = dict[str, Any]

# Anthropic's stop_reason → the finish reason the session record uses for every provider.
FINISH_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}


def finish_reason(stop_reason: Any) -> str | None:
    if not isinstance(stop_reason, str):
        return None
    return FINISH_REASONS.get(stop_reason, stop_reason)


def reasoning_part(text: Any) -> Part:
    part: Part = {"type": semconv.PART_REASONING}
    if isinstance(text, str):
        part["content"] = text
    return part


def _result_value(content: Any) -> Any:
    """A ``tool_result``'s content as the response value: text as is, text blocks joined."""
    if content is None or isinstance(content, str):
        return content
    texts = [field(b, "text") for b in content if field(b, "type") == "text"]
    return "".join(t for t in texts if isinstance(t, str))


def block_part(block: Any) -> Part:
    kind = field(block, "type")
    if kind == "text":
        return text_part(str(field(block, "text") or ""))
    if kind == "thinking":
        return reasoning_part(field(block, "thinking"))
    if kind == "redacted_thinking":
        return reasoning_part(None)
    if kind in ("tool_use", "server_tool_use"):
        return tool_call_part(field(block, "id"), field(block, "name"), field(block, "input"))
    if kind == "tool_result":
        return tool_response_part(
            field(block, "tool_use_id"), _result_value(field(block, "content"))
        )
    return {"type": str(kind)}  # images, documents, server results: the kind, not the payload


def _parts(content: Any) -> list[Part]:
    if content is None:
        return []
    if isinstance(content, str):
        return [text_part(content)]
    return [block_part(block) for block in content]


def input_messages(messages: Iterable[Any]) -> list[Message]:
    result: list[Message] = []
    for message in messages:
        role = field(message, "role")
        parts = _parts(field(message, "content"))
        results = [p for p in parts if p["type"] == semconv.PART_TOOL_CALL_RESPONSE]
        if role == "user" and results:
            result.append({"role": "tool", "parts": results})
            rest = [p for p in parts if p["type"] != semconv.PART_TOOL_CALL_RESPONSE]
            if rest:
                result.append({"role": "user", "parts": rest})
        else:
            result.append({"role": role, "parts": parts})
    return result


def output_message(message: Any) -> Message:
    # No "finish_reason" in the message: deprecated by the conventions for
    # gen_ai.response.finish_reasons, which the span carries.
    return {"role": "assistant", "parts": _parts(field(message, "content"))}


def system_instructions(system: Any) -> list[Part] | None:
    """``system=`` (a string or text blocks) as the conventions' instructions."""
    if isinstance(system, str):
        return [text_part(system)]
    if isinstance(system, list | tuple):
        return [block_part(block) for block in system]
    return None


def tool_definitions(tools: Iterable[Any]) -> list[dict[str, Any]]:
    """Custom tools as ``{"type": "function", "name", "description", "parameters"}``
    (``input_schema`` is the parameters); server tools keep their type and name."""
    definitions = []
    for tool in tools:
        kind = field(tool, "type")
        definition: dict[str, Any] = {
            "type": "function" if kind in (None, "custom") else kind,
            "name": field(tool, "name"),
        }
        description = field(tool, "description")
        if description is not None:
            definition["description"] = description
        schema = field(tool, "input_schema")
        if schema is not None:
            definition["parameters"] = schema
        definitions.append(definition)
    return definitions
