"""An OpenAI Agents SDK run recorded as one session: each agent turn a run,
the handoff an event, the function tool a tool call linked to the LLM event
that asked for it, each LLM call and the user message once (non-streamed and
streamed, with either model class); runs side by side never mix; with the
SDK's tracing off, calls are recorded only in a session the application opens."""

from __future__ import annotations

import asyncio
from typing import Any

import openai
import pytest

import a2a_session_manager as asm
from a2a_session_manager.models import EventSource, EventType, Session, SessionEvent
from a2a_session_manager.storage import InMemorySessionStore
from a2a_session_manager.testing import LocalOpenAIServer, Reply, ToolCall
from tests.support.agents_sdk import agents_client, agents_store
from tests.support.otel import clean_otel

__all__ = ["agents_client", "agents_store", "clean_otel"]

agents = pytest.importorskip("agents")


@agents.function_tool
def get_weather(city: str) -> str:
    """The weather in a city."""
    return f"Sunny in {city}."


MODELS = {
    "chat_completions": lambda client: agents.OpenAIChatCompletionsModel("gpt-4o-mini", client),
    "responses": lambda client: agents.OpenAIResponsesModel("gpt-4o-mini", client),
}


def llm_events(session: Session) -> list[SessionEvent]:
    return [e for e in session.events if e.source is EventSource.LLM]


def user_messages(session: Session) -> list[Any]:
    return [e.message for e in session.events if e.source is EventSource.USER]


def triage(client: openai.AsyncOpenAI, kind: str = "chat_completions") -> Any:
    model = MODELS[kind](client)
    weather = agents.Agent(
        name="weather_agent", instructions="Answer weather.", tools=[get_weather], model=model
    )
    return agents.Agent(
        name="triage", instructions="Route the user.", handoffs=[weather], model=model
    )


@pytest.mark.parametrize("kind", sorted(MODELS))
@pytest.mark.parametrize("streamed", [False, True])
async def test_a_run_with_a_handoff_and_a_tool_is_one_session(
    agents_store: InMemorySessionStore,
    openai_server: LocalOpenAIServer,
    agents_client: openai.AsyncOpenAI,
    streamed: bool,
    kind: str,
) -> None:
    openai_server.queue(
        Reply(tool_calls=[ToolCall("transfer_to_weather_agent", {}, id="call_handoff")]),
        Reply(tool_calls=[ToolCall("get_weather", {"city": "Paris"}, id="call_weather")]),
        Reply("Sunny in Paris today."),
    )
    config = agents.RunConfig(group_id="weather-chat", tracing_disabled=False)
    agent = triage(agents_client, kind)
    if streamed:
        result = agents.Runner.run_streamed(agent, "Weather in Paris?", run_config=config)
        async for _ in result.stream_events():
            pass
    else:
        result = await agents.Runner.run(agent, "Weather in Paris?", run_config=config)
    assert result.final_output == "Sunny in Paris today."

    session = agents_store.get("weather-chat")
    assert session is not None
    assert [r.name for r in session.runs] == ["triage", "weather_agent"]
    runs = {r.id: r.name for r in session.runs}
    # Each LLM call once, in the run of the agent that made it; the user's
    # message once, though each request sends it again.
    llm = llm_events(session)
    assert [runs[str(e.task_id)] for e in llm] == ["triage", "weather_agent", "weather_agent"]
    assert all(e.token_usage is not None for e in llm)
    assert user_messages(session) == ["Weather in Paris?"]
    (handoff,) = [e for e in session.events if e.type == "handoff"]
    assert handoff.message == {"from": "triage", "to": "weather_agent"}
    tools = [e for e in session.events if e.type is EventType.TOOL_CALL]
    weather = next(t for t in tools if t.message["tool_name"] == "get_weather")
    assert weather.message["result"] == "Sunny in Paris."
    assert weather.metadata["parent_event_id"] == llm[1].id


async def test_a_run_inside_a_session_records_into_it(
    agents_store: InMemorySessionStore,
    openai_server: LocalOpenAIServer,
    agents_client: openai.AsyncOpenAI,
) -> None:
    openai_server.queue(Reply("Hello."))
    model = agents.OpenAIChatCompletionsModel("gpt-4o-mini", agents_client)
    agent = agents.Agent(name="greeter", instructions="Greet.", model=model)
    async with asm.session("mine"):
        await agents.Runner.run(agent, "Hi")
    session = agents_store.get("mine")
    assert session is not None
    assert [r.name for r in session.runs] == ["greeter"]
    assert [e.message for e in session.events if e.source is EventSource.LLM] == ["Hello."]


@pytest.mark.parametrize("streamed", [False, True])
async def test_a_chain_of_three_agents(
    agents_store: InMemorySessionStore,
    openai_server: LocalOpenAIServer,
    agents_client: openai.AsyncOpenAI,
    streamed: bool,
) -> None:
    openai_server.queue(
        Reply(tool_calls=[ToolCall("transfer_to_billing", {}, id="h1")]),
        Reply(tool_calls=[ToolCall("transfer_to_refunds", {}, id="h2")]),
        Reply("Refund sent."),
    )
    model = agents.OpenAIChatCompletionsModel("gpt-4o-mini", agents_client)
    refunds = agents.Agent(name="refunds", instructions="Refund.", model=model)
    billing = agents.Agent(name="billing", instructions="Bill.", handoffs=[refunds], model=model)
    front = agents.Agent(name="front", instructions="Route.", handoffs=[billing], model=model)
    config = agents.RunConfig(group_id="chain", tracing_disabled=False)
    if streamed:
        result = agents.Runner.run_streamed(front, "Refund me.", run_config=config)
        async for _ in result.stream_events():
            pass
    else:
        result = await agents.Runner.run(front, "Refund me.", run_config=config)
    assert result.final_output == "Refund sent."

    session = agents_store.get("chain")
    assert session is not None
    assert [r.name for r in session.runs] == ["front", "billing", "refunds"]
    runs = {r.id: r.name for r in session.runs}
    assert [runs[str(e.task_id)] for e in llm_events(session)] == ["front", "billing", "refunds"]
    assert user_messages(session) == ["Refund me."]
    handoffs = [e.message for e in session.events if e.type == "handoff"]
    assert handoffs == [{"from": "front", "to": "billing"}, {"from": "billing", "to": "refunds"}]
    tools = [e for e in session.events if e.type is EventType.TOOL_CALL]
    assert [t.message["call_id"] for t in tools] == ["h1", "h2"]
    assert [t.metadata["parent_event_id"] for t in tools] == [e.id for e in llm_events(session)[:2]]


async def test_concurrent_runs_with_their_own_group_ids_never_mix(
    agents_store: InMemorySessionStore,
    openai_server: LocalOpenAIServer,
    agents_client: openai.AsyncOpenAI,
) -> None:
    questions = [f"Question {i}?" for i in range(6)]
    model = agents.OpenAIChatCompletionsModel("gpt-4o-mini", agents_client)

    async def ask(question: str) -> str:
        agent = agents.Agent(name=f"agent for {question}", instructions="Answer.", model=model)
        config = agents.RunConfig(group_id=question, tracing_disabled=False)
        result = await agents.Runner.run(agent, question, run_config=config)
        return str(result.final_output)

    # Delayed replies: the runs are all in flight at once.
    openai_server.queue(*[Reply("answer", delay=0.05) for _ in questions])
    answers = await asyncio.gather(*(ask(q) for q in questions))
    assert answers == ["answer"] * len(questions)

    for question in questions:
        session = agents_store.get(question)
        assert session is not None
        assert [r.name for r in session.runs] == [f"agent for {question}"]
        assert user_messages(session) == [question]
        (llm,) = llm_events(session)
        assert llm.task_id == session.runs[0].id


async def test_with_the_sdks_tracing_off_calls_are_recorded_in_the_applications_session(
    agents_store: InMemorySessionStore,
    openai_server: LocalOpenAIServer,
    agents_client: openai.AsyncOpenAI,
) -> None:
    """No run, handoff or guardrail is seen (the SDK reports nothing), but each
    LLM call still is, by the ``openai`` instrumentation, in the current session."""
    agents.set_tracing_disabled(True)
    openai_server.queue(Reply("Hello."), Reply("Hello again."))
    model = agents.OpenAIChatCompletionsModel("gpt-4o-mini", agents_client)
    agent = agents.Agent(name="greeter", instructions="Greet.", model=model)
    await agents.Runner.run(agent, "Hi", run_config=agents.RunConfig(group_id="unseen"))
    assert agents_store.get("unseen") is None
    async with asm.session("mine"):
        await agents.Runner.run(agent, "Hi again")
    session = agents_store.get("mine")
    assert session is not None
    assert session.runs == []
    assert user_messages(session) == ["Hi again"]
    assert [e.message for e in llm_events(session)] == ["Hello again."]
