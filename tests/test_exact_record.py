"""The session is exactly what happened: with the real openai client against
the local server, every message, call and tool result is recorded once,
whatever this process remembers, and nothing is inferred away."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import a2a_session_manager as asm
from a2a_session_manager.exporters import SpanMapper
from a2a_session_manager.instrumentation.openai import OpenAIInstrumentor
from a2a_session_manager.models import EventSource, EventType, Session
from a2a_session_manager.storage import (
    InMemorySessionStore,
    create_file_session_store,
    create_store,
)
from a2a_session_manager.storage.base import SessionStore
from a2a_session_manager.testing import ErrorReply, LocalOpenAIServer, Reply, ToolCall
from tests.support.otel import clean_otel

__all__ = ["clean_otel"]

MODEL = "gpt-4o-mini"
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(params=["memory", "file"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> SessionStore:
    if request.param == "memory":
        return InMemorySessionStore()
    return create_file_session_store(tmp_path / "sessions")


@pytest.fixture
def spans() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def configured(
    clean_otel: None, store: SessionStore, spans: InMemorySpanExporter
) -> Iterator[SessionStore]:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    handle = asm.configure(store=store, tracer_provider=provider, instrument=("openai",))
    yield store
    OpenAIInstrumentor().uninstrument()
    handle.shutdown()
    provider.shutdown()


def _user(text: str) -> dict[str, Any]:
    return {"role": "user", "content": text}


def _kinds(session: Session) -> list[str]:
    """One letter per event: U(ser) L(LM) T(ool) I(nstructions)."""
    letters = {
        EventSource.USER: "U",
        EventSource.LLM: "L",
        EventSource.TOOL: "T",
        EventSource.SYSTEM: "S",
    }
    return ["I" if e.type == EventType.INSTRUCTIONS else letters[e.source] for e in session.events]


def _stored(store: SessionStore, session_id: str) -> Session:
    session = store.get(session_id)
    assert session is not None
    return session


def test_the_same_question_twice_is_two_questions(
    configured: SessionStore, openai_server: LocalOpenAIServer, openai_client: openai.OpenAI
) -> None:
    openai_server.queue(Reply("Paris."), Reply("Still Paris."))
    with asm.session("twice"), asm.run("agent"):
        for _ in range(2):  # two stateless requests with the same messages
            openai_client.chat.completions.create(
                model=MODEL, messages=[_user("Capital of France?")]
            )
    session = _stored(configured, "twice")
    assert _kinds(session) == ["U", "L", "U", "L"]
    assert [e.message for e in session.events] == [
        "Capital of France?",
        "Paris.",
        "Capital of France?",
        "Still Paris.",
    ]


def test_a_repeated_text_later_in_the_conversation_is_recorded_again(
    configured: SessionStore, openai_server: LocalOpenAIServer, openai_client: openai.OpenAI
) -> None:
    openai_server.queue(Reply("Hello!"), Reply("Hello again!"), Reply("Bye."))
    messages: list[Any] = [_user("hi")]
    with asm.session("repeat"), asm.run("agent"):
        for text in ("hi", "bye"):
            reply = openai_client.chat.completions.create(model=MODEL, messages=messages)
            messages += [{"role": "assistant", "content": reply.choices[0].message.content}]
            messages.append(_user(text))
        openai_client.chat.completions.create(model=MODEL, messages=messages)
    session = _stored(configured, "repeat")
    assert [(e.source.value, e.message) for e in session.events] == [
        ("user", "hi"),
        ("llm", "Hello!"),
        ("user", "hi"),
        ("llm", "Hello again!"),
        ("user", "bye"),
        ("llm", "Bye."),
    ]


@asm.tool
def lookup(topic: str) -> str:
    return f"notes on {topic}"


def test_reused_tool_call_ids_are_separate_calls(
    configured: SessionStore, openai_server: LocalOpenAIServer, openai_client: openai.OpenAI
) -> None:
    # Several OpenAI-compatible servers number calls per reply: call_0 each time.
    topics = ["a", "b", "c"]
    openai_server.queue(
        *[Reply(tool_calls=[ToolCall("lookup", {"topic": t}, id="call_0")]) for t in topics],
        Reply("done"),
    )
    messages: list[Any] = [_user("research a, b and c")]
    with asm.session("reused-ids"), asm.run("agent"):
        for _ in topics:
            message = (
                openai_client.chat.completions.create(model=MODEL, messages=messages)
                .choices[0]
                .message
            )
            messages.append(message.model_dump(exclude_none=True, exclude={"parsed"}))
            call = (message.tool_calls or [])[0]
            result = lookup(**json.loads(call.function.arguments))
            messages.append({"role": "tool", "tool_call_id": call.id, "content": result})
        openai_client.chat.completions.create(model=MODEL, messages=messages)
    session = _stored(configured, "reused-ids")
    assert _kinds(session) == ["U", "L", "T", "L", "T", "L", "T", "L"]
    asks = [e for e in session.events if e.source is EventSource.LLM][:3]
    tools = [e for e in session.events if e.type == EventType.TOOL_CALL]
    assert [t.message["result"] for t in tools] == ["notes on a", "notes on b", "notes on c"]
    assert [t.message["call_id"] for t in tools] == ["call_0"] * 3
    assert [t.metadata["parent_event_id"] for t in tools] == [a.id for a in asks]
    assert len({t.id for t in tools}) == 3


def test_a_responses_api_tool_round_trip_is_recorded_once(
    configured: SessionStore, openai_server: LocalOpenAIServer, openai_client: openai.OpenAI
) -> None:
    """The reply comes back as one input item per output item (message,
    function_call): still the call it continues, nothing recorded twice."""
    openai_server.queue(
        Reply("Let me look.", tool_calls=[ToolCall("lookup", {"topic": "x"}, id="fc_1")]),
        Reply("x is fine."),
        Reply("Bye."),
    )
    items: list[Any] = [_user("look x up")]
    with asm.session("responses"), asm.run("agent"):
        response = openai_client.responses.create(model=MODEL, input=items, instructions="Act.")
        items += [item.model_dump(exclude_none=True) for item in response.output]
        items.append({"type": "function_call_output", "call_id": "fc_1", "output": "fine"})
        response = openai_client.responses.create(model=MODEL, input=items, instructions="Act.")
        items += [item.model_dump(exclude_none=True) for item in response.output]
        items.append(_user("thanks"))
        openai_client.responses.create(model=MODEL, input=items, instructions="Act.")
    session = _stored(configured, "responses")
    assert _kinds(session) == ["I", "U", "L", "T", "L", "U", "L"]
    tool = session.events[3]
    assert tool.message["result"] == "fine"
    assert tool.metadata["parent_event_id"] == session.events[2].id


def test_instructions_are_recorded_once_per_change(
    configured: SessionStore, openai_server: LocalOpenAIServer, openai_client: openai.OpenAI
) -> None:
    openai_server.queue(Reply("one"), Reply("two"), Reply("three"))
    messages: list[Any] = [{"role": "system", "content": "Be brief."}, _user("1")]
    settings: list[dict[str, Any]] = [
        {"temperature": 0.2},
        {"temperature": 0.2},  # the same: nothing new to record
        {"temperature": 0.7},  # a parameter changed
    ]
    with asm.session("instructions"), asm.run("agent"):
        for index, extra in enumerate(settings):
            reply = openai_client.chat.completions.create(model=MODEL, messages=messages, **extra)
            messages += [
                {"role": "assistant", "content": reply.choices[0].message.content},
                _user(str(index + 2)),
            ]
    session = _stored(configured, "instructions")
    assert _kinds(session) == ["I", "U", "L", "U", "L", "I", "U", "L"]
    first, changed = [e.message for e in session.events if e.type == EventType.INSTRUCTIONS]
    assert first["system"] == [{"role": "system", "content": "Be brief."}]
    assert first["parameters"]["temperature"] == 0.2
    assert changed["parameters"]["temperature"] == 0.7
    assert changed["system"] == first["system"]
    assert first["tools"] == changed["tools"] == []


def test_a_changed_system_prompt_still_continues_the_conversation(
    configured: SessionStore, openai_server: LocalOpenAIServer, openai_client: openai.OpenAI
) -> None:
    """As when an agent hands over to another with its own system message:
    the conversation goes on, the new instructions are recorded once."""
    openai_server.queue(Reply("one"), Reply("two"))
    with asm.session("handover"), asm.run("agent"):
        openai_client.chat.completions.create(
            model=MODEL, messages=[{"role": "system", "content": "Triage."}, _user("help")]
        )
        openai_client.chat.completions.create(
            model=MODEL,
            messages=[
                {"role": "system", "content": "You are the billing agent."},
                _user("help"),
                {"role": "assistant", "content": "one"},
                _user("my invoice"),
            ],
        )
    session = _stored(configured, "handover")
    assert _kinds(session) == ["I", "U", "L", "I", "U", "L"]
    assert [e.message for e in session.events if e.source is EventSource.USER] == [
        "help",
        "my invoice",
    ]
    assert session.events[3].message["system"][0]["content"] == "You are the billing agent."


def test_a_failed_call_the_application_retried_is_recorded(
    configured: SessionStore, openai_server: LocalOpenAIServer, openai_client: openai.OpenAI
) -> None:
    openai_server.queue(ErrorReply(429), Reply("ok"))
    with asm.session("retried"), asm.run("agent"):
        for _attempt in range(2):
            try:
                openai_client.chat.completions.create(model=MODEL, messages=[_user("hello")])
                break
            except openai.RateLimitError:
                continue
    session = _stored(configured, "retried")
    # Both attempts are LLM events; the message the retry sent again is the
    # one the failed attempt recorded, and the retry names that attempt.
    assert _kinds(session) == ["U", "L", "L"]
    failed, answered = (e for e in session.events if e.source is EventSource.LLM)
    assert failed.message["error"]["type"].endswith("RateLimitError")
    assert failed.token_usage is not None and failed.token_usage.total_tokens == 0
    assert answered.message == "ok"
    assert answered.metadata["retry_of"] == failed.id
    assert session.token_summary.usage_by_model[MODEL].total_tokens > 0


def test_a_batch_written_twice_is_stored_once(
    clean_otel: None, tmp_path: Path, redis_url: str, spans: InMemorySpanExporter
) -> None:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    recording = InMemorySessionStore()
    handle = asm.configure(store=recording, tracer_provider=provider)
    with asm.session("replayed"), asm.run("agent"):
        asm.record_event("question", source=EventSource.USER)
        lookup("x")
    handle.shutdown()
    ended = spans.get_finished_spans()
    stores = {
        "memory": InMemorySessionStore(),
        "file": create_file_session_store(tmp_path / "files"),
        "redis": create_store(redis_url),
    }
    for name, target in stores.items():
        for _ in range(2):  # a retry, or a forked child flushing its parent's queue
            for changes in SpanMapper().map(ended).values():
                target.apply(changes)
        session = _stored(target, "replayed")
        assert _kinds(session) == ["U", "T"], name
        assert len(session.runs) == 1, name


def _worker(store_url: str, base_url: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, str(ROOT / "tests" / "support" / "chat_worker.py"), store_url, base_url],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
    )


@pytest.mark.parametrize("backend", ["file", "redis"])
def test_two_workers_serving_alternating_turns_record_each_message_once(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest, openai_server: LocalOpenAIServer
) -> None:
    store_url = (
        f"file://{tmp_path / 'sessions'}"
        if backend == "file"
        else request.getfixturevalue("redis_url")
    )
    turns = ["hi", "hi", "what now?", "hi"]  # repeated texts on purpose
    openai_server.queue(*[Reply(f"answer {i}") for i in range(len(turns))])
    workers = [_worker(store_url, openai_server.base_url) for _ in range(2)]
    try:
        messages: list[Any] = [{"role": "system", "content": "Be kind."}]
        for index, text in enumerate(turns):
            worker = workers[index % 2]  # as a load balancer alternates them
            assert worker.stdin is not None and worker.stdout is not None
            messages.append(_user(text))
            worker.stdin.write(json.dumps({"session_id": "shared", "messages": messages}) + "\n")
            worker.stdin.flush()
            reply = json.loads(worker.stdout.readline())
            messages.append({"role": "assistant", "content": reply["content"]})
    finally:
        for worker in workers:
            assert worker.stdin is not None
            worker.stdin.close()
        for worker in workers:
            assert worker.wait(timeout=60) == 0
    session = _stored(create_store(store_url), "shared")
    assert _kinds(session) == ["I", "U", "L", "U", "L", "U", "L", "U", "L"]
    assert [e.message for e in session.events if e.source is EventSource.USER] == turns
    assert [e.message for e in session.events if e.source is EventSource.LLM] == [
        f"answer {i}" for i in range(len(turns))
    ]


@pytest.mark.parametrize("backend", ["file", "redis"])
def test_two_workers_alternating_with_examples_in_every_request(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest, openai_server: LocalOpenAIServer
) -> None:
    """Every request starts with a few-shot example (an assistant message no
    call produced), so each worker reads what the other stored since its last
    read (``events_since``) to find the call its request continues."""
    store_url = (
        f"file://{tmp_path / 'sessions'}"
        if backend == "file"
        else request.getfixturevalue("redis_url")
    )
    turns = ["hi", "what now?", "hi", "and then?", "hi", "bye"]
    openai_server.queue(*[Reply(f"answer {i}") for i in range(len(turns))])
    workers = [_worker(store_url, openai_server.base_url) for _ in range(2)]
    try:
        messages: list[Any] = [_user("1+1?"), {"role": "assistant", "content": "2"}]
        for index, text in enumerate(turns):
            worker = workers[index % 2]
            assert worker.stdin is not None and worker.stdout is not None
            messages.append(_user(text))
            worker.stdin.write(json.dumps({"session_id": "shots", "messages": messages}) + "\n")
            worker.stdin.flush()
            reply = json.loads(worker.stdout.readline())
            messages.append({"role": "assistant", "content": reply["content"]})
    finally:
        for worker in workers:
            assert worker.stdin is not None
            worker.stdin.close()
        for worker in workers:
            assert worker.wait(timeout=60) == 0
    session = _stored(create_store(store_url), "shots")
    assert _kinds(session) == ["U", "L"] + ["U", "L"] * len(turns)
    assert [e.message for e in session.events] == [
        "1+1?",
        "2",
        *[m for i, text in enumerate(turns) for m in (text, f"answer {i}")],
    ]
    example, *calls = (e for e in session.events if e.source is EventSource.LLM)
    assert example.metadata["origin"] == "request" and example.token_usage is None
    assert all(call.token_usage is not None for call in calls)


def test_a_retry_served_by_a_process_that_never_saw_the_failure(
    tmp_path: Path, openai_server: LocalOpenAIServer
) -> None:
    """The failed attempt is known from the store: the retry served elsewhere
    records only its LLM event."""
    store_url = f"file://{tmp_path / 'sessions'}"
    openai_server.queue(Reply("Sunny."), ErrorReply(500), Reply("Rain."))
    first, second = (_worker(store_url, openai_server.base_url) for _ in range(2))

    def ask(worker: subprocess.Popen[str], messages: list[Any]) -> dict[str, Any]:
        assert worker.stdin is not None and worker.stdout is not None
        worker.stdin.write(json.dumps({"session_id": "moved", "messages": messages}) + "\n")
        worker.stdin.flush()
        answer: dict[str, Any] = json.loads(worker.stdout.readline())
        return answer

    try:
        messages: list[Any] = [_user("weather?")]
        messages.append(ask(first, messages))
        messages.append(_user("tomorrow?"))
        assert ask(first, messages) == {"error": "InternalServerError"}
        assert ask(second, messages)["content"] == "Rain."
    finally:
        for worker in (first, second):
            assert worker.stdin is not None
            worker.stdin.close()
            assert worker.wait(timeout=60) == 0
    session = _stored(create_store(store_url), "moved")
    assert _kinds(session) == ["U", "L", "U", "L", "L"]
    failed, answered = session.events[3], session.events[4]
    assert failed.message["error"]["type"] == "openai.InternalServerError"
    assert answered.metadata["retry_of"] == failed.id


def test_tool_result_seen_by_a_process_that_never_saw_the_call(
    clean_otel: None, tmp_path: Path, openai_server: LocalOpenAIServer
) -> None:
    """The call's tool result arrives in the next request served elsewhere:
    the TOOL_CALL event is linked to the call, recorded once."""
    store_url = f"file://{tmp_path / 'sessions'}"
    openai_server.queue(
        Reply(tool_calls=[ToolCall("lookup", {"topic": "x"}, id="call_9")]), Reply("done")
    )
    first, second = (_worker(store_url, openai_server.base_url) for _ in range(2))
    try:
        messages: list[Any] = [_user("look x up")]
        for worker in (first, second):
            assert worker.stdin is not None and worker.stdout is not None
            worker.stdin.write(json.dumps({"session_id": "tools", "messages": messages}) + "\n")
            worker.stdin.flush()
            reply = json.loads(worker.stdout.readline())
            messages.append(reply)
            if reply.get("tool_calls"):
                messages.append({"role": "tool", "tool_call_id": "call_9", "content": "found"})
    finally:
        for worker in (first, second):
            assert worker.stdin is not None
            worker.stdin.close()
            assert worker.wait(timeout=60) == 0
    session = _stored(create_store(store_url), "tools")
    assert _kinds(session) == ["U", "L", "T", "L"]
    ask, tool = session.events[1], session.events[2]
    assert tool.message["result"] == "found"
    assert tool.message["tool_name"] == "lookup"
    assert tool.metadata["parent_event_id"] == ask.id


def test_assistant_messages_from_a_request_are_kept_but_are_not_calls(
    configured: SessionStore, openai_server: LocalOpenAIServer, openai_client: openai.OpenAI
) -> None:
    from a2a_session_manager.reports._overview import SessionOverview

    openai_server.queue(Reply("4"))
    few_shot: list[Any] = [
        _user("1+1?"),
        {"role": "assistant", "content": "2"},  # an example, not a call of this session
        _user("2+2?"),
    ]
    with asm.session("few-shot"), asm.run("agent"):
        openai_client.chat.completions.create(model=MODEL, messages=few_shot)
    session = _stored(configured, "few-shot")
    assert [(e.source.value, e.message) for e in session.events] == [
        ("user", "1+1?"),
        ("llm", "2"),
        ("user", "2+2?"),
        ("llm", "4"),
    ]
    assert session.events[1].metadata["origin"] == "request"
    assert session.events[1].token_usage is None
    assert SessionOverview.of(session).llm_calls == 1
