"""Chat messages rendered for the Messages API: roles alternate, tool calls
and results pair by id, and the local server (validation on) accepts them."""

from __future__ import annotations

from typing import Any

import anthropic

from a2a_session_manager.prompts import to_anthropic
from a2a_session_manager.prompts.anthropic_format import CONTINUATION_NOTE

CALL: Any = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "[1, 2]"}}


def test_awkward_chat_histories_become_valid_requests(
    anthropic_client: anthropic.Anthropic,
) -> None:
    chat: Any = [
        {"role": "system", "content": "Rules."},
        {"role": "assistant", "content": "Hello."},  # a history that starts with the model
        {"role": "user", "content": "One."},
        {"role": "user", "content": "Two."},  # consecutive user messages
        {"role": "assistant", "content": "", "tool_calls": [CALL]},  # empty text
        {"role": "tool", "tool_call_id": "c1", "content": "3"},
        {"role": "system", "content": "Summary of earlier steps."},  # mid-conversation
        {"role": "user", "content": "And?"},
    ]
    prompt = to_anthropic(chat)
    assert prompt["system"] == "Rules."
    assert [m["role"] for m in prompt["messages"]] == [
        "user",
        "assistant",
        "user",
        "assistant",
        "user",
    ]
    assert prompt["messages"][0]["content"] == [{"type": "text", "text": CONTINUATION_NOTE}]
    assert prompt["messages"][3]["content"] == [
        {"type": "tool_use", "id": "c1", "name": "f", "input": {"input": [1, 2]}}
    ]
    last = prompt["messages"][4]["content"]
    assert last[0] == {"type": "tool_result", "tool_use_id": "c1", "content": "3"}
    assert [b["text"] for b in last[1:]] == ["Summary of earlier steps.", "And?"]
    anthropic_client.messages.create(model="claude-sonnet-4-5", max_tokens=16, **prompt)
