"""``with_streaming_response``: the reply, tokens and finish reason are recorded
from the body as the caller reads it, whichever client helper reads it, and
the span says the same as for the plain call."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import openai
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from a2a_session_manager.telemetry import semconv
from a2a_session_manager.testing import LocalOpenAIServer, Reply, ToolCall

USER: Any = [{"role": "user", "content": "What's the weather in Paris?"}]
ANSWER = "It is sunny in Paris today."
CALL = ToolCall("get_weather", {"location": "Paris"}, id="call_1")
# Differ from call to call whatever was recorded.
_PER_CALL = {semconv.GEN_AI_RESPONSE_ID, semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK}


def attrs(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})


def comparable(span: ReadableSpan) -> dict[str, Any]:
    return {k: v for k, v in attrs(span).items() if k not in _PER_CALL}


def spans_in_order(spans: InMemorySpanExporter) -> list[ReadableSpan]:
    return sorted(spans.get_finished_spans(), key=lambda s: s.start_time or 0)


def output(span: ReadableSpan) -> Any:
    return json.loads(attrs(span)[semconv.GEN_AI_OUTPUT_MESSAGES])


Read = Callable[[Any], Any]
READERS: dict[str, Read] = {
    "parse": lambda r: r.parse(),
    "read": lambda r: r.read(),
    "text": lambda r: r.text(),
    "json": lambda r: r.json(),
    "iter_bytes": lambda r: list(r.iter_bytes()),
    "iter_text": lambda r: list(r.iter_text(7)),
    "iter_lines": lambda r: list(r.iter_lines()),
}


@pytest.mark.parametrize("reader", sorted(READERS))
def test_chat_json_body_is_recorded_as_the_plain_call(
    openai_spans: InMemorySpanExporter,
    openai_server: LocalOpenAIServer,
    openai_client: openai.OpenAI,
    reader: str,
) -> None:
    openai_server.queue(Reply(ANSWER, tool_calls=[CALL]), Reply(ANSWER, tool_calls=[CALL]))
    openai_client.chat.completions.create(model="gpt-4o-mini", messages=USER)
    with openai_client.chat.completions.with_streaming_response.create(
        model="gpt-4o-mini", messages=USER
    ) as response:
        READERS[reader](response)
    plain, raw = spans_in_order(openai_spans)
    assert comparable(raw) == comparable(plain)
    assert attrs(raw)[semconv.A2A_USAGE_SOURCE] == "provider"
    assert output(raw)[0]["parts"][0] == {"type": "text", "content": ANSWER}


@pytest.mark.parametrize("reader", sorted(set(READERS) - {"json"}))
def test_chat_sse_body_is_recorded_as_the_plain_stream(
    openai_spans: InMemorySpanExporter,
    openai_server: LocalOpenAIServer,
    openai_client: openai.OpenAI,
    reader: str,
) -> None:
    openai_server.queue(Reply(ANSWER, tool_calls=[CALL]), Reply(ANSWER, tool_calls=[CALL]))
    options: Any = {"stream": True, "stream_options": {"include_usage": True}}
    for _ in openai_client.chat.completions.create(model="gpt-4o-mini", messages=USER, **options):
        pass
    with openai_client.chat.completions.with_streaming_response.create(
        model="gpt-4o-mini", messages=USER, **options
    ) as response:
        result = READERS[reader](response)
        if reader == "parse":
            list(result)  # the client's Stream, read to its end
    plain, raw = spans_in_order(openai_spans)
    assert comparable(raw) == comparable(plain)
    assert attrs(raw)[semconv.A2A_USAGE_SOURCE] == "provider"
    assert semconv.A2A_STREAM_INTERRUPTED not in attrs(raw)
    assert [p["type"] for p in output(raw)[0]["parts"]] == ["text", "tool_call"]
    # When the first bytes arrived, as for the plain stream.
    assert attrs(raw)[semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] >= 0


@pytest.mark.parametrize("stream", [False, True])
def test_responses_body_is_recorded_as_the_plain_call(
    openai_spans: InMemorySpanExporter,
    openai_server: LocalOpenAIServer,
    openai_client: openai.OpenAI,
    stream: bool,
) -> None:
    openai_server.queue(Reply(ANSWER), Reply(ANSWER))
    plain = openai_client.responses.create(
        model="gpt-4o-mini", instructions="Be brief.", input="Weather?", stream=stream
    )
    if stream:
        for _ in plain:  # type: ignore[union-attr]
            pass
    with openai_client.responses.with_streaming_response.create(
        model="gpt-4o-mini", instructions="Be brief.", input="Weather?", stream=stream
    ) as response:
        result = response.parse()
        if stream:
            for _ in result:  # type: ignore[union-attr]
                pass
    first, second = spans_in_order(openai_spans)
    assert comparable(second) == comparable(first)
    assert attrs(second)[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] > 0
    assert output(second)[0]["parts"] == [{"type": "text", "content": ANSWER}]


async def test_async_chat_and_responses(
    openai_spans: InMemorySpanExporter,
    openai_server: LocalOpenAIServer,
    async_openai_client: openai.AsyncOpenAI,
) -> None:
    openai_server.queue(Reply(ANSWER), Reply(ANSWER), Reply(ANSWER))
    async with async_openai_client.chat.completions.with_streaming_response.create(
        model="gpt-4o-mini", messages=USER
    ) as response:
        await response.json()
    async with async_openai_client.chat.completions.with_streaming_response.create(
        model="gpt-4o-mini", messages=USER, stream=True
    ) as response:
        async for _ in response.iter_lines():
            pass
    async with async_openai_client.responses.with_streaming_response.create(
        model="gpt-4o-mini", input="Weather?", stream=True
    ) as response:
        async for _ in await response.parse():
            pass
    spans = spans_in_order(openai_spans)
    assert len(spans) == 3
    for span in spans:
        assert output(span)[0]["parts"] == [{"type": "text", "content": ANSWER}]
        assert attrs(span)[semconv.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)
        assert semconv.A2A_STREAM_INTERRUPTED not in attrs(span)
    assert attrs(spans[0])[semconv.A2A_USAGE_SOURCE] == "provider"
    assert attrs(spans[1])[semconv.A2A_USAGE_SOURCE] == "counted"  # no include_usage
    assert attrs(spans[2])[semconv.A2A_USAGE_SOURCE] == "provider"


def test_body_never_read_is_abandoned(
    openai_spans: InMemorySpanExporter, openai_client: openai.OpenAI
) -> None:
    with openai_client.chat.completions.with_streaming_response.create(
        model="gpt-4o-mini", messages=USER, stream=True
    ) as response:
        assert response.status_code == 200
        assert openai_spans.get_finished_spans() == ()  # open until the body ends
    (span,) = openai_spans.get_finished_spans()
    a = attrs(span)
    assert a[semconv.A2A_STREAM_INTERRUPTED] == "abandoned"
    assert a[semconv.GEN_AI_RESPONSE_FINISH_REASONS] == ("error",)
    assert span.status.status_code is StatusCode.UNSET


def test_body_left_half_read_keeps_what_arrived(
    openai_spans: InMemorySpanExporter,
    openai_server: LocalOpenAIServer,
    openai_client: openai.OpenAI,
) -> None:
    openai_server.queue(Reply("one two three four five", chunk_chars=4))
    with openai_client.chat.completions.with_streaming_response.create(
        model="gpt-4o-mini", messages=USER, stream=True
    ) as response:
        lines = response.iter_lines()
        for line in lines:
            if '"one "' in line:
                break
    (span,) = openai_spans.get_finished_spans()
    assert attrs(span)[semconv.A2A_STREAM_INTERRUPTED] == "abandoned"
    assert output(span)[0]["parts"][0]["content"].startswith("one ")


async def test_async_body_cut_by_the_server(
    openai_spans: InMemorySpanExporter,
    openai_server: LocalOpenAIServer,
    async_openai_client: openai.AsyncOpenAI,
) -> None:
    openai_server.queue(Reply("abcdefghijkl", chunk_chars=2, cut_after=4))
    with pytest.raises(Exception) as caught:  # the HTTP library's own error (httpx or httpx2)
        async with async_openai_client.chat.completions.with_streaming_response.create(
            model="gpt-4o-mini", messages=USER, stream=True
        ) as response:
            async for _ in response.iter_bytes():
                pass
    (span,) = openai_spans.get_finished_spans()
    a = attrs(span)
    assert span.status.status_code is StatusCode.ERROR
    assert a[semconv.A2A_STREAM_INTERRUPTED] == "cut"
    assert a[semconv.ERROR_TYPE].endswith(type(caught.value).__qualname__)
    assert output(span)[0]["parts"] == [{"type": "text", "content": "abcdef"}]


def test_with_raw_response_json_and_stream(
    openai_spans: InMemorySpanExporter, openai_client: openai.OpenAI
) -> None:
    raw = openai_client.responses.with_raw_response.create(model="gpt-4o-mini", input="Hi")
    assert raw.parse().output_text == "This is a test."
    raw_stream = openai_client.chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=USER, stream=True
    )
    for _ in raw_stream.parse():
        pass
    for span in openai_spans.get_finished_spans():
        assert output(span)[0]["parts"] == [{"type": "text", "content": "This is a test."}]
        assert semconv.GEN_AI_USAGE_OUTPUT_TOKENS in attrs(span)
