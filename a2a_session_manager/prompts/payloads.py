"""Reading event payloads: text of a message, tool calls of an LLM reply,
the fields of a recorded tool call.

Events hold any JSON value (and, from hand-built sessions, sometimes values
that are not JSON at all); the chat API takes strings. Everything that is
not already text is serialised to JSON text here, once.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

_SAFE_CALL_ID = re.compile(r"[A-Za-z0-9_-]{1,35}")
_SAFE_RECORDED_ID = re.compile(r"[A-Za-z0-9_.:-]{1,64}")


def to_text(value: Any) -> str:
    """``value`` as prompt text: strings as they are, anything else as JSON."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    try:
        return json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError):  # circular structures, odd keys
        return str(value)


def _parts_text(parts: list[Any]) -> str | None:
    """The text of a list of content parts (``[{"type": "text", "text": ...}]``),
    or ``None`` when the list holds anything but text parts."""
    texts: list[str] = []
    for part in parts:
        if not isinstance(part, Mapping):
            return None
        text = part.get("text", part.get("content"))
        if part.get("type") not in ("text", None) or not isinstance(text, str):
            return None
        texts.append(text)
    return "\n".join(texts)


def message_text(message: Any, *keys: str) -> str:
    """Text of a user/system/summary payload: a string, or a dict whose first
    present key of ``keys`` (default ``content``) holds the text."""
    if isinstance(message, Mapping):
        for key in keys or ("content",):
            if key in message:
                return message_text(message[key])
        return to_text(message)
    if isinstance(message, list):
        text = _parts_text(message)
        return text if text is not None else to_text(message)
    return to_text(message)


def arguments_text(arguments: Any) -> str:
    """Tool-call arguments as the JSON string the chat API expects."""
    if arguments is None:
        return "{}"
    return arguments if isinstance(arguments, str) else to_text(arguments)


def synthetic_call_id(seed: str) -> str:
    """A tool-call id for a call that was recorded without one.

    Short, safe ids are kept readable (``call_<event id>``); anything else
    (long or odd event ids) is hashed so the id stays within API limits.
    """
    if _SAFE_CALL_ID.fullmatch(seed):
        return f"call_{seed}"
    return "call_" + hashlib.sha256(seed.encode("utf-8", "surrogatepass")).hexdigest()[:24]


def recorded_call_id(value: Any) -> str | None:
    """A call id as recorded, if any; hostile ones (huge, NUL, odd characters)
    are hashed the same way wherever they appear, so calls and results still match."""
    if value is None or value == "":
        return None
    text = value if isinstance(value, str) else to_text(value)
    return text if _SAFE_RECORDED_ID.fullmatch(text) else synthetic_call_id(text)


@dataclass(frozen=True)
class RequestedCall:
    """A tool call as an LLM reply asked for it."""

    id: str | None
    name: str
    arguments: str


@dataclass(frozen=True)
class AssistantPayload:
    content: str | None
    calls: list[RequestedCall]


def _requested_call(raw: Any) -> RequestedCall | None:
    if not isinstance(raw, Mapping):
        return None
    function = raw.get("function")
    # OpenAI shape {"id", "type", "function": {"name", "arguments"}},
    # or flat {"id", "name", "arguments"}
    source = function if isinstance(function, Mapping) else raw
    name = source.get("name")
    return RequestedCall(
        id=recorded_call_id(raw.get("id")),
        name=to_text(name) if name not in (None, "") else "unknown",
        arguments=arguments_text(source.get("arguments")),
    )


def assistant_payload(message: Any) -> AssistantPayload:
    """Content and tool calls of an LLM event's payload."""
    if isinstance(message, Mapping) and ("tool_calls" in message or "content" in message):
        raw_calls = message.get("tool_calls") or []
        calls = [c for c in map(_requested_call, raw_calls if isinstance(raw_calls, list) else [])]
        content = message.get("content")
        text = None if content is None else message_text(content)
        return AssistantPayload(content=text, calls=[c for c in calls if c is not None])
    return AssistantPayload(content=message_text(message), calls=[])


@dataclass(frozen=True)
class ToolRecord:
    """A recorded tool execution (a TOOL_CALL event or a tool message)."""

    call_id: str | None
    name: str | None
    arguments: str | None
    content: str


def _result_text(result: Any, error: Any) -> str:
    if error in (None, ""):
        return to_text(result)
    body: dict[str, Any] = {"error": error if isinstance(error, str) else to_text(error)}
    if result is not None:
        body["result"] = result
    return to_text(body)


def tool_record(message: Any) -> ToolRecord:
    """Read ``{"tool_name"|"tool", "call_id", "arguments", "result", "error"}``
    (also ``tool_call_id``/``id`` and ``content`` as a tool message has them)."""
    if not isinstance(message, Mapping):
        return ToolRecord(call_id=None, name=None, arguments=None, content=to_text(message))
    call_id = recorded_call_id(
        next(
            (
                message[k]
                for k in ("call_id", "tool_call_id", "id")
                if message.get(k) not in (None, "")
            ),
            None,
        )
    )
    name = message.get("tool_name", message.get("tool", message.get("name")))
    arguments = message.get("arguments")
    if "result" in message or "error" in message:
        content = _result_text(message.get("result"), message.get("error"))
    elif "content" in message:
        content = message_text(message["content"])
    else:
        content = to_text(message)
    return ToolRecord(
        call_id=call_id,
        name=None if name in (None, "") else to_text(name),
        arguments=None if arguments is None else arguments_text(arguments),
        content=content,
    )
