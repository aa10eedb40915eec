"""The payloads events hold: one typed definition for every writer and reader.

``SessionEvent.message`` is any JSON value, so hand-built sessions can hold
anything. What the SDK itself records has these shapes, and every reader
(prompt builder, reports, CLI) goes through the ``read_*`` functions, which
also accept the older and hand-written variants:

=====================  ====================  ==========================================
event                  ``message``           shape
=====================  ====================  ==========================================
USER ``message``       ``str`` or parts      the text; a list of content parts when the
                                             message held more than one part or no text
LLM ``message``        ``str`` or            a plain reply is its text; a reply with tool
                       :class:`LLMMessage`   calls, a failed call or an interrupted
                                             stream is ``LLMMessage`` as a dict
TOOL ``tool_call``     :class:`ToolCallRecord`  one tool execution and its result
SYSTEM ``instructions``  :class:`Instructions`  what the model was told besides the
                                             conversation, recorded when it changes
=====================  ====================  ==========================================

The redaction hook (``configure(redact=...)``) sees every payload in one
shape: ``{"role": <event source>, "content": <payload as stored>}``.

An LLM event whose request retried a call that did not finish (failed, or
its stream cut or abandoned) names that call's event in
``metadata[RETRY_OF]``; what the retry sent again is recorded once, by the
attempt.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Interruption = Literal["cut", "abandoned"]
RETRY_OF = "retry_of"  # LLM event metadata: the id of the unfinished call it retried


class _Payload(BaseModel):
    model_config = ConfigDict(extra="allow")

    def to_stored(self) -> dict[str, Any]:
        """The payload as stored: defaults left out, extra keys kept."""
        return self.model_dump(mode="json", exclude_defaults=True)


class ToolCallRequest(_Payload):
    """A tool call an LLM asked for. ``arguments`` is the parsed JSON value
    when the model's text parses, else the text as it came."""

    id: str | None = None
    name: str = ""
    arguments: Any = None


class LLMError(_Payload):
    """Why a provider call failed: the exception type, its message and the
    HTTP status when there was one."""

    type: str
    message: str | None = None
    status_code: int | None = None


class LLMMessage(_Payload):
    """An LLM event's payload: the reply's text and tool calls (and the
    model's reasoning when the provider returns it, e.g. Anthropic's
    thinking), or how the call failed, or how far an interrupted stream got.
    A call that asked for several choices (``n`` > 1) holds the first as the
    reply (what the conversation goes on with) and the others in ``alternatives``."""

    content: str | None = None
    reasoning: str | None = None
    tool_calls: list[ToolCallRequest] = Field(default_factory=list)
    error: LLMError | None = None
    interrupted: Interruption | None = None
    alternatives: list[LLMMessage] = Field(default_factory=list)

    def to_stored(self) -> Any:  # type: ignore[override]
        """A plain text reply as its text; anything more as a dict."""
        if (
            self.content is not None
            and self.reasoning is None
            and not self.tool_calls
            and self.error is None
            and self.interrupted is None
            and not self.alternatives
            and not self.model_extra
        ):
            return self.content
        stored = super().to_stored()
        stored.setdefault("content", self.content)
        return stored


class ToolCallRecord(_Payload):
    """A TOOL_CALL event's payload: one execution of a tool."""

    tool_name: str = ""
    call_id: str | None = None
    arguments: Any = None
    result: Any = None
    error: str | None = None


class InstructionMessage(_Payload):
    role: str = "system"
    content: Any = None


class Instructions(_Payload):
    """An INSTRUCTIONS event's payload: the system/developer instructions,
    the request parameters (``gen_ai.request.*`` without the prefix) and the
    tool definitions a call was given. Recorded for a call whose instructions
    differ from those of the call it continues, and for the first call of a
    conversation; it holds the whole set, not only what changed."""

    system: list[InstructionMessage] = Field(default_factory=list)
    parameters: dict[str, Any] = Field(default_factory=dict)
    tools: list[dict[str, Any]] = Field(default_factory=list)

    def to_stored(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


# -- reading what is stored ----------------------------------------------------


def _text_of(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, list):
        texts = [
            p.get("text", p.get("content"))
            for p in value
            if isinstance(p, Mapping) and p.get("type") in ("text", None)
        ]
        if texts and all(isinstance(t, str) for t in texts):
            return "".join(texts)
    try:
        return json.dumps(value, ensure_ascii=False, default=repr)
    except (TypeError, ValueError):
        return repr(value)


def _parsed_arguments(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def read_tool_call_request(raw: Any) -> ToolCallRequest | None:
    """A requested call in the flat shape (``{"id", "name", "arguments"}``) or
    OpenAI's (``{"id", "type", "function": {"name", "arguments"}}``)."""
    if not isinstance(raw, Mapping):
        return None
    function = raw.get("function")
    source = function if isinstance(function, Mapping) else raw
    call_id = raw.get("id")
    name = source.get("name")
    return ToolCallRequest(
        id=call_id if isinstance(call_id, str) and call_id else None,
        name=name if isinstance(name, str) else ("" if name is None else str(name)),
        arguments=_parsed_arguments(source.get("arguments")),
    )


def read_llm_message(message: Any) -> LLMMessage:
    """An LLM event's payload, whatever variant was stored."""
    if isinstance(message, LLMMessage):
        return message
    if isinstance(message, Mapping) and (
        "tool_calls" in message or "content" in message or "error" in message
    ):
        raw_calls = message.get("tool_calls")
        listed = raw_calls if isinstance(raw_calls, list) else []
        calls = [call for call in map(read_tool_call_request, listed) if call is not None]
        error = message.get("error")
        interrupted = message.get("interrupted")
        reasoning = message.get("reasoning")
        alternatives = message.get("alternatives")
        return LLMMessage(
            content=_text_of(message.get("content")),
            reasoning=reasoning if isinstance(reasoning, str) else None,
            tool_calls=calls,
            error=_read_error(error),
            interrupted=interrupted if interrupted in ("cut", "abandoned") else None,
            alternatives=[
                read_llm_message(a)
                for a in (alternatives if isinstance(alternatives, list) else ())
            ],
        )
    return LLMMessage(content=_text_of(message))


def _read_error(error: Any) -> LLMError | None:
    if error is None:
        return None
    if isinstance(error, Mapping):
        status = error.get("status_code")
        message = error.get("message")
        return LLMError(
            type=str(error.get("type") or "error"),
            message=None if message is None else str(message),
            status_code=None if isinstance(status, bool) or not isinstance(status, int) else status,
        )
    return LLMError(type="error", message=str(error))


def read_tool_call(message: Any) -> ToolCallRecord:
    """A TOOL_CALL payload: ours, the seed's ``{"tool", "arguments", "result"}``
    or a tool message's ``{"tool_call_id", "content"}``."""
    if isinstance(message, ToolCallRecord):
        return message
    if not isinstance(message, Mapping):
        return ToolCallRecord(result=message)
    call_id = next(
        (message[k] for k in ("call_id", "tool_call_id", "id") if message.get(k) not in (None, "")),
        None,
    )
    name = message.get("tool_name", message.get("tool", message.get("name")))
    result = message.get("result", message.get("content"))
    error = message.get("error")
    return ToolCallRecord(
        tool_name="" if name is None else str(name),
        call_id=None if call_id is None else str(call_id),
        arguments=message.get("arguments"),
        result=result,
        error=None if error in (None, "") else (error if isinstance(error, str) else str(error)),
    )


def read_instructions(message: Any) -> Instructions:
    """An INSTRUCTIONS payload (tolerating a bare text or missing keys)."""
    if isinstance(message, Instructions):
        return message
    if isinstance(message, str):
        return Instructions(system=[InstructionMessage(content=message)])
    if not isinstance(message, Mapping):
        return Instructions()
    raw_system = message.get("system")
    system = [
        InstructionMessage(role=str(m.get("role") or "system"), content=m.get("content"))
        if isinstance(m, Mapping)
        else InstructionMessage(content=m)
        for m in (raw_system if isinstance(raw_system, list) else [])
    ]
    parameters = message.get("parameters")
    tools = message.get("tools")
    return Instructions(
        system=system,
        parameters=dict(parameters) if isinstance(parameters, Mapping) else {},
        tools=[dict(t) for t in tools if isinstance(t, Mapping)] if isinstance(tools, list) else [],
    )
