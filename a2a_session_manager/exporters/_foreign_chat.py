"""Chat spans of other instrumentations, read under the names ours use.

The mapper reads a chat span through the GenAI conventions' newest names
(``semconv``: structured ``gen_ai.input.messages`` / ``gen_ai.output.messages``,
``gen_ai.usage.input_tokens`` ...). Other instrumentations of the same client
may record a call under older names; :func:`chat_view` gives the mapper their
chat spans' attributes under ours, so that when our instrumentation is not
installed their calls still become session events. Our own spans pass through
untouched, without a look at their attributes.

What the peers put on their chat spans (the versions in the ``dev`` extra):

* The official ``opentelemetry-instrumentation-openai-v2`` (2.4b0 with
  ``opentelemetry-util-genai`` 1.1b0) already uses the newest names, tokens
  always. Messages are on the span only when
  ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`` is ``span_only`` or
  ``span_and_event``. With ``event_only`` they go to a log record through the
  OpenTelemetry logs API, which no span processor sees; with ``no_content``
  (the default, and what any other value, ``true`` included, falls back to)
  they are recorded nowhere. Its spans then give an LLM event without
  messages.
* OpenLLMetry's ``opentelemetry-instrumentation-openai`` (0.62.4) writes the
  structured messages too (system messages among the input, as sent), but
  names reasoning tokens ``gen_ai.usage.reasoning_tokens`` and, in streams,
  puts an empty text part beside the tool calls. With ``use_attributes=False``
  its messages go to the logs API (out of reach, as above); with
  ``TRACELOOP_TRACE_CONTENT=false`` nowhere.
* OpenLLMetry before the structured messages (and instrumentations built on
  its names) marks chat spans with ``llm.request.type="chat"`` and indexes
  messages as ``gen_ai.prompt.{i}.*`` / ``gen_ai.completion.{i}.*``, with
  ``gen_ai.usage.prompt_tokens`` / ``completion_tokens``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan

from a2a_session_manager.telemetry import semconv
from a2a_session_manager.telemetry._json import from_json_text
from a2a_session_manager.telemetry._tracers import is_own_tracer

# Conventions' name ← the names other instrumentations use for the same count,
# first found wins.
_USAGE_ALIASES: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        semconv.GEN_AI_USAGE_INPUT_TOKENS,
        (semconv.GEN_AI_USAGE_PROMPT_TOKENS, semconv.LLM_USAGE_PROMPT_TOKENS),
    ),
    (
        semconv.GEN_AI_USAGE_OUTPUT_TOKENS,
        (semconv.GEN_AI_USAGE_COMPLETION_TOKENS, semconv.LLM_USAGE_COMPLETION_TOKENS),
    ),
    (
        semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
        (semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS_OLD,),
    ),
    (
        semconv.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS,
        (semconv.GEN_AI_USAGE_REASONING_TOKENS, semconv.LLM_USAGE_REASONING_TOKENS),
    ),
)


def is_foreign_chat(attrs: Mapping[str, Any]) -> bool:
    """Whether ``attrs`` are a chat span's, under the conventions' name or OpenLLMetry's."""
    operation = attrs.get(semconv.GEN_AI_OPERATION_NAME)
    if operation is not None:
        return bool(operation == semconv.OPERATION_CHAT)
    return attrs.get(semconv.LLM_REQUEST_TYPE) == semconv.OPERATION_CHAT


def chat_view(span: ReadableSpan, attrs: Mapping[str, Any]) -> Mapping[str, Any]:
    """``attrs`` of ``span`` as the mapper reads a chat span: ``attrs`` itself
    for our own spans, other spans than chat spans and chat spans that need
    nothing; else a new mapping with the conventions' names added (message
    attributes then hold plain lists, as deferred content does, not JSON text)."""
    scope = span.instrumentation_scope
    if scope is not None and is_own_tracer(scope.name):
        return attrs
    if not is_foreign_chat(attrs):
        return attrs
    added: dict[str, Any] = {}
    if semconv.GEN_AI_OPERATION_NAME not in attrs:
        added[semconv.GEN_AI_OPERATION_NAME] = semconv.OPERATION_CHAT
    if semconv.GEN_AI_PROVIDER_NAME not in attrs:
        system = attrs.get(semconv.GEN_AI_SYSTEM)
        if isinstance(system, str) and system:
            added[semconv.GEN_AI_PROVIDER_NAME] = system.lower()
    for name, aliases in _USAGE_ALIASES:
        if name in attrs:
            continue
        for alias in aliases:
            value = attrs.get(alias)
            if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
                added[name] = value
                break
    if semconv.GEN_AI_INPUT_MESSAGES not in attrs:
        inputs = indexed_messages(attrs, semconv.GEN_AI_PROMPT)
        if inputs:
            added[semconv.GEN_AI_INPUT_MESSAGES] = inputs
    outputs = attrs.get(semconv.GEN_AI_OUTPUT_MESSAGES)
    if outputs is None:
        indexed = indexed_messages(attrs, semconv.GEN_AI_COMPLETION)
        if indexed:
            added[semconv.GEN_AI_OUTPUT_MESSAGES] = indexed
    else:
        cleaned = _without_empty_text(outputs)
        if cleaned is not None:
            added[semconv.GEN_AI_OUTPUT_MESSAGES] = cleaned
    if not added:
        return attrs
    return {**attrs, **added}


def _without_empty_text(value: Any) -> list[Any] | None:
    """The output messages without the empty text parts some streams leave
    beside tool calls (the model said nothing); ``None`` when none were there."""
    messages = from_json_text(value)
    if not isinstance(messages, list):
        return None
    changed = False
    out: list[Any] = []
    for message in messages:
        parts = message.get("parts") if isinstance(message, dict) else None
        if isinstance(parts, list) and len(parts) > 1:
            kept = [p for p in parts if not _empty_text(p)]
            if kept and len(kept) != len(parts):
                message = {**message, "parts": kept}
                changed = True
        out.append(message)
    return out if changed else None


def _empty_text(part: Any) -> bool:
    return (
        isinstance(part, dict)
        and part.get("type") == semconv.PART_TEXT
        and part.get("content") in ("", None)
    )


def indexed_messages(attrs: Mapping[str, Any], prefix: str) -> list[dict[str, Any]]:
    """Messages written as ``{prefix}.{i}.role`` / ``.content`` / ``.tool_call_id``
    / ``.finish_reason`` / ``.tool_calls.{j}.{id,name,arguments}`` (OpenLLMetry
    before the structured messages), as the conventions' structured messages."""
    messages: list[dict[str, Any]] = []
    index = 0
    while True:
        key = f"{prefix}.{index}."
        role = attrs.get(key + "role")
        content = attrs.get(key + "content")
        calls = _indexed_tool_calls(attrs, key + "tool_calls.")
        if role is None and content is None and not calls:
            return messages
        role = role if isinstance(role, str) else "assistant" if calls else "user"
        parts: list[dict[str, Any]] = []
        call_id = attrs.get(key + "tool_call_id")
        if role == "tool" and isinstance(call_id, str):
            parts.append(
                {
                    "type": semconv.PART_TOOL_CALL_RESPONSE,
                    "id": call_id,
                    "response": content,
                }
            )
        else:
            parts.extend(_content_parts(content))
            refusal = attrs.get(key + "refusal")
            if isinstance(refusal, str) and refusal:
                parts.append({"type": "refusal", "content": refusal})
        parts.extend(calls)
        message: dict[str, Any] = {"role": role, "parts": parts}
        finish_reason = attrs.get(key + "finish_reason")
        if isinstance(finish_reason, str):
            message["finish_reason"] = finish_reason
        messages.append(message)
        index += 1


def _content_parts(content: Any) -> list[dict[str, Any]]:
    """A message's ``content``: text, or the JSON text of OpenAI content blocks."""
    if content is None or content == "":
        return []
    blocks = from_json_text(content) if isinstance(content, str) else content
    if not (
        isinstance(blocks, list)
        and blocks
        and all(isinstance(block, dict) and "type" in block for block in blocks)
    ):
        return [{"type": semconv.PART_TEXT, "content": content}]
    parts: list[dict[str, Any]] = []
    for block in blocks:
        if block.get("type") == "text":
            parts.append({"type": semconv.PART_TEXT, "content": block.get("text", "")})
        else:
            parts.append(dict(block))
    return parts


def _indexed_tool_calls(attrs: Mapping[str, Any], key: str) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = []
    index = 0
    while True:
        call_key = f"{key}{index}."
        name = attrs.get(call_key + "name")
        call_id = attrs.get(call_key + "id")
        if name is None and call_id is None:
            return calls
        calls.append(
            {
                "type": semconv.PART_TOOL_CALL,
                "id": call_id,
                "name": name,
                "arguments": from_json_text(attrs.get(call_key + "arguments")),
            }
        )
        index += 1
