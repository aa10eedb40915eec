"""The real anthropic client against the local server, recorded into sessions:
one LLM event per call with the exact usage (cache reads and writes) and the
Anthropic price, tool use linked to its result, failures and cut streams."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anthropic
import pytest

import a2a_session_manager as asm
from a2a_session_manager.instrumentation.anthropic import AnthropicInstrumentor
from a2a_session_manager.models import EventSource, EventType, Session, SessionEvent
from a2a_session_manager.storage import InMemorySessionStore
from a2a_session_manager.testing import AnthropicReply, ErrorReply, LocalAnthropicServer, ToolCall
from a2a_session_manager.tokens import estimate_cost
from tests.support.otel import clean_otel, instrumented_store

__all__ = ["clean_otel"]

MODEL = "claude-sonnet-4-5"
SYSTEM = "You answer weather questions."
USER: Any = {"role": "user", "content": "What's the weather in Paris?"}
TOOLS: Any = [
    {
        "name": "get_weather",
        "description": "Current weather for a city.",
        "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
    }
]


@pytest.fixture
def store(clean_otel: None) -> Iterator[InMemorySessionStore]:
    with instrumented_store("anthropic") as store:
        yield store


def conversation(store: InMemorySessionStore, session_id: str) -> list[SessionEvent]:
    session: Session | None = store.get(session_id)
    assert session is not None
    return [e for e in session.events if e.type is not EventType.INSTRUCTIONS]


def kinds(events: list[SessionEvent]) -> list[str]:
    names = {EventSource.USER: "U", EventSource.LLM: "L"}
    return ["T" if e.type is EventType.TOOL_CALL else names[e.source] for e in events]


def tool_use_round_trip(
    client: anthropic.Anthropic, *, stream: bool, keep_thinking: bool = True
) -> None:
    kwargs: Any = {"model": MODEL, "max_tokens": 512, "system": SYSTEM, "tools": TOOLS}
    if stream:
        with client.messages.stream(messages=[USER], **kwargs) as events:
            first = events.get_final_message()
    else:
        first = client.messages.create(messages=[USER], **kwargs)
    result = {"type": "tool_result", "tool_use_id": "toolu_1", "content": "18C, clear"}
    sent_back = [b for b in first.content if keep_thinking or b.type != "thinking"]
    history = [USER, {"role": "assistant", "content": sent_back}]
    history.append({"role": "user", "content": [result]})
    client.messages.create(messages=history, **kwargs)


@pytest.mark.parametrize(("stream", "keep_thinking"), [(False, True), (True, True), (False, False)])
def test_tool_use_round_trip_is_user_llm_tool_llm_with_cache_usage_and_cost(
    store: InMemorySessionStore,
    anthropic_server: LocalAnthropicServer,
    anthropic_client: anthropic.Anthropic,
    stream: bool,
    keep_thinking: bool,
) -> None:
    """Sent back with or without its thinking block, the reply is the same turn."""
    anthropic_server.queue(
        AnthropicReply(
            "Let me check.",
            thinking="The user wants the weather; call the tool.",
            tool_calls=[ToolCall("get_weather", {"city": "Paris"}, id="toolu_1")],
            prompt_tokens=10,
            completion_tokens=30,
            cache_creation_tokens=1800,
        ),
        AnthropicReply(
            "It is 18C and clear in Paris.",
            prompt_tokens=60,
            completion_tokens=12,
            cached_tokens=1800,
        ),
    )
    with asm.session("weather"), asm.run("agent"):
        tool_use_round_trip(anthropic_client, stream=stream, keep_thinking=keep_thinking)

    events = conversation(store, "weather")
    assert kinds(events) == ["U", "L", "T", "L"]
    user, ask, tool, answer = events
    assert user.message == "What's the weather in Paris?"
    assert ask.message["content"] == "Let me check."
    assert ask.message["tool_calls"] == [
        {"id": "toolu_1", "name": "get_weather", "arguments": {"city": "Paris"}}
    ]
    assert tool.message["call_id"] == "toolu_1"
    assert tool.message["result"] == "18C, clear"
    assert tool.metadata["parent_event_id"] == ask.id
    assert answer.message == "It is 18C and clear in Paris."

    first, second = ask.token_usage, answer.token_usage
    assert first is not None and second is not None
    assert (first.prompt_tokens, first.cache_write_input_tokens, first.cached_input_tokens) == (
        1810,
        1800,
        0,
    )
    assert (second.prompt_tokens, second.cached_input_tokens) == (1860, 1800)
    assert (first.completion_tokens, second.completion_tokens) == (30, 12)
    assert first.source == "provider"
    assert first.estimated_cost_usd == pytest.approx(
        estimate_cost(
            MODEL,
            input_tokens=1810,
            output_tokens=30,
            cache_write_input_tokens=1800,
            provider="anthropic",
        )
    )
    # 10 x $3 + 1,800 x $3.75 (cache write) + 30 x $15 per million tokens
    assert first.estimated_cost_usd == pytest.approx((10 * 3 + 1800 * 3.75 + 30 * 15) / 1e6)
    assert second.estimated_cost_usd == pytest.approx((60 * 3 + 1800 * 0.3 + 12 * 15) / 1e6)
    session = store.get("weather")
    assert session is not None
    assert session.total_cost == pytest.approx(
        (first.estimated_cost_usd or 0) + (second.estimated_cost_usd or 0)
    )


async def test_async_create_and_stream_are_recorded(
    store: InMemorySessionStore,
    anthropic_server: LocalAnthropicServer,
    async_anthropic_client: anthropic.AsyncAnthropic,
) -> None:
    anthropic_server.queue(
        AnthropicReply("Sunny.", prompt_tokens=5, completion_tokens=2),
        AnthropicReply("Still sunny.", prompt_tokens=9, completion_tokens=3, chunk_chars=2),
        AnthropicReply("And tomorrow too.", prompt_tokens=13, completion_tokens=4),
    )
    async with asm.session("async"), asm.run("agent"):
        first = await async_anthropic_client.messages.create(
            model=MODEL, max_tokens=64, messages=[USER]
        )
        history: Any = [USER, {"role": "assistant", "content": first.content}]
        history.append({"role": "user", "content": "And later?"})
        stream = await async_anthropic_client.messages.create(
            model=MODEL, max_tokens=64, messages=history, stream=True
        )
        async for _ in stream:
            pass
        async with async_anthropic_client.messages.stream(
            model=MODEL, max_tokens=64, messages=[{"role": "user", "content": "Tomorrow?"}]
        ) as helper:
            assert [t async for t in helper.text_stream] != []
    events = conversation(store, "async")
    assert kinds(events) == ["U", "L", "U", "L", "U", "L"]
    assert [e.message for e in events if e.source is EventSource.LLM] == [
        "Sunny.",
        "Still sunny.",
        "And tomorrow too.",
    ]
    usages = [e.token_usage for e in events if e.token_usage is not None]
    assert [(u.prompt_tokens, u.completion_tokens) for u in usages] == [(5, 2), (9, 3), (13, 4)]


def test_cut_stream_is_an_llm_event_marked_interrupted(
    store: InMemorySessionStore,
    anthropic_server: LocalAnthropicServer,
    anthropic_client: anthropic.Anthropic,
) -> None:
    # message_start, content_block_start, ping, then two 4-character text deltas
    anthropic_server.queue(
        AnthropicReply("abcdefghijkl", prompt_tokens=7, completion_tokens=6, cut_after=5)
    )
    with asm.session("cut"), asm.run("agent"), pytest.raises(anthropic.APIConnectionError):
        for _ in anthropic_client.messages.create(
            model=MODEL, max_tokens=64, messages=[USER], stream=True
        ):
            pass
    (_, llm) = conversation(store, "cut")
    assert llm.message["interrupted"] == "cut"
    assert llm.message["content"] == "abcdefgh"
    assert llm.metadata["finish_reasons"] == ["error"]
    assert llm.token_usage is not None
    assert llm.token_usage.prompt_tokens == 7  # the provider's, from message_start
    assert llm.token_usage.source == "counted"  # the output was counted


def test_early_close_of_the_stream_helper_is_abandoned(
    store: InMemorySessionStore,
    anthropic_server: LocalAnthropicServer,
    anthropic_client: anthropic.Anthropic,
) -> None:
    anthropic_server.queue(AnthropicReply("one two three four five", chunk_chars=3))
    request: Any = {"model": MODEL, "max_tokens": 64, "messages": [USER]}
    with (
        asm.session("closed"),
        asm.run("agent"),
        anthropic_client.messages.stream(**request) as helper,
    ):
        next(iter(helper.text_stream))
    (_, llm) = conversation(store, "closed")
    assert llm.message["interrupted"] == "abandoned"
    assert llm.message["content"].startswith("one")


@pytest.mark.parametrize(
    ("reply", "error", "error_type"),
    [
        (ErrorReply(429, retry_after=1), anthropic.RateLimitError, "anthropic.RateLimitError"),
        (ErrorReply(529), anthropic.InternalServerError, "anthropic.OverloadedError"),
    ],
)
def test_rate_limited_and_overloaded_calls_are_failed_llm_events(
    store: InMemorySessionStore,
    anthropic_server: LocalAnthropicServer,
    anthropic_client: anthropic.Anthropic,
    reply: ErrorReply,
    error: type[Exception],
    error_type: str,
) -> None:
    anthropic_server.queue(reply)
    with asm.session("failed"), asm.run("agent"), pytest.raises(error) as caught:
        anthropic_client.messages.create(model=MODEL, max_tokens=64, messages=[USER])
    assert type(caught.value).__module__.startswith("anthropic")  # the client's own error
    (_, llm) = conversation(store, "failed")
    assert llm.message["error"]["type"] == error_type
    assert llm.message["error"]["status_code"] == reply.status


def test_with_raw_response_is_recorded_once(
    store: InMemorySessionStore,
    anthropic_server: LocalAnthropicServer,
    anthropic_client: anthropic.Anthropic,
) -> None:
    anthropic_server.queue(AnthropicReply("Raw.", prompt_tokens=4, completion_tokens=2))
    with asm.session("raw"), asm.run("agent"):
        raw = anthropic_client.messages.with_raw_response.create(
            model=MODEL, max_tokens=64, messages=[USER]
        )
        assert raw.parse().content[0].text == "Raw."  # type: ignore[union-attr]
    (_, llm) = conversation(store, "raw")
    assert llm.message == "Raw."
    assert llm.token_usage is not None and llm.token_usage.prompt_tokens == 4


def test_the_clients_own_spans_do_not_record_a_call_twice(
    clean_otel: None,
    anthropic_server: LocalAnthropicServer,
    anthropic_client: anthropic.Anthropic,
) -> None:
    """With the global tracer provider ours, the anthropic client's own
    ``chat`` spans nest under ours: one LLM event per call."""
    store = InMemorySessionStore()
    handle = asm.configure(store=store, instrument=("anthropic",))
    try:
        anthropic_server.queue(AnthropicReply("Once.", prompt_tokens=3, completion_tokens=2))
        with asm.session("once"), asm.run("agent"):
            anthropic_client.messages.create(model=MODEL, max_tokens=64, messages=[USER])
        assert kinds(conversation(store, "once")) == ["U", "L"]
    finally:
        AnthropicInstrumentor().uninstrument()
        handle.shutdown()
