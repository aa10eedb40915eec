"""Exact token counts for text and for chat messages."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from a2a_session_manager.tokens._first_counts import count_text
from a2a_session_manager.tokens.encodings import encoding_name_for_model

# OpenAI's documented chat overhead: every message is wrapped in
# <|start|>{role/name}\n{content}<|end|>, and every reply is primed with
# <|start|>assistant<|message|>.
TOKENS_PER_MESSAGE = 3
TOKENS_PER_NAME = 1
REPLY_PRIMING_TOKENS = 3


def count_tokens(text: str, model: str = "gpt-4o-mini") -> int:
    """Tokens of ``text`` in the model's encoding (special tokens counted as text)."""
    if not text:
        return 0
    return count_text(encoding_name_for_model(model), text)


def _content_text(content: Any) -> Iterable[str]:
    if content is None:
        return
    if isinstance(content, str):
        yield content
        return
    if isinstance(content, list):
        for part in content:
            if isinstance(part, Mapping):
                text = part.get("text") or part.get("refusal")
                if isinstance(text, str):
                    yield text
            elif isinstance(part, str):
                yield part
        return
    yield json.dumps(content, ensure_ascii=False, default=str)


def count_chat_tokens(messages: Iterable[Mapping[str, Any]], model: str = "gpt-4o-mini") -> int:
    """Prompt tokens the chat API bills for ``messages`` (OpenAI's counting rules)."""
    name = encoding_name_for_model(model)

    def n(text: str) -> int:
        return count_text(name, text) if text else 0

    total = REPLY_PRIMING_TOKENS
    for message in messages:
        total += TOKENS_PER_MESSAGE
        total += n(str(message.get("role", "")))
        for text in _content_text(message.get("content")):
            total += n(text)
        if message.get("name"):
            total += TOKENS_PER_NAME + n(str(message["name"]))
        for call in message.get("tool_calls") or ():
            function = call.get("function") or {}
            total += n(str(function.get("name", ""))) + n(str(function.get("arguments", "")))
        if message.get("tool_call_id"):
            total += n(str(message["tool_call_id"]))
    return total


def count_message_tokens(message: Mapping[str, Any], model: str = "gpt-4o-mini") -> int:
    """Tokens one message adds to a prompt (without the reply priming)."""
    return count_chat_tokens([message], model) - REPLY_PRIMING_TOKENS
