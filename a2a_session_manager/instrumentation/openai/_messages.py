"""OpenAI messages → the conventions' structured messages (role + parts).

Inputs may be plain dicts (what users write) or the client's pydantic objects
(what users append back from a response), so every field is read with
:func:`field`. Tool-call arguments are parsed when they are valid JSON and
kept as the raw string when not: a model's malformed JSON is recorded as sent.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from operator import attrgetter
from typing import Any

from a2a_session_manager.telemetry import semconv

Message = dict[str, Any]
Part = dict[str, Any]

_TEXT_PART_TYPES = frozenset({"text", "input_text", "output_text"})


def field(obj: Any, name: str) -> Any:
    """``obj[name]`` for mappings, ``obj.name`` for objects; None when absent."""
    # Plain dicts first: an ABC isinstance check on every read costs more than the read.
    if type(obj) is dict:
        return obj.get(name)
    if obj is None:
        return None
    value = getattr(obj, name, None)
    if value is None and _is_mapping_type(type(obj)):
        return obj.get(name)
    return value


def fields(obj: Any, getter: attrgetter[Any], names: tuple[str, ...]) -> tuple[Any, ...]:
    """``field(obj, name)`` for each of ``names`` (two or more), read at once.

    ``getter`` is ``attrgetter(*names)``: on the client's pydantic objects, whose
    fields are all declared, one C call reads them all (the response readers
    run on every call; field by field they cost about twice as much).
    """
    if type(obj) is dict:
        return tuple(map(obj.get, names))
    if obj is None or _is_mapping_type(type(obj)):
        return tuple([field(obj, name) for name in names])
    try:
        values: tuple[Any, ...] = getter(obj)
    except AttributeError:
        return _one_by_one(obj, names)
    return values


def _one_by_one(obj: Any, names: tuple[str, ...]) -> tuple[Any, ...]:
    # A pydantic object answers a name its class does not declare by raising
    # and catching an AttributeError (about 2 µs each: the Responses API's usage
    # has no ``prompt_tokens``): such names are read from its extra fields.
    declared = _declared_names(type(obj))
    if declared is None:
        return tuple([field(obj, name) for name in names])
    extra = getattr(obj, "__pydantic_extra__", None) or {}
    return tuple([getattr(obj, n, None) if n in declared else extra.get(n) for n in names])


_declared: dict[type, frozenset[str] | None] = {}


def _declared_names(cls: type) -> frozenset[str] | None:
    """What instances of a pydantic model class ``cls`` answer without
    ``__getattr__`` (its fields and class attributes); ``None`` for other classes."""
    if cls not in _declared:
        model_fields = getattr(cls, "__pydantic_fields__", None)
        _declared[cls] = (
            frozenset(model_fields).union(dir(cls)) if isinstance(model_fields, dict) else None
        )
    return _declared[cls]


_mapping_types: dict[type, bool] = {}


def _is_mapping_type(cls: type) -> bool:
    # Checked on the type's attributes, not with the (slow) Mapping ABC, once
    # per type: ``hasattr`` on a pydantic model class goes through its
    # metaclass's ``__getattr__``.
    known = _mapping_types.get(cls)
    if known is None:
        known = _mapping_types[cls] = (
            hasattr(cls, "__getitem__") and hasattr(cls, "keys") and hasattr(cls, "get")
        )
    return known


def parse_arguments(arguments: Any) -> Any:
    """Tool-call arguments as a value when they are JSON text, else unchanged."""
    if not isinstance(arguments, str):
        return arguments
    try:
        return json.loads(arguments)
    except ValueError:
        return arguments


def _fallback(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", errors="backslashreplace")
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        return dump(mode="json")
    return repr(value)


# One encoder for the common case (plain JSON values); building one per call
# costs about as much as encoding a short conversation.
_encode = json.JSONEncoder(ensure_ascii=False).encode


def to_json(value: Any) -> str:
    """JSON text for an attribute; never raises, whatever the value holds."""
    try:
        return _encode(value)
    except (TypeError, ValueError):  # values JSON cannot hold, or circular ones
        pass
    try:
        return json.dumps(value, ensure_ascii=False, default=_fallback)
    except (ValueError, TypeError, RecursionError):
        return json.dumps(repr(value), ensure_ascii=False)


class _NotPlain(Exception):
    pass


_SCALARS = frozenset({str, int, float, bool, type(None)})


def _plain_copy(value: Any) -> Any:
    kind = type(value)
    if kind in _SCALARS:
        return value
    if kind is dict:
        copy = {}
        for key, item in value.items():
            if type(key) is not str:
                raise _NotPlain
            copy[key] = _plain_copy(item)
        return copy
    if kind is list:
        return [_plain_copy(item) for item in value]
    raise _NotPlain


def plain_json(value: Any) -> Any:
    """What ``json.loads(to_json(value))`` gives, without the text in between
    when ``value`` holds only JSON's own types (the common case).

    Containers are always fresh copies: a redaction hook may edit what it is
    given, and a user's own dict (tool-call arguments passed as a dict) must
    not change with it.
    """
    try:
        return _plain_copy(value)
    except (_NotPlain, RecursionError):
        return json.loads(to_json(value))


def text_part(text: str) -> Part:
    return {"type": semconv.PART_TEXT, "content": text}


def tool_call_part(call_id: Any, name: Any, arguments: Any) -> Part:
    return {
        "type": semconv.PART_TOOL_CALL,
        "id": call_id,
        "name": name,
        "arguments": parse_arguments(arguments),
    }


def tool_response_part(call_id: Any, response: Any) -> Part:
    return {"type": semconv.PART_TOOL_CALL_RESPONSE, "id": call_id, "response": response}


def _content_parts(content: Any) -> list[Part]:
    if content is None:
        return []
    if isinstance(content, str):
        return [text_part(content)]
    parts: list[Part] = []
    for item in content if isinstance(content, Iterable) else (content,):
        if isinstance(item, str):
            parts.append(text_part(item))
            continue
        kind = field(item, "type")
        text = field(item, "text") if kind in _TEXT_PART_TYPES else field(item, "refusal")
        if isinstance(text, str):
            parts.append(text_part(text))
        else:
            # Images, audio, files: the part's kind is kept, not its (possibly huge) payload.
            parts.append({"type": str(kind)})
    return parts


def _content_text(content: Any) -> Any:
    """A tool message's content as the response value (text parts joined)."""
    if content is None or isinstance(content, str):
        return content
    texts = [p["content"] for p in _content_parts(content) if p["type"] == semconv.PART_TEXT]
    return "".join(texts)


# -- chat completions ------------------------------------------------------------


def chat_message(message: Any) -> Message:
    role = field(message, "role")
    content = field(message, "content")
    if role == "tool":
        parts = [tool_response_part(field(message, "tool_call_id"), _content_text(content))]
    else:
        parts = _content_parts(content)
        refusal = field(message, "refusal")
        if isinstance(refusal, str):
            parts.append(text_part(refusal))
        for call in field(message, "tool_calls") or ():
            function = field(call, "function")
            parts.append(
                tool_call_part(
                    field(call, "id"), field(function, "name"), field(function, "arguments")
                )
            )
        legacy = field(message, "function_call")
        if legacy is not None:
            parts.append(tool_call_part(None, field(legacy, "name"), field(legacy, "arguments")))
    result: Message = {"role": role, "parts": parts}
    # Only request messages (dicts) carry a participant name; reading a missing
    # attribute of the client's pydantic objects would cost an exception.
    name = message.get("name") if type(message) is dict else None
    if isinstance(name, str):
        result["name"] = name
    return result


def chat_input_messages(messages: Iterable[Any]) -> list[Message]:
    return [chat_message(message) for message in messages]


def chat_output_messages(choices: Iterable[Any]) -> list[Message]:
    output = []
    for choice in choices:
        message = chat_message(field(choice, "message"))
        message["role"] = message["role"] or "assistant"
        # No "finish_reason" in the message: the conventions deprecated it for
        # gen_ai.response.finish_reasons, which the span carries.
        output.append(message)
    return output


def assistant_message(text: str | None, calls: Iterable[tuple[Any, Any, Any]]) -> Message:
    """An output message assembled from stream deltas (``calls``: id, name, arguments)."""
    parts = [text_part(text)] if text else []
    parts.extend(tool_call_part(call_id, name, arguments) for call_id, name, arguments in calls)
    return {"role": "assistant", "parts": parts}


# -- responses -------------------------------------------------------------------


def _response_item(item: Any) -> Message | None:
    kind = field(item, "type")
    if kind == "function_call":
        part = tool_call_part(field(item, "call_id"), field(item, "name"), field(item, "arguments"))
        return {"role": "assistant", "parts": [part]}
    if kind == "function_call_output":
        part = tool_response_part(field(item, "call_id"), _content_text(field(item, "output")))
        return {"role": "tool", "parts": [part]}
    role = field(item, "role")
    if kind in (None, "message") and role is not None:
        return {"role": role, "parts": _content_parts(field(item, "content"))}
    return None  # reasoning items, built-in tool calls: not conversation messages


def responses_input_messages(input_value: Any) -> list[Message]:
    if input_value is None:
        return []
    if isinstance(input_value, str):
        return [{"role": "user", "parts": [text_part(input_value)]}]
    messages = []
    for item in input_value:
        message = _response_item(item)
        if message is not None:
            messages.append(message)
    return messages


def responses_output_messages(output: Iterable[Any]) -> list[Message]:
    """All output items of one response, as a single assistant message."""
    parts: list[Part] = []
    for item in output:
        message = _response_item(item)
        if message is not None:
            parts.extend(message["parts"])
    return [{"role": "assistant", "parts": parts}]


def system_instructions(instructions: Any) -> list[Part] | None:
    if isinstance(instructions, str):
        return [text_part(instructions)]
    return None
