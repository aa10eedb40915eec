"""``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`` as the GenAI conventions
define it: ``NO_CONTENT`` (default), ``SPAN_ONLY``, ``EVENT_ONLY``,
``SPAN_AND_EVENT``, any case; anything else, booleans included, fails closed to
``NO_CONTENT`` with one warning naming the value to use. The session store keeps
content whatever the variable says."""

from __future__ import annotations

import json
import logging

import openai
import pytest

import a2a_session_manager as asm
from a2a_session_manager.instrumentation.openai import OpenAIInstrumentor
from a2a_session_manager.telemetry import semconv
from a2a_session_manager.telemetry._deferred_content import capture_mode
from a2a_session_manager.testing import LocalOpenAIServer, Reply
from tests.support.otel import Recorder

CAPTURE = semconv.OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT

# value -> whether chat spans carry message content
VALUES = {
    None: False,
    "": False,
    "NO_CONTENT": False,
    "no_content": False,
    "SPAN_ONLY": True,
    "span_only": True,
    " Span_Only ": True,
    "EVENT_ONLY": False,
    "SPAN_AND_EVENT": True,
    "span_and_event": True,
    "true": False,
    "TRUE": False,
    "1": False,
    "yes": False,
    "false": False,
    "SPAN": False,
    "garbage ✓": False,
}


@pytest.mark.parametrize(("value", "on_spans"), list(VALUES.items()), ids=repr)
def test_chat_span_carries_content_only_for_span_modes(
    monkeypatch: pytest.MonkeyPatch,
    recorder: Recorder,
    openai_server: LocalOpenAIServer,
    openai_client: openai.OpenAI,
    value: str | None,
    on_spans: bool,
) -> None:
    if value is None:
        monkeypatch.delenv(CAPTURE, raising=False)
    else:
        monkeypatch.setenv(CAPTURE, value)
    OpenAIInstrumentor().instrument(tracer_provider=recorder.provider)
    try:
        openai_server.queue(Reply("Hello."))
        with asm.session(f"capture-{len(value or '')}"):
            openai_client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": "Hi"}]
            )
    finally:
        OpenAIInstrumentor().uninstrument()
    (chat,) = [
        s
        for s in recorder.exporter.get_finished_spans()
        if (s.attributes or {}).get(semconv.GEN_AI_OPERATION_NAME) == semconv.OPERATION_CHAT
    ]
    attributes = chat.attributes or {}
    if on_spans:
        assert json.loads(attributes[semconv.GEN_AI_INPUT_MESSAGES]) == [
            {"role": "user", "parts": [{"type": "text", "content": "Hi"}]}
        ]
        assert semconv.GEN_AI_OUTPUT_MESSAGES in attributes
    else:
        assert not semconv.CONTENT_ATTRIBUTES & set(attributes)
    # The session store keeps content whatever the variable says.
    stored = recorder.store.get(f"capture-{len(value or '')}")
    assert stored is not None
    assert [e.message for e in stored.events] == ["Hi", "Hello."]


def test_unknown_value_warns_once_and_names_the_value_to_use(
    caplog: pytest.LogCaptureFixture,
) -> None:
    capture_mode.cache_clear()
    with caplog.at_level(logging.WARNING):
        assert capture_mode("true") == "NO_CONTENT"
        assert capture_mode("true") == "NO_CONTENT"
        assert capture_mode("yes") == "NO_CONTENT"
        assert capture_mode("SPAN_ONLY") == "SPAN_ONLY"
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2
    assert "'true'" in warnings[0] and "SPAN_ONLY" in warnings[0]
    assert "'yes'" in warnings[1]


def test_capture_content_false_keeps_content_out_of_spans_and_store(
    monkeypatch: pytest.MonkeyPatch,
    recorder: Recorder,
    openai_server: LocalOpenAIServer,
    openai_client: openai.OpenAI,
) -> None:
    from a2a_session_manager.exporters._otlp import ContentFilteringExporter
    from a2a_session_manager.telemetry._deferred_content import content_on_spans

    monkeypatch.setenv(CAPTURE, "SPAN_AND_EVENT")
    assert content_on_spans()
    asm.configure(capture_content=False)
    OpenAIInstrumentor().instrument(tracer_provider=recorder.provider)
    try:
        openai_server.queue(Reply("Secret reply."))
        with asm.session("private"):
            openai_client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": "secret"}]
            )
    finally:
        OpenAIInstrumentor().uninstrument()
    stored = recorder.store.get("private")
    assert stored is not None
    assert "secret" not in json.dumps([e.message for e in stored.events], default=str).lower()
    # What goes to collectors passes through the filtering exporter.
    filtering = ContentFilteringExporter(recorder.exporter, capture_content=False)
    (chat,) = [
        filtering._filtered(s)
        for s in recorder.exporter.get_finished_spans()
        if (s.attributes or {}).get(semconv.GEN_AI_OPERATION_NAME) == semconv.OPERATION_CHAT
    ]
    assert not semconv.CONTENT_ATTRIBUTES & set(chat.attributes or {})
