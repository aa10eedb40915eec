"""What the readers make of a real record (the openai client against the local
server): the prompt starts with the recorded instructions, ``show``, ``usage``
and the report show instructions, failed calls and interrupted streams."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
from opentelemetry.sdk.trace import TracerProvider

import a2a_session_manager as asm
from a2a_session_manager.instrumentation.openai import OpenAIInstrumentor
from a2a_session_manager.models import EventType, Session
from a2a_session_manager.prompts import PromptStrategy, build_prompt_from_session
from a2a_session_manager.reports import (
    render_report,
    render_show,
    render_usage,
    report_data,
    usage_report,
)
from a2a_session_manager.storage import InMemorySessionStore
from a2a_session_manager.testing import ErrorReply, LocalOpenAIServer, Reply, ToolCall
from tests.support.chromium import console_errors, dump_dom
from tests.support.otel import clean_otel

__all__ = ["clean_otel"]

MODEL = "gpt-4o-mini"
SYSTEM = {"role": "system", "content": "You answer in one word."}


@pytest.fixture
def store(clean_otel: None) -> Iterator[InMemorySessionStore]:
    provider = TracerProvider()
    store = InMemorySessionStore()
    handle = asm.configure(store=store, tracer_provider=provider, instrument=("openai",))
    yield store
    OpenAIInstrumentor().uninstrument()
    handle.shutdown()
    provider.shutdown()


def stored(store: InMemorySessionStore, session_id: str) -> Session:
    session = store.get(session_id)
    assert session is not None
    return session


def test_the_prompt_starts_with_the_recorded_instructions(
    store: InMemorySessionStore, openai_server: LocalOpenAIServer, openai_client: openai.OpenAI
) -> None:
    openai_server.queue(Reply("Paris"), Reply("Rome"))
    with asm.session("taught"):
        with asm.run("first") as first:
            messages: list[Any] = [SYSTEM, {"role": "user", "content": "Capital of France?"}]
            openai_client.chat.completions.create(model=MODEL, messages=messages, temperature=0)
        with asm.run("second") as second:
            asm.record_event("Capital of Italy?", source="user")
            asm.record_event("Rome", source="llm")
    session = stored(store, "taught")
    assert [e.type for e in session.events].count(EventType.INSTRUCTIONS) == 1

    prompt = build_prompt_from_session(session, PromptStrategy.CONVERSATION)
    assert prompt[0] == SYSTEM
    assert [m["role"] for m in prompt] == ["system", "user", "assistant", "user", "assistant"]
    # One run only: the instructions recorded before it still lead.
    only_second = build_prompt_from_session(session, run_id=second.id)
    assert only_second == [
        SYSTEM,
        {"role": "user", "content": "Capital of Italy?"},
        {"role": "assistant", "content": "Rome"},
    ]
    assert build_prompt_from_session(session, run_id=first.id)[:2] == prompt[:2]
    for strategy in PromptStrategy:
        assert build_prompt_from_session(session, strategy)[0] == SYSTEM

    # The local server checks the request as the API does.
    openai_client.chat.completions.create(model=MODEL, messages=prompt)

    shown = render_show(session)
    (line,) = [line for line in shown.splitlines() if "instructions:" in line]
    assert "You answer in one word." in line and "temperature=0" in line
    assert "system: You answer in one word." in render_show(session, full=True)
    (entry,) = [e for e in report_data(session)["entries"] if e["type"] == "instructions"]
    assert "You answer in one word." in entry["details"]


def test_failed_and_interrupted_calls_are_shown_and_counted(
    store: InMemorySessionStore, openai_server: LocalOpenAIServer, openai_client: openai.OpenAI
) -> None:
    call = ToolCall("get_weather", {"location": "Paris"}, id="call_1")
    openai_server.queue(
        ErrorReply(429),
        Reply("Sunny."),
        Reply("Let me check.", tool_calls=[call], chunk_chars=4, cut_after=8),
    )
    question: list[Any] = [{"role": "user", "content": "Weather in Paris?"}]
    with asm.session("rough"), asm.run("agent"):
        for _attempt in range(2):
            try:
                openai_client.chat.completions.create(model=MODEL, messages=question)
                break
            except openai.RateLimitError:
                continue
        with pytest.raises(openai.APIConnectionError):
            for _ in openai_client.chat.completions.create(
                model=MODEL, messages=[{"role": "user", "content": "Again?"}], stream=True
            ):
                pass
    session = stored(store, "rough")

    report = usage_report(session)
    assert report.total.calls == 3
    assert report.total.failed_calls == 2  # the 429 and the cut stream
    usage_text = render_usage(report)
    assert "3 calls (2 failed)" in usage_text

    shown = render_show(session)
    assert "3 LLM calls (2 failed)" in shown
    assert "✗ failed: openai.RateLimitError 429" in shown
    assert "stream cut before it ended" in shown

    data = report_data(session)
    failures = [e["failure"] for e in data["entries"] if e["failure"]]
    assert len(failures) == 2 and "429" in failures[0]
    assert failures[1].startswith("stream cut before it ended; failed: openai.APIConnectionError")
    assert [row["status"] for row in data["timeline"] if row["kind"] == "llm"] == [
        "error",
        "ok",
        "error",
    ]

    # A failed call said nothing to the model: the prompt keeps what answered.
    prompt = build_prompt_from_session(session)
    assert {"role": "assistant", "content": "Sunny."} in prompt
    assert all(m["role"] != "assistant" or m.get("content") == "Sunny." for m in prompt)


def test_the_report_page_shows_instructions_and_failures(
    store: InMemorySessionStore,
    openai_server: LocalOpenAIServer,
    openai_client: openai.OpenAI,
    tmp_path: Path,
) -> None:
    openai_server.queue(ErrorReply(429), Reply("Paris"))
    messages: list[Any] = [SYSTEM, {"role": "user", "content": "Capital of France?"}]
    with asm.session("page"), asm.run("agent"):
        for _attempt in range(2):
            try:
                openai_client.chat.completions.create(model=MODEL, messages=messages)
                break
            except openai.RateLimitError:
                continue
    page = tmp_path / "page.html"
    page.write_text(render_report(stored(store, "page"), store), encoding="utf-8")
    dom, log = dump_dom(page)
    assert 'data-report="ready"' in dom and console_errors(log) == []
    assert '<div class="msg-failure">failed: openai.RateLimitError 429' in dom
    assert '<details class="msg-details">' in dom  # the instructions, collapsed
    assert "2 failed" not in dom and "1 failed" in dom  # the LLM calls card
