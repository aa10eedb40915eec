"""What the model was told: instructions, request parameters and tool definitions
on the chat span, as sent, with the real client against the local server."""

from __future__ import annotations

import json
from typing import Any

import openai
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from pydantic import BaseModel

from a2a_session_manager.telemetry import semconv
from a2a_session_manager.telemetry._deferred_content import deferred_content
from a2a_session_manager.testing import LocalOpenAIServer, Reply

WEATHER_PARAMETERS = {
    "type": "object",
    "properties": {"location": {"type": "string"}},
    "required": ["location"],
}
CHAT_TOOLS: Any = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "The weather in a city.",
            "parameters": WEATHER_PARAMETERS,
            "strict": True,
        },
    },
    {"type": "function", "function": {"name": "now"}},
]
RESPONSES_TOOLS: Any = [
    {
        "type": "function",
        "name": "get_weather",
        "description": "The weather in a city.",
        "parameters": WEATHER_PARAMETERS,
        "strict": True,
    },
]
DEFINITION = {
    "type": "function",
    "name": "get_weather",
    "description": "The weather in a city.",
    "parameters": WEATHER_PARAMETERS,
}


def only_span(spans: InMemorySpanExporter) -> ReadableSpan:
    (span,) = spans.get_finished_spans()
    return span


def attrs(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})


def content(span: ReadableSpan, name: str) -> Any:
    return json.loads(attrs(span)[name])


def test_system_and_developer_messages_stay_in_the_input_messages(
    openai_spans: InMemorySpanExporter, openai_client: openai.OpenAI
) -> None:
    messages: Any = [
        {"role": "system", "content": "You are terse."},
        {"role": "developer", "content": "Answer in French."},
        {"role": "user", "content": "Hello?"},
    ]
    openai_client.chat.completions.create(model="gpt-4o-mini", messages=messages)
    span = only_span(openai_spans)
    assert [m["role"] for m in content(span, semconv.GEN_AI_INPUT_MESSAGES)] == [
        "system",
        "developer",
        "user",
    ]
    assert content(span, semconv.GEN_AI_INPUT_MESSAGES)[1]["parts"] == [
        {"type": "text", "content": "Answer in French."}
    ]
    assert semconv.GEN_AI_SYSTEM_INSTRUCTIONS not in attrs(span)


def test_responses_instructions_are_the_system_instructions(
    openai_spans: InMemorySpanExporter, openai_client: openai.OpenAI
) -> None:
    openai_client.responses.create(model="gpt-4o-mini", instructions="Be brief.", input="Hi")
    span = only_span(openai_spans)
    assert content(span, semconv.GEN_AI_SYSTEM_INSTRUCTIONS) == [
        {"type": "text", "content": "Be brief."}
    ]
    assert content(span, semconv.GEN_AI_INPUT_MESSAGES) == [
        {"role": "user", "parts": [{"type": "text", "content": "Hi"}]}
    ]


def test_chat_request_parameters_are_on_the_span(
    openai_spans: InMemorySpanExporter,
    openai_server: LocalOpenAIServer,
    openai_client: openai.OpenAI,
) -> None:
    openai_client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "Hi"}],
        temperature=0.3,
        top_p=0.9,
        max_completion_tokens=64,
        frequency_penalty=0.5,
        presence_penalty=-0.5,
        stop=["\n\n", "END"],
        seed=7,
        n=2,
        response_format={"type": "json_object"},
        service_tier="flex",
    )
    a = attrs(only_span(openai_spans))
    assert a[semconv.GEN_AI_REQUEST_MODEL] == "gpt-4o-mini"
    assert a[semconv.GEN_AI_REQUEST_TEMPERATURE] == 0.3
    assert a[semconv.GEN_AI_REQUEST_TOP_P] == 0.9
    assert a[semconv.GEN_AI_REQUEST_MAX_TOKENS] == 64
    assert a[semconv.GEN_AI_REQUEST_FREQUENCY_PENALTY] == 0.5
    assert a[semconv.GEN_AI_REQUEST_PRESENCE_PENALTY] == -0.5
    assert a[semconv.GEN_AI_REQUEST_STOP_SEQUENCES] == ("\n\n", "END")
    assert a[semconv.GEN_AI_REQUEST_SEED] == 7
    assert a[semconv.GEN_AI_REQUEST_CHOICE_COUNT] == 2
    assert a[semconv.GEN_AI_OUTPUT_TYPE] == "json"
    assert a[semconv.OPENAI_REQUEST_SERVICE_TIER] == "flex"
    assert semconv.GEN_AI_REQUEST_STREAM not in a  # set only when streaming
    assert openai_server.requests[-1].body["max_completion_tokens"] == 64


def test_legacy_max_tokens_and_a_single_stop_string(
    openai_spans: InMemorySpanExporter, openai_client: openai.OpenAI
) -> None:
    for _ in openai_client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "Hi"}],
        max_tokens=10,
        stop="END",
        stream=True,
    ):
        pass
    a = attrs(only_span(openai_spans))
    assert a[semconv.GEN_AI_REQUEST_MAX_TOKENS] == 10
    assert a[semconv.GEN_AI_REQUEST_STOP_SEQUENCES] == ("END",)
    assert a[semconv.GEN_AI_REQUEST_STREAM] is True


def test_responses_request_parameters_are_on_the_span(
    openai_spans: InMemorySpanExporter, openai_client: openai.OpenAI
) -> None:
    openai_client.responses.create(
        model="gpt-4o-mini",
        input="Hi",
        temperature=0.2,
        top_p=0.5,
        max_output_tokens=100,
        service_tier="priority",
        text={"format": {"type": "json_schema", "name": "x", "schema": {"type": "object"}}},
    )
    a = attrs(only_span(openai_spans))
    assert a[semconv.GEN_AI_REQUEST_TEMPERATURE] == 0.2
    assert a[semconv.GEN_AI_REQUEST_TOP_P] == 0.5
    assert a[semconv.GEN_AI_REQUEST_MAX_TOKENS] == 100
    assert a[semconv.OPENAI_REQUEST_SERVICE_TIER] == "priority"
    assert a[semconv.GEN_AI_OUTPUT_TYPE] == "json"
    assert semconv.GEN_AI_REQUEST_STREAM not in a  # set only when streaming


class Answer(BaseModel):
    text: str


def test_responses_parse_with_a_model_is_json_output(
    openai_spans: InMemorySpanExporter,
    openai_server: LocalOpenAIServer,
    openai_client: openai.OpenAI,
) -> None:
    openai_server.queue(Reply('{"text": "hi"}'))
    openai_client.responses.parse(model="gpt-4o-mini", input="Hi", text_format=Answer)
    assert attrs(only_span(openai_spans))[semconv.GEN_AI_OUTPUT_TYPE] == "json"


def test_chat_tool_definitions_are_flattened(
    openai_spans: InMemorySpanExporter,
    openai_server: LocalOpenAIServer,
    openai_client: openai.OpenAI,
) -> None:
    openai_client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "Weather?"}], tools=CHAT_TOOLS
    )
    assert content(only_span(openai_spans), semconv.GEN_AI_TOOL_DEFINITIONS) == [
        DEFINITION,
        {"type": "function", "name": "now"},
    ]
    assert openai_server.requests[-1].body["tools"] == CHAT_TOOLS  # sent unchanged


async def test_responses_tool_definitions_async(
    openai_spans: InMemorySpanExporter, async_openai_client: openai.AsyncOpenAI
) -> None:
    tools: Any = [*RESPONSES_TOOLS, {"type": "web_search"}]
    await async_openai_client.responses.create(model="gpt-4o-mini", input="Hi", tools=tools)
    assert content(only_span(openai_spans), semconv.GEN_AI_TOOL_DEFINITIONS) == [
        DEFINITION,
        {"type": "web_search"},
    ]


def test_no_tools_no_definitions(
    openai_spans: InMemorySpanExporter, openai_client: openai.OpenAI
) -> None:
    openai_client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "Hi"}]
    )
    assert semconv.GEN_AI_TOOL_DEFINITIONS not in attrs(only_span(openai_spans))


def test_tool_definitions_are_a_snapshot_of_the_request(
    openai_spans: InMemorySpanExporter, openai_client: openai.OpenAI
) -> None:
    tools = list(CHAT_TOOLS)
    stream = openai_client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "Hi"}], tools=tools, stream=True
    )
    tools.clear()  # an agent reusing its list for the next call
    for _ in stream:
        pass
    assert len(content(only_span(openai_spans), semconv.GEN_AI_TOOL_DEFINITIONS)) == 2


def test_without_content_capture_instructions_and_tools_are_deferred(
    openai_spans: InMemorySpanExporter,
    openai_client: openai.OpenAI,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT")
    openai_client.responses.create(
        model="gpt-4o-mini", instructions="Be brief.", input="Hi", tools=RESPONSES_TOOLS
    )
    span = only_span(openai_spans)
    assert not semconv.CONTENT_ATTRIBUTES & set(attrs(span))
    producer = deferred_content(span)
    assert producer is not None
    values = producer()
    assert values[semconv.GEN_AI_SYSTEM_INSTRUCTIONS] == [{"type": "text", "content": "Be brief."}]
    assert values[semconv.GEN_AI_TOOL_DEFINITIONS] == [DEFINITION]
    assert semconv.GEN_AI_OUTPUT_MESSAGES in values


def test_tool_definitions_are_content() -> None:
    assert semconv.GEN_AI_TOOL_DEFINITIONS in semconv.CONTENT_ATTRIBUTES
