"""Streams that did not end normally are marked: "cut" by the server, or
"abandoned" by the caller; the span keeps what arrived."""

from __future__ import annotations

import asyncio
import gc
import json
from typing import Any

import openai
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from a2a_session_manager.telemetry import semconv
from a2a_session_manager.testing import LocalOpenAIServer, Reply, ToolCall
from a2a_session_manager.tokens import count_tokens

USER: Any = [{"role": "user", "content": "What's the weather?"}]
WITH_USAGE: dict[str, Any] = {"stream": True, "stream_options": {"include_usage": True}}


def only_span(spans: InMemorySpanExporter) -> ReadableSpan:
    (span,) = spans.get_finished_spans()
    return span


def attrs(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})


def output(span: ReadableSpan) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = json.loads(attrs(span)[semconv.GEN_AI_OUTPUT_MESSAGES])
    return result


def test_cut_mid_tool_call_keeps_text_and_partial_call(
    openai_spans: InMemorySpanExporter,
    openai_server: LocalOpenAIServer,
    openai_client: openai.OpenAI,
) -> None:
    call = ToolCall("get_weather", {"location": "Paris"}, id="call_1")
    openai_server.queue(Reply("Let me check.", tool_calls=[call], chunk_chars=4, cut_after=8))
    with pytest.raises(openai.APIConnectionError):
        for _ in openai_client.chat.completions.create(
            model="gpt-4o-mini", messages=USER, stream=True
        ):
            pass
    span = only_span(openai_spans)
    a = attrs(span)
    assert span.status.status_code is StatusCode.ERROR
    assert a[semconv.A2A_STREAM_INTERRUPTED] == "cut"
    assert a[semconv.ERROR_TYPE] == "openai.APIConnectionError"
    assert a[semconv.GEN_AI_RESPONSE_FINISH_REASONS] == ("error",)
    (message,) = output(span)
    assert "finish_reason" not in message  # deprecated: the span's finish_reasons say it
    assert message["parts"][0] == {"type": "text", "content": "Let me check."}
    assert message["parts"][1]["type"] == "tool_call"
    assert message["parts"][1]["id"] == "call_1"
    assert a[semconv.A2A_USAGE_SOURCE] == "counted"


def test_break_after_the_finish_chunk_keeps_its_reason(
    openai_spans: InMemorySpanExporter,
    openai_server: LocalOpenAIServer,
    openai_client: openai.OpenAI,
) -> None:
    openai_server.queue(Reply("Sunny."))
    stream = openai_client.chat.completions.create(model="gpt-4o-mini", messages=USER, **WITH_USAGE)
    for chunk in stream:
        if chunk.choices and chunk.choices[0].finish_reason:
            break  # the usage chunk never read
    stream.close()
    span = only_span(openai_spans)
    a = attrs(span)
    assert a[semconv.A2A_STREAM_INTERRUPTED] == "abandoned"
    assert a[semconv.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)
    assert a[semconv.A2A_USAGE_SOURCE] == "counted"
    assert a[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == count_tokens("Sunny.", "gpt-4o-mini")
    assert span.status.status_code is StatusCode.UNSET


def test_abandoned_after_usage_keeps_the_providers_usage(
    openai_spans: InMemorySpanExporter,
    openai_server: LocalOpenAIServer,
    openai_client: openai.OpenAI,
) -> None:
    openai_server.queue(Reply("Sunny.", completion_tokens=42))
    stream = openai_client.chat.completions.create(model="gpt-4o-mini", messages=USER, **WITH_USAGE)
    for chunk in stream:
        if chunk.usage is not None:
            break  # [DONE] not read
    del stream
    gc.collect()
    a = attrs(only_span(openai_spans))
    assert a[semconv.A2A_STREAM_INTERRUPTED] == "abandoned"
    assert a[semconv.A2A_USAGE_SOURCE] == "provider"
    assert a[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == 42


def test_stream_read_to_the_end_is_not_interrupted(
    openai_spans: InMemorySpanExporter, openai_client: openai.OpenAI
) -> None:
    with openai_client.chat.completions.create(
        model="gpt-4o-mini", messages=USER, stream=True
    ) as stream:
        for _ in stream:
            pass
    assert semconv.A2A_STREAM_INTERRUPTED not in attrs(only_span(openai_spans))


def test_with_block_left_early_is_abandoned(
    openai_spans: InMemorySpanExporter, openai_client: openai.OpenAI
) -> None:
    with openai_client.responses.create(model="gpt-4o-mini", input="Hi", stream=True) as stream:
        next(iter(stream))  # response.created only
    span = only_span(openai_spans)
    assert attrs(span)[semconv.A2A_STREAM_INTERRUPTED] == "abandoned"
    assert attrs(span)[semconv.GEN_AI_RESPONSE_FINISH_REASONS] == ("error",)
    assert output(span) == [{"role": "assistant", "parts": []}]


def test_responses_closed_after_its_final_event_is_complete(
    openai_spans: InMemorySpanExporter, openai_client: openai.OpenAI
) -> None:
    stream = openai_client.responses.create(model="gpt-4o-mini", input="Hi", stream=True)
    for event in stream:
        if event.type == "response.completed":
            break
    stream.close()
    a = attrs(only_span(openai_spans))
    assert semconv.A2A_STREAM_INTERRUPTED not in a
    assert a[semconv.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)


async def test_async_cut_and_abandoned(
    openai_spans: InMemorySpanExporter,
    openai_server: LocalOpenAIServer,
    async_openai_client: openai.AsyncOpenAI,
) -> None:
    openai_server.queue(Reply("abcdefgh", chunk_chars=2, cut_after=4), Reply("abcdefgh"))
    cut = await async_openai_client.responses.create(model="gpt-4o-mini", input="Hi", stream=True)
    with pytest.raises(openai.APIConnectionError):
        async for _ in cut:
            pass
    left = await async_openai_client.chat.completions.create(
        model="gpt-4o-mini", messages=USER, stream=True
    )
    async for _ in left:
        break
    await left.close()
    by_stream = {
        a.get(semconv.GEN_AI_REQUEST_STREAM) and a[semconv.A2A_STREAM_INTERRUPTED]: s
        for s in openai_spans.get_finished_spans()
        for a in [attrs(s)]
    }
    assert set(by_stream) == {"cut", "abandoned"}
    assert by_stream["cut"].status.status_code is StatusCode.ERROR
    assert by_stream["abandoned"].status.status_code is StatusCode.UNSET


def test_read_timeout_mid_stream_is_a_cut(
    openai_spans: InMemorySpanExporter,
    openai_server: LocalOpenAIServer,
    openai_client: openai.OpenAI,
) -> None:
    openai_server.queue(Reply("abcdefgh", chunk_chars=2, stall_after=3, stall=30))
    stream = openai_client.with_options(timeout=1).chat.completions.create(
        model="gpt-4o-mini", messages=USER, stream=True
    )
    with pytest.raises(openai.APITimeoutError):
        for _ in stream:
            pass
    span = only_span(openai_spans)
    assert span.status.status_code is StatusCode.ERROR
    assert attrs(span)[semconv.A2A_STREAM_INTERRUPTED] == "cut"
    assert attrs(span)[semconv.ERROR_TYPE] == "openai.APITimeoutError"
    assert output(span)[0]["parts"] == [{"type": "text", "content": "abcd"}]


async def test_task_cancelled_while_waiting_for_a_chunk_abandons_the_stream(
    openai_spans: InMemorySpanExporter,
    openai_server: LocalOpenAIServer,
    async_openai_client: openai.AsyncOpenAI,
) -> None:
    openai_server.queue(Reply("abcdefgh", chunk_chars=2, stall_after=2, stall=30))
    received = asyncio.Event()

    async def read() -> None:
        stream = await async_openai_client.chat.completions.create(
            model="gpt-4o-mini", messages=USER, stream=True
        )
        async for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                received.set()  # "ab": the next chunk stalls

    task = asyncio.create_task(read())
    await asyncio.wait_for(received.wait(), timeout=10)
    task.cancel()  # it is suspended in the stream's __anext__: its only await
    with pytest.raises(asyncio.CancelledError):
        await task
    span = only_span(openai_spans)
    assert attrs(span)[semconv.A2A_STREAM_INTERRUPTED] == "abandoned"
    assert span.status.status_code is StatusCode.UNSET
    assert output(span)[0]["parts"] == [{"type": "text", "content": "ab"}]
