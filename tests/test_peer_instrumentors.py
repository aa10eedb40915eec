"""Other OpenAI instrumentations beside ours: one LLM event per provider call,
whichever are installed and in whatever order; and their chat spans recorded
when ours is not installed.

Peers: the official ``opentelemetry-instrumentation-openai-v2`` and OpenLLMetry's
``opentelemetry-instrumentation-openai``, both real, wrapping the real ``openai``
client that talks to the local server.
"""

from __future__ import annotations

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import openai
import pytest
from opentelemetry.sdk.trace import ReadableSpan

import a2a_session_manager as asm
from a2a_session_manager.exporters._foreign_chat import chat_view
from a2a_session_manager.models.event_source import EventSource
from a2a_session_manager.models.event_type import EventType
from a2a_session_manager.models.session import Session
from a2a_session_manager.telemetry import semconv
from a2a_session_manager.testing import ErrorReply, LocalOpenAIServer, Reply, ToolCall
from tests.support.otel import Recorder, clean_otel, recorder
from tests.support.peers import Install

__all__ = ["clean_otel", "recorder"]

PEERS = ("official", "openllmetry")
ORDERS = ("ours_first", "theirs_first")


def install_in_order(install: Install, peer: str, order: str) -> None:
    first, second = ("ours", peer) if order == "ours_first" else (peer, "ours")
    install(first)
    install(second)


def chat_spans(recorder: Recorder) -> list[ReadableSpan]:
    return [
        s
        for s in recorder.exporter.get_finished_spans()
        if (s.attributes or {}).get(semconv.GEN_AI_OPERATION_NAME) == semconv.OPERATION_CHAT
    ]


def own_chat_span_ids(recorder: Recorder) -> set[str]:
    return {
        format(s.context.span_id, "016x")
        for s in chat_spans(recorder)
        if s.instrumentation_scope is not None
        and s.instrumentation_scope.name.startswith("a2a_session_manager")
    }


def llm_events(session: Session) -> list[Any]:
    return [e for e in session.events if e.source is EventSource.LLM]


def user_texts(session: Session) -> list[Any]:
    return [e.message for e in session.events if e.source is EventSource.USER]


def instructions(session: Session) -> list[Any]:
    return [e for e in session.events if e.type == EventType.INSTRUCTIONS]


def two_turns(client: openai.OpenAI, server: LocalOpenAIServer, **kwargs: Any) -> list[Any]:
    """Two calls of one conversation; what the server answered each time."""
    server.queue(Reply("Rainy.", prompt_tokens=17, completion_tokens=3, cached_tokens=5))
    server.queue(Reply("Still rainy.", prompt_tokens=29, completion_tokens=4))
    messages: list[Any] = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Weather in Paris?"},
    ]
    first = client.chat.completions.create(model="gpt-4o-mini", messages=messages, **kwargs)
    messages += [
        {"role": "assistant", "content": "Rainy."},
        {"role": "user", "content": "And tomorrow?"},
    ]
    second = client.chat.completions.create(model="gpt-4o-mini", messages=messages, **kwargs)
    return [first, second]


def drain(stream: Any) -> list[Any]:
    """Read a stream to its end (each instrumentation may wrap it in its own proxy)."""
    return list(stream)


# -- ours beside a peer: one LLM event per call ---------------------------------


@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("peer", PEERS)
def test_one_llm_event_per_call_with_a_peer_in_either_order(
    recorder: Recorder,
    install: Install,
    openai_server: LocalOpenAIServer,
    openai_client: openai.OpenAI,
    peer: str,
    order: str,
) -> None:
    install_in_order(install, peer, order)
    with asm.session("both"):
        two_turns(openai_client, openai_server)

    assert len(chat_spans(recorder)) == 4  # both instrumentations saw both calls
    stored = recorder.store.get("both")
    assert stored is not None
    events = llm_events(stored)
    assert [e.message for e in events] == ["Rainy.", "Still rainy."]
    # the server's exact counts, once each
    assert [(e.token_usage.prompt_tokens, e.token_usage.completion_tokens) for e in events] == [
        (17, 3),
        (29, 4),
    ]
    assert events[0].token_usage.cached_input_tokens == 5
    # ours is the one recorded
    assert {e.metadata["span_id"] for e in events} == own_chat_span_ids(recorder)
    assert user_texts(stored) == ["Weather in Paris?", "And tomorrow?"]
    assert len(instructions(stored)) == 1


@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("peer", PEERS)
def test_streamed_calls_are_recorded_once(
    recorder: Recorder,
    install: Install,
    openai_server: LocalOpenAIServer,
    openai_client: openai.OpenAI,
    peer: str,
    order: str,
) -> None:
    install_in_order(install, peer, order)
    openai_server.queue(
        Reply(
            tool_calls=[ToolCall("get_weather", {"city": "Paris"}, id="call_1")],
            prompt_tokens=11,
            completion_tokens=6,
        )
    )
    with asm.session("streamed"):
        drain(
            openai_client.chat.completions.create(
                model="gpt-4o-mini",
                messages=[{"role": "user", "content": "Weather?"}],
                stream=True,
                stream_options={"include_usage": True},
            )
        )
    stored = recorder.store.get("streamed")
    assert stored is not None
    (event,) = llm_events(stored)
    assert event.metadata["span_id"] in own_chat_span_ids(recorder)
    assert (event.token_usage.prompt_tokens, event.token_usage.completion_tokens) == (11, 6)
    assert event.message["tool_calls"] == [
        {"id": "call_1", "name": "get_weather", "arguments": {"city": "Paris"}}
    ]


@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("peer", PEERS)
async def test_async_calls_are_recorded_once(
    recorder: Recorder,
    install: Install,
    openai_server: LocalOpenAIServer,
    async_openai_client: openai.AsyncOpenAI,
    peer: str,
    order: str,
) -> None:
    install_in_order(install, peer, order)
    for n in range(3):
        openai_server.queue(Reply(f"answer {n}", prompt_tokens=10 + n, completion_tokens=2))

    async def ask(n: int) -> None:
        async with asm.session(f"async-{n}"):
            await async_openai_client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": f"q{n}"}]
            )

    await asyncio.gather(*(ask(n) for n in range(3)))
    prompts = []
    for n in range(3):
        stored = recorder.store.get(f"async-{n}")
        assert stored is not None
        (event,) = llm_events(stored)
        prompts.append(event.token_usage.prompt_tokens)
        assert user_texts(stored) == [f"q{n}"]
    assert sorted(prompts) == [10, 11, 12]


@pytest.mark.parametrize("order", ORDERS)
def test_responses_api_with_openllmetry_is_recorded_once(
    recorder: Recorder,
    install: Install,
    openai_server: LocalOpenAIServer,
    openai_client: openai.OpenAI,
    order: str,
) -> None:
    """OpenLLMetry starts its Responses span after the call returned (backdated,
    not a parent of ours): the pairing still holds."""
    install_in_order(install, "openllmetry", order)
    openai_server.queue(Reply("One.", prompt_tokens=8, completion_tokens=2))
    openai_server.queue(Reply("Two.", prompt_tokens=12, completion_tokens=2))
    with asm.session("responses"):
        openai_client.responses.create(model="gpt-4o-mini", input="Count to one.")
        openai_client.responses.create(model="gpt-4o-mini", input="Count to two.")
    assert len(chat_spans(recorder)) == 4
    stored = recorder.store.get("responses")
    assert stored is not None
    events = llm_events(stored)
    assert [e.message for e in events] == ["One.", "Two."]
    assert [e.token_usage.prompt_tokens for e in events] == [8, 12]
    assert {e.metadata["span_id"] for e in events} == own_chat_span_ids(recorder)


@pytest.mark.parametrize("middle", ["ours", "official", "openllmetry"])
def test_three_instrumentations_on_one_client(
    recorder: Recorder,
    install: Install,
    openai_server: LocalOpenAIServer,
    openai_client: openai.OpenAI,
    middle: str,
) -> None:
    outer = [k for k in ("ours", "official", "openllmetry") if k != middle]
    install(outer[0])
    install(middle)
    install(outer[1])
    with asm.session("three"):
        two_turns(openai_client, openai_server)
    assert len(chat_spans(recorder)) == 6
    stored = recorder.store.get("three")
    assert stored is not None
    events = llm_events(stored)
    assert [e.token_usage.prompt_tokens for e in events] == [17, 29]
    assert {e.metadata["span_id"] for e in events} == own_chat_span_ids(recorder)


@pytest.mark.parametrize("peer", PEERS)
def test_uninstrumenting_the_peer_leaves_ours_recording_once(
    recorder: Recorder,
    install: Install,
    openai_server: LocalOpenAIServer,
    openai_client: openai.OpenAI,
    peer: str,
) -> None:
    install("ours")
    theirs = install(peer)
    with asm.session("before"):
        two_turns(openai_client, openai_server)
    if peer == "official":
        theirs.uninstrument()
    else:  # OpenLLMetry's uninstrument() does nothing: remove its wrapper by hand
        completions = openai.resources.chat.completions.Completions
        completions.create = completions.create.__wrapped__
    with asm.session("after"):
        two_turns(openai_client, openai_server)
    for session_id in ("before", "after"):
        stored = recorder.store.get(session_id)
        assert stored is not None
        assert [e.token_usage.prompt_tokens for e in llm_events(stored)] == [17, 29]


# -- a peer alone: its chat spans still become events --------------------------


@pytest.mark.parametrize("peer", PEERS)
def test_peer_alone_is_recorded(
    recorder: Recorder,
    install: Install,
    openai_server: LocalOpenAIServer,
    openai_client: openai.OpenAI,
    peer: str,
) -> None:
    install(peer)
    with asm.session("alone"):
        replies = two_turns(openai_client, openai_server)

    spans = chat_spans(recorder)
    assert len(spans) == 2
    for span, reply in zip(spans, replies, strict=True):
        view = chat_view(span, dict(span.attributes or {}))
        assert view[semconv.GEN_AI_USAGE_INPUT_TOKENS] == reply.usage.prompt_tokens
        assert view[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == reply.usage.completion_tokens
        inputs = json.loads(view[semconv.GEN_AI_INPUT_MESSAGES])
        assert inputs[0] == {"role": "system", "parts": [{"type": "text", "content": "Be brief."}]}
        outputs = json.loads(view[semconv.GEN_AI_OUTPUT_MESSAGES])
        assert outputs[0]["parts"] == [
            {"type": "text", "content": reply.choices[0].message.content}
        ]
    stored = recorder.store.get("alone")
    assert stored is not None
    events = llm_events(stored)
    assert [e.message for e in events] == ["Rainy.", "Still rainy."]
    assert [(e.token_usage.prompt_tokens, e.token_usage.completion_tokens) for e in events] == [
        (17, 3),
        (29, 4),
    ]
    assert user_texts(stored) == ["Weather in Paris?", "And tomorrow?"]
    assert len(instructions(stored)) == 1


def test_openllmetry_stream_view_has_tool_calls_reasoning_and_no_empty_text(
    recorder: Recorder,
    install: Install,
    openai_server: LocalOpenAIServer,
    openai_client: openai.OpenAI,
) -> None:
    install("openllmetry")
    openai_server.queue(
        Reply(
            tool_calls=[ToolCall("get_weather", {"city": "Paris"}, id="call_1")],
            prompt_tokens=11,
            completion_tokens=6,
            cached_tokens=4,
        )
    )
    drain(
        openai_client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": "Weather?"}],
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    (span,) = chat_spans(recorder)
    view = chat_view(span, dict(span.attributes or {}))
    assert view[semconv.GEN_AI_USAGE_INPUT_TOKENS] == 11
    assert view[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == 6
    assert view[semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == 4
    (output,) = view[semconv.GEN_AI_OUTPUT_MESSAGES]
    assert output["parts"] == [
        {"type": "tool_call", "name": "get_weather", "id": "call_1", "arguments": {"city": "Paris"}}
    ]


def test_openllmetry_reasoning_tokens_take_the_conventions_name(
    recorder: Recorder,
    install: Install,
    openai_server: LocalOpenAIServer,
    openai_client: openai.OpenAI,
) -> None:
    install("openllmetry")
    openai_server.queue(Reply("Done.", prompt_tokens=9, completion_tokens=7, reasoning_tokens=5))
    openai_client.chat.completions.create(
        model="o3-mini", messages=[{"role": "user", "content": "Think."}]
    )
    (span,) = chat_spans(recorder)
    view = chat_view(span, dict(span.attributes or {}))
    assert view[semconv.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] == 5


def test_official_without_content_on_spans_still_gives_tokens(
    recorder: Recorder,
    install: Install,
    openai_server: LocalOpenAIServer,
    openai_client: openai.OpenAI,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``event_only`` sends the messages through the logs API, which a span
    processor never sees: the span keeps the tokens, not the messages."""
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "event_only")
    install("official")
    openai_server.queue(Reply("Hi.", prompt_tokens=6, completion_tokens=2))
    with asm.session("event-only"):
        openai_client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "Hello"}]
        )
    (span,) = chat_spans(recorder)
    view = chat_view(span, dict(span.attributes or {}))
    assert semconv.GEN_AI_INPUT_MESSAGES not in view
    assert semconv.GEN_AI_OUTPUT_MESSAGES not in view
    assert (view[semconv.GEN_AI_USAGE_INPUT_TOKENS], view[semconv.GEN_AI_USAGE_OUTPUT_TOKENS]) == (
        6,
        2,
    )
    stored = recorder.store.get("event-only")
    assert stored is not None
    (event,) = llm_events(stored)
    assert event.message is None
    assert (event.token_usage.prompt_tokens, event.token_usage.completion_tokens) == (6, 2)


@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("peer", PEERS)
async def test_async_streams_are_recorded_once(
    recorder: Recorder,
    install: Install,
    openai_server: LocalOpenAIServer,
    async_openai_client: openai.AsyncOpenAI,
    peer: str,
    order: str,
) -> None:
    install_in_order(install, peer, order)
    openai_server.queue(Reply("Streamed.", prompt_tokens=13, completion_tokens=3))
    async with asm.session("async-stream"):
        stream = await async_openai_client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": "Stream it."}],
            stream=True,
            stream_options={"include_usage": True},
        )
        chunks = [chunk async for chunk in stream]
    assert chunks
    stored = recorder.store.get("async-stream")
    assert stored is not None
    (event,) = llm_events(stored)
    assert event.message == "Streamed."
    assert (event.token_usage.prompt_tokens, event.token_usage.completion_tokens) == (13, 3)
    assert event.metadata["span_id"] in own_chat_span_ids(recorder)


@pytest.mark.parametrize("order", ORDERS)
def test_streamed_responses_with_openllmetry_are_recorded_once(
    recorder: Recorder,
    install: Install,
    openai_server: LocalOpenAIServer,
    openai_client: openai.OpenAI,
    order: str,
) -> None:
    install_in_order(install, "openllmetry", order)
    openai_server.queue(Reply("Flowing.", prompt_tokens=9, completion_tokens=2))
    with asm.session("responses-stream"):
        drain(openai_client.responses.create(model="gpt-4o-mini", input="Go.", stream=True))
    stored = recorder.store.get("responses-stream")
    assert stored is not None
    (event,) = llm_events(stored)
    assert event.message == "Flowing."
    assert event.token_usage.prompt_tokens == 9
    assert event.metadata["span_id"] in own_chat_span_ids(recorder)


@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("peer", PEERS)
def test_threads_each_record_their_calls_once(
    recorder: Recorder,
    install: Install,
    openai_server: LocalOpenAIServer,
    openai_client: openai.OpenAI,
    peer: str,
    order: str,
) -> None:
    install_in_order(install, peer, order)
    for _ in range(8):
        openai_server.queue(Reply("ok", prompt_tokens=5, completion_tokens=1))

    def ask(n: int) -> None:
        with asm.session(f"thread-{n}"):
            openai_client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": f"q{n}"}]
            )

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(ask, range(8)))
    for n in range(8):
        stored = recorder.store.get(f"thread-{n}")
        assert stored is not None
        assert len(llm_events(stored)) == 1
        assert user_texts(stored) == [f"q{n}"]


@pytest.mark.parametrize("outer", PEERS)
def test_two_peers_without_ours_record_the_outer_one(
    recorder: Recorder,
    install: Install,
    openai_server: LocalOpenAIServer,
    openai_client: openai.OpenAI,
    outer: str,
) -> None:
    inner = next(p for p in PEERS if p != outer)
    install(inner)
    install(outer)
    with asm.session("peers"):
        two_turns(openai_client, openai_server)
    spans = chat_spans(recorder)
    assert len(spans) == 4
    outer_ids = {
        format(s.context.span_id, "016x")
        for s in spans
        if s.parent is not None and not any(s.parent.span_id == o.context.span_id for o in spans)
    }
    stored = recorder.store.get("peers")
    assert stored is not None
    events = llm_events(stored)
    assert [(e.token_usage.prompt_tokens, e.token_usage.completion_tokens) for e in events] == [
        (17, 3),
        (29, 4),
    ]
    assert {e.metadata["span_id"] for e in events} == outer_ids


# -- the view of a chat span -------------------------------------------------------

OLD_OPENLLMETRY = {
    "llm.request.type": "chat",
    "gen_ai.system": "OpenAI",
    "gen_ai.request.model": "gpt-4o-mini",
    "gen_ai.prompt.0.role": "system",
    "gen_ai.prompt.0.content": "Be brief.",
    "gen_ai.prompt.1.role": "user",
    "gen_ai.prompt.1.content": json.dumps(
        [{"type": "text", "text": "Look:"}, {"type": "image_url", "image_url": {"url": "u"}}]
    ),
    "gen_ai.prompt.2.role": "assistant",
    "gen_ai.prompt.2.tool_calls.0.id": "call_0",
    "gen_ai.prompt.2.tool_calls.0.name": "lookup",
    "gen_ai.prompt.2.tool_calls.0.arguments": '{"q": "x"}',
    "gen_ai.prompt.3.role": "tool",
    "gen_ai.prompt.3.tool_call_id": "call_0",
    "gen_ai.prompt.3.content": "found",
    "gen_ai.prompt.4.role": "user",
    "gen_ai.prompt.4.content": "[1, 2]",
    "gen_ai.completion.0.role": "assistant",
    "gen_ai.completion.0.content": "Done.",
    "gen_ai.completion.0.finish_reason": "stop",
    "gen_ai.usage.prompt_tokens": 21,
    "gen_ai.usage.completion_tokens": 2,
    "gen_ai.usage.cache_read_input_tokens": 4,
    "llm.usage.total_tokens": 23,
}


def test_older_openllmetry_indexed_attributes_read_as_structured_messages(
    recorder: Recorder,
) -> None:
    tracer = recorder.provider.get_tracer("opentelemetry.instrumentation.openai.v1")
    with asm.session("indexed"):
        tracer.start_span("openai.chat", attributes=OLD_OPENLLMETRY).end()
    (span,) = [s for s in recorder.exporter.get_finished_spans() if s.name == "openai.chat"]
    view = chat_view(span, dict(span.attributes or {}))
    assert view[semconv.GEN_AI_OPERATION_NAME] == semconv.OPERATION_CHAT
    assert view[semconv.GEN_AI_PROVIDER_NAME] == "openai"
    assert view[semconv.GEN_AI_USAGE_INPUT_TOKENS] == 21
    assert view[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == 2
    assert view[semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == 4
    assert view[semconv.GEN_AI_INPUT_MESSAGES] == [
        {"role": "system", "parts": [{"type": "text", "content": "Be brief."}]},
        {
            "role": "user",
            "parts": [
                {"type": "text", "content": "Look:"},
                {"type": "image_url", "image_url": {"url": "u"}},
            ],
        },
        {
            "role": "assistant",
            "parts": [
                {"type": "tool_call", "id": "call_0", "name": "lookup", "arguments": {"q": "x"}}
            ],
        },
        {
            "role": "tool",
            "parts": [{"type": "tool_call_response", "id": "call_0", "response": "found"}],
        },
        {"role": "user", "parts": [{"type": "text", "content": "[1, 2]"}]},
    ]
    assert view[semconv.GEN_AI_OUTPUT_MESSAGES] == [
        {
            "role": "assistant",
            "parts": [{"type": "text", "content": "Done."}],
            "finish_reason": "stop",
        }
    ]


def test_own_and_other_spans_pass_through_unchanged(recorder: Recorder) -> None:
    own = recorder.provider.get_tracer("a2a_session_manager.instrumentation.openai")
    other = recorder.provider.get_tracer("somebody.else")
    attributes = {**OLD_OPENLLMETRY, semconv.GEN_AI_OPERATION_NAME: semconv.OPERATION_CHAT}
    own.start_span("chat", attributes=attributes).end()
    other.start_span("GET /", attributes={"http.method": "GET"}).end()
    other.start_span("embeddings", attributes={semconv.GEN_AI_OPERATION_NAME: "embeddings"}).end()
    for span in recorder.exporter.get_finished_spans():
        attrs = dict(span.attributes or {})
        assert chat_view(span, attrs) is attrs


def test_older_openllmetry_span_becomes_session_events(recorder: Recorder) -> None:
    tracer = recorder.provider.get_tracer("opentelemetry.instrumentation.openai.v1")
    with asm.session("indexed-session"):
        tracer.start_span("openai.chat", attributes=OLD_OPENLLMETRY).end()
    stored = recorder.store.get("indexed-session")
    assert stored is not None
    *history, event = llm_events(stored)  # the input's assistant turn, then the reply
    assert [e.token_usage for e in history] == [None]
    assert event.message == "Done."
    usage = event.token_usage
    assert (usage.prompt_tokens, usage.completion_tokens, usage.cached_input_tokens) == (21, 2, 4)
    assert len(instructions(stored)) == 1
    assert user_texts(stored)[-1] == "[1, 2]"


@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("peer", PEERS)
def test_a_failed_call_is_one_failed_llm_event(
    recorder: Recorder,
    install: Install,
    openai_server: LocalOpenAIServer,
    openai_client: openai.OpenAI,
    peer: str,
    order: str,
) -> None:
    install_in_order(install, peer, order)
    openai_server.queue(ErrorReply(status=429))
    with asm.session("failed"), pytest.raises(openai.RateLimitError):
        openai_client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "Hi"}]
        )
    stored = recorder.store.get("failed")
    assert stored is not None
    (event,) = llm_events(stored)
    assert event.message["error"]
    assert event.metadata["span_id"] in own_chat_span_ids(recorder)
