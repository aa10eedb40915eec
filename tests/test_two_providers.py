"""One agent that calls OpenAI and Anthropic in one session: one ordered
record, cost by model, and the next prompt rebuilt in both formats and
accepted by both local servers (validation on)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anthropic
import openai
import pytest

import a2a_session_manager as asm
from a2a_session_manager.models import EventSource, EventType, Session
from a2a_session_manager.prompts import (
    build_anthropic_prompt_from_session,
    build_prompt_from_session,
)
from a2a_session_manager.storage import InMemorySessionStore
from a2a_session_manager.testing import (
    AnthropicReply,
    LocalAnthropicServer,
    LocalOpenAIServer,
    Reply,
    ToolCall,
)
from a2a_session_manager.tokens import estimate_cost
from tests.support.otel import clean_otel, instrumented_store

__all__ = ["clean_otel"]

GPT = "gpt-4o-mini"
CLAUDE = "claude-sonnet-4-5"
SYSTEM = "You plan trips."
OPENAI_TOOLS: Any = [
    {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}
]
ANTHROPIC_TOOLS: Any = [{"name": "book_hotel", "input_schema": {"type": "object"}}]


@pytest.fixture
def store(clean_otel: None) -> Iterator[InMemorySessionStore]:
    with instrumented_store("openai", "anthropic") as store:
        yield store


def record_trip(
    openai_server: LocalOpenAIServer,
    openai_client: openai.OpenAI,
    anthropic_server: LocalAnthropicServer,
    anthropic_client: anthropic.Anthropic,
) -> None:
    openai_server.queue(
        Reply(
            tool_calls=[ToolCall("get_weather", {"city": "Rome"}, id="call_w")],
            prompt_tokens=40,
            completion_tokens=10,
        ),
        Reply("Rome is sunny: go.", prompt_tokens=70, completion_tokens=6),
    )
    anthropic_server.queue(
        AnthropicReply(
            "Booking.",
            tool_calls=[ToolCall("book_hotel", {"city": "Rome"}, id="toolu_h")],
            prompt_tokens=30,
            completion_tokens=15,
            cache_creation_tokens=1024,
        ),
        AnthropicReply(
            "Booked Hotel Roma.", prompt_tokens=50, completion_tokens=8, cached_tokens=1024
        ),
    )
    with asm.session("trip"), asm.run("planner"):
        chat: Any = [
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": "Should I go to Rome?"},
        ]
        first = openai_client.chat.completions.create(model=GPT, messages=chat, tools=OPENAI_TOOLS)
        chat.append(first.choices[0].message.model_dump(exclude_none=True))
        chat.append({"role": "tool", "tool_call_id": "call_w", "content": "24C, sunny"})
        openai_client.chat.completions.create(model=GPT, messages=chat, tools=OPENAI_TOOLS)

        messages: Any = [{"role": "user", "content": "Book me a hotel in Rome."}]
        kwargs: Any = {"model": CLAUDE, "max_tokens": 256, "tools": ANTHROPIC_TOOLS}
        booking = anthropic_client.messages.create(system=SYSTEM, messages=messages, **kwargs)
        messages.append({"role": "assistant", "content": booking.content})
        result = {"type": "tool_result", "tool_use_id": "toolu_h", "content": "Hotel Roma"}
        messages.append({"role": "user", "content": [result]})
        anthropic_client.messages.create(system=SYSTEM, messages=messages, **kwargs)


def test_one_ordered_record_with_cost_by_model(
    store: InMemorySessionStore,
    openai_server: LocalOpenAIServer,
    openai_client: openai.OpenAI,
    anthropic_server: LocalAnthropicServer,
    anthropic_client: anthropic.Anthropic,
) -> None:
    record_trip(openai_server, openai_client, anthropic_server, anthropic_client)
    session: Session | None = store.get("trip")
    assert session is not None
    events = [e for e in session.events if e.type is not EventType.INSTRUCTIONS]
    shape = [
        "T" if e.type is EventType.TOOL_CALL else {EventSource.USER: "U"}.get(e.source, "L")
        for e in events
    ]
    assert shape == ["U", "L", "T", "L", "U", "L", "T", "L"]
    providers = [e.metadata.get("provider") for e in events if e.token_usage is not None]
    assert providers == ["openai", "openai", "anthropic", "anthropic"]
    tools = [e.message for e in events if e.type is EventType.TOOL_CALL]
    assert [(t["call_id"], t["result"]) for t in tools] == [
        ("call_w", "24C, sunny"),
        ("toolu_h", "Hotel Roma"),
    ]

    by_model = session.token_summary.usage_by_model
    assert set(by_model) == {GPT, CLAUDE}
    gpt_cost = estimate_cost(GPT, input_tokens=110, output_tokens=16, provider="openai")
    claude_cost = (30 * 3 + 1024 * 3.75 + 15 * 15) / 1e6 + (50 * 3 + 1024 * 0.3 + 8 * 15) / 1e6
    assert by_model[GPT].estimated_cost_usd == pytest.approx(gpt_cost)
    assert by_model[CLAUDE].estimated_cost_usd == pytest.approx(claude_cost)
    assert by_model[CLAUDE].cache_write_input_tokens == 1024
    assert by_model[CLAUDE].cached_input_tokens == 1024
    assert session.total_cost == pytest.approx((gpt_cost or 0) + claude_cost)


def test_the_next_prompt_is_accepted_in_both_formats(
    store: InMemorySessionStore,
    openai_server: LocalOpenAIServer,
    openai_client: openai.OpenAI,
    anthropic_server: LocalAnthropicServer,
    anthropic_client: anthropic.Anthropic,
) -> None:
    record_trip(openai_server, openai_client, anthropic_server, anthropic_client)
    session = store.get("trip")
    assert session is not None
    query = "Anything else for Rome?"

    chat = build_prompt_from_session(session, current_query=query)
    openai_client.chat.completions.create(model=GPT, messages=chat)  # 400 if invalid

    prompt = build_anthropic_prompt_from_session(session, current_query=query)
    assert prompt["system"] == SYSTEM
    roles = [m["role"] for m in prompt["messages"]]
    assert roles == ["user", "assistant"] * 4 + ["user"]
    blocks = [b for m in prompt["messages"] for b in m["content"]]
    assert [b["id"] for b in blocks if b["type"] == "tool_use"] == ["call_w", "toolu_h"]
    assert [b["tool_use_id"] for b in blocks if b["type"] == "tool_result"] == [
        "call_w",
        "toolu_h",
    ]
    reply = anthropic_client.messages.create(model=CLAUDE, max_tokens=64, **prompt)
    assert reply.stop_reason == "end_turn"  # accepted: validation is on


def test_truncation_is_exact_for_anthropics_count(
    store: InMemorySessionStore,
    openai_server: LocalOpenAIServer,
    openai_client: openai.OpenAI,
    anthropic_server: LocalAnthropicServer,
    anthropic_client: anthropic.Anthropic,
) -> None:
    record_trip(openai_server, openai_client, anthropic_server, anthropic_client)
    session = store.get("trip")
    assert session is not None

    def count(prompt: Any) -> int:
        return anthropic_client.messages.count_tokens(model=CLAUDE, **prompt).input_tokens

    whole = count(build_anthropic_prompt_from_session(session))
    budget = whole - 20
    prompt = build_anthropic_prompt_from_session(session, max_tokens=budget, count=count)
    assert count(prompt) <= budget
    assert prompt["messages"][0]["content"][0]["text"] == "Should I go to Rome?"  # the task stays
    anthropic_client.messages.create(model=CLAUDE, max_tokens=64, **prompt)
