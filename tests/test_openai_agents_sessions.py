"""An OpenAI Agents SDK run recorded as one session: each agent turn a run,
the handoff an event, the function tool a tool call linked to the LLM event
that asked for it, each LLM call once (non-streamed and streamed)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import openai
import pytest
from opentelemetry.sdk.trace import TracerProvider

import a2a_session_manager as asm
from a2a_session_manager.instrumentation.openai import OpenAIInstrumentor
from a2a_session_manager.instrumentation.openai_agents import OpenAIAgentsInstrumentor
from a2a_session_manager.models import EventSource, EventType
from a2a_session_manager.storage import InMemorySessionStore
from a2a_session_manager.testing import LocalOpenAIServer, Reply, ToolCall
from tests.support.otel import clean_otel

__all__ = ["clean_otel"]

agents = pytest.importorskip("agents")


@agents.function_tool
def get_weather(city: str) -> str:
    """The weather in a city."""
    return f"Sunny in {city}."


@pytest.fixture
def store(clean_otel: None) -> Iterator[InMemorySessionStore]:
    agents.set_trace_processors([])  # not the SDK's exporter to OpenAI's backend
    agents.set_tracing_disabled(False)
    store = InMemorySessionStore()
    handle = asm.configure(
        store=store, tracer_provider=TracerProvider(), instrument=("openai", "openai_agents")
    )
    yield store
    OpenAIAgentsInstrumentor().uninstrument()
    OpenAIInstrumentor().uninstrument()
    handle.shutdown()
    agents.set_tracing_disabled(True)


@pytest.fixture
async def agents_client(openai_server: LocalOpenAIServer) -> AsyncIterator[openai.AsyncOpenAI]:
    client = openai.AsyncOpenAI(base_url=openai_server.base_url, api_key="test", max_retries=0)
    yield client
    await client.close()


def triage(client: openai.AsyncOpenAI) -> Any:
    model = agents.OpenAIChatCompletionsModel("gpt-4o-mini", client)
    weather = agents.Agent(
        name="weather_agent", instructions="Answer weather.", tools=[get_weather], model=model
    )
    return agents.Agent(
        name="triage", instructions="Route the user.", handoffs=[weather], model=model
    )


@pytest.mark.parametrize("streamed", [False, True])
async def test_a_run_with_a_handoff_and_a_tool_is_one_session(
    store: InMemorySessionStore,
    openai_server: LocalOpenAIServer,
    agents_client: openai.AsyncOpenAI,
    streamed: bool,
) -> None:
    openai_server.queue(
        Reply(tool_calls=[ToolCall("transfer_to_weather_agent", {}, id="call_handoff")]),
        Reply(tool_calls=[ToolCall("get_weather", {"city": "Paris"}, id="call_weather")]),
        Reply("Sunny in Paris today."),
    )
    config = agents.RunConfig(group_id="weather-chat", tracing_disabled=False)
    agent = triage(agents_client)
    if streamed:
        result = agents.Runner.run_streamed(agent, "Weather in Paris?", run_config=config)
        async for _ in result.stream_events():
            pass
    else:
        result = await agents.Runner.run(agent, "Weather in Paris?", run_config=config)
    assert result.final_output == "Sunny in Paris today."

    session = store.get("weather-chat")
    assert session is not None
    assert [r.name for r in session.runs] == ["triage", "weather_agent"]
    runs = {r.id: r.name for r in session.runs}
    # Each LLM call once, in the run of the agent that made it. (The weather
    # agent's first request starts with its own system message, so the mapper
    # does not see it continue triage's call and records the handoff request's
    # messages again, as sent, without usage: a mapping limit, not a second call.)
    llm = [e for e in session.events if e.source is EventSource.LLM and e.token_usage is not None]
    assert [runs[str(e.task_id)] for e in llm] == ["triage", "weather_agent", "weather_agent"]
    (handoff,) = [e for e in session.events if e.type == "handoff"]
    assert handoff.message == {"from": "triage", "to": "weather_agent"}
    tools = [e for e in session.events if e.type is EventType.TOOL_CALL]
    weather = next(t for t in tools if t.message["tool_name"] == "get_weather")
    assert weather.message["result"] == "Sunny in Paris."
    assert weather.metadata["parent_event_id"] == llm[1].id


async def test_a_run_inside_a_session_records_into_it(
    store: InMemorySessionStore,
    openai_server: LocalOpenAIServer,
    agents_client: openai.AsyncOpenAI,
) -> None:
    openai_server.queue(Reply("Hello."))
    model = agents.OpenAIChatCompletionsModel("gpt-4o-mini", agents_client)
    agent = agents.Agent(name="greeter", instructions="Greet.", model=model)
    async with asm.session("mine"):
        await agents.Runner.run(agent, "Hi")
    session = store.get("mine")
    assert session is not None
    assert [r.name for r in session.runs] == ["greeter"]
    assert [e.message for e in session.events if e.source is EventSource.LLM] == ["Hello."]
