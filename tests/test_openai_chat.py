"""Non-streaming calls of the instrumented openai client: one ``chat`` span each."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import openai
import pytest
from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from pydantic import BaseModel

from a2a_session_manager.telemetry import semconv
from a2a_session_manager.testing import ErrorReply, LocalOpenAIServer, Reply, ToolCall

USER = [{"role": "user", "content": "What's the weather in Seattle?"}]


def only_span(spans: InMemorySpanExporter) -> ReadableSpan:
    finished = spans.get_finished_spans()
    assert len(finished) == 1, [s.name for s in finished]
    return finished[0]


def attrs(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})


def messages(span: ReadableSpan, name: str) -> Any:
    return json.loads(attrs(span)[name])


def test_chat_span_has_request_response_and_usage(
    openai_spans: InMemorySpanExporter,
    openai_server: LocalOpenAIServer,
    openai_client: openai.OpenAI,
) -> None:
    openai_server.queue(
        Reply("Rainy.", model="gpt-4o-mini-2024-07-18", cached_tokens=3, reasoning_tokens=2)
    )
    completion = openai_client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "system", "content": "Be brief."}, *USER],
        temperature=0.2,
        top_p=0.9,
        max_tokens=50,
        seed=7,
        stop=["\n", "END"],
        frequency_penalty=0.1,
        presence_penalty=0.3,
        response_format={"type": "json_object"},
    )

    span = only_span(openai_spans)
    a = attrs(span)
    assert span.name == "chat gpt-4o-mini"
    assert span.kind is SpanKind.CLIENT
    assert span.status.status_code is StatusCode.UNSET
    assert a[semconv.GEN_AI_OPERATION_NAME] == semconv.OPERATION_CHAT
    assert a[semconv.GEN_AI_PROVIDER_NAME] == semconv.PROVIDER_OPENAI
    assert a[semconv.SERVER_ADDRESS] == "127.0.0.1"
    assert a[semconv.SERVER_PORT] == openai_server.port
    assert a[semconv.GEN_AI_REQUEST_MODEL] == "gpt-4o-mini"
    assert a[semconv.GEN_AI_REQUEST_TEMPERATURE] == 0.2
    assert a[semconv.GEN_AI_REQUEST_TOP_P] == 0.9
    assert a[semconv.GEN_AI_REQUEST_MAX_TOKENS] == 50
    assert a[semconv.GEN_AI_REQUEST_SEED] == 7
    assert a[semconv.GEN_AI_REQUEST_STOP_SEQUENCES] == ("\n", "END")
    assert a[semconv.GEN_AI_REQUEST_FREQUENCY_PENALTY] == 0.1
    assert a[semconv.GEN_AI_REQUEST_PRESENCE_PENALTY] == 0.3
    assert a[semconv.GEN_AI_OUTPUT_TYPE] == semconv.OUTPUT_TYPE_JSON
    assert a[semconv.GEN_AI_RESPONSE_ID] == completion.id
    assert a[semconv.GEN_AI_RESPONSE_MODEL] == "gpt-4o-mini-2024-07-18"
    assert a[semconv.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)
    assert completion.usage is not None
    assert a[semconv.GEN_AI_USAGE_INPUT_TOKENS] == completion.usage.prompt_tokens
    assert a[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == completion.usage.completion_tokens
    assert a[semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == 3
    assert a[semconv.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] == 2
    assert a[semconv.A2A_USAGE_SOURCE] == "provider"
    assert messages(span, semconv.GEN_AI_INPUT_MESSAGES) == [
        {"role": "system", "parts": [{"type": "text", "content": "Be brief."}]},
        {"role": "user", "parts": [{"type": "text", "content": USER[0]["content"]}]},
    ]
    assert messages(span, semconv.GEN_AI_OUTPUT_MESSAGES) == [
        {
            "role": "assistant",
            "parts": [{"type": "text", "content": "Rainy."}],
        }
    ]


def test_tool_call_round_trip_is_recorded_in_both_spans(
    openai_spans: InMemorySpanExporter,
    openai_server: LocalOpenAIServer,
    openai_client: openai.OpenAI,
) -> None:
    openai_server.queue(
        Reply(
            tool_calls=[
                ToolCall("get_weather", {"location": "Seattle, WA"}, id="call_a"),
                ToolCall("get_weather", {"location": "San Francisco, CA"}, id="call_b"),
            ]
        ),
        Reply("Seattle is rainy, San Francisco sunny."),
    )
    first = openai_client.chat.completions.create(model="gpt-4o-mini", messages=USER)
    history: list[Any] = [*USER, first.choices[0].message]  # the pydantic message, as users do
    history += [
        {"role": "tool", "tool_call_id": "call_a", "content": "50 degrees and raining"},
        {"role": "tool", "tool_call_id": "call_b", "content": "70 degrees and sunny"},
    ]
    openai_client.chat.completions.create(model="gpt-4o-mini", messages=history)

    asked, answered = openai_spans.get_finished_spans()
    assert attrs(asked)[semconv.GEN_AI_RESPONSE_FINISH_REASONS] == ("tool_calls",)
    assert messages(asked, semconv.GEN_AI_OUTPUT_MESSAGES)[0]["parts"] == [
        {
            "type": "tool_call",
            "id": "call_a",
            "name": "get_weather",
            "arguments": {"location": "Seattle, WA"},
        },
        {
            "type": "tool_call",
            "id": "call_b",
            "name": "get_weather",
            "arguments": {"location": "San Francisco, CA"},
        },
    ]
    sent = messages(answered, semconv.GEN_AI_INPUT_MESSAGES)
    assert [m["role"] for m in sent] == ["user", "assistant", "tool", "tool"]
    assert sent[1]["parts"][0]["arguments"] == {"location": "Seattle, WA"}
    assert sent[2]["parts"] == [
        {"type": "tool_call_response", "id": "call_a", "response": "50 degrees and raining"}
    ]


def test_malformed_tool_call_json_is_kept_raw(
    openai_spans: InMemorySpanExporter,
    openai_server: LocalOpenAIServer,
    openai_client: openai.OpenAI,
) -> None:
    openai_server.queue(Reply(tool_calls=[ToolCall("f", '{"location": "Seatt', id="c1")]))
    completion = openai_client.chat.completions.create(model="gpt-4o-mini", messages=USER)
    assert completion.choices[0].message.tool_calls is not None
    part = messages(only_span(openai_spans), semconv.GEN_AI_OUTPUT_MESSAGES)[0]["parts"][0]
    assert part["arguments"] == '{"location": "Seatt'


def test_huge_message_is_recorded_whole(
    openai_spans: InMemorySpanExporter, openai_client: openai.OpenAI
) -> None:
    huge = "weather " * 700_000  # about 5.6 MB
    openai_client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": huge}]
    )
    sent = messages(only_span(openai_spans), semconv.GEN_AI_INPUT_MESSAGES)
    assert sent[0]["parts"][0]["content"] == huge


def test_messages_from_a_generator_reach_the_server(
    openai_spans: InMemorySpanExporter,
    openai_server: LocalOpenAIServer,
    openai_client: openai.OpenAI,
) -> None:
    openai_client.chat.completions.create(model="gpt-4o-mini", messages=(m for m in USER))
    assert openai_server.requests[-1].body["messages"] == USER
    assert len(messages(only_span(openai_spans), semconv.GEN_AI_INPUT_MESSAGES)) == 1


@pytest.mark.parametrize(
    ("reply", "error_type", "status"),
    [
        (ErrorReply(404), openai.NotFoundError, 404),
        (ErrorReply(429, retry_after=1), openai.RateLimitError, 429),
        (ErrorReply(500), openai.InternalServerError, 500),
    ],
)
def test_api_errors_end_the_span_and_reach_the_user_unchanged(
    openai_spans: InMemorySpanExporter,
    openai_server: LocalOpenAIServer,
    openai_client: openai.OpenAI,
    reply: ErrorReply,
    error_type: type[openai.APIStatusError],
    status: int,
) -> None:
    openai_server.queue(reply)
    with pytest.raises(error_type) as caught:
        openai_client.chat.completions.create(model="gpt-4o-mini", messages=USER)
    assert caught.value.status_code == status
    assert caught.value.__traceback__ is not None
    span = only_span(openai_spans)
    assert span.status.status_code is StatusCode.ERROR
    assert attrs(span)[semconv.ERROR_TYPE] == f"openai.{error_type.__qualname__}"
    assert attrs(span)[semconv.HTTP_RESPONSE_STATUS_CODE] == status
    assert attrs(span)[semconv.A2A_ERROR_MESSAGE] == str(caught.value)
    assert [e.name for e in span.events] == ["exception"]


def test_error_object_is_the_clients_own(
    openai_spans: InMemorySpanExporter,
    openai_server: LocalOpenAIServer,
) -> None:
    seen: list[BaseException] = []

    class Recording(openai.OpenAI):
        def _make_status_error(self, err_msg: str, *, body: object, response: Any) -> Any:
            error = super()._make_status_error(err_msg, body=body, response=response)
            seen.append(error)
            return error

    client = Recording(base_url=openai_server.base_url, api_key="test", max_retries=0)
    openai_server.queue(ErrorReply(500))
    with pytest.raises(openai.InternalServerError) as caught:
        client.chat.completions.create(model="gpt-4o-mini", messages=USER)
    client.close()
    assert seen == [caught.value]


def test_timeout_ends_span_with_error(
    openai_spans: InMemorySpanExporter,
    openai_server: LocalOpenAIServer,
    openai_client: openai.OpenAI,
) -> None:
    openai_server.queue(Reply("late", delay=5))
    with pytest.raises(openai.APITimeoutError):
        openai_client.with_options(timeout=0.2).chat.completions.create(
            model="gpt-4o-mini", messages=USER
        )
    span = only_span(openai_spans)
    assert span.status.status_code is StatusCode.ERROR
    assert attrs(span)[semconv.ERROR_TYPE] == "openai.APITimeoutError"
    assert semconv.HTTP_RESPONSE_STATUS_CODE not in attrs(span)


def test_server_down_is_a_connection_error(openai_spans: InMemorySpanExporter) -> None:
    with LocalOpenAIServer() as server:
        base_url = server.base_url
    client = openai.OpenAI(base_url=base_url, api_key="test", max_retries=0)
    with pytest.raises(openai.APIConnectionError):
        client.chat.completions.create(model="gpt-4o-mini", messages=USER)
    client.close()
    assert attrs(only_span(openai_spans))[semconv.ERROR_TYPE] == "openai.APIConnectionError"


def test_invalid_request_400_is_recorded(
    openai_spans: InMemorySpanExporter, openai_client: openai.OpenAI
) -> None:
    orphan = [{"role": "tool", "tool_call_id": "x", "content": "no call"}]
    with pytest.raises(openai.BadRequestError):
        openai_client.chat.completions.create(model="gpt-4o-mini", messages=orphan)  # type: ignore[arg-type]
    assert attrs(only_span(openai_spans))[semconv.ERROR_TYPE] == "openai.BadRequestError"


async def test_async_client_records_the_same(
    openai_spans: InMemorySpanExporter,
    openai_server: LocalOpenAIServer,
    async_openai_client: openai.AsyncOpenAI,
) -> None:
    openai_server.queue(Reply(tool_calls=[ToolCall("f", {"x": 1}, id="c1")]), ErrorReply(429))
    completion = await async_openai_client.chat.completions.create(
        model="gpt-4o-mini", messages=USER
    )
    with pytest.raises(openai.RateLimitError):
        await async_openai_client.chat.completions.create(model="gpt-4o-mini", messages=USER)
    ok, failed = openai_spans.get_finished_spans()
    assert attrs(ok)[semconv.GEN_AI_RESPONSE_ID] == completion.id
    assert messages(ok, semconv.GEN_AI_OUTPUT_MESSAGES)[0]["parts"][0]["arguments"] == {"x": 1}
    assert failed.status.status_code is StatusCode.ERROR


def test_with_raw_response_records_the_parsed_response(
    openai_spans: InMemorySpanExporter, openai_client: openai.OpenAI
) -> None:
    raw = openai_client.chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=USER
    )
    assert raw.headers["x-request-id"].startswith("req_")
    completion = raw.parse()
    a = attrs(only_span(openai_spans))
    assert a[semconv.GEN_AI_RESPONSE_ID] == completion.id
    assert completion.usage is not None
    assert a[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == completion.usage.completion_tokens


class Weather(BaseModel):
    city: str
    degrees: int


def test_parse_is_recorded(
    openai_spans: InMemorySpanExporter,
    openai_server: LocalOpenAIServer,
    openai_client: openai.OpenAI,
) -> None:
    openai_server.queue(Reply(json.dumps({"city": "Seattle", "degrees": 50})))
    completion = openai_client.chat.completions.parse(
        model="gpt-4o-mini", messages=USER, response_format=Weather
    )
    assert completion.choices[0].message.parsed == Weather(city="Seattle", degrees=50)
    a = attrs(only_span(openai_spans))
    assert a[semconv.GEN_AI_OUTPUT_TYPE] == semconv.OUTPUT_TYPE_JSON
    assert a[semconv.GEN_AI_RESPONSE_ID] == completion.id


def test_responses_create_is_a_chat_span(
    openai_spans: InMemorySpanExporter,
    openai_server: LocalOpenAIServer,
    openai_client: openai.OpenAI,
) -> None:
    openai_server.queue(Reply(tool_calls=[ToolCall("get_weather", {"city": "Rome"}, id="c9")]))
    response = openai_client.responses.create(
        model="gpt-4o-mini",
        input="Weather in Rome?",
        instructions="Use tools.",
        max_output_tokens=64,
        temperature=0.5,
    )
    span = only_span(openai_spans)
    a = attrs(span)
    assert span.name == "chat gpt-4o-mini"
    assert a[semconv.GEN_AI_OPERATION_NAME] == semconv.OPERATION_CHAT
    assert a[semconv.GEN_AI_REQUEST_MAX_TOKENS] == 64
    assert a[semconv.GEN_AI_RESPONSE_ID] == response.id
    assert a[semconv.GEN_AI_RESPONSE_FINISH_REASONS] == ("tool_calls",)
    assert response.usage is not None
    assert a[semconv.GEN_AI_USAGE_INPUT_TOKENS] == response.usage.input_tokens
    assert messages(span, semconv.GEN_AI_SYSTEM_INSTRUCTIONS) == [
        {"type": "text", "content": "Use tools."}
    ]
    assert messages(span, semconv.GEN_AI_INPUT_MESSAGES) == [
        {"role": "user", "parts": [{"type": "text", "content": "Weather in Rome?"}]}
    ]
    assert messages(span, semconv.GEN_AI_OUTPUT_MESSAGES)[0]["parts"] == [
        {"type": "tool_call", "id": "c9", "name": "get_weather", "arguments": {"city": "Rome"}}
    ]


def test_responses_function_call_output_round_trip(
    openai_spans: InMemorySpanExporter, openai_client: openai.OpenAI
) -> None:
    openai_client.responses.create(
        model="gpt-4o-mini",
        input=[
            {"role": "user", "content": "Weather?"},
            {"type": "function_call", "call_id": "c1", "name": "w", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "c1", "output": "sunny"},
        ],
    )
    sent = messages(only_span(openai_spans), semconv.GEN_AI_INPUT_MESSAGES)
    assert [m["role"] for m in sent] == ["user", "assistant", "tool"]
    assert sent[2]["parts"] == [{"type": "tool_call_response", "id": "c1", "response": "sunny"}]


async def test_async_responses_error(
    openai_spans: InMemorySpanExporter, async_openai_client: openai.AsyncOpenAI
) -> None:
    with pytest.raises(openai.BadRequestError):
        await async_openai_client.responses.create(model="this-model-does-not-exist", input="x")
    assert only_span(openai_spans).status.status_code is StatusCode.ERROR


def test_azure_client_is_recorded_as_azure(
    openai_spans: InMemorySpanExporter, openai_server: LocalOpenAIServer
) -> None:
    client = openai.AzureOpenAI(
        base_url=openai_server.base_url, api_key="test", api_version="2024-10-21", max_retries=0
    )
    client.chat.completions.create(model="gpt-4o-mini", messages=USER)
    client.close()
    a = attrs(only_span(openai_spans))
    assert a[semconv.GEN_AI_PROVIDER_NAME] == semconv.PROVIDER_AZURE_OPENAI


def test_suppressed_instrumentation_creates_no_span(
    openai_spans: InMemorySpanExporter, openai_client: openai.OpenAI
) -> None:
    with suppress_instrumentation():
        openai_client.chat.completions.create(model="gpt-4o-mini", messages=USER)
    assert openai_spans.get_finished_spans() == ()


def test_server_attributes_follow_a_changed_base_url(
    openai_spans: InMemorySpanExporter, openai_client: openai.OpenAI
) -> None:
    openai_client.chat.completions.create(model="gpt-4o-mini", messages=USER)
    with LocalOpenAIServer() as other:
        openai_client.base_url = other.base_url  # type: ignore[assignment]
        openai_client.chat.completions.create(model="gpt-4o-mini", messages=USER)
    first, second = openai_spans.get_finished_spans()
    assert attrs(second)[semconv.SERVER_PORT] == other.port != attrs(first)[semconv.SERVER_PORT]


def test_responses_parse_is_recorded(
    openai_spans: InMemorySpanExporter,
    openai_server: LocalOpenAIServer,
    openai_client: openai.OpenAI,
) -> None:
    openai_server.queue(Reply(json.dumps({"city": "Oslo", "degrees": 3})))
    response = openai_client.responses.parse(
        model="gpt-4o-mini", input="Weather in Oslo?", text_format=Weather
    )
    assert response.output_parsed == Weather(city="Oslo", degrees=3)
    a = attrs(only_span(openai_spans))
    assert a[semconv.GEN_AI_RESPONSE_ID] == response.id
    assert a[semconv.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)


def test_concurrent_calls_each_get_their_own_span(
    openai_spans: InMemorySpanExporter, openai_client: openai.OpenAI
) -> None:
    def ask(i: int) -> str:
        question = [{"role": "user", "content": f"question {i}"}]
        return openai_client.chat.completions.create(model="gpt-4o-mini", messages=question).id

    with ThreadPoolExecutor(max_workers=8) as pool:
        ids = list(pool.map(ask, range(40)))
    spans = openai_spans.get_finished_spans()
    by_id = {attrs(s)[semconv.GEN_AI_RESPONSE_ID]: s for s in spans}
    assert len(spans) == 40 and set(by_id) == set(ids)
    asked = sorted(
        messages(s, semconv.GEN_AI_INPUT_MESSAGES)[0]["parts"][0]["content"] for s in spans
    )
    assert asked == sorted(f"question {i}" for i in range(40))
    assert all(s.parent is None for s in spans)  # no leaked context between threads
