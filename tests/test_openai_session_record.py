"""From chat spans to the session: every provider call the OpenAI
instrumentation sees (a body read through ``with_streaming_response``, an
interrupted stream, each LLM call of the OpenAI Agents SDK) is one LLM event
with its reply and tokens."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import openai
import pytest

import a2a_session_manager as asm
from a2a_session_manager.models import EventSource, Session, SessionEvent
from a2a_session_manager.storage import InMemorySessionStore
from a2a_session_manager.testing import LocalOpenAIServer, Reply, ToolCall
from tests.support.otel import clean_otel, instrumented_store

__all__ = ["clean_otel"]

agents = pytest.importorskip("agents")

MODEL = "gpt-4o-mini"
USER: Any = [{"role": "user", "content": "What's the weather in Paris?"}]


@pytest.fixture
def store(clean_otel: None) -> Iterator[InMemorySessionStore]:
    with instrumented_store("openai") as store:
        yield store


def llm_events(store: InMemorySessionStore, session_id: str) -> list[SessionEvent]:
    session: Session | None = store.get(session_id)
    assert session is not None
    return [e for e in session.events if e.source is EventSource.LLM]


def test_with_streaming_response_is_one_llm_event_with_tokens(
    store: InMemorySessionStore, openai_server: LocalOpenAIServer, openai_client: openai.OpenAI
) -> None:
    openai_server.queue(Reply("Sunny."), Reply("Still sunny."))
    with asm.session("raw"), asm.run("agent"):
        with openai_client.chat.completions.with_streaming_response.create(
            model=MODEL, messages=USER
        ) as response:
            response.parse()
        options: Any = {"stream": True, "stream_options": {"include_usage": True}}
        with openai_client.chat.completions.with_streaming_response.create(
            model=MODEL, messages=USER, **options
        ) as response:
            for _ in response.iter_lines():
                pass
    first, second = llm_events(store, "raw")
    assert (first.message, second.message) == ("Sunny.", "Still sunny.")
    for event in (first, second):
        assert event.token_usage is not None
        assert event.token_usage.completion_tokens > 0


def test_interrupted_streams_are_llm_events_marked_as_such(
    store: InMemorySessionStore, openai_server: LocalOpenAIServer, openai_client: openai.OpenAI
) -> None:
    openai_server.queue(Reply("abcdefgh", chunk_chars=2, cut_after=3), Reply("one two three"))
    with asm.session("interrupted"), asm.run("agent"):
        with pytest.raises(openai.APIConnectionError):
            for _ in openai_client.chat.completions.create(model=MODEL, messages=USER, stream=True):
                pass
        stream = openai_client.chat.completions.create(model=MODEL, messages=USER, stream=True)
        next(iter(stream))
        stream.close()
    cut, abandoned = llm_events(store, "interrupted")
    assert cut.message["interrupted"] == "cut"
    assert cut.message["content"] == "abcd"  # 3 events: the role, "ab", "cd"
    assert cut.message["error"]["type"] == "openai.APIConnectionError"
    assert abandoned.message["interrupted"] == "abandoned"
    assert "error" not in abandoned.message


def _weather_agent(client: openai.AsyncOpenAI, kind: str) -> Any:
    @agents.function_tool
    def get_weather(city: str) -> str:
        """The weather in a city."""
        return f"Sunny in {city}."

    model_class = (
        agents.OpenAIResponsesModel if kind == "responses" else agents.OpenAIChatCompletionsModel
    )
    return agents.Agent(
        name="weather",
        instructions="You answer weather questions.",
        model=model_class(MODEL, client),
        tools=[get_weather],
    )


@pytest.mark.parametrize("streamed", [False, True])
@pytest.mark.parametrize("kind", ["responses", "chat_completions"])
async def test_agents_sdk_llm_calls_are_each_one_llm_event(
    store: InMemorySessionStore, openai_server: LocalOpenAIServer, kind: str, streamed: bool
) -> None:
    agents.set_tracing_disabled(True)
    openai_server.queue(
        Reply(tool_calls=[ToolCall("get_weather", {"city": "Paris"})]),
        Reply("Sunny in Paris, 25°C."),
    )
    client = openai.AsyncOpenAI(base_url=openai_server.base_url, api_key="test", max_retries=0)
    agent = _weather_agent(client, kind)
    async with asm.session("agents"), asm.run("weather"):
        if streamed:
            result = agents.Runner.run_streamed(agent, "What's the weather in Paris?")
            async for _ in result.stream_events():
                pass
        else:
            result = await agents.Runner.run(agent, "What's the weather in Paris?")
    await client.close()
    assert result.final_output == "Sunny in Paris, 25°C."
    tool_call, answer = llm_events(store, "agents")
    assert tool_call.message["tool_calls"][0]["name"] == "get_weather"
    assert answer.message == "Sunny in Paris, 25°C."
    for event in (tool_call, answer):
        assert event.token_usage is not None
        assert event.token_usage.prompt_tokens > 0
        assert event.token_usage.completion_tokens > 0
