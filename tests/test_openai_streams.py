"""Streaming calls: the span ends once, with what was streamed, however the stream ends."""

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
from a2a_session_manager.tokens import count_chat_tokens, count_tokens

USER = [{"role": "user", "content": "What's the weather in Seattle and San Francisco?"}]
ANSWER = "Seattle is 50 degrees and raining; San Francisco is 70 degrees and sunny."
WITH_USAGE: dict[str, Any] = {"stream": True, "stream_options": {"include_usage": True}}


def only_span(spans: InMemorySpanExporter) -> ReadableSpan:
    finished = spans.get_finished_spans()
    assert len(finished) == 1, [s.name for s in finished]
    return finished[0]


def attrs(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})


def output(span: ReadableSpan) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = json.loads(attrs(span)[semconv.GEN_AI_OUTPUT_MESSAGES])
    return result


def test_iterated_stream_records_text_and_provider_usage(
    openai_spans: InMemorySpanExporter,
    openai_server: LocalOpenAIServer,
    openai_client: openai.OpenAI,
) -> None:
    openai_server.queue(Reply(ANSWER, cached_tokens=4, reasoning_tokens=3))
    stream = openai_client.chat.completions.create(model="gpt-4o-mini", messages=USER, **WITH_USAGE)
    assert openai_spans.get_finished_spans() == ()  # open while the stream is read
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == ANSWER
    usage = chunks[-1].usage
    assert usage is not None

    span = only_span(openai_spans)
    a = attrs(span)
    assert a[semconv.GEN_AI_RESPONSE_ID] == chunks[0].id
    assert a[semconv.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)
    assert a[semconv.GEN_AI_USAGE_INPUT_TOKENS] == usage.prompt_tokens
    assert a[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == usage.completion_tokens
    assert a[semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == 4
    assert a[semconv.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] == 3
    assert a[semconv.A2A_USAGE_SOURCE] == "provider"
    text_part = {"type": "text", "content": ANSWER}
    assert output(span) == [{"role": "assistant", "parts": [text_part]}]


def test_stream_without_usage_is_counted_exactly(
    openai_spans: InMemorySpanExporter,
    openai_server: LocalOpenAIServer,
    openai_client: openai.OpenAI,
) -> None:
    openai_server.queue(Reply(ANSWER))
    for _ in openai_client.chat.completions.create(model="gpt-4o-mini", messages=USER, stream=True):
        pass
    a = attrs(only_span(openai_spans))
    assert a[semconv.A2A_USAGE_SOURCE] == "counted"
    assert a[semconv.GEN_AI_USAGE_INPUT_TOKENS] == count_chat_tokens(USER, "gpt-4o-mini")
    assert a[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == count_tokens(ANSWER, "gpt-4o-mini")
    assert semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS not in a


def test_parallel_tool_calls_assembled_from_many_chunks(
    openai_spans: InMemorySpanExporter,
    openai_server: LocalOpenAIServer,
    openai_client: openai.OpenAI,
) -> None:
    calls = [
        ToolCall("get_weather", {"location": "Seattle, WA", "unit": "F"}, id="call_a"),
        ToolCall("get_weather", {"location": "San Francisco, CA", "unit": "F"}, id="call_b"),
        ToolCall("get_time", {"zone": "America/Los_Angeles"}, id="call_c"),
    ]
    openai_server.queue(Reply(tool_calls=calls, chunk_chars=2))
    chunks = list(
        openai_client.chat.completions.create(model="gpt-4o-mini", messages=USER, **WITH_USAGE)
    )
    assert len(chunks) > 50

    span = only_span(openai_spans)
    assert attrs(span)[semconv.GEN_AI_RESPONSE_FINISH_REASONS] == ("tool_calls",)
    assert output(span)[0]["parts"] == [
        {"type": "tool_call", "id": c.id, "name": c.name, "arguments": c.arguments} for c in calls
    ]


def test_streamed_malformed_arguments_are_kept_raw(
    openai_spans: InMemorySpanExporter,
    openai_server: LocalOpenAIServer,
    openai_client: openai.OpenAI,
) -> None:
    openai_server.queue(Reply(tool_calls=[ToolCall("f", '{"a": [1, 2', id="c")], chunk_chars=1))
    list(openai_client.chat.completions.create(model="gpt-4o-mini", messages=USER, stream=True))
    part = output(only_span(openai_spans))[0]["parts"][0]
    assert part["arguments"] == '{"a": [1, 2'
    assert attrs(only_span(openai_spans))[semconv.A2A_USAGE_SOURCE] == "counted"


def test_context_manager_ends_span_on_exit(
    openai_spans: InMemorySpanExporter, openai_client: openai.OpenAI
) -> None:
    with openai_client.chat.completions.create(
        model="gpt-4o-mini", messages=USER, stream=True
    ) as stream:
        first = next(iter(stream))
        assert first.choices[0].delta.role == "assistant"
    span = only_span(openai_spans)
    assert span.status.status_code is StatusCode.UNSET
    assert stream.response.is_closed


def test_closed_early_keeps_what_arrived(
    openai_spans: InMemorySpanExporter,
    openai_server: LocalOpenAIServer,
    openai_client: openai.OpenAI,
) -> None:
    openai_server.queue(Reply("one two three four five six", chunk_chars=4))
    stream = openai_client.chat.completions.create(model="gpt-4o-mini", messages=USER, stream=True)
    iterator = iter(stream)
    next(iterator)  # role
    next(iterator)  # "one "
    stream.close()
    stream.close()  # twice: still one span
    span = only_span(openai_spans)
    assert output(span)[0]["parts"] == [{"type": "text", "content": "one "}]
    assert attrs(span)[semconv.GEN_AI_RESPONSE_FINISH_REASONS] == ("error",)
    assert attrs(span)[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == count_tokens("one ", "gpt-4o-mini")
    assert attrs(span)[semconv.A2A_STREAM_INTERRUPTED] == "abandoned"
    assert attrs(span)[semconv.GEN_AI_RESPONSE_FINISH_REASONS] == ("error",)
    assert span.status.status_code is StatusCode.UNSET


def test_abandoned_stream_ends_its_span_when_collected(
    openai_spans: InMemorySpanExporter, openai_client: openai.OpenAI
) -> None:
    stream = openai_client.chat.completions.create(model="gpt-4o-mini", messages=USER, stream=True)
    next(iter(stream))
    del stream
    gc.collect()
    assert len(openai_spans.get_finished_spans()) == 1


def test_stream_cut_by_the_server_ends_span_with_error(
    openai_spans: InMemorySpanExporter,
    openai_server: LocalOpenAIServer,
    openai_client: openai.OpenAI,
) -> None:
    openai_server.queue(Reply("partial answer that never finishes", chunk_chars=8, cut_after=3))
    received = []
    with pytest.raises(openai.APIConnectionError) as caught:
        for chunk in openai_client.chat.completions.create(
            model="gpt-4o-mini", messages=USER, stream=True
        ):
            received.append(chunk)
    assert len(received) == 3
    span = only_span(openai_spans)
    assert span.status.status_code is StatusCode.ERROR
    assert attrs(span)[semconv.ERROR_TYPE] == f"openai.{type(caught.value).__qualname__}"
    assert output(span)[0]["parts"] == [{"type": "text", "content": "partial answer t"}]


def test_with_raw_response_stream_is_recorded(
    openai_spans: InMemorySpanExporter, openai_client: openai.OpenAI
) -> None:
    raw = openai_client.chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=USER, **WITH_USAGE
    )
    chunks = list(raw.parse())
    a = attrs(only_span(openai_spans))
    assert a[semconv.GEN_AI_RESPONSE_ID] == chunks[0].id
    assert a[semconv.A2A_USAGE_SOURCE] == "provider"


def test_stream_helper_is_one_span(
    openai_spans: InMemorySpanExporter, openai_client: openai.OpenAI
) -> None:
    with openai_client.chat.completions.stream(model="gpt-4o-mini", messages=USER) as stream:
        for _ in stream:
            pass
        final = stream.get_final_completion()
    span = only_span(openai_spans)
    assert attrs(span)[semconv.GEN_AI_RESPONSE_ID] == final.id
    assert output(span)[0]["parts"][0]["content"] == final.choices[0].message.content


async def test_async_stream_iterated(
    openai_spans: InMemorySpanExporter,
    openai_server: LocalOpenAIServer,
    async_openai_client: openai.AsyncOpenAI,
) -> None:
    openai_server.queue(Reply(ANSWER, tool_calls=[ToolCall("f", {"k": "v"}, id="c1")]))
    stream = await async_openai_client.chat.completions.create(
        model="gpt-4o-mini", messages=USER, **WITH_USAGE
    )
    chunks = [chunk async for chunk in stream]
    span = only_span(openai_spans)
    assert output(span)[0]["parts"] == [
        {"type": "text", "content": ANSWER},
        {"type": "tool_call", "id": "c1", "name": "f", "arguments": {"k": "v"}},
    ]
    assert chunks[-1].usage is not None
    assert attrs(span)[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == chunks[-1].usage.completion_tokens


async def test_async_stream_context_manager_and_close(
    openai_spans: InMemorySpanExporter, async_openai_client: openai.AsyncOpenAI
) -> None:
    async with await async_openai_client.chat.completions.create(
        model="gpt-4o-mini", messages=USER, stream=True
    ) as stream:
        async for _ in stream:
            break
    second = await async_openai_client.chat.completions.create(
        model="gpt-4o-mini", messages=USER, stream=True
    )
    await second.close()
    assert len(openai_spans.get_finished_spans()) == 2


async def test_async_stream_cut_by_the_server(
    openai_spans: InMemorySpanExporter,
    openai_server: LocalOpenAIServer,
    async_openai_client: openai.AsyncOpenAI,
) -> None:
    openai_server.queue(Reply(ANSWER, cut_after=2))
    stream = await async_openai_client.chat.completions.create(
        model="gpt-4o-mini", messages=USER, stream=True
    )
    with pytest.raises(openai.APIConnectionError):
        async for _ in stream:
            pass
    assert only_span(openai_spans).status.status_code is StatusCode.ERROR


def test_responses_stream(
    openai_spans: InMemorySpanExporter,
    openai_server: LocalOpenAIServer,
    openai_client: openai.OpenAI,
) -> None:
    openai_server.queue(Reply("This is a test.", tool_calls=[ToolCall("w", {"c": 1}, id="c1")]))
    events = list(openai_client.responses.create(model="gpt-4o-mini", input="hi", stream=True))
    final = events[-1].response  # type: ignore[union-attr]
    span = only_span(openai_spans)
    a = attrs(span)
    assert a[semconv.GEN_AI_RESPONSE_ID] == final.id
    assert a[semconv.GEN_AI_RESPONSE_FINISH_REASONS] == ("tool_calls",)
    assert a[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == final.usage.output_tokens
    assert output(span)[0]["parts"] == [
        {"type": "text", "content": "This is a test."},
        {"type": "tool_call", "id": "c1", "name": "w", "arguments": {"c": 1}},
    ]


def test_responses_stream_cut_keeps_text_and_counts(
    openai_spans: InMemorySpanExporter,
    openai_server: LocalOpenAIServer,
    openai_client: openai.OpenAI,
) -> None:
    openai_server.queue(Reply("abcdefgh", chunk_chars=2, cut_after=6))
    with pytest.raises(openai.APIConnectionError):
        for _ in openai_client.responses.create(model="gpt-4o-mini", input="hi", stream=True):
            pass
    span = only_span(openai_spans)
    assert span.status.status_code is StatusCode.ERROR
    assert output(span)[0]["parts"] == [{"type": "text", "content": "abcd"}]
    assert attrs(span)[semconv.A2A_USAGE_SOURCE] == "counted"


async def test_async_responses_stream(
    openai_spans: InMemorySpanExporter, async_openai_client: openai.AsyncOpenAI
) -> None:
    stream = await async_openai_client.responses.create(
        model="gpt-4o-mini", input="hi", stream=True
    )
    async for _ in stream:
        pass
    assert attrs(only_span(openai_spans))[semconv.A2A_USAGE_SOURCE] == "provider"


async def test_async_stream_helper_is_one_span(
    openai_spans: InMemorySpanExporter, async_openai_client: openai.AsyncOpenAI
) -> None:
    async with async_openai_client.chat.completions.stream(
        model="gpt-4o-mini", messages=USER
    ) as stream:
        async for _ in stream:
            pass
        final = await stream.get_final_completion()
    assert attrs(only_span(openai_spans))[semconv.GEN_AI_RESPONSE_ID] == final.id


@pytest.mark.parametrize("stream", [False, True])
def test_with_streaming_response_body_read_as_bytes_is_recorded(
    openai_spans: InMemorySpanExporter, openai_client: openai.OpenAI, stream: bool
) -> None:
    with openai_client.chat.completions.with_streaming_response.create(
        model="gpt-4o-mini", messages=USER, stream=stream
    ) as response:
        body = b"".join(response.iter_bytes())
    assert b"chatcmpl-" in body
    a = attrs(only_span(openai_spans))
    assert a[semconv.GEN_AI_REQUEST_MODEL] == "gpt-4o-mini"
    assert a.get(semconv.GEN_AI_REQUEST_STREAM, False) is stream
    assert a[semconv.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)
    assert semconv.A2A_STREAM_INTERRUPTED not in a
    text_part = {"type": "text", "content": "This is a test."}
    assert output(only_span(openai_spans)) == [
        {"role": "assistant", "parts": [text_part]}
    ]


async def test_async_with_raw_response_stream_is_recorded(
    openai_spans: InMemorySpanExporter, async_openai_client: openai.AsyncOpenAI
) -> None:
    raw = await async_openai_client.chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=USER, stream=True
    )
    stream = raw.parse()
    assert raw.parse() is stream
    chunks = [chunk async for chunk in stream]
    a = attrs(only_span(openai_spans))
    assert a[semconv.GEN_AI_RESPONSE_ID] == chunks[0].id
    assert a[semconv.A2A_USAGE_SOURCE] == "counted"


async def test_concurrent_async_streams_do_not_mix(
    openai_spans: InMemorySpanExporter,
    openai_server: LocalOpenAIServer,
    async_openai_client: openai.AsyncOpenAI,
) -> None:
    async def ask(i: int) -> str:
        stream = await async_openai_client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": f"q{i}"}], stream=True
        )
        return "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])

    answers = await asyncio.gather(*(ask(i) for i in range(10)))
    assert answers == ["This is a test."] * 10
    spans = openai_spans.get_finished_spans()
    assert len(spans) == 10
    for span in spans:
        assert output(span)[0]["parts"] == [{"type": "text", "content": "This is a test."}]
        assert span.parent is None
