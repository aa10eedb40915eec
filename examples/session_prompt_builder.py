"""Building the next LLM prompt from what a session recorded.

A session is built by hand with the seed API (a user question, an LLM reply
asking for a tool, the tool call as a child event, the final answer), as a
child of a planning session. Every prompt strategy turns it into chat
messages; each prompt is then checked by sending it to the local
OpenAI-compatible server, which rejects invalid requests as the real API
does (for example a tool result that answers no assistant tool call).

    python examples/session_prompt_builder.py
    python examples/session_prompt_builder.py --store file://./sessions
"""

from __future__ import annotations

import argparse
import json
import urllib.request
from typing import Any

from a2a_session_manager.models.event_source import EventSource
from a2a_session_manager.models.event_type import EventType
from a2a_session_manager.models.session import Session
from a2a_session_manager.models.session_event import SessionEvent
from a2a_session_manager.prompts import (
    PromptStrategy,
    build_prompt_from_session,
    truncate_prompt_to_token_limit,
)
from a2a_session_manager.storage import SessionStoreProvider, create_store
from a2a_session_manager.testing import LocalOpenAIServer
from a2a_session_manager.tokens import count_chat_tokens

MODEL = "gpt-4o-mini"


def record_conversation(store: Any) -> str:
    """A parent planning session and the child session the prompts are built from."""
    parent = Session()
    parent.add_event(
        SessionEvent(
            message="The user is planning a weekend in Paris on a small budget.",
            source=EventSource.SYSTEM,
            type=EventType.SUMMARY,
        )
    )
    store.save(parent)

    session = Session(parent_id=parent.id)
    session.add_event(
        SessionEvent(message="What's the weather in Paris this weekend?", source=EventSource.USER)
    )
    asks = SessionEvent.create_with_tokens(
        message={
            "content": None,
            "tool_calls": [
                {
                    "id": "call_weather_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"location": "Paris"}'},
                }
            ],
        },
        prompt="What's the weather in Paris this weekend?",
        completion='get_weather({"location": "Paris"})',
        model=MODEL,
        source=EventSource.LLM,
    )
    session.add_event(asks)
    session.add_event(
        SessionEvent(
            message={
                "tool_name": "get_weather",
                "call_id": "call_weather_1",
                "arguments": {"location": "Paris"},
                "result": {"forecast": "sunny", "celsius": 21},
            },
            source=EventSource.TOOL,
            type=EventType.TOOL_CALL,
            metadata={"parent_event_id": asks.id},
        )
    )
    answer = "Sunny and about 21 °C: a good weekend for walking along the Seine."
    session.add_event(
        SessionEvent.create_with_tokens(
            message=answer, prompt="(the conversation so far)", completion=answer, model=MODEL
        )
    )
    store.save(session)
    return session.id


def check_with_server(server: LocalOpenAIServer, messages: list[dict[str, Any]]) -> str:
    """POST the prompt as a chat request; the server answers 400 to an invalid one."""
    request = urllib.request.Request(
        f"{server.base_url}/chat/completions",
        data=json.dumps({"model": MODEL, "messages": messages}).encode(),
        headers={"Content-Type": "application/json", "Authorization": "Bearer local"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return f"accepted (HTTP {response.status})"
    except urllib.error.HTTPError as error:
        return f"REJECTED (HTTP {error.code}): {error.read().decode(errors='replace')}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", default="memory://", help="store URL (default: memory://)")
    args = parser.parse_args()
    store = create_store(args.store)
    SessionStoreProvider.set_store(store)

    session_id = record_conversation(store)
    session = store.get(session_id)
    assert session is not None
    print(f"session {session_id} ({len(session.events)} events, parent {session.parent_id})")

    prompts = {
        strategy.value: build_prompt_from_session(session, strategy) for strategy in PromptStrategy
    }
    prompts["hierarchical+parent"] = build_prompt_from_session(
        session, PromptStrategy.HIERARCHICAL, include_parent_context=True
    )
    conversation = prompts[PromptStrategy.CONVERSATION.value]
    prompts["conversation+query"] = build_prompt_from_session(
        session, PromptStrategy.CONVERSATION, current_query="And on Monday?"
    )

    # Token-aware: cut to a budget, counted exactly for the model.
    budget = 60
    truncated = truncate_prompt_to_token_limit(conversation, max_tokens=budget, model=MODEL)
    prompts[f"truncated to {budget} tokens"] = truncated

    with LocalOpenAIServer() as server:
        for name, messages in prompts.items():
            tokens = count_chat_tokens(messages, MODEL)
            print(f"\n--- {name}: {len(messages)} messages, {tokens} tokens")
            for message in messages:
                content = message.get("content")
                text = content if isinstance(content, str) else json.dumps(content)
                calls = [c["function"]["name"] for c in message.get("tool_calls", [])]
                shown = f"calls {', '.join(calls)}" if calls else " ".join(text.split())
                print(f"  {message['role']:<9} {shown[:100]}")
            print(f"  server: {check_with_server(server, messages)}")


if __name__ == "__main__":
    main()
