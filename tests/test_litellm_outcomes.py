"""LiteLLM calls that do not simply succeed once, recorded as they happened:
streams abandoned or cut by the server (marked like OpenAI streams), several
choices (none dropped), a Router that falls back from a failed deployment
(both attempts, the user's message once, each priced by the model that
answered), Anthropic routes with our Anthropic instrumentation also on (one
event), streamed tool calls round trip, and the application's own LiteLLM
callbacks left in place and called."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from typing import Any

import litellm
import pytest
from litellm.integrations.custom_logger import CustomLogger
from opentelemetry.sdk.trace import TracerProvider

import a2a_session_manager as asm
from a2a_session_manager.instrumentation.anthropic import AnthropicInstrumentor
from a2a_session_manager.instrumentation.litellm import LiteLLMInstrumentor
from a2a_session_manager.instrumentation.openai import OpenAIInstrumentor
from a2a_session_manager.models import EventSource, EventType, Session, SessionEvent
from a2a_session_manager.models.payloads import read_llm_message
from a2a_session_manager.storage import InMemorySessionStore
from a2a_session_manager.testing import (
    AnthropicReply,
    ErrorReply,
    LocalAnthropicServer,
    LocalOpenAIServer,
    Reply,
    ToolCall,
)
from a2a_session_manager.tokens import estimate_cost
from tests.support.otel import clean_otel

__all__ = ["clean_otel"]

GPT = "openai/gpt-4o-mini"
USER = {"role": "user", "content": "What's the weather in Paris?"}
TEXT = "Sunny, twenty one degrees in Paris today."
ALL = ("litellm", "openai", "anthropic")


def uninstrument() -> None:
    LiteLLMInstrumentor().uninstrument()
    OpenAIInstrumentor().uninstrument()
    AnthropicInstrumentor().uninstrument()


@pytest.fixture(params=[("litellm",), ALL], ids=["litellm", "with-client-instrumentations"])
def store(request: pytest.FixtureRequest, clean_otel: None) -> Iterator[InMemorySessionStore]:
    store = InMemorySessionStore()
    handle = asm.configure(store=store, tracer_provider=TracerProvider(), instrument=request.param)
    yield store
    uninstrument()
    handle.shutdown()


def recorded(store: InMemorySessionStore) -> Session:
    session = store.get("s")
    assert session is not None
    return session


def of(session: Session, source: EventSource) -> list[SessionEvent]:
    return [e for e in session.events if e.source is source and e.type is EventType.MESSAGE]


def only_llm(store: InMemorySessionStore) -> SessionEvent:
    session = recorded(store)
    assert [e.message for e in of(session, EventSource.USER)] == [USER["content"]]
    (llm,) = of(session, EventSource.LLM)
    return llm


def kwargs(server: Any, **extra: Any) -> dict[str, Any]:
    return {"messages": [USER], "api_base": server.base_url, "api_key": "k", **extra}


def test_a_stream_abandoned_early_is_marked_and_keeps_what_arrived(
    store: InMemorySessionStore, openai_server: LocalOpenAIServer
) -> None:
    openai_server.queue(Reply(TEXT, chunk_chars=2))
    with asm.session("s"), asm.run("agent"):
        stream = litellm.completion(model=GPT, stream=True, **kwargs(openai_server))
        for i, _ in enumerate(stream):
            if i == 3:
                break
        del stream
        gc.collect()  # the caller dropped it half read
    llm = only_llm(store)
    assert llm.message["interrupted"] == "abandoned"
    assert TEXT.startswith(llm.message["content"]) and llm.message["content"] != TEXT


async def test_an_async_stream_abandoned_early_is_marked(
    store: InMemorySessionStore, openai_server: LocalOpenAIServer
) -> None:
    openai_server.queue(Reply(TEXT, chunk_chars=2))
    async with asm.session("s"), asm.run("agent"):
        stream = await litellm.acompletion(model=GPT, stream=True, **kwargs(openai_server))
        async for _ in stream:
            break
        del stream
        gc.collect()
    llm = only_llm(store)
    assert llm.message["interrupted"] == "abandoned"


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_a_stream_cut_by_the_server_is_a_failed_call_with_what_arrived(
    store: InMemorySessionStore, openai_server: LocalOpenAIServer, is_async: bool
) -> None:
    openai_server.queue(Reply(TEXT, chunk_chars=2, cut_after=5))
    received: list[str] = []
    async with asm.session("s"), asm.run("agent"):
        # LiteLLM's error, unchanged (it names a cut stream a mid-stream failure).
        with pytest.raises(litellm.exceptions.MidStreamFallbackError) as raised:
            args = kwargs(openai_server, stream=True, max_retries=0)
            if is_async:
                async for chunk in await litellm.acompletion(model=GPT, **args):
                    received.append(chunk.choices[0].delta.content or "")
            else:
                for chunk in litellm.completion(model=GPT, **args):
                    received.append(chunk.choices[0].delta.content or "")
    llm = only_llm(store)
    assert llm.message["interrupted"] == "cut"
    assert llm.message["content"] == "".join(received)
    assert llm.message["error"]["type"] == "litellm.exceptions.MidStreamFallbackError"
    assert llm.message["error"]["message"] == str(raised.value)
    assert llm.metadata["finish_reasons"] == ["error"]


def test_every_choice_of_a_call_is_kept(
    store: InMemorySessionStore, openai_server: LocalOpenAIServer
) -> None:
    openai_server.queue(Reply("Sunny.", alternatives=["Cloudy.", "Rainy."]))
    with asm.session("s"), asm.run("agent"):
        response = litellm.completion(model=GPT, n=3, **kwargs(openai_server))
    assert [c.message.content for c in response.choices] == ["Sunny.", "Cloudy.", "Rainy."]
    llm = only_llm(store)
    assert llm.message == {
        "content": "Sunny.",
        "alternatives": [{"content": "Cloudy."}, {"content": "Rainy."}],
    }
    assert llm.metadata["finish_reasons"] == ["stop", "stop", "stop"]
    read = read_llm_message(llm.message)
    assert [a.content for a in read.alternatives] == ["Cloudy.", "Rainy."]
    assert read.to_stored() == llm.message


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_an_anthropic_route_is_one_event_with_the_anthropic_client_instrumented(
    store: InMemorySessionStore, anthropic_server: LocalAnthropicServer, stream: bool
) -> None:
    anthropic_server.queue(AnthropicReply("Rainy.", prompt_tokens=12, completion_tokens=3))
    extra: Any = {"stream": True, "stream_options": {"include_usage": True}} if stream else {}
    with asm.session("s"), asm.run("agent"):
        response = litellm.completion(
            model="anthropic/claude-sonnet-4-5", max_tokens=64, **kwargs(anthropic_server, **extra)
        )
        if stream:
            list(response)
    assert len(anthropic_server.requests) == 1
    llm = only_llm(store)
    assert llm.message == "Rainy."
    assert llm.metadata["provider"] == "anthropic"
    assert llm.token_usage is not None
    assert (llm.token_usage.prompt_tokens, llm.token_usage.completion_tokens) == (12, 3)


def router(server: LocalOpenAIServer) -> litellm.Router:
    def deployment(name: str, model: str) -> dict[str, Any]:
        params = {"model": model, "api_base": server.base_url, "api_key": "k", "max_retries": 0}
        return {"model_name": name, "litellm_params": params}

    return litellm.Router(
        model_list=[deployment("primary", "openai/gpt-4o"), deployment("backup", GPT)],
        fallbacks=[{"primary": ["backup"]}],
        num_retries=0,
    )


@pytest.mark.parametrize("mode", ["sync", "async", "async-stream"])
async def test_a_router_fallback_records_both_attempts_and_the_user_message_once(
    store: InMemorySessionStore, openai_server: LocalOpenAIServer, mode: str
) -> None:
    answered_by = "gpt-4o-mini-2024-07-18"  # the dated model the backup answers as
    openai_server.queue(
        ErrorReply(500, "primary is down"),
        Reply("Sunny.", model=answered_by, prompt_tokens=13, completion_tokens=2),
    )
    async with asm.session("s"), asm.run("agent"):
        if mode == "sync":
            response = router(openai_server).completion(model="primary", messages=[USER])
            text = response.choices[0].message.content
        elif mode == "async":
            response = await router(openai_server).acompletion(model="primary", messages=[USER])
            text = response.choices[0].message.content
        else:
            stream = await router(openai_server).acompletion(
                model="primary", messages=[USER], stream=True
            )
            text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    assert text == "Sunny."
    assert [r.body["model"] for r in openai_server.requests] == ["gpt-4o", "gpt-4o-mini"]

    session = recorded(store)
    assert [e.message for e in of(session, EventSource.USER)] == [USER["content"]]
    failed, answer = of(session, EventSource.LLM)
    assert failed.message["error"]["status_code"] == 500
    assert failed.metadata["request_model"] == "gpt-4o"
    assert answer.message == "Sunny."
    assert answer.metadata["retry_of"] == failed.id
    assert answer.metadata["model"] == answered_by
    usage = answer.token_usage
    assert usage is not None
    if mode != "async-stream":  # a stream without include_usage: its usage is counted
        assert (usage.prompt_tokens, usage.completion_tokens) == (13, 2)
    expected = estimate_cost(
        answered_by, input_tokens=usage.prompt_tokens, output_tokens=usage.completion_tokens
    )
    assert expected is not None
    assert usage.estimated_cost_usd == pytest.approx(expected)
    assert (
        session.token_summary.usage_by_model[answered_by].estimated_cost_usd
        == usage.estimated_cost_usd
    )


class Counting(CustomLogger):  # type: ignore[misc]
    def __init__(self) -> None:
        super().__init__()
        self.called = threading.Event()

    def log_success_event(
        self, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any
    ) -> None:
        self.called.set()


def test_the_applications_litellm_callbacks_stay_and_are_called(
    clean_otel: None, openai_server: LocalOpenAIServer
) -> None:
    logger = Counting()
    function_called = threading.Event()

    def on_success(kwargs: Any, response: Any, start_time: Any, end_time: Any) -> None:
        function_called.set()

    litellm.callbacks = [logger]
    litellm.success_callback = [on_success]
    store = InMemorySessionStore()
    handle = asm.configure(store=store, tracer_provider=TracerProvider(), instrument=ALL)
    try:
        assert litellm.callbacks == [logger]
        assert litellm.success_callback == [on_success]
        openai_server.queue(Reply("Sunny."))
        with asm.session("s"), asm.run("agent"):
            litellm.completion(model=GPT, **kwargs(openai_server))
        assert logger.called.wait(30)  # LiteLLM calls them on its logging thread
        assert function_called.wait(30)
        assert only_llm(store).message == "Sunny."
    finally:
        uninstrument()
        handle.shutdown()
        litellm.callbacks = []
        litellm.success_callback = []
    assert litellm.callbacks == []


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_a_streamed_tool_call_round_trip(
    store: InMemorySessionStore, openai_server: LocalOpenAIServer, is_async: bool
) -> None:
    call = ToolCall("get_weather", {"city": "Paris"}, id="call_1")
    openai_server.queue(Reply(tool_calls=[call]), Reply("Sunny, 21C."))
    tools: Any = [{"type": "function", "function": {"name": "get_weather", "parameters": {}}}]

    async def complete(messages: list[Any]) -> Any:
        args = {"messages": messages, "api_base": openai_server.base_url, "api_key": "k"}
        args.update(stream=True, tools=tools)
        if is_async:
            chunks = [c async for c in await litellm.acompletion(model=GPT, **args)]
        else:
            chunks = list(litellm.completion(model=GPT, **args))
        return litellm.stream_chunk_builder(chunks, messages=messages)

    messages: list[Any] = [USER]
    async with asm.session("s"), asm.run("agent"):
        first = await complete(messages)
        messages.append(first.choices[0].message.model_dump(exclude_none=True))
        messages.append({"role": "tool", "tool_call_id": "call_1", "content": "21C, sunny"})
        await complete(messages)
    session = recorded(store)
    events = [e for e in session.events if e.type is not EventType.INSTRUCTIONS]
    assert [(e.source, e.type) for e in events] == [
        (EventSource.USER, EventType.MESSAGE),
        (EventSource.LLM, EventType.MESSAGE),
        (EventSource.TOOL, EventType.TOOL_CALL),
        (EventSource.LLM, EventType.MESSAGE),
    ]
    asking, tool, answer = events[1:]
    assert asking.message["tool_calls"] == [
        {"id": "call_1", "name": "get_weather", "arguments": {"city": "Paris"}}
    ]
    assert (tool.message["call_id"], tool.message["result"]) == ("call_1", "21C, sunny")
    assert tool.metadata["parent_event_id"] == asking.id
    assert answer.message == "Sunny, 21C."
