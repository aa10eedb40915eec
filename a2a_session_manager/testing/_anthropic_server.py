"""A local Anthropic-compatible HTTP server (the Messages API) for tests, demos and examples.

The real ``anthropic`` client talks to it over real HTTP on 127.0.0.1::

    import anthropic
    from a2a_session_manager.testing import AnthropicReply, LocalAnthropicServer, ToolCall

    with LocalAnthropicServer() as server:
        server.queue(
            AnthropicReply(tool_calls=[ToolCall("get_weather", {"location": "Paris"})]),
            AnthropicReply("It is sunny in Paris.", cache_read_tokens=1800),
        )
        client = anthropic.Anthropic(base_url=server.base_url, api_key="test", max_retries=0)
        first = client.messages.create(model="claude-sonnet-4-5", max_tokens=256, messages=[...])

It shares the OpenAI server's plumbing (a subclass of ``LocalOpenAIServer``:
the same lifecycle, queue, ``requests`` and ``Reply`` / ``ToolCall`` /
``ErrorReply`` scripting) and speaks ``POST /v1/messages`` only:

- JSON: a ``message`` object with ``thinking``, ``text`` and ``tool_use``
  content blocks, ``stop_reason`` and ``usage`` (``input_tokens`` excludes the
  cached parts, reported as ``cache_creation_input_tokens`` and
  ``cache_read_input_tokens``, as the real API reports them).
- ``"stream": true``: the SSE events ``message_start``, ``content_block_start``
  / ``content_block_delta`` (``thinking_delta`` + ``signature_delta``,
  ``text_delta``, ``input_json_delta``) / ``content_block_stop``, ``ping``,
  ``message_delta`` (stop reason and the final usage), ``message_stop``.
  ``cut_after=N`` closes the socket after N events.
- Errors with Anthropic's body (``{"type": "error", "error": {"type", "message"}}``):
  ``ErrorReply(429)`` ``rate_limit_error`` (with ``retry-after``),
  ``ErrorReply(529)`` ``overloaded_error``, 500 ``api_error``, ...; the model
  ``this-model-does-not-exist`` gets a 404 ``not_found_error``.
- ``POST /v1/messages/count_tokens``: ``{"input_tokens": N}``, the count the
  usage of the same request reports.
- Validation like the real API (400 ``invalid_request_error``): ``model``,
  ``max_tokens`` and ``messages`` are required, roles are ``user`` /
  ``assistant`` and alternate starting with ``user``, text blocks are not
  empty, every ``tool_use`` is answered by a ``tool_result`` in the next
  message and every ``tool_result`` answers a ``tool_use`` of the previous
  one, ``system`` is a string or a list of text blocks.

Token usage is counted with the package's offline tokenizer unless the reply
sets it (``AnthropicReply(input_tokens=..., output_tokens=...)``): Anthropic's
own tokenizer is not public, so counted numbers are only plausible, not
Claude's; tests that assert exact numbers set them.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from a2a_session_manager.testing._openai_server import (
    ErrorReply,
    LocalOpenAIServer,
    Reply,
    _Handler,
    _pieces,
    _safe_count,
)
from a2a_session_manager.tokens import count_tokens

_Event = tuple[str | None, Any]

_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}
_ERROR_MESSAGES = {
    401: "invalid x-api-key",
    429: "Number of request tokens has exceeded your per-minute rate limit.",
    500: "Internal server error",
    529: "Overloaded",
}
_STOP_REASONS = frozenset(
    {"end_turn", "max_tokens", "stop_sequence", "tool_use", "pause_turn", "refusal"}
)


@dataclass(frozen=True)
class AnthropicReply(Reply):
    """A ``Reply`` with what only Anthropic's answers carry.

    ``finish_reason`` is Anthropic's ``stop_reason`` (default ``tool_use`` with
    tool calls, else ``end_turn``); ``prompt_tokens`` / ``completion_tokens``
    are ``input_tokens`` (the uncached part) / ``output_tokens``;
    ``cached_tokens`` is ``cache_read_input_tokens``.
    """

    thinking: str | None = None  # an extended-thinking block before the answer
    cache_creation_tokens: int = 0


def _error_body(reply: ErrorReply) -> dict[str, Any]:
    kind = reply.type or _ERROR_TYPES.get(reply.status, "api_error")
    message = reply.message or _ERROR_MESSAGES.get(reply.status, "Error")
    return {"type": "error", "error": {"type": kind, "message": message}}


class _Invalid(Exception):
    pass


def _blocks(content: Any, where: str) -> list[Mapping[str, Any]]:
    if isinstance(content, str):
        if not content:
            raise _Invalid(f"{where}: text content blocks must be non-empty")
        return [{"type": "text", "text": content}]
    if not isinstance(content, list):
        raise _Invalid(f"{where}.content: Input should be a valid list")
    blocks = []
    for j, block in enumerate(content):
        if not isinstance(block, Mapping) or not isinstance(block.get("type"), str):
            raise _Invalid(f"{where}.content.{j}: Input should be a valid dictionary")
        if block["type"] == "text" and not block.get("text"):
            raise _Invalid(f"{where}.content.{j}: text content blocks must be non-empty")
        blocks.append(block)
    return blocks


def _system_ok(system: Any) -> bool:
    if isinstance(system, str):
        return True
    return isinstance(system, list) and all(
        isinstance(b, Mapping) and b.get("type") == "text" for b in system
    )


def _validate_messages(body: Mapping[str, Any]) -> None:
    """Raise ``_Invalid`` with the real API's message when it would reject ``body``."""
    if not isinstance(body.get("model"), str) or not body["model"]:
        raise _Invalid("model: Field required")
    max_tokens = body.get("max_tokens")
    if not isinstance(max_tokens, int) or isinstance(max_tokens, bool):
        raise _Invalid("max_tokens: Field required")
    if max_tokens < 1:
        raise _Invalid("max_tokens: Input should be greater than or equal to 1")
    system = body.get("system")
    if system is not None and not _system_ok(system):
        raise _Invalid("system: Input should be a valid string or a list of text blocks")
    messages = body.get("messages")
    if not isinstance(messages, list):
        raise _Invalid("messages: Field required")
    if not messages:
        raise _Invalid("messages: at least one message is required")
    pending: list[str] = []  # tool_use ids of the previous assistant message
    previous_role = None
    for i, message in enumerate(messages):
        where = f"messages.{i}"
        if not isinstance(message, Mapping):
            raise _Invalid(f"{where}: Input should be a valid dictionary")
        role = message.get("role")
        if role == "system":
            raise _Invalid(
                'messages: Unexpected role "system". The Messages API accepts a top-level '
                '`system` parameter, not "system" as an input message role.'
            )
        if role not in ("user", "assistant"):
            raise _Invalid(f"{where}.role: Input should be 'user' or 'assistant'")
        if previous_role is None and role != "user":
            raise _Invalid('messages: first message must use the "user" role')
        if role == previous_role:
            raise _Invalid(
                'messages: roles must alternate between "user" and "assistant", '
                f'but found multiple "{role}" roles in a row'
            )
        blocks = _blocks(message.get("content"), where)
        answered = [b.get("tool_use_id") for b in blocks if b["type"] == "tool_result"]
        if role == "assistant" and answered:
            raise _Invalid(f"{where}: `tool_result` blocks can only be in `user` messages")
        unexpected = [a for a in answered if a not in pending]
        if unexpected:
            raise _Invalid(
                f"{where}.content.0: unexpected `tool_use_id` found in `tool_result` blocks: "
                f"{', '.join(map(str, unexpected))}. Each `tool_result` block must have a "
                "corresponding `tool_use` block in the previous message."
            )
        missing = [p for p in pending if p not in answered]
        if missing:
            raise _Invalid(
                f"messages.{i - 1}: `tool_use` ids were found without `tool_result` blocks "
                f"immediately after: {', '.join(missing)}. Each `tool_use` block must have a "
                "corresponding `tool_result` block in the next message."
            )
        pending = []
        if role == "assistant":
            for j, block in enumerate(blocks):
                if block["type"] != "tool_use":
                    continue
                if not isinstance(block.get("id"), str) or not isinstance(block.get("name"), str):
                    raise _Invalid(f"{where}.content.{j}.tool_use: id and name are required")
                if not isinstance(block.get("input"), Mapping):
                    raise _Invalid(
                        f"{where}.content.{j}.tool_use.input: Input should be a valid dictionary"
                    )
                pending.append(block["id"])
        previous_role = role
    if pending:
        raise _Invalid(
            f"messages.{len(messages) - 1}: `tool_use` ids were found without `tool_result` "
            f"blocks immediately after: {', '.join(pending)}. Each `tool_use` block must have "
            "a corresponding `tool_result` block in the next message."
        )
    for j, tool in enumerate(body.get("tools") or ()):
        if not isinstance(tool, Mapping) or not isinstance(tool.get("name"), str):
            raise _Invalid(f"tools.{j}.name: Field required")
        if tool.get("type") in (None, "custom") and not isinstance(
            tool.get("input_schema"), Mapping
        ):
            raise _Invalid(f"tools.{j}.custom.input_schema: Field required")


def _request_text(body: Mapping[str, Any]) -> str:
    """Everything the request says, as one text: only to count its tokens."""
    pieces: list[str] = []
    system = body.get("system")
    if isinstance(system, str):
        pieces.append(system)
    elif isinstance(system, list):
        pieces.extend(str(b.get("text", "")) for b in system if isinstance(b, Mapping))
    for message in body.get("messages") or ():
        content = message.get("content") if isinstance(message, Mapping) else None
        if isinstance(content, str):
            pieces.append(content)
            continue
        for block in content or ():
            if isinstance(block, Mapping):
                pieces.append(json.dumps(block, ensure_ascii=False, sort_keys=True))
    for tool in body.get("tools") or ():
        pieces.append(json.dumps(tool, ensure_ascii=False, sort_keys=True))
    return "\n".join(pieces)


def _new_id(prefix: str) -> str:
    return prefix + secrets.token_hex(12)


class LocalAnthropicServer(LocalOpenAIServer):
    """An Anthropic-compatible HTTP server on 127.0.0.1, in a background thread.

    ``queue`` takes ``AnthropicReply`` (or a plain ``Reply``) and ``ErrorReply``.
    """

    @property
    def base_url(self) -> str:
        """The ``base_url`` to give the ``anthropic`` client (no ``/v1``: it adds it)."""
        return f"http://{self.host}:{self.port}"

    # -- request handling (runs in the server's threads) --
    def _answer(self, handler: _Handler) -> None:
        path, body = self._receive(handler)
        counting = path == "/v1/messages/count_tokens"
        if handler.command != "POST" or not (counting or path == "/v1/messages"):
            self._send_error(handler, ErrorReply(404, f"Not found: {handler.command} {path}"))
            return
        if not isinstance(body, dict):
            self._send_error(handler, ErrorReply(400, "There was an error parsing the body."))
            return
        if counting:
            body = {"max_tokens": 1, **body}  # the one field count_tokens does not take
        if self.validate:
            try:
                _validate_messages(body)
            except _Invalid as invalid:
                self._send_error(handler, ErrorReply(400, str(invalid)))
                return
        if body.get("model") in self.unknown_models:
            self._send_error(handler, ErrorReply(404, f"model: {body['model']}"))
            return
        if counting:
            self._send_json(handler, 200, {"input_tokens": self._input_count(body)})
            return
        reply = self._next_reply(handler)
        if reply is None:
            return
        if body.get("stream") is True:
            self._send_events(handler, self._message_events(body, reply), reply.cut_after)
        else:
            self._send_json(handler, 200, self._message(body, reply), reply.cut_after)

    def _send_error(self, handler: _Handler, reply: ErrorReply) -> None:
        headers = {"request-id": _new_id("req_")}
        if reply.retry_after is not None:
            headers["retry-after"] = f"{reply.retry_after:g}"
        self._send_json(handler, reply.status, _error_body(reply), headers=headers)

    # -- the message --
    @staticmethod
    def _stop_reason(reply: Reply) -> str:
        if reply.finish_reason in _STOP_REASONS:
            return reply.finish_reason
        return "tool_use" if reply.tool_calls else "end_turn"

    @staticmethod
    def _blocks(reply: Reply) -> list[dict[str, Any]]:
        blocks: list[dict[str, Any]] = []
        thinking = getattr(reply, "thinking", None)
        if thinking is not None:
            blocks.append({"type": "thinking", "thinking": thinking, "signature": "sig-local"})
        if reply.content is not None:
            blocks.append({"type": "text", "text": reply.content, "citations": None})
        for call in reply.tool_calls:
            arguments = call.arguments if isinstance(call.arguments, Mapping) else {}
            blocks.append(
                {
                    "type": "tool_use",
                    "id": call.id or _new_id("toolu_"),
                    "name": call.name,
                    "input": dict(arguments),
                }
            )
        return blocks

    def _usage(self, body: Mapping[str, Any], reply: Reply, blocks: list[dict[str, Any]]) -> Any:
        model = "claude"  # counted with the default encoding: Claude's tokenizer is not public
        cache_read = reply.cached_tokens
        cache_write = getattr(reply, "cache_creation_tokens", 0)
        input_tokens = reply.prompt_tokens
        if input_tokens is None:
            input_tokens = max(0, self._input_count(body) - cache_read - cache_write)
        output_tokens = reply.completion_tokens
        if output_tokens is None:
            text = "".join(
                json.dumps(b.get("input")) if b["type"] == "tool_use" else str(b.get("text") or "")
                for b in blocks
            )
            output_tokens = _safe_count(count_tokens, text, model)
        return {
            "input_tokens": input_tokens,
            "cache_creation_input_tokens": cache_write,
            "cache_read_input_tokens": cache_read,
            "cache_creation": {
                "ephemeral_5m_input_tokens": cache_write,
                "ephemeral_1h_input_tokens": 0,
            },
            "output_tokens": output_tokens,
            "service_tier": "standard",
        }

    @staticmethod
    def _input_count(body: Mapping[str, Any]) -> int:
        """The request's tokens, as ``count_tokens`` answers and usage reports them
        (counted with the default encoding: Claude's tokenizer is not public)."""
        return _safe_count(count_tokens, _request_text(body), "claude")

    def _message(self, body: Mapping[str, Any], reply: Reply) -> dict[str, Any]:
        blocks = self._blocks(reply)
        return {
            "id": _new_id("msg_"),
            "type": "message",
            "role": "assistant",
            "model": reply.model or body["model"],
            "content": blocks,
            "stop_reason": self._stop_reason(reply),
            "stop_sequence": None,
            "usage": self._usage(body, reply, blocks),
        }

    def _message_events(self, body: Mapping[str, Any], reply: Reply) -> list[_Event]:
        message = self._message(body, reply)
        usage = message["usage"]
        start_usage = {**usage, "output_tokens": 1}
        started = {**message, "content": [], "stop_reason": None, "usage": start_usage}
        events: list[_Event] = [("message_start", {"type": "message_start", "message": started})]

        def emit(kind: str, **fields: Any) -> None:
            events.append((kind, {"type": kind, **fields}))

        for index, block in enumerate(message["content"]):
            kind = block["type"]
            if kind == "thinking":
                emit(
                    "content_block_start",
                    index=index,
                    content_block={"type": "thinking", "thinking": "", "signature": ""},
                )
                for piece in _pieces(block["thinking"], reply.chunk_chars):
                    emit(
                        "content_block_delta",
                        index=index,
                        delta={"type": "thinking_delta", "thinking": piece},
                    )
                emit(
                    "content_block_delta",
                    index=index,
                    delta={"type": "signature_delta", "signature": block["signature"]},
                )
            elif kind == "text":
                emit(
                    "content_block_start",
                    index=index,
                    content_block={"type": "text", "text": "", "citations": None},
                )
                if index == 0:
                    emit("ping")
                for piece in _pieces(block["text"], reply.chunk_chars):
                    emit(
                        "content_block_delta",
                        index=index,
                        delta={"type": "text_delta", "text": piece},
                    )
            else:
                opening = {**block, "input": {}}
                emit("content_block_start", index=index, content_block=opening)
                arguments = json.dumps(block["input"], ensure_ascii=False)
                for piece in _pieces(arguments, reply.chunk_chars):
                    emit(
                        "content_block_delta",
                        index=index,
                        delta={"type": "input_json_delta", "partial_json": piece},
                    )
            emit("content_block_stop", index=index)
        delta_usage = {
            k: usage[k]
            for k in (
                "input_tokens",
                "cache_creation_input_tokens",
                "cache_read_input_tokens",
                "output_tokens",
            )
        }
        emit(
            "message_delta",
            delta={"stop_reason": message["stop_reason"], "stop_sequence": None},
            usage=delta_usage,
        )
        emit("message_stop")
        return events
