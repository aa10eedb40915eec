"""Failed calls that the application catches (and retries) are each a failed
chat span: error type, HTTP status and message, the request kept."""

from __future__ import annotations

import json
from typing import Any

import openai
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from a2a_session_manager.instrumentation.openai._attributes import ERROR_MESSAGE_LIMIT
from a2a_session_manager.telemetry import semconv
from a2a_session_manager.testing import ErrorReply, LocalOpenAIServer, Reply

USER: Any = [{"role": "user", "content": "Hello?"}]


def attrs(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})


def ask_until_answered(client: openai.OpenAI, attempts: int) -> tuple[str | None, list[str]]:
    """An application's own retry loop: catch, note, try again."""
    caught: list[str] = []
    for _ in range(attempts):
        try:
            reply = client.chat.completions.create(model="gpt-4o-mini", messages=USER)
        except (openai.RateLimitError, openai.APITimeoutError) as error:
            caught.append(type(error).__name__)
            continue
        return reply.choices[0].message.content, caught
    return None, caught


def test_429_and_timeout_caught_and_retried_are_each_a_failed_span(
    openai_spans: InMemorySpanExporter,
    openai_server: LocalOpenAIServer,
    openai_client: openai.OpenAI,
) -> None:
    openai_server.queue(ErrorReply(429, retry_after=20), Reply("late", delay=30), Reply("Hi!"))
    # Long enough for the server's first token count, far shorter than the delay.
    answer, caught = ask_until_answered(openai_client.with_options(timeout=2), attempts=3)
    assert answer == "Hi!"
    assert caught == ["RateLimitError", "APITimeoutError"]

    rate_limited, timed_out, answered = sorted(
        openai_spans.get_finished_spans(), key=lambda s: s.start_time or 0
    )
    a = attrs(rate_limited)
    assert rate_limited.status.status_code is StatusCode.ERROR
    assert a[semconv.ERROR_TYPE] == "openai.RateLimitError"
    assert a[semconv.HTTP_RESPONSE_STATUS_CODE] == 429
    assert "Rate limit reached" in a[semconv.A2A_ERROR_MESSAGE]
    assert json.loads(a[semconv.GEN_AI_INPUT_MESSAGES])[0]["role"] == "user"
    assert semconv.GEN_AI_OUTPUT_MESSAGES not in a
    assert semconv.GEN_AI_USAGE_INPUT_TOKENS not in a

    b = attrs(timed_out)
    assert timed_out.status.status_code is StatusCode.ERROR
    assert b[semconv.ERROR_TYPE] == "openai.APITimeoutError"
    assert semconv.HTTP_RESPONSE_STATUS_CODE not in b
    assert b[semconv.A2A_ERROR_MESSAGE] == "Request timed out."

    assert answered.status.status_code is StatusCode.UNSET
    assert semconv.ERROR_TYPE not in attrs(answered)


async def test_async_429_caught_is_a_failed_span(
    openai_spans: InMemorySpanExporter,
    openai_server: LocalOpenAIServer,
    async_openai_client: openai.AsyncOpenAI,
) -> None:
    openai_server.queue(ErrorReply(429))
    with pytest.raises(openai.RateLimitError) as caught:
        await async_openai_client.responses.create(model="gpt-4o-mini", input="Hi")
    assert caught.value.status_code == 429
    (span,) = openai_spans.get_finished_spans()
    assert attrs(span)[semconv.ERROR_TYPE] == "openai.RateLimitError"
    assert attrs(span)[semconv.HTTP_RESPONSE_STATUS_CODE] == 429


async def test_async_timeout_is_a_failed_span(
    openai_spans: InMemorySpanExporter,
    openai_server: LocalOpenAIServer,
    async_openai_client: openai.AsyncOpenAI,
) -> None:
    openai_server.queue(Reply("late", delay=5))
    with pytest.raises(openai.APITimeoutError):
        await async_openai_client.with_options(timeout=0.3).chat.completions.create(
            model="gpt-4o-mini", messages=USER
        )
    (span,) = openai_spans.get_finished_spans()
    assert attrs(span)[semconv.ERROR_TYPE] == "openai.APITimeoutError"


def test_connection_refused_is_a_failed_span(openai_spans: InMemorySpanExporter) -> None:
    with LocalOpenAIServer() as server:
        base_url = server.base_url  # stopped: nothing listens there any more
    client = openai.OpenAI(base_url=base_url, api_key="test", max_retries=0)
    with pytest.raises(openai.APIConnectionError):
        client.chat.completions.create(model="gpt-4o-mini", messages=USER)
    client.close()
    (span,) = openai_spans.get_finished_spans()
    assert attrs(span)[semconv.ERROR_TYPE] == "openai.APIConnectionError"
    assert attrs(span)[semconv.A2A_ERROR_MESSAGE] == "Connection error."


def test_the_clients_own_retries_are_inside_one_span(
    openai_spans: InMemorySpanExporter, openai_server: LocalOpenAIServer
) -> None:
    openai_server.queue(ErrorReply(429, retry_after=0.01), ErrorReply(503), Reply("Hi!"))
    client = openai.OpenAI(base_url=openai_server.base_url, api_key="test", max_retries=2)
    reply = client.chat.completions.create(model="gpt-4o-mini", messages=USER)
    client.close()
    assert reply.choices[0].message.content == "Hi!"
    assert len(openai_server.requests) == 3
    (span,) = openai_spans.get_finished_spans()
    assert span.status.status_code is StatusCode.UNSET


def test_a_huge_error_message_is_truncated(
    openai_spans: InMemorySpanExporter,
    openai_server: LocalOpenAIServer,
    openai_client: openai.OpenAI,
) -> None:
    openai_server.queue(ErrorReply(500, message="x" * 100_000))
    with pytest.raises(openai.InternalServerError) as caught:
        openai_client.chat.completions.create(model="gpt-4o-mini", messages=USER)
    assert len(str(caught.value)) > 100_000  # the user's error is whole
    (span,) = openai_spans.get_finished_spans()
    message = attrs(span)[semconv.A2A_ERROR_MESSAGE]
    assert len(message) == ERROR_MESSAGE_LIMIT + 1
    assert message == str(caught.value)[:ERROR_MESSAGE_LIMIT] + "…"
    assert len(span.status.description or "") < ERROR_MESSAGE_LIMIT + 100
