"""The OpenAI Agents SDK (``openai-agents``) on the real client against the
local server: each of its LLM calls is one chat span with the reply and the
provider's usage, for ``Runner.run`` and ``Runner.run_streamed`` (which reads
Responses through ``with_streaming_response``), with either model class."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import openai
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from a2a_session_manager.telemetry import semconv
from a2a_session_manager.testing import LocalOpenAIServer, Reply, ToolCall

agents = pytest.importorskip("agents")

INSTRUCTIONS = "You answer weather questions."


@agents.function_tool
def get_weather(city: str) -> str:
    """The weather in a city."""
    return f"Sunny in {city}."


@pytest.fixture(autouse=True)
def _no_agents_tracing() -> None:
    agents.set_tracing_disabled(True)


@pytest.fixture
async def agents_client(openai_server: LocalOpenAIServer) -> AsyncIterator[openai.AsyncOpenAI]:
    client = openai.AsyncOpenAI(base_url=openai_server.base_url, api_key="test", max_retries=0)
    yield client
    await client.close()


Model = Callable[[openai.AsyncOpenAI], Any]
MODELS: dict[str, Model] = {
    "responses": lambda client: agents.OpenAIResponsesModel("gpt-4o-mini", client),
    "chat_completions": lambda client: agents.OpenAIChatCompletionsModel("gpt-4o-mini", client),
}


def chat_spans(spans: InMemorySpanExporter) -> list[ReadableSpan]:
    return sorted(spans.get_finished_spans(), key=lambda s: s.start_time or 0)


def attrs(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})


def output_parts(span: ReadableSpan) -> list[dict[str, Any]]:
    (message,) = json.loads(attrs(span)[semconv.GEN_AI_OUTPUT_MESSAGES])
    parts: list[dict[str, Any]] = message["parts"]
    return parts


def assert_one_span_per_llm_call(spans: InMemorySpanExporter, kind: str, streamed: bool) -> None:
    tool_call, answer = chat_spans(spans)
    for span in (tool_call, answer):
        a = attrs(span)
        assert a[semconv.GEN_AI_OPERATION_NAME] == "chat"
        assert a.get(semconv.GEN_AI_REQUEST_STREAM, False) is streamed
        assert a[semconv.GEN_AI_USAGE_INPUT_TOKENS] > 0
        assert a[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] > 0
        assert semconv.A2A_STREAM_INTERRUPTED not in a
        definitions = json.loads(a[semconv.GEN_AI_TOOL_DEFINITIONS])
        assert [d["name"] for d in definitions] == ["get_weather"]
        if kind == "responses":
            assert json.loads(a[semconv.GEN_AI_SYSTEM_INSTRUCTIONS]) == [
                {"type": "text", "content": INSTRUCTIONS}
            ]
        else:
            first = json.loads(a[semconv.GEN_AI_INPUT_MESSAGES])[0]
            assert first["role"] == "system"
    (call,) = output_parts(tool_call)
    assert call["type"] == "tool_call"
    assert call["name"] == "get_weather"
    assert call["arguments"] == {"city": "Paris"}
    assert output_parts(answer) == [{"type": "text", "content": "Sunny in Paris, 25°C."}]
    assert attrs(tool_call)[semconv.GEN_AI_RESPONSE_FINISH_REASONS] == ("tool_calls",)
    assert attrs(answer)[semconv.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)


def queue_weather(server: LocalOpenAIServer) -> None:
    server.queue(
        Reply(tool_calls=[ToolCall("get_weather", {"city": "Paris"})]),
        Reply("Sunny in Paris, 25°C."),
    )


@pytest.mark.parametrize("kind", sorted(MODELS))
async def test_runner_run_records_each_llm_call(
    openai_spans: InMemorySpanExporter,
    openai_server: LocalOpenAIServer,
    agents_client: openai.AsyncOpenAI,
    kind: str,
) -> None:
    queue_weather(openai_server)
    agent = agents.Agent(
        name="weather",
        instructions=INSTRUCTIONS,
        model=MODELS[kind](agents_client),
        tools=[get_weather],
    )
    result = await agents.Runner.run(agent, "What's the weather in Paris?")
    assert result.final_output == "Sunny in Paris, 25°C."
    assert_one_span_per_llm_call(openai_spans, kind, streamed=False)


@pytest.mark.parametrize("kind", sorted(MODELS))
async def test_runner_run_streamed_records_each_llm_call(
    openai_spans: InMemorySpanExporter,
    openai_server: LocalOpenAIServer,
    agents_client: openai.AsyncOpenAI,
    kind: str,
) -> None:
    queue_weather(openai_server)
    agent = agents.Agent(
        name="weather",
        instructions=INSTRUCTIONS,
        model=MODELS[kind](agents_client),
        tools=[get_weather],
    )
    result = agents.Runner.run_streamed(agent, "What's the weather in Paris?")
    async for _ in result.stream_events():
        pass
    assert result.final_output == "Sunny in Paris, 25°C."
    assert_one_span_per_llm_call(openai_spans, kind, streamed=True)
