"""The real ``litellm`` package routed to the local OpenAI and Anthropic servers:
every ``completion`` / ``acompletion`` (JSON and streamed) is one LLM event
with the exact usage and the provider it was routed to, with or without our
OpenAI instrumentation also active, and no connection leaves 127.0.0.1."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

import pytest

_connections: list[Any] = []
_watching = [True]


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if _watching[0] and event == "socket.connect":
        _connections.append(args[1])


sys.addaudithook(_audit)

import litellm  # noqa: E402
import openai  # noqa: E402
from opentelemetry.sdk.trace import TracerProvider  # noqa: E402

import a2a_session_manager as asm  # noqa: E402
from a2a_session_manager.instrumentation.litellm import LiteLLMInstrumentor  # noqa: E402
from a2a_session_manager.instrumentation.openai import OpenAIInstrumentor  # noqa: E402
from a2a_session_manager.models import EventSource, EventType, Session, SessionEvent  # noqa: E402
from a2a_session_manager.storage import InMemorySessionStore  # noqa: E402
from a2a_session_manager.testing import (  # noqa: E402
    AnthropicReply,
    LocalAnthropicServer,
    LocalOpenAIServer,
    Reply,
    ToolCall,
)
from tests.support.otel import clean_otel  # noqa: E402

_watching[0] = False

__all__ = ["clean_otel"]

GPT = "openai/gpt-4o-mini"
CLAUDE = "anthropic/claude-sonnet-4-5"
USER = {"role": "user", "content": "What's the weather in Paris?"}


@pytest.fixture(params=[("litellm",), ("litellm", "openai")], ids=["litellm", "with-openai"])
def store(request: pytest.FixtureRequest, clean_otel: None) -> Iterator[InMemorySessionStore]:
    store = InMemorySessionStore()
    handle = asm.configure(store=store, tracer_provider=TracerProvider(), instrument=request.param)
    _watching[0] = True
    yield store
    _watching[0] = False
    LiteLLMInstrumentor().uninstrument()
    OpenAIInstrumentor().uninstrument()
    handle.shutdown()


def events_of(store: InMemorySessionStore, session_id: str) -> list[SessionEvent]:
    session: Session | None = store.get(session_id)
    assert session is not None
    return [e for e in session.events if e.type is not EventType.INSTRUCTIONS]


def assert_one_call(
    store: InMemorySessionStore, reply: str, tokens: tuple[int, int], provider: str
) -> None:
    events = events_of(store, "s")
    assert [e.source for e in events] == [EventSource.USER, EventSource.LLM]
    user, answer = events
    assert user.message == USER["content"]
    assert answer.message == reply
    assert answer.metadata.get("provider") == provider
    usage = answer.token_usage
    assert usage is not None
    assert (usage.prompt_tokens, usage.completion_tokens) == tokens


def ask(server: Any, model: str, **kwargs: Any) -> Any:
    return litellm.completion(
        model=model, messages=[USER], api_base=server.base_url, api_key="test-key", **kwargs
    )


async def aask(server: Any, model: str, **kwargs: Any) -> Any:
    return await litellm.acompletion(
        model=model, messages=[USER], api_base=server.base_url, api_key="test-key", **kwargs
    )


def test_sync_openai(store: InMemorySessionStore, openai_server: LocalOpenAIServer) -> None:
    openai_server.queue(Reply("Sunny, 21C.", prompt_tokens=14, completion_tokens=5))
    with asm.session("s"), asm.run("agent"):
        response = ask(openai_server, GPT)
    assert response.choices[0].message.content == "Sunny, 21C."
    assert_one_call(store, "Sunny, 21C.", (14, 5), "openai")


def test_sync_openai_stream(store: InMemorySessionStore, openai_server: LocalOpenAIServer) -> None:
    openai_server.queue(Reply("Sunny, 21C.", prompt_tokens=14, completion_tokens=5))
    with asm.session("s"), asm.run("agent"):
        stream = ask(openai_server, GPT, stream=True, stream_options={"include_usage": True})
        text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text == "Sunny, 21C."
    assert_one_call(store, "Sunny, 21C.", (14, 5), "openai")


async def test_async_openai(store: InMemorySessionStore, openai_server: LocalOpenAIServer) -> None:
    openai_server.queue(Reply("Sunny, 21C.", prompt_tokens=14, completion_tokens=5))
    async with asm.session("s"), asm.run("agent"):
        await aask(openai_server, GPT)
    assert_one_call(store, "Sunny, 21C.", (14, 5), "openai")


async def test_async_openai_stream(
    store: InMemorySessionStore, openai_server: LocalOpenAIServer
) -> None:
    openai_server.queue(Reply("Sunny, 21C.", prompt_tokens=14, completion_tokens=5))
    async with asm.session("s"), asm.run("agent"):
        stream = await aask(openai_server, GPT, stream=True, stream_options={"include_usage": True})
        parts = [c.choices[0].delta.content or "" async for c in stream if c.choices]
    assert "".join(parts) == "Sunny, 21C."
    assert_one_call(store, "Sunny, 21C.", (14, 5), "openai")


def test_sync_anthropic(
    store: InMemorySessionStore, anthropic_server: LocalAnthropicServer
) -> None:
    anthropic_server.queue(AnthropicReply("Rainy.", prompt_tokens=12, completion_tokens=3))
    with asm.session("s"), asm.run("agent"):
        ask(anthropic_server, CLAUDE, max_tokens=64)
    assert_one_call(store, "Rainy.", (12, 3), "anthropic")


async def test_async_anthropic_stream(
    store: InMemorySessionStore, anthropic_server: LocalAnthropicServer
) -> None:
    anthropic_server.queue(AnthropicReply("Rainy.", prompt_tokens=12, completion_tokens=3))
    async with asm.session("s"), asm.run("agent"):
        stream = await aask(
            anthropic_server,
            CLAUDE,
            max_tokens=64,
            stream=True,
            stream_options={"include_usage": True},
        )
        parts = [c.choices[0].delta.content or "" async for c in stream if c.choices]
    assert "".join(parts) == "Rainy."
    assert_one_call(store, "Rainy.", (12, 3), "anthropic")


@pytest.mark.parametrize("stream", [False, True])
def test_anthropic_cache_reads_and_writes(
    store: InMemorySessionStore, anthropic_server: LocalAnthropicServer, stream: bool
) -> None:
    anthropic_server.queue(
        AnthropicReply(
            "Rainy.",
            prompt_tokens=12,
            completion_tokens=3,
            cache_creation_tokens=100,
            cached_tokens=50,
        )
    )
    extra: Any = {"stream": True, "stream_options": {"include_usage": True}} if stream else {}
    with asm.session("s"), asm.run("agent"):
        response = ask(anthropic_server, CLAUDE, max_tokens=64, **extra)
        if stream:
            list(response)
    # LiteLLM's input total includes the cached parts, as the conventions' does.
    assert_one_call(store, "Rainy.", (162, 3), "anthropic")
    usage = events_of(store, "s")[-1].token_usage
    assert usage is not None
    assert (usage.cached_input_tokens, usage.cache_write_input_tokens) == (50, 100)


def test_tool_call_round_trip_is_user_llm_tool_llm(
    store: InMemorySessionStore, openai_server: LocalOpenAIServer
) -> None:
    call = ToolCall("get_weather", {"city": "Paris"}, id="call_1")
    openai_server.queue(
        Reply(tool_calls=[call], prompt_tokens=20, completion_tokens=7),
        Reply("Sunny, 21C.", prompt_tokens=40, completion_tokens=5),
    )
    tools: Any = [{"type": "function", "function": {"name": "get_weather", "parameters": {}}}]
    messages: list[Any] = [USER]
    with asm.session("s"), asm.run("agent"):
        first = ask(openai_server, GPT, tools=tools)
        messages.append(first.choices[0].message.model_dump(exclude_none=True))
        messages.append({"role": "tool", "tool_call_id": "call_1", "content": "21C, sunny"})
        litellm.completion(
            model=GPT, messages=messages, tools=tools, api_base=openai_server.base_url, api_key="k"
        )
    events = events_of(store, "s")
    assert [(e.source, e.type) for e in events] == [
        (EventSource.USER, EventType.MESSAGE),
        (EventSource.LLM, EventType.MESSAGE),
        (EventSource.TOOL, EventType.TOOL_CALL),
        (EventSource.LLM, EventType.MESSAGE),
    ]
    ask_event, tool = events[1], events[2]
    assert ask_event.message["tool_calls"] == [
        {"id": "call_1", "name": "get_weather", "arguments": {"city": "Paris"}}
    ]
    assert (tool.message["call_id"], tool.message["result"]) == ("call_1", "21C, sunny")
    assert events[3].message == "Sunny, 21C."


def test_a_failed_call_raises_litellm_error_and_is_recorded_once(
    store: InMemorySessionStore, openai_server: LocalOpenAIServer
) -> None:
    from a2a_session_manager.testing import ErrorReply

    openai_server.queue(ErrorReply(400, "bad request"))
    with pytest.raises(litellm.BadRequestError), asm.session("s"), asm.run("agent"):
        ask(openai_server, GPT, max_retries=0)
    llm = [e for e in events_of(store, "s") if e.source is EventSource.LLM]
    assert len(llm) == 1


def test_no_connection_leaves_loopback(openai_server: LocalOpenAIServer) -> None:
    """Importing litellm (above) and a call routed to the local server connect
    only to 127.0.0.1: no price map or other download."""
    openai_server.queue(Reply("Sunny, 21C."))
    _watching[0] = True
    try:
        ask(openai_server, GPT)
    finally:
        _watching[0] = False
    hosts = {address[0] for address in _connections if isinstance(address, tuple)}
    assert hosts == {"127.0.0.1"}


class ThroughOpenAIClient(litellm.CustomLLM):
    """A LiteLLM provider that sends the call through the real ``openai`` client
    (as LiteLLM's OpenAI route did in older versions): our OpenAI wrapper sees it."""

    def __init__(self, base_url: str) -> None:
        super().__init__()
        self.client = openai.OpenAI(base_url=base_url, api_key="test-key", max_retries=0)

    def completion(self, model: str, messages: list[Any], *args: Any, **kwargs: Any) -> Any:
        reply = self.client.chat.completions.create(model=model, messages=messages)
        return litellm.ModelResponse(**reply.model_dump())


def test_a_call_through_our_openai_client_is_recorded_once(
    store: InMemorySessionStore, openai_server: LocalOpenAIServer
) -> None:
    openai_server.queue(Reply("Sunny, 21C.", prompt_tokens=14, completion_tokens=5))
    handler = ThroughOpenAIClient(openai_server.base_url)
    litellm.custom_provider_map = [{"provider": "through-openai", "custom_handler": handler}]
    try:
        with asm.session("s"), asm.run("agent"):
            litellm.completion(model="through-openai/gpt-4o-mini", messages=[USER])
    finally:
        litellm.custom_provider_map = []
    assert len(openai_server.requests) == 1
    assert_one_call(store, "Sunny, 21C.", (14, 5), "through-openai")
