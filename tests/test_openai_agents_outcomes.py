"""How an OpenAI Agents SDK run that does not simply succeed is recorded: a
function tool that raises, a guardrail that trips, too many turns, a streamed
run cancelled mid-stream. The caller gets the SDK's own outcome unchanged;
the session says what happened, and loses no user message."""

from __future__ import annotations

import asyncio
from typing import Any

import openai
import pytest

from a2a_session_manager.models import EventSource, EventType, RunStatus, Session, SessionEvent
from a2a_session_manager.storage import InMemorySessionStore
from a2a_session_manager.testing import LocalOpenAIServer, Reply, ToolCall
from tests.support.agents_sdk import agents_client, agents_store
from tests.support.otel import clean_otel

__all__ = ["agents_client", "agents_store", "clean_otel"]

agents = pytest.importorskip("agents")

QUESTION = "Weather in Paris?"


def model(client: openai.AsyncOpenAI) -> Any:
    return agents.OpenAIChatCompletionsModel("gpt-4o-mini", client)


def config() -> Any:
    return agents.RunConfig(group_id="g", tracing_disabled=False)


def recorded(store: InMemorySessionStore) -> Session:
    session = store.get("g")
    assert session is not None
    return session


def of(session: Session, source: EventSource, type: Any = EventType.MESSAGE) -> list[SessionEvent]:
    return [e for e in session.events if e.source is source and e.type == type]


@agents.function_tool
def get_weather(city: str) -> str:
    """The weather in a city."""
    raise RuntimeError("weather service down")


async def test_a_tool_that_raises_is_a_failed_tool_call_linked_to_its_request(
    agents_store: InMemorySessionStore,
    openai_server: LocalOpenAIServer,
    agents_client: openai.AsyncOpenAI,
) -> None:
    openai_server.queue(
        Reply(tool_calls=[ToolCall("get_weather", {"city": "Paris"}, id="call_1")]),
        Reply("The weather service is down."),
    )
    agent = agents.Agent(
        name="w", instructions="x", tools=[get_weather], model=model(agents_client)
    )
    result = await agents.Runner.run(agent, QUESTION, run_config=config())
    assert result.final_output == "The weather service is down."
    told = openai_server.requests[-1].body["messages"][-1]["content"]  # the SDK's error text

    session = recorded(agents_store)
    llm = of(session, EventSource.LLM)
    (tool,) = of(session, EventSource.TOOL, EventType.TOOL_CALL)
    assert tool.message["call_id"] == "call_1"
    assert tool.message["arguments"] == {"city": "Paris"}
    assert tool.message["result"] == told  # what the model was told ...
    assert tool.message["error"].startswith("Error running tool")  # ... and that it failed
    assert tool.metadata["parent_event_id"] == llm[0].id
    assert len(of(session, EventSource.USER)) == 1


def guardrail(mode: str, server: LocalOpenAIServer) -> Any:
    async def check(ctx: Any, agent: Any, given: Any) -> Any:
        if mode == "after the model call started":
            while not server.requests:
                await asyncio.sleep(0.01)
        return agents.GuardrailFunctionOutput(output_info=None, tripwire_triggered=True)

    return agents.InputGuardrail(
        guardrail_function=check, name="no_paris", run_in_parallel=mode != "before the run"
    )


@pytest.mark.parametrize(
    "mode", ["before the run", "beside the model call", "after the model call started"]
)
async def test_a_tripped_guardrail_fails_the_run_and_keeps_the_user_message(
    agents_store: InMemorySessionStore,
    openai_server: LocalOpenAIServer,
    agents_client: openai.AsyncOpenAI,
    mode: str,
) -> None:
    openai_server.queue(Reply("Sunny."))
    agent = agents.Agent(
        name="w",
        instructions="x",
        input_guardrails=[guardrail(mode, openai_server)],
        model=model(agents_client),
    )
    with pytest.raises(agents.InputGuardrailTripwireTriggered) as raised:
        await agents.Runner.run(agent, QUESTION, run_config=config())
    assert raised.value.guardrail_result.guardrail.get_name() == "no_paris"  # the SDK's, unchanged

    session = recorded(agents_store)
    assert [e.message for e in of(session, EventSource.USER)] == [QUESTION]  # once, whichever way
    (event,) = of(session, EventSource.SYSTEM, "guardrail")
    assert event.message == {"name": "no_paris", "triggered": True}
    (run,) = session.runs
    assert run.status is RunStatus.FAILED
    assert run.error is not None and "no_paris" in run.error


async def test_max_turns_exceeded_fails_the_run_with_every_turn_recorded(
    agents_store: InMemorySessionStore,
    openai_server: LocalOpenAIServer,
    agents_client: openai.AsyncOpenAI,
) -> None:
    @agents.function_tool
    def ping() -> str:
        """Ping."""
        return "pong"

    openai_server.queue(*[Reply(tool_calls=[ToolCall("ping", {}, id=f"c{i}")]) for i in range(3)])
    agent = agents.Agent(name="w", instructions="x", tools=[ping], model=model(agents_client))
    with pytest.raises(agents.MaxTurnsExceeded):
        await agents.Runner.run(agent, "go", max_turns=2, run_config=config())

    session = recorded(agents_store)
    (run,) = session.runs
    assert run.status is RunStatus.FAILED
    llm = of(session, EventSource.LLM)
    assert len(llm) == len(openai_server.requests) == 2
    tools = of(session, EventSource.TOOL, EventType.TOOL_CALL)
    # The second turn's tool ran too, though no request sent its result back.
    assert [(t.message["call_id"], t.message["result"]) for t in tools] == [
        ("c0", "pong"),
        ("c1", "pong"),
    ]
    assert [t.metadata["parent_event_id"] for t in tools] == [e.id for e in llm]


async def test_a_streamed_run_cancelled_mid_stream_is_cancelled_and_keeps_what_arrived(
    agents_store: InMemorySessionStore,
    openai_server: LocalOpenAIServer,
    agents_client: openai.AsyncOpenAI,
) -> None:
    # The reply pauses after a few chunks: the run is cancelled while it waits.
    openai_server.queue(Reply("Sunny in Paris all week.", chunk_chars=2, stall_after=4, stall=30))
    agent = agents.Agent(name="w", instructions="x", model=model(agents_client))
    result = agents.Runner.run_streamed(agent, QUESTION, run_config=config())
    async for event in result.stream_events():
        if event.type == "raw_response_event" and getattr(event.data, "delta", None):
            break
    result.cancel()
    assert result.run_loop_task is not None
    await asyncio.wait([result.run_loop_task])

    session = recorded(agents_store)
    (run,) = session.runs
    assert run.status is RunStatus.CANCELLED
    assert [e.message for e in of(session, EventSource.USER)] == [QUESTION]
    (llm,) = of(session, EventSource.LLM)
    assert llm.message["interrupted"] == "abandoned"
    assert "Sunny in Paris all week.".startswith(llm.message["content"])
