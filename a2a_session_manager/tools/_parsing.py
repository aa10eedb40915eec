"""An LLM reply → the tool calls it asks for.

Accepts what applications actually hold: an OpenAI chat message as a dict or
as an ``openai`` SDK object (``ChatCompletionMessage``, or a whole
``ChatCompletion``: its first choice is used), JSON text of either, a bare
list of tool calls, and the legacy ``function_call``. Nothing here raises on
bad input: every defect (invalid or non-object JSON, JSON nested past the
parser's recursion limit, arguments nested deeper than
:data:`MAX_ARGUMENT_DEPTH`) becomes a *problem* that the processor answers
with a retry, or with ``ToolProcessingError`` once retries are spent.
"""

from __future__ import annotations

import json
import reprlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from uuid import uuid4

from a2a_session_manager.models.json_values import MAX_DEPTH
from a2a_session_manager.models.payloads import LLMMessage, ToolCallRequest
from a2a_session_manager.telemetry._json import to_json_text

_MAX_QUOTED = 200  # characters of a bad value quoted in a problem
_SHORT = reprlib.Repr()  # bounded in depth and length, whatever the value
_SHORT.maxstring = _SHORT.maxother = _MAX_QUOTED

MAX_ARGUMENT_DEPTH = MAX_DEPTH
"""Deepest nesting of objects and arrays accepted in a call's arguments.

Real tool arguments nest a few levels. Deeper ones are refused before they
reach the tool, or a store that could not read them back (pydantic gives up
at a few hundred levels, so a session holding them would not load)."""


def new_call_id() -> str:
    """An id for a tool call the LLM sent without one (OpenAI's ``call_`` style)."""
    return f"call_{uuid4().hex}"


@dataclass(frozen=True)
class ToolCall:
    """One call the LLM asked for; ``problem`` says why it cannot run, if so."""

    id: str
    name: str
    arguments: dict[str, Any]
    raw_arguments: str
    problem: str | None = None

    @property
    def recorded_arguments(self) -> Any:
        """As :class:`ToolCallRequest` keeps them: the parsed value, else the
        text (also for text nested too deeply to keep parsed)."""
        if self.problem is None:
            return self.arguments
        if _too_deep_text(self.raw_arguments):
            return self.raw_arguments
        try:
            return json.loads(self.raw_arguments)
        except (ValueError, RecursionError):
            return self.raw_arguments


@dataclass(frozen=True)
class ParsedReply:
    content: str | None
    calls: list[ToolCall]
    problems: list[str] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        """Has at least one tool call and nothing is wrong with any of them."""
        return bool(self.calls) and not self.problems

    def as_message(self) -> Any:
        """The reply as an LLM event records it (:class:`LLMMessage`), with
        every call's id filled in so tool results match their calls."""
        return LLMMessage(
            content=self.content,
            tool_calls=[
                ToolCallRequest(id=call.id, name=call.name, arguments=call.recorded_arguments)
                for call in self.calls
            ],
        ).to_stored()


def _quote(value: Any) -> str:
    if isinstance(value, str):
        text = value
    else:
        try:
            text = _SHORT.repr(value)
        except Exception:  # a hostile ``__repr__``
            text = f"<{type(value).__name__}>"
    return text if len(text) <= _MAX_QUOTED else text[:_MAX_QUOTED] + "…"


def _nests_deeper_than(value: Any, limit: int) -> bool:
    """Whether objects and arrays in ``value`` nest more than ``limit`` levels.

    Iterative, so no depth can exhaust the stack. A container reached twice
    (only in mappings built in Python: shared or cyclic) is walked once.
    """
    pending: list[tuple[Any, int]] = [(value, 1)]
    seen: set[int] = set()
    while pending:
        item, depth = pending.pop()
        if depth > limit:
            return True
        if id(item) in seen:
            continue
        seen.add(id(item))
        children = item.values() if isinstance(item, Mapping) else item
        pending.extend(
            (child, depth + 1) for child in children if isinstance(child, Mapping | list | tuple)
        )
    return False


def _too_deep_text(text: str) -> bool:
    # Counting openers (in C) rules out deep nesting for nearly every call,
    # without walking the parsed value.
    return text.count("{") + text.count("[") > MAX_ARGUMENT_DEPTH


def _plain(value: Any) -> Any:
    """Pydantic objects (the ``openai`` SDK's types) as plain dicts and lists."""
    model_dump = getattr(value, "model_dump", None)
    if callable(model_dump) and not isinstance(value, type):
        try:
            return model_dump()
        except Exception:
            return value
    return value


def _message_of(reply: Any) -> tuple[Mapping[str, Any] | None, str | None]:
    """The assistant message inside ``reply``, or a problem."""
    reply = _plain(reply)
    if isinstance(reply, bytes | bytearray):
        try:
            reply = bytes(reply).decode("utf-8")
        except UnicodeDecodeError as exc:
            return None, f"the reply is not valid UTF-8 ({exc.reason} at byte {exc.start})"
    if isinstance(reply, str):
        try:
            decoded = json.loads(reply)
        except RecursionError:
            return None, "the reply is JSON nested too deeply to parse"
        except ValueError:
            return {"content": reply}, None  # a plain text answer: no tool call
        if not isinstance(decoded, dict | list):
            return {"content": reply}, None
        reply = decoded
    if isinstance(reply, list):
        return {"tool_calls": reply}, None
    if not isinstance(reply, Mapping):
        return None, f"the reply is a {type(reply).__name__}, not a chat message"
    choices = reply.get("choices")
    if isinstance(choices, list) and "tool_calls" not in reply:
        if not choices:
            return None, "the completion has no choices"
        first = _plain(choices[0])
        message = _plain(first.get("message")) if isinstance(first, Mapping) else None
        if not isinstance(message, Mapping):
            return None, "the completion's first choice has no message"
        return message, None
    return reply, None


def _arguments(raw: Any) -> tuple[dict[str, Any], str, str | None]:
    """(parsed arguments, their JSON text, problem)."""
    if raw is None:
        return {}, "{}", None
    if isinstance(raw, Mapping):
        arguments = dict(raw)
        if _nests_deeper_than(arguments, MAX_ARGUMENT_DEPTH):
            return {}, "{}", f"arguments nest deeper than {MAX_ARGUMENT_DEPTH} levels"
        return arguments, to_json_text(arguments), None
    if isinstance(raw, bytes | bytearray):
        try:
            raw = bytes(raw).decode("utf-8")
        except UnicodeDecodeError:
            return {}, to_json_text(raw), "arguments are not valid UTF-8"
    if not isinstance(raw, str):
        return {}, to_json_text(raw), f"arguments must be a JSON object, got {_quote(raw)}"
    if not raw.strip():
        return {}, raw, None  # some models send "" for a call without parameters
    too_deep = f"arguments nest deeper than {MAX_ARGUMENT_DEPTH} levels"
    try:
        parsed = json.loads(raw)
    except RecursionError:
        return {}, raw, f"{too_deep}: {_quote(raw)}"
    except ValueError as exc:
        return {}, raw, f"malformed JSON arguments ({exc}): {_quote(raw)}"
    if not isinstance(parsed, dict):
        return {}, raw, f"arguments must be a JSON object, got {_quote(raw)}"
    if _too_deep_text(raw) and _nests_deeper_than(parsed, MAX_ARGUMENT_DEPTH):
        return {}, raw, f"{too_deep}: {_quote(raw)}"
    return parsed, raw, None


def _call(index: int, raw: Any, taken: set[str]) -> ToolCall:
    raw = _plain(raw)
    if not isinstance(raw, Mapping):
        return ToolCall(
            new_call_id(), "", {}, "{}", f"tool call {index} is not an object: {_quote(raw)}"
        )
    call_type = raw.get("type", "function")
    function = _plain(raw.get("function"))
    # OpenAI shape {"id", "type", "function": {"name", "arguments"}}, or flat
    # {"id", "name", "arguments"} as some frameworks write it.
    source: Mapping[str, Any] = function if isinstance(function, Mapping) else raw
    name = source.get("name")
    arguments, raw_arguments, problem = _arguments(source.get("arguments"))
    call_id = raw.get("id")
    if not isinstance(call_id, str) or not call_id or call_id in taken:
        call_id = new_call_id()  # missing or repeated: results must still match calls
    taken.add(call_id)
    if not isinstance(name, str) or not name:
        problem = f"tool call {index} has no function name"
        name = "" if not isinstance(name, str) else name
    elif call_type != "function":
        problem = f"tool call {index} ({name}) has unsupported type {_quote(call_type)}"
    elif problem is not None:
        problem = f"tool call {index} ({name}): {problem}"
    return ToolCall(call_id, name, arguments, raw_arguments, problem)


def parse_reply(reply: Any) -> ParsedReply:
    """The tool calls ``reply`` asks for, and what is wrong with them, if anything."""
    message, problem = _message_of(reply)
    if message is None:
        return ParsedReply(None, [], [problem or "unreadable reply"])
    content = message.get("content")
    text = content if isinstance(content, str) or content is None else to_json_text(content)
    raw_calls = _plain(message.get("tool_calls"))
    legacy = _plain(message.get("function_call"))
    taken: set[str] = set()
    if raw_calls:
        if not isinstance(raw_calls, list):
            return ParsedReply(text, [], ["tool_calls is not a list"])
        calls = [_call(i, raw, taken) for i, raw in enumerate(raw_calls)]
    elif legacy:
        calls = [_call(0, {"type": "function", "function": legacy}, taken)]
    else:
        return ParsedReply(text, [], ["the reply has no tool call"])
    return ParsedReply(text, calls, [c.problem for c in calls if c.problem is not None])
