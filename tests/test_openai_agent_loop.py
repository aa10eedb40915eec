"""End to end: a real agent loop (user → LLM tool call → ``@tool`` → LLM answer) with
the instrumented openai client against the local server, recorded into a real
store, rebuilt into the next prompt, which the server accepts as a valid request."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
from opentelemetry.sdk.trace import TracerProvider

import a2a_session_manager as asm
from a2a_session_manager.instrumentation.openai import OpenAIInstrumentor
from a2a_session_manager.models import EventSource, EventType
from a2a_session_manager.prompts import build_prompt_from_session
from a2a_session_manager.storage import InMemorySessionStore, create_file_session_store
from a2a_session_manager.storage.base import SessionStore
from a2a_session_manager.testing import LocalOpenAIServer, Reply, ToolCall
from tests.support.otel import clean_otel

__all__ = ["clean_otel"]

MODEL = "gpt-4o-mini"
TOOLS: list[Any] = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Current weather for a city",
            "parameters": {
                "type": "object",
                "properties": {"location": {"type": "string"}},
                "required": ["location"],
            },
        },
    }
]


@pytest.fixture(params=["memory", "file"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> SessionStore:
    if request.param == "memory":
        return InMemorySessionStore()
    return create_file_session_store(tmp_path / "sessions")


@pytest.fixture
def configured(clean_otel: None, store: SessionStore) -> Iterator[SessionStore]:
    provider = TracerProvider()
    handle = asm.configure(store=store, tracer_provider=provider, instrument=("openai",))
    yield store
    OpenAIInstrumentor().uninstrument()
    handle.shutdown()
    provider.shutdown()


@asm.tool
def get_weather(location: str) -> dict[str, Any]:
    return {"location": location, "forecast": "rain", "degrees": 50}


def _ask(client: openai.OpenAI, messages: list[Any], stream: bool) -> Any:
    if not stream:
        return client.chat.completions.create(model=MODEL, messages=messages, tools=TOOLS)
    with client.chat.completions.stream(model=MODEL, messages=messages, tools=TOOLS) as events:
        for _ in events:
            pass
        return events.get_final_completion()


@asm.run("weather-agent")
def weather_agent(client: openai.OpenAI, question: str, stream: bool) -> str:
    messages: list[Any] = [
        {"role": "system", "content": "You answer weather questions."},
        {"role": "user", "content": question},
    ]
    while True:
        message = _ask(client, messages, stream).choices[0].message
        messages.append(message.model_dump(exclude_none=True, exclude={"parsed"}))
        if not message.tool_calls:
            return str(message.content)
        for call in message.tool_calls:
            result = get_weather(**json.loads(call.function.arguments))
            messages.append(
                {"role": "tool", "tool_call_id": call.id, "content": json.dumps(result)}
            )


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
def test_agent_loop_is_recorded_and_rebuilt_into_a_valid_prompt(
    configured: SessionStore,
    openai_server: LocalOpenAIServer,
    openai_client: openai.OpenAI,
    stream: bool,
) -> None:
    openai_server.queue(
        Reply(tool_calls=[ToolCall("get_weather", {"location": "Seattle, WA"}, id="call_w1")]),
        Reply("It is 50 degrees and raining in Seattle."),
    )
    with asm.session("weather-1"):
        answer = weather_agent(openai_client, "What's the weather in Seattle?", stream)
    assert answer == "It is 50 degrees and raining in Seattle."

    stored = configured.get("weather-1")
    assert stored is not None
    kinds = [
        (e.source.value, e.type.value if isinstance(e.type, EventType) else e.type)
        for e in stored.events
    ]
    assert kinds == [
        ("system", "instructions"),
        ("user", "message"),
        ("llm", "message"),
        ("tool", "tool_call"),
        ("llm", "message"),
    ]
    instructions = stored.events[0].message
    assert instructions["system"] == [
        {"role": "system", "content": "You answer weather questions."}
    ]
    assert stored.events[1].message == "What's the weather in Seattle?"
    asks = [e for e in stored.events if e.source is EventSource.LLM]
    assert len(asks) == 2
    ask, final = asks
    assert ask.message["tool_calls"][0]["id"] == "call_w1"
    assert ask.message["tool_calls"][0]["arguments"] == {"location": "Seattle, WA"}
    tool_events = [e for e in stored.events if e.type == EventType.TOOL_CALL]
    assert len(tool_events) == 1
    assert tool_events[0].message["call_id"] == "call_w1"
    assert tool_events[0].message["result"]["forecast"] == "rain"
    assert tool_events[0].metadata["parent_event_id"] == ask.id
    assert final.message == answer
    for event, request in zip(asks, openai_server.requests, strict=True):
        assert event.token_usage is not None
        assert event.token_usage.prompt_tokens > 0
        assert event.token_usage.completion_tokens > 0
        assert request.body["model"] == MODEL

    prompt = build_prompt_from_session(stored, current_query="And tomorrow?")
    openai_server.queue(Reply("Tomorrow: sunny."))
    reply = openai_client.chat.completions.create(model=MODEL, messages=prompt, tools=TOOLS)
    assert reply.choices[0].message.content == "Tomorrow: sunny."
    sent = openai_server.requests[-1].body["messages"]
    assert sent == prompt
    assert [m["role"] for m in sent][-1] == "user"
    assert any(m["role"] == "tool" and m["tool_call_id"] for m in sent)
