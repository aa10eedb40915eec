"""chat / execute_tool spans, as the OpenAI instrumentation emits them, become
USER, LLM and TOOL_CALL events recorded once each, and read back as a prompt."""

from __future__ import annotations

import json
from typing import Any

from opentelemetry.trace import Tracer

import a2a_session_manager as asm
from a2a_session_manager.models import EventSource, EventType
from a2a_session_manager.telemetry import semconv
from tests.support.otel import Recorder, clean_otel, recorder

__all__ = ["clean_otel", "recorder"]


def _text(role: str, text: str) -> dict[str, Any]:
    return {"role": role, "parts": [{"type": "text", "content": text}]}


def _chat(
    tracer: Tracer,
    inputs: list[dict[str, Any]],
    output: dict[str, Any],
    usage: tuple[int, int] = (10, 5),
) -> None:
    """A chat span shaped as instrumentation/openai emits it."""
    with tracer.start_as_current_span("chat gpt-4o-mini") as span:
        span.set_attributes(
            {
                semconv.GEN_AI_OPERATION_NAME: semconv.OPERATION_CHAT,
                semconv.GEN_AI_PROVIDER_NAME: "openai",
                semconv.GEN_AI_REQUEST_MODEL: "gpt-4o-mini",
                semconv.GEN_AI_REQUEST_STREAM: False,
                semconv.GEN_AI_RESPONSE_MODEL: "gpt-4o-mini-2024-07-18",
                semconv.GEN_AI_RESPONSE_ID: "chatcmpl-1",
                semconv.GEN_AI_RESPONSE_FINISH_REASONS: ("stop",),
                semconv.GEN_AI_USAGE_INPUT_TOKENS: usage[0],
                semconv.GEN_AI_USAGE_OUTPUT_TOKENS: usage[1],
                semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: 2,
                semconv.A2A_USAGE_SOURCE: "provider",
                semconv.GEN_AI_INPUT_MESSAGES: json.dumps(inputs),
                semconv.GEN_AI_OUTPUT_MESSAGES: json.dumps([output]),
            }
        )


TOOL_CALL = {
    "role": "assistant",
    "parts": [
        {"type": "tool_call", "id": "call_1", "name": "weather", "arguments": {"city": "Oslo"}}
    ],
    "finish_reason": "tool_calls",
}


def test_conversation_with_decorated_tool_is_recorded_once(recorder: Recorder) -> None:
    tracer = recorder.provider.get_tracer("instrumentation.openai")

    @asm.tool
    def weather(city: str) -> dict[str, Any]:
        return {"city": city, "temp": 3}

    system = _text("system", "be brief")
    user = _text("user", "weather in Oslo?")
    with asm.session("chat-1"), asm.run("agent") as run:
        asm.record_event("weather in Oslo?", source=EventSource.USER)
        _chat(tracer, [system, user], TOOL_CALL)
        weather("Oslo")
        tool_msg = {
            "role": "tool",
            "parts": [{"type": "tool_call_response", "id": "call_1", "response": {"temp": 3}}],
        }
        _chat(tracer, [system, user, TOOL_CALL, tool_msg], _text("assistant", "3 degrees"))
        # a retry of the same request records nothing new but the reply
        _chat(tracer, [system, user, TOOL_CALL, tool_msg], _text("assistant", "3 degrees"))

    stored = recorder.store.get("chat-1")
    assert stored is not None
    kinds = [
        (e.source.value, e.type.value if isinstance(e.type, EventType) else e.type)
        for e in stored.events
    ]
    assert kinds == [
        ("user", "message"),
        ("system", "instructions"),
        ("llm", "message"),
        ("tool", "tool_call"),
        ("llm", "message"),
        ("llm", "message"),
    ]
    user_event, instructions, ask, tool_event, answer, _ = stored.events
    assert user_event.message == "weather in Oslo?"
    assert instructions.message == {
        "system": [{"role": "system", "content": "be brief"}],
        "parameters": {},
        "tools": [],
    }
    assert ask.message == {
        "content": None,
        "tool_calls": [{"id": "call_1", "name": "weather", "arguments": {"city": "Oslo"}}],
    }
    assert tool_event.message["call_id"] == "call_1"
    assert tool_event.message["result"] == {"city": "Oslo", "temp": 3}
    assert tool_event.metadata["parent_event_id"] == ask.id
    assert answer.message == "3 degrees"
    assert answer.token_usage is not None
    assert answer.token_usage.source == "provider"
    assert answer.token_usage.prompt_tokens == 10
    assert answer.token_usage.cached_input_tokens == 2
    assert all(e.task_id == run.id for e in stored.events)
    assert stored.token_summary.total_tokens == 45


def test_tool_result_seen_only_in_next_request_is_recorded_from_it(recorder: Recorder) -> None:
    tracer = recorder.provider.get_tracer("instrumentation.openai")
    user = _text("user", "weather?")
    tool_msg = {
        "role": "tool",
        "parts": [{"type": "tool_call_response", "id": "call_1", "response": "sunny"}],
    }
    with asm.session("chat-2"), asm.run("agent"):
        _chat(tracer, [user], TOOL_CALL)
        _chat(tracer, [user, TOOL_CALL, tool_msg], _text("assistant", "sunny"))
        _chat(
            tracer,
            [user, TOOL_CALL, tool_msg, _text("assistant", "sunny"), _text("user", "thanks")],
            _text("assistant", "welcome"),
        )
    stored = recorder.store.get("chat-2")
    assert stored is not None
    messages = [e.message for e in stored.events]
    assert messages[0] == "weather?"
    tool_event = stored.events[2]
    assert tool_event.type == EventType.TOOL_CALL
    assert tool_event.message == {
        "tool_name": "weather",
        "call_id": "call_1",
        "arguments": {"city": "Oslo"},
        "result": "sunny",
        "error": None,
    }
    assert tool_event.metadata["parent_event_id"] == stored.events[1].id
    assert messages[3:] == ["sunny", "thanks", "welcome"]


def test_malformed_message_json_never_breaks_recording(recorder: Recorder) -> None:
    tracer = recorder.provider.get_tracer("instrumentation.openai")
    with asm.session("bad"), asm.run("agent"), tracer.start_as_current_span("chat x") as span:
        span.set_attribute(semconv.GEN_AI_OPERATION_NAME, "chat")
        span.set_attribute(semconv.GEN_AI_INPUT_MESSAGES, "{not json")
        span.set_attribute(semconv.GEN_AI_OUTPUT_MESSAGES, '[1, "x", {"role": 3}]')
    stored = recorder.store.get("bad")
    assert stored is not None  # the run is there; the chat made no bogus events
    assert [e.source for e in stored.events] == [EventSource.LLM]


def test_redaction_hook_sees_messages_before_they_are_stored(recorder: Recorder) -> None:
    def redact(message: dict[str, Any]) -> dict[str, Any]:
        return json.loads(json.dumps(message).replace("secret", "[redacted]"))

    asm.configure(store=recorder.store, tracer_provider=recorder.provider, redact=redact)
    tracer = recorder.provider.get_tracer("instrumentation.openai")
    with asm.session("red"), asm.run("agent"):
        asm.record_event("my secret")
        _chat(tracer, [_text("user", "the secret is 42")], _text("assistant", "secret noted"))
    stored = recorder.store.get("red")
    assert stored is not None
    assert [e.message for e in stored.events] == [
        "my [redacted]",
        "the [redacted] is 42",
        "[redacted] noted",
    ]


def test_session_recorded_by_decorators_builds_the_next_prompt(recorder: Recorder) -> None:
    from a2a_session_manager.prompts import build_prompt_from_session

    tracer = recorder.provider.get_tracer("instrumentation.openai")

    @asm.run("assistant")
    def answer(question: str) -> None:
        _chat(tracer, [_text("user", question)], _text("assistant", "Paris"))

    with asm.session("prompt"):
        answer("capital of France?")
    stored = recorder.store.get("prompt")
    assert stored is not None
    prompt = build_prompt_from_session(stored)
    assert {"role": "user", "content": "capital of France?"} in prompt
    assert any(m.get("role") == "assistant" and m.get("content") == "Paris" for m in prompt)
