"""Message content off the call's path: without
``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`` the ``chat`` span carries
no message JSON, and the session mapper builds the messages from what the
call left on the span (``telemetry._deferred_content``). The session must be the
one the JSON attributes (the reference form) give, event for event."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import openai
import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from pydantic import BaseModel

import a2a_session_manager as asm
from a2a_session_manager.exporters._mapping import SpanMapper
from a2a_session_manager.instrumentation.openai import OpenAIInstrumentor
from a2a_session_manager.instrumentation.openai._messages import plain_json, to_json
from a2a_session_manager.models import SessionEvent
from a2a_session_manager.storage import InMemorySessionStore
from a2a_session_manager.telemetry import semconv
from a2a_session_manager.telemetry._deferred_content import deferred_content
from a2a_session_manager.testing import LocalOpenAIServer, Reply, ToolCall
from tests.support.otel import clean_otel

__all__ = ["clean_otel"]

CAPTURE = semconv.OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT
MODEL = "gpt-4o-mini"
CONTENT_KEYS = (semconv.GEN_AI_INPUT_MESSAGES, semconv.GEN_AI_OUTPUT_MESSAGES)
# Differ between two runs of the same conversation; everything else must not.
VOLATILE_METADATA = ("span_id", "started_at", "duration_ms", "parent_event_id", "response_id")


class Recorded:
    def __init__(self, store: InMemorySessionStore, exporter: InMemorySpanExporter) -> None:
        self.store = store
        self.exporter = exporter


@pytest.fixture
def recorded(clean_otel: None) -> Iterator[Recorded]:
    provider = TracerProvider()
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    store = InMemorySessionStore()
    handle = asm.configure(store=store, tracer_provider=provider, instrument=("openai",))
    yield Recorded(store, exporter)
    OpenAIInstrumentor().uninstrument()
    handle.shutdown()
    provider.shutdown()


def _chat_spans(exporter: InMemorySpanExporter) -> list[ReadableSpan]:
    spans = exporter.get_finished_spans()
    return [
        s
        for s in spans
        if (s.attributes or {}).get(semconv.GEN_AI_OPERATION_NAME) == semconv.OPERATION_CHAT
    ]


def _comparable(event: SessionEvent) -> dict[str, Any]:
    dumped = event.model_dump(mode="json", exclude={"id", "timestamp"})
    for key in VOLATILE_METADATA:
        dumped["metadata"].pop(key, None)
    return dumped


# -- conversations, each run twice: content on the spans, then off ----------------


def _tool_loop(client: openai.OpenAI, server: LocalOpenAIServer, stream: bool) -> None:
    server.queue(
        Reply(
            "Checking both.",
            tool_calls=[
                ToolCall("weather", {"city": "Paris"}, id="call_a"),
                ToolCall("weather", '{"city": "Oslo"', id="call_b"),  # malformed, kept raw
            ],
        ),
        Reply("Rain in both. \u202e\U0001f600 NUL\x00"),
    )
    messages: list[Any] = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": [{"type": "text", "text": "Weather?"}], "name": "ann"},
    ]
    for _ in range(2):
        if stream:
            with client.chat.completions.stream(model=MODEL, messages=messages) as events:
                for _event in events:
                    pass
                message = events.get_final_completion().choices[0].message
        else:
            message = (
                client.chat.completions.create(model=MODEL, messages=messages).choices[0].message
            )
        messages.append(message)  # the client's own object, as agents append it
        for call in message.tool_calls or ():
            messages.append({"role": "tool", "tool_call_id": call.id, "content": "rain"})


def _responses(client: openai.OpenAI, server: LocalOpenAIServer, stream: bool) -> None:
    server.queue(Reply("Hi there.", tool_calls=[ToolCall("w", {"c": 1}, id="c1")]))
    kwargs: dict[str, Any] = {
        "model": MODEL,
        "instructions": "Be brief.",
        "input": [{"role": "user", "content": "hello"}],
    }
    if stream:
        list(client.responses.create(stream=True, **kwargs))
    else:
        client.responses.create(**kwargs)


Conversation = Callable[[openai.OpenAI, LocalOpenAIServer, bool], None]


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
@pytest.mark.parametrize("conversation", [_tool_loop, _responses], ids=["chat", "responses"])
def test_session_from_deferred_content_equals_the_one_from_json_attributes(
    monkeypatch: pytest.MonkeyPatch,
    recorded: Recorded,
    openai_server: LocalOpenAIServer,
    openai_client: openai.OpenAI,
    conversation: Conversation,
    stream: bool,
) -> None:
    monkeypatch.setenv(CAPTURE, "SPAN_ONLY")
    with asm.session("with-json"):
        conversation(openai_client, openai_server, stream)
    json_spans = _chat_spans(recorded.exporter)
    recorded.exporter.clear()
    monkeypatch.delenv(CAPTURE)
    with asm.session("deferred"):
        conversation(openai_client, openai_server, stream)
    deferred_spans = _chat_spans(recorded.exporter)

    assert json_spans and len(json_spans) == len(deferred_spans)
    for with_json, deferred in zip(json_spans, deferred_spans, strict=True):
        assert all(key in (with_json.attributes or {}) for key in CONTENT_KEYS)
        assert not any(key in (deferred.attributes or {}) for key in CONTENT_KEYS)
        assert deferred_content(deferred) is not None
        # Same attributes otherwise (ids and times aside).
        for key, value in (with_json.attributes or {}).items():
            if key not in semconv.CONTENT_ATTRIBUTES and key not in (
                semconv.GEN_AI_RESPONSE_ID,
                semconv.SESSION_ID,
                semconv.GEN_AI_CONVERSATION_ID,
                semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK,
            ):
                assert (deferred.attributes or {}).get(key) == value, key

    # The stores' sessions, and fresh mappers over the spans, agree event for event.
    from_json, from_snapshot = recorded.store.get("with-json"), recorded.store.get("deferred")
    assert from_json is not None and from_snapshot is not None
    assert [_comparable(e) for e in from_snapshot.events] == [
        _comparable(e) for e in from_json.events
    ]
    assert any(e.message for e in from_snapshot.events)
    assert any(e.token_usage for e in from_snapshot.events)
    mapped_json = SpanMapper().map(json_spans)["with-json"].events
    mapped_snapshot = SpanMapper().map(deferred_spans)["deferred"].events
    assert [_comparable(e) for e in mapped_snapshot] == [_comparable(e) for e in mapped_json]


def test_messages_changed_after_the_call_are_not_what_was_recorded(
    recorded: Recorded, openai_server: LocalOpenAIServer, openai_client: openai.OpenAI
) -> None:
    openai_server.queue(Reply("First."), Reply("Streamed."))
    messages: list[Any] = [{"role": "user", "content": "one"}]
    with asm.session("mutated"):
        openai_client.chat.completions.create(model=MODEL, messages=messages)
        messages.append({"role": "user", "content": "appended after the call"})
        stream = openai_client.chat.completions.create(model=MODEL, messages=messages, stream=True)
        messages.append({"role": "user", "content": "appended while streaming"})
        messages[0] = {"role": "user", "content": "replaced"}
        list(stream)
        messages.clear()
    stored = recorded.store.get("mutated")
    assert stored is not None
    # The second request does not continue the first (it holds no reply):
    # it is a conversation of its own, and everything it sent is recorded.
    assert [(e.source.value, e.message) for e in stored.events] == [
        ("user", "one"),
        ("llm", "First."),
        ("user", "one"),
        ("user", "appended after the call"),
        ("llm", "Streamed."),
    ]


def test_content_on_spans_when_the_conventions_allow_it(
    monkeypatch: pytest.MonkeyPatch,
    recorded: Recorded,
    openai_server: LocalOpenAIServer,
    openai_client: openai.OpenAI,
) -> None:
    openai_server.queue(Reply("Yes."), Reply("Yes again."))
    messages = [{"role": "user", "content": "exported?"}]
    with asm.session("off"):
        openai_client.chat.completions.create(model=MODEL, messages=messages)
    monkeypatch.setenv(CAPTURE, "span_and_event")
    with asm.session("on"):
        openai_client.chat.completions.create(model=MODEL, messages=messages)
    off, on = _chat_spans(recorded.exporter)
    assert not any(key in (off.attributes or {}) for key in CONTENT_KEYS)
    attributes = on.attributes or {}
    assert json.loads(attributes[semconv.GEN_AI_INPUT_MESSAGES]) == [
        {"role": "user", "parts": [{"type": "text", "content": "exported?"}]}
    ]
    assert json.loads(attributes[semconv.GEN_AI_OUTPUT_MESSAGES])[0]["parts"] == [
        {"type": "text", "content": "Yes again."}
    ]
    for session_id, reply in (("off", "Yes."), ("on", "Yes again.")):
        stored = recorded.store.get(session_id)
        assert stored is not None
        assert [e.message for e in stored.events] == ["exported?", reply]


def test_failed_call_keeps_its_request_without_json(
    recorded: Recorded, openai_server: LocalOpenAIServer, openai_client: openai.OpenAI
) -> None:
    with asm.session("failed"), pytest.raises(openai.APIConnectionError):
        openai_server.stop()
        openai_client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "anyone?"}]
        )
    stored = recorded.store.get("failed")
    assert stored is not None
    user, failed = stored.events
    assert (user.source.value, user.message) == ("user", "anyone?")
    assert failed.source.value == "llm"
    assert failed.message["error"]["type"].endswith("APIConnectionError")
    assert failed.token_usage is not None and failed.token_usage.total_tokens == 0


class _Point(BaseModel):
    x: int


@pytest.mark.parametrize(
    "value",
    [
        {"a": [1, 2.5, None, True, "t\x00\u202e"]},
        {"args": (1, 2), "nested": {"set": frozenset()}},
        {1: "int key", None: "none key"},
        {"bytes": b"\xff\x00", "model": _Point(x=1), "object": object},
        [float("inf"), -0.0, 10**30],
    ],
)
def test_plain_json_is_what_a_json_round_trip_gives(value: Any) -> None:
    plain = plain_json(value)
    expected = json.loads(to_json(value))
    assert json.dumps(plain, sort_keys=True) == json.dumps(expected, sort_keys=True)


def test_plain_json_copies_containers() -> None:
    arguments = {"city": "Paris", "tags": ["a"]}
    plain = plain_json({"arguments": arguments})
    plain["arguments"]["city"] = "changed by a redaction hook"
    plain["arguments"]["tags"].append("b")
    assert arguments == {"city": "Paris", "tags": ["a"]}
