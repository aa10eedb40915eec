"""Payloads as prompt text. What an event holds is read through
:mod:`a2a_session_manager.models.payloads`; here it becomes the strings the
chat API takes.

Events hold any JSON value (and, from hand-built sessions, sometimes values
that are not JSON at all). Everything that is not already text is
serialised to JSON text here, once.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any

from a2a_session_manager.models.payloads import ToolCallRecord

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


def tool_result_text(record: ToolCallRecord, stored: Any) -> str:
    """The ``tool`` message content for a recorded result (its error, if it
    failed, as ``{"error", "result"}``)."""
    if record.error is not None:
        body: dict[str, Any] = {"error": record.error}
        if record.result is not None:
            body["result"] = record.result
        return to_text(body)
    if isinstance(stored, Mapping) and not stored.keys() & {"result", "content", "error"}:
        return to_text(stored)  # a hand-built record with no result field: show all of it
    if isinstance(stored, Mapping) and "result" not in stored:
        return message_text(record.result)
    return to_text(record.result)
