"""OpenAI messages → structured messages, and what happens when our own parsing fails."""

from __future__ import annotations

import json
from typing import Any

import openai
import pytest
from openai.types.chat import ChatCompletionMessage
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from a2a_session_manager.instrumentation.openai import _messages, _stream, _wrappers
from a2a_session_manager.instrumentation.openai._usage import usage_attributes
from a2a_session_manager.telemetry import semconv
from a2a_session_manager.testing import LocalOpenAIServer, Reply, ToolCall

USER = [{"role": "user", "content": "hi"}]


def test_pydantic_and_dict_messages_convert_alike() -> None:
    as_object = ChatCompletionMessage.model_validate(
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "c1",
                    "type": "function",
                    "function": {"name": "f", "arguments": '{"a": 1}'},
                }
            ],
        }
    )
    as_dict = as_object.model_dump()
    expected = {
        "role": "assistant",
        "parts": [{"type": "tool_call", "id": "c1", "name": "f", "arguments": {"a": 1}}],
    }
    assert _messages.chat_message(as_object) == expected
    assert _messages.chat_message(as_dict) == expected


def test_content_parts_keep_text_and_only_the_kind_of_media() -> None:
    message = {
        "role": "user",
        "name": "alice",
        "content": [
            {"type": "text", "text": "what is this?"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64," + "A" * 10_000}},
        ],
    }
    assert _messages.chat_message(message) == {
        "role": "user",
        "name": "alice",
        "parts": [{"type": "text", "content": "what is this?"}, {"type": "image_url"}],
    }


def test_tool_message_with_parts_and_legacy_function_call() -> None:
    tool = {"role": "tool", "tool_call_id": "c1", "content": [{"type": "text", "text": "42"}]}
    assert _messages.chat_message(tool)["parts"] == [
        {"type": "tool_call_response", "id": "c1", "response": "42"}
    ]
    call = {"name": "f", "arguments": "{}"}
    legacy = {"role": "assistant", "content": None, "function_call": call}
    assert _messages.chat_message(legacy)["parts"] == [
        {"type": "tool_call", "id": None, "name": "f", "arguments": {}}
    ]


@pytest.mark.parametrize(
    ("raw", "parsed"),
    [
        ('{"a": 1}', {"a": 1}),
        ('{"a": ', '{"a": '),
        ("", ""),
        ("not json at all", "not json at all"),
        ("[1, 2]", [1, 2]),
        ({"already": "parsed"}, {"already": "parsed"}),
    ],
)
def test_arguments_parsed_only_when_valid_json(raw: Any, parsed: Any) -> None:
    assert _messages.parse_arguments(raw) == parsed


def test_to_json_never_raises() -> None:
    circular: list[Any] = []
    circular.append(circular)
    values: list[Any] = [
        b"\xff\xfe invalid utf-8",
        {"set": {1, 2}},
        "lone surrogate \ud800",
        "NUL \x00 inside",
        object(),
        circular,
        float("nan"),
    ]
    for value in values:
        assert isinstance(_messages.to_json(value), str)
    assert json.loads(_messages.to_json(b"\xff"))  # bytes become escaped text


def test_hostile_content_is_recorded_as_sent(
    openai_spans: InMemorySpanExporter, openai_client: openai.OpenAI
) -> None:
    hostile = "NUL\x00 ../../etc/passwd \u202e RTL \U0001f600"
    openai_client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": hostile}]
    )
    (span,) = openai_spans.get_finished_spans()
    sent = json.loads((span.attributes or {})[semconv.GEN_AI_INPUT_MESSAGES])
    assert sent[0]["parts"][0]["content"] == hostile


def test_usage_attributes_read_both_apis_and_ignore_junk() -> None:
    chat = {"prompt_tokens": 10, "completion_tokens": 2, "prompt_tokens_details": None}
    assert usage_attributes(chat) == {
        semconv.GEN_AI_USAGE_INPUT_TOKENS: 10,
        semconv.GEN_AI_USAGE_OUTPUT_TOKENS: 2,
        semconv.A2A_USAGE_SOURCE: "provider",
    }
    responses = {
        "input_tokens": 7,
        "output_tokens": 3,
        "input_tokens_details": {"cached_tokens": 5},
        "output_tokens_details": {"reasoning_tokens": 1},
    }
    assert usage_attributes(responses)[semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == 5
    assert usage_attributes(responses)[semconv.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] == 1
    assert usage_attributes({"prompt_tokens": "ten", "completion_tokens": True}) == {}
    assert usage_attributes(None) == {}


# -- our bugs never reach the user (outside pytest's loud mode) ----------------------


def production_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    """Internal errors are re-raised under pytest; this checks the production path.
    (pytest sets the variable again at each test phase, so call this in the test.)"""
    monkeypatch.delenv("PYTEST_CURRENT_TEST", raising=False)


def _boom(*args: Any, **kwargs: Any) -> Any:
    raise RuntimeError("bug in our parsing")


def test_broken_response_parsing_never_reaches_the_user(
    monkeypatch: pytest.MonkeyPatch,
    openai_spans: InMemorySpanExporter,
    openai_client: openai.OpenAI,
) -> None:
    production_mode(monkeypatch)
    monkeypatch.setattr(_wrappers.CHAT, "response_attributes", _boom)
    completion = openai_client.chat.completions.create(model="gpt-4o-mini", messages=USER)
    assert completion.choices[0].message.content == "This is a test."
    (span,) = openai_spans.get_finished_spans()
    assert span.status.status_code is StatusCode.UNSET
    assert (span.attributes or {})[semconv.GEN_AI_REQUEST_MODEL] == "gpt-4o-mini"


def test_broken_request_parsing_still_makes_the_call(
    monkeypatch: pytest.MonkeyPatch,
    openai_spans: InMemorySpanExporter,
    openai_client: openai.OpenAI,
) -> None:
    production_mode(monkeypatch)
    monkeypatch.setattr(_wrappers.CHAT, "request_attributes", _boom)
    completion = openai_client.chat.completions.create(model="gpt-4o-mini", messages=USER)
    assert completion.choices[0].message.content == "This is a test."
    assert openai_spans.get_finished_spans() == ()


def test_broken_chunk_accumulation_never_breaks_the_stream(
    monkeypatch: pytest.MonkeyPatch,
    openai_spans: InMemorySpanExporter,
    openai_server: LocalOpenAIServer,
    openai_client: openai.OpenAI,
) -> None:
    production_mode(monkeypatch)
    monkeypatch.setattr(_stream.ChatAccumulator, "add", _boom)
    openai_server.queue(Reply("streamed anyway", tool_calls=[ToolCall("f", {"a": 1})]))
    chunks = list(
        openai_client.chat.completions.create(model="gpt-4o-mini", messages=USER, stream=True)
    )
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "streamed anyway"
    (span,) = openai_spans.get_finished_spans()
    assert span.status.status_code is StatusCode.UNSET


def test_internal_errors_are_loud_under_pytest(
    monkeypatch: pytest.MonkeyPatch,
    openai_spans: InMemorySpanExporter,
    openai_client: openai.OpenAI,
) -> None:
    monkeypatch.setattr(_wrappers.CHAT, "response_attributes", _boom)
    with pytest.raises(RuntimeError, match="bug in our parsing"):
        openai_client.chat.completions.create(model="gpt-4o-mini", messages=USER)


def test_token_counting_failure_keeps_the_rest_of_the_record(
    monkeypatch: pytest.MonkeyPatch,
    openai_spans: InMemorySpanExporter,
    openai_client: openai.OpenAI,
) -> None:
    production_mode(monkeypatch)
    monkeypatch.setattr(_stream, "counted_usage_attributes", _boom)
    list(openai_client.chat.completions.create(model="gpt-4o-mini", messages=USER, stream=True))
    (span,) = openai_spans.get_finished_spans()
    attributes = span.attributes or {}
    assert semconv.GEN_AI_USAGE_INPUT_TOKENS not in attributes
    output = json.loads(attributes[semconv.GEN_AI_OUTPUT_MESSAGES])
    assert output[0]["parts"] == [{"type": "text", "content": "This is a test."}]
