"""The chat span of an Anthropic call follows the same contract as OpenAI's:
the conventions' attributes, structured messages with thinking kept as a
reasoning part, usage with the cached parts in the input total."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import anthropic
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from a2a_session_manager.instrumentation.anthropic import AnthropicInstrumentor
from a2a_session_manager.telemetry import semconv
from a2a_session_manager.testing import AnthropicReply, LocalAnthropicServer, ToolCall

MODEL = "claude-sonnet-4-5"


@pytest.fixture
def spans(monkeypatch: pytest.MonkeyPatch) -> Iterator[InMemorySpanExporter]:
    monkeypatch.setenv(semconv.OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT, "SPAN_ONLY")
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    instrumentor = AnthropicInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    yield exporter
    instrumentor.uninstrument()
    provider.shutdown()


def test_span_carries_the_conventions_attributes_and_structured_messages(
    spans: InMemorySpanExporter,
    anthropic_server: LocalAnthropicServer,
    anthropic_client: anthropic.Anthropic,
) -> None:
    anthropic_server.queue(
        AnthropicReply(
            "Checking.",
            thinking="Need the tool.",
            tool_calls=[ToolCall("get_weather", {"city": "Oslo"}, id="toolu_9")],
            prompt_tokens=11,
            completion_tokens=20,
            cached_tokens=100,
            cache_creation_tokens=50,
        )
    )
    tools: Any = [{"name": "get_weather", "description": "d", "input_schema": {"type": "object"}}]
    anthropic_client.messages.create(
        model=MODEL,
        max_tokens=300,
        stop_sequences=["END"],
        system=[{"type": "text", "text": "Be brief."}],
        tools=tools,
        messages=[{"role": "user", "content": "Weather in Oslo?"}],
    )
    (span,) = spans.get_finished_spans()
    attrs: Any = span.attributes
    assert span.name == f"chat {MODEL}"
    assert attrs[semconv.GEN_AI_PROVIDER_NAME] == semconv.PROVIDER_ANTHROPIC
    assert attrs[semconv.GEN_AI_REQUEST_MAX_TOKENS] == 300
    assert attrs[semconv.GEN_AI_REQUEST_STOP_SEQUENCES] == ("END",)
    assert attrs[semconv.SERVER_ADDRESS] == "127.0.0.1"
    assert attrs[semconv.GEN_AI_RESPONSE_FINISH_REASONS] == ("tool_calls",)
    assert attrs[semconv.GEN_AI_USAGE_INPUT_TOKENS] == 161  # 11 + 100 read + 50 written
    assert attrs[semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == 100
    assert attrs[semconv.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS] == 50
    assert attrs[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == 20
    assert json.loads(attrs[semconv.GEN_AI_SYSTEM_INSTRUCTIONS]) == [
        {"type": "text", "content": "Be brief."}
    ]
    assert json.loads(attrs[semconv.GEN_AI_TOOL_DEFINITIONS]) == [
        {
            "type": "function",
            "name": "get_weather",
            "description": "d",
            "parameters": {"type": "object"},
        }
    ]
    assert json.loads(attrs[semconv.GEN_AI_OUTPUT_MESSAGES]) == [
        {
            "role": "assistant",
            "parts": [
                {"type": "reasoning", "content": "Need the tool."},
                {"type": "text", "content": "Checking."},
                {
                    "type": "tool_call",
                    "id": "toolu_9",
                    "name": "get_weather",
                    "arguments": {"city": "Oslo"},
                },
            ],
        }
    ]


def test_tool_results_become_a_tool_message_before_the_users_text(
    spans: InMemorySpanExporter, anthropic_client: anthropic.Anthropic
) -> None:
    messages: Any = [
        {"role": "user", "content": "Weather?"},
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": "t1", "name": "w", "input": {"c": "Oslo"}}],
        },
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "t1",
                    "content": [{"type": "text", "text": "5C"}],
                },
                {"type": "text", "text": "Thanks"},
            ],
        },
    ]
    anthropic_client.messages.create(model=MODEL, max_tokens=10, messages=messages)
    (span,) = spans.get_finished_spans()
    recorded = json.loads(span.attributes[semconv.GEN_AI_INPUT_MESSAGES])  # type: ignore[index,arg-type]
    assert [m["role"] for m in recorded] == ["user", "assistant", "tool", "user"]
    assert recorded[1]["parts"] == [
        {"type": "tool_call", "id": "t1", "name": "w", "arguments": {"c": "Oslo"}}
    ]
    assert recorded[2]["parts"] == [{"type": "tool_call_response", "id": "t1", "response": "5C"}]


def test_uninstrument_restores_the_client(anthropic_client: anthropic.Anthropic) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    instrumentor = AnthropicInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    instrumentor.uninstrument()
    anthropic_client.messages.create(
        model=MODEL, max_tokens=10, messages=[{"role": "user", "content": "hi"}]
    )
    assert exporter.get_finished_spans() == ()
