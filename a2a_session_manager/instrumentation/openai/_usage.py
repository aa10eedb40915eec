"""Token usage: from the provider's response, or counted exactly when a stream has none."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from operator import attrgetter
from typing import Any

from a2a_session_manager.instrumentation.openai._messages import field, fields
from a2a_session_manager.telemetry import semconv
from a2a_session_manager.tokens import count_chat_tokens, count_tokens

USAGE_PROVIDER = "provider"
USAGE_COUNTED = "counted"


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


_CHAT_USAGE = (
    "prompt_tokens",
    "completion_tokens",
    "prompt_tokens_details",
    "completion_tokens_details",
)
_read_chat_usage = attrgetter(*_CHAT_USAGE)
_RESPONSES_USAGE = (
    "input_tokens",
    "output_tokens",
    "input_tokens_details",
    "output_tokens_details",
)
_read_responses_usage = attrgetter(*_RESPONSES_USAGE)


def usage_attributes(usage: Any) -> dict[str, Any]:
    """Attributes of a chat (``prompt_tokens``) or responses (``input_tokens``) usage object."""
    attributes: dict[str, Any] = {}
    if usage is not None:
        add_usage(attributes, usage)
    return attributes


def add_usage(attributes: dict[str, Any], usage: Any) -> None:
    """:func:`usage_attributes` of ``usage`` (not None), added to ``attributes``."""
    prompt, completion, input_details, output_details = fields(usage, _read_chat_usage, _CHAT_USAGE)
    if type(prompt) is int and type(completion) is int and input_details and output_details:
        # Chat usage with both details, as OpenAI sends it: no second read.
        cached, reasoning = (
            field(input_details, "cached_tokens"),
            field(output_details, "reasoning_tokens"),
        )
        attributes[semconv.GEN_AI_USAGE_INPUT_TOKENS] = prompt
        attributes[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] = completion
        if type(cached) is int or (cached := _int(cached)) is not None:
            attributes[semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] = cached
        if type(reasoning) is int or (reasoning := _int(reasoning)) is not None:
            attributes[semconv.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] = reasoning
        attributes[semconv.A2A_USAGE_SOURCE] = USAGE_PROVIDER
        return
    input_tokens, output_tokens = _int(prompt), _int(completion)
    if input_tokens is None or output_tokens is None or not input_details or not output_details:
        # The Responses API's names (or a compatible provider's mix of both).
        other = fields(usage, _read_responses_usage, _RESPONSES_USAGE)
        if input_tokens is None:
            input_tokens = _int(other[0])
        if output_tokens is None:
            output_tokens = _int(other[1])
        input_details = input_details or other[2]
        output_details = output_details or other[3]
    if input_tokens is not None:
        attributes[semconv.GEN_AI_USAGE_INPUT_TOKENS] = input_tokens
    if output_tokens is not None:
        attributes[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] = output_tokens
    cached = _int(field(input_details, "cached_tokens")) if input_details is not None else None
    if cached is not None:
        attributes[semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] = cached
    reasoning = (
        _int(field(output_details, "reasoning_tokens")) if output_details is not None else None
    )
    if reasoning is not None:
        attributes[semconv.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] = reasoning
    if (input_tokens, output_tokens, cached, reasoning) != (None, None, None, None):
        attributes[semconv.A2A_USAGE_SOURCE] = USAGE_PROVIDER


def counted_usage_attributes(
    model: str,
    prompt: Iterable[Mapping[str, Any]],
    output_text: str,
    calls: Iterable[tuple[Any, Any, Any]],
) -> dict[str, Any]:
    """Usage counted with the model's tokenizer: the prompt by OpenAI's chat rules,
    the output as its text plus each tool call's name and arguments."""
    output_tokens = count_tokens(output_text, model)
    for _, name, arguments in calls:
        output_tokens += count_tokens(str(name or ""), model)
        output_tokens += count_tokens(str(arguments or ""), model)
    return {
        semconv.GEN_AI_USAGE_INPUT_TOKENS: count_chat_tokens(prompt, model),
        semconv.GEN_AI_USAGE_OUTPUT_TOKENS: output_tokens,
        semconv.A2A_USAGE_SOURCE: USAGE_COUNTED,
    }


def chat_prompt(messages: Iterable[Any]) -> list[Mapping[str, Any]]:
    """Request messages as the mappings ``count_chat_tokens`` reads."""
    prompt: list[Mapping[str, Any]] = []
    for message in messages:
        if isinstance(message, Mapping):
            prompt.append(message)
            continue
        dump = getattr(message, "model_dump", None)
        if callable(dump):
            prompt.append(dump(exclude_none=True))
    return prompt


def responses_prompt(instructions: Any, input_value: Any) -> list[Mapping[str, Any]]:
    """The Responses input as chat messages, only to count its tokens."""
    prompt: list[Mapping[str, Any]] = []
    if isinstance(instructions, str):
        prompt.append({"role": "system", "content": instructions})
    if isinstance(input_value, str):
        prompt.append({"role": "user", "content": input_value})
        return prompt
    for item in input_value or ():
        kind = field(item, "type") or "message"
        if kind == "message":
            prompt.append({"role": field(item, "role"), "content": field(item, "content")})
        elif kind == "function_call":
            function = {"name": field(item, "name"), "arguments": field(item, "arguments")}
            prompt.append({"role": "assistant", "tool_calls": [{"function": function}]})
        elif kind == "function_call_output":
            call_id = field(item, "call_id")
            output = field(item, "output")
            prompt.append({"role": "tool", "content": output, "tool_call_id": call_id})
    return prompt
