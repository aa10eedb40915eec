"""Assembling a streamed message from the Messages API's SSE events.

The stream proxies, and how a stream ends (read to the end, cut, abandoned),
are the OpenAI instrumentation's (``instrumentation.openai._stream``); this
module is the accumulator they feed. Per event it does attribute reads and
list appends; JSON parsing and token counting wait for the end.

Usage: ``message_start`` carries the input side (and a placeholder output
count), ``message_delta`` the final counts. A stream cut before its
``message_delta`` keeps the provider's input counts and counts the output
that arrived (``a2a_session_manager.usage.source`` is then ``"counted"``).
"""

from __future__ import annotations

from typing import Any

from a2a_session_manager.instrumentation.anthropic._attributes import usage_attributes
from a2a_session_manager.instrumentation.anthropic._messages import finish_reason, reasoning_part
from a2a_session_manager.instrumentation.openai._messages import text_part, tool_call_part
from a2a_session_manager.instrumentation.openai._usage import USAGE_COUNTED
from a2a_session_manager.telemetry import semconv
from a2a_session_manager.telemetry._guard import log_internal_error
from a2a_session_manager.tokens import count_tokens


class _Block:
    __slots__ = ("id", "kind", "name", "pieces")

    def __init__(self, kind: str, block: Any) -> None:
        self.kind = kind
        self.id = getattr(block, "id", None)
        self.name = getattr(block, "name", None)
        self.pieces: list[str] = []
        initial = getattr(block, "text", None) or getattr(block, "thinking", None)
        if isinstance(initial, str) and initial:
            self.pieces.append(initial)

    def part(self) -> dict[str, Any]:
        joined = "".join(self.pieces)
        if self.kind in ("tool_use", "server_tool_use"):
            return tool_call_part(self.id, self.name, joined or "{}")
        if self.kind == "thinking":
            return reasoning_part(joined)
        if self.kind == "redacted_thinking":
            return reasoning_part(None)
        if self.kind == "text":
            return text_part(joined)
        return {"type": self.kind}


class MessageAccumulator:
    """Follows ``RawMessageStreamEvent``s: the message's id and model, its
    blocks (text, thinking, tool-use input JSON joined per block), stop reason
    and usage."""

    __slots__ = ("blocks", "complete", "message", "request_model", "stop_reason", "usage")

    def __init__(self, request_model: Any) -> None:
        self.request_model = request_model
        self.message: Any = None
        self.blocks: dict[int, _Block] = {}
        self.stop_reason: str | None = None
        self.usage: dict[str, Any] = {}
        self.complete = False

    def add(self, event: Any) -> None:
        kind = event.type
        if kind == "content_block_delta":
            block = self.blocks.get(event.index)
            if block is None:
                return
            delta = event.delta
            delta_kind = delta.type
            if delta_kind == "text_delta":
                block.pieces.append(delta.text)
            elif delta_kind == "input_json_delta":
                block.pieces.append(delta.partial_json)
            elif delta_kind == "thinking_delta":
                block.pieces.append(delta.thinking)
        elif kind == "content_block_start":
            content = event.content_block
            self.blocks[event.index] = _Block(content.type, content)
        elif kind == "message_start":
            self.message = event.message
            self._usage(event.message.usage, final=False)
        elif kind == "message_delta":
            self.stop_reason = event.delta.stop_reason
            self._usage(event.usage, final=True)
        elif kind == "message_stop":
            self.complete = True

    def _usage(self, usage: Any, final: bool) -> None:
        if usage is None:
            return
        for name in ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens"):
            value = getattr(usage, name, None)
            if value is not None:
                self.usage[name] = value
        if final:
            self.usage["output_tokens"] = usage.output_tokens
            details = getattr(usage, "output_tokens_details", None)
            if details is not None:
                self.usage["output_tokens_details"] = details

    def _parts(self) -> list[dict[str, Any]]:
        return [block.part() for _, block in sorted(self.blocks.items())]

    def attributes(self) -> dict[str, Any]:
        attributes: dict[str, Any] = {}
        message = self.message
        if message is not None:
            attributes[semconv.GEN_AI_RESPONSE_ID] = message.id
            attributes[semconv.GEN_AI_RESPONSE_MODEL] = message.model
        reason = finish_reason(self.stop_reason)
        if reason is not None:
            attributes[semconv.GEN_AI_RESPONSE_FINISH_REASONS] = [reason]
        if "output_tokens" in self.usage:
            attributes.update(usage_attributes(self.usage))
        elif self.usage:
            attributes.update(usage_attributes({**self.usage, "output_tokens": self._output()}))
            attributes[semconv.A2A_USAGE_SOURCE] = USAGE_COUNTED
        return attributes

    def _output(self) -> int:
        """The output that arrived, counted (the stream ended before its final usage)."""
        model = str(self.request_model or "")
        try:
            return sum(count_tokens("".join(b.pieces), model) for b in self.blocks.values())
        except Exception:
            log_internal_error("counting tokens")
            return 0

    def content(self) -> dict[str, Any]:
        message = {"role": "assistant", "parts": self._parts()}
        return {semconv.GEN_AI_OUTPUT_MESSAGES: [message]}
