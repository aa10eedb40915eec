"""A call that did not finish (failed, stream cut or abandoned) and the
application's retry of it: both attempts are LLM events, the messages the
retry sent again are recorded once, and every reader (prompt builder in both
formats and all strategies, ``show``, the HTML report, usage) sees each
message once. Real clients against the local servers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import anthropic
import litellm
import openai
import pytest

import a2a_session_manager as asm
from a2a_session_manager.models import EventSource, EventType, Session, SessionEvent
from a2a_session_manager.prompts import PromptStrategy, build_prompt_from_session
from a2a_session_manager.prompts.anthropic_format import build_anthropic_prompt_from_session
from a2a_session_manager.reports import render_show, report_data, usage_report
from a2a_session_manager.storage import InMemorySessionStore
from a2a_session_manager.testing import (
    AnthropicReply,
    ErrorReply,
    LocalAnthropicServer,
    LocalOpenAIServer,
    Reply,
    ToolCall,
)
from tests.support.otel import clean_otel, instrumented_store

__all__ = ["clean_otel"]

GPT = "gpt-4o-mini"
CLAUDE = "claude-sonnet-4-5"
QUESTION = "What's the weather in Paris?"
FOLLOW_UP = "And tomorrow?"


@pytest.fixture
def store(clean_otel: None) -> Iterator[InMemorySessionStore]:
    with instrumented_store("openai", "anthropic") as store:
        yield store


def stored(store: InMemorySessionStore, session_id: str) -> Session:
    session = store.get(session_id)
    assert session is not None
    return session


def kinds(session: Session) -> str:
    letters = {EventSource.USER: "U", EventSource.LLM: "L", EventSource.TOOL: "T"}
    return "".join(
        "I" if e.type == EventType.INSTRUCTIONS else letters.get(e.source, "S")
        for e in session.events
    )


def llm_events(session: Session) -> list[SessionEvent]:
    return [e for e in session.events if e.source is EventSource.LLM]


def user(text: str) -> dict[str, Any]:
    return {"role": "user", "content": text}


def retried(call: Callable[[], Any], errors: tuple[type[Exception], ...], attempts: int) -> Any:
    """The application's own retry loop: catch, try the same request again."""
    for _ in range(attempts - 1):
        try:
            return call()
        except errors:
            continue
    return call()


def user_texts_in(messages: list[Any]) -> list[str]:
    texts: list[str] = []
    for message in messages:
        if message["role"] != "user":
            continue
        content = message["content"]
        if isinstance(content, str):
            texts.append(content)
        else:  # Anthropic blocks
            texts += [b["text"] for b in content if b.get("type") == "text"]
    return texts


def assert_every_prompt_asks_once(session: Session, *texts: str) -> None:
    for strategy in PromptStrategy:
        prompt: list[Any] = list(build_prompt_from_session(session, strategy=strategy))
        asked = user_texts_in(prompt)
        for text in texts:
            if strategy is PromptStrategy.CONVERSATION or text == texts[0]:
                assert asked.count(text) == 1, (strategy, prompt)
            else:
                assert asked.count(text) <= 1, (strategy, prompt)
        anthropic_prompt = build_anthropic_prompt_from_session(session, strategy=strategy)
        asked = user_texts_in(list(anthropic_prompt["messages"]))
        assert asked.count(texts[0]) == 1, (strategy, anthropic_prompt)


def test_a_retried_first_message_is_recorded_once_and_both_attempts_are_kept(
    store: InMemorySessionStore, openai_server: LocalOpenAIServer, openai_client: openai.OpenAI
) -> None:
    openai_server.queue(ErrorReply(429), ErrorReply(503), Reply("Sunny."))
    with asm.session("retried"), asm.run("agent"):
        retried(
            lambda: openai_client.chat.completions.create(model=GPT, messages=[user(QUESTION)]),
            (openai.RateLimitError, openai.InternalServerError),
            attempts=3,
        )
    assert len(openai_server.requests) == 3
    session = stored(store, "retried")
    assert kinds(session) == "ULLL"
    rate_limited, unavailable, answered = llm_events(session)
    assert rate_limited.message["error"]["status_code"] == 429
    assert unavailable.message["error"]["status_code"] == 503
    assert answered.message == "Sunny."
    # Each attempt names the one it retried: the record says what happened.
    assert "retry_of" not in rate_limited.metadata
    assert unavailable.metadata["retry_of"] == rate_limited.id
    assert answered.metadata["retry_of"] == unavailable.id
    assert_every_prompt_asks_once(session, QUESTION)
    assert build_prompt_from_session(session) == [
        {"role": "user", "content": QUESTION},
        {"role": "assistant", "content": "Sunny."},
    ]


def test_a_retry_in_the_middle_of_a_conversation_records_only_the_new_message(
    store: InMemorySessionStore, openai_server: LocalOpenAIServer, openai_client: openai.OpenAI
) -> None:
    openai_server.queue(Reply("Sunny."), ErrorReply(500), Reply("Rain."), Reply("Fine."))
    history: list[Any] = [{"role": "system", "content": "Be brief."}, user(QUESTION)]
    with asm.session("middle"), asm.run("agent"):
        first = openai_client.chat.completions.create(model=GPT, messages=history)
        history += [{"role": "assistant", "content": first.choices[0].message.content}]
        history.append(user(FOLLOW_UP))
        second = retried(
            lambda: openai_client.chat.completions.create(model=GPT, messages=history),
            (openai.InternalServerError,),
            attempts=2,
        )
        history += [{"role": "assistant", "content": second.choices[0].message.content}]
        history.append(user("Thanks"))
        openai_client.chat.completions.create(model=GPT, messages=history)
    session = stored(store, "middle")
    # The retry continues the call before the failure too: the instructions are not repeated.
    assert kinds(session) == "IULULLUL"
    assert [e.message for e in session.events if e.source is EventSource.USER] == [
        QUESTION,
        FOLLOW_UP,
        "Thanks",
    ]
    assert_every_prompt_asks_once(session, QUESTION, FOLLOW_UP)
    assert build_prompt_from_session(session) == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": QUESTION},
        {"role": "assistant", "content": "Sunny."},
        {"role": "user", "content": FOLLOW_UP},
        {"role": "assistant", "content": "Rain."},
        {"role": "user", "content": "Thanks"},
        {"role": "assistant", "content": "Fine."},
    ]


def test_a_retried_request_carrying_a_tool_result_records_the_result_once(
    store: InMemorySessionStore, openai_server: LocalOpenAIServer, openai_client: openai.OpenAI
) -> None:
    call = ToolCall("get_weather", {"city": "Paris"}, id="call_1")
    openai_server.queue(Reply(tool_calls=[call]), ErrorReply(503), Reply("Sunny."))
    tools: Any = [
        {
            "type": "function",
            "function": {"name": "get_weather", "parameters": {"type": "object"}},
        }
    ]
    with asm.session("tool"), asm.run("agent"):
        asked = openai_client.chat.completions.create(
            model=GPT, messages=[user(QUESTION)], tools=tools
        )
        history: list[Any] = [
            user(QUESTION),
            asked.choices[0].message.model_dump(exclude_none=True),
            {"role": "tool", "tool_call_id": "call_1", "content": "18C"},
        ]
        retried(
            lambda: openai_client.chat.completions.create(model=GPT, messages=history, tools=tools),
            (openai.InternalServerError,),
            attempts=2,
        )
    session = stored(store, "tool")
    assert kinds(session) == "IULTLL"
    assert_every_prompt_asks_once(session, QUESTION)
    prompt: list[Any] = list(build_prompt_from_session(session))
    assert [m["role"] for m in prompt] == ["user", "assistant", "tool", "assistant"]
    assert prompt[2]["content"] == "18C"


def test_the_same_question_after_the_retry_succeeded_is_a_new_message(
    store: InMemorySessionStore, openai_server: LocalOpenAIServer, openai_client: openai.OpenAI
) -> None:
    """A retry takes up the failed attempt once; later the same text is asked anew."""
    openai_server.queue(ErrorReply(429), Reply("Sunny."), Reply("Still sunny."))
    with asm.session("again"), asm.run("agent"):
        retried(
            lambda: openai_client.chat.completions.create(model=GPT, messages=[user(QUESTION)]),
            (openai.RateLimitError,),
            attempts=2,
        )
        openai_client.chat.completions.create(model=GPT, messages=[user(QUESTION)])
    session = stored(store, "again")
    assert kinds(session) == "ULLUL"
    assert "retry_of" not in llm_events(session)[2].metadata


def test_a_failed_call_not_retried_keeps_its_message(
    store: InMemorySessionStore, openai_server: LocalOpenAIServer, openai_client: openai.OpenAI
) -> None:
    """The application gives up and asks something else: both messages stay."""
    openai_server.queue(ErrorReply(400), Reply("Hello."))
    with asm.session("gave-up"), asm.run("agent"):
        with pytest.raises(openai.BadRequestError):
            openai_client.chat.completions.create(model=GPT, messages=[user(QUESTION)])
        openai_client.chat.completions.create(model=GPT, messages=[user("Hi")])
    session = stored(store, "gave-up")
    assert kinds(session) == "ULUL"
    assert [m["content"] for m in build_prompt_from_session(session)] == [QUESTION, "Hi", "Hello."]


def stream_text(client: openai.OpenAI, messages: list[Any], *, read: int | None = None) -> str:
    stream = client.chat.completions.create(model=GPT, messages=messages, stream=True)
    text = ""
    with stream:
        for index, chunk in enumerate(stream, 1):
            if chunk.choices and chunk.choices[0].delta.content:
                text += chunk.choices[0].delta.content
            if index == read:
                break  # the caller stops reading: the stream is abandoned
    return text


def test_a_stream_cut_by_the_server_then_retried(
    store: InMemorySessionStore, openai_server: LocalOpenAIServer, openai_client: openai.OpenAI
) -> None:
    openai_server.queue(Reply("Sunny and warm.", chunk_chars=3, cut_after=3), Reply("Sunny."))
    with asm.session("cut"), asm.run("agent"):
        text = retried(
            lambda: stream_text(openai_client, [user(QUESTION)]),
            (openai.APIConnectionError,),
            attempts=2,
        )
    assert text == "Sunny."
    session = stored(store, "cut")
    assert kinds(session) == "ULL"
    cut, answered = llm_events(session)
    assert cut.message["interrupted"] == "cut"
    assert cut.message["content"]  # what arrived before the cut is kept
    assert answered.metadata["retry_of"] == cut.id
    assert_every_prompt_asks_once(session, QUESTION)
    assert build_prompt_from_session(session)[-1] == {"role": "assistant", "content": "Sunny."}


def test_an_abandoned_stream_then_asked_again_supersedes_the_partial_reply(
    store: InMemorySessionStore, openai_server: LocalOpenAIServer, openai_client: openai.OpenAI
) -> None:
    openai_server.queue(Reply("Sunny and warm.", chunk_chars=3), Reply("Sunny."))
    with asm.session("abandoned"), asm.run("agent"):
        partial = stream_text(openai_client, [user(QUESTION)], read=3)
        text = stream_text(openai_client, [user(QUESTION)])
    assert partial and text == "Sunny."
    session = stored(store, "abandoned")
    assert kinds(session) == "ULL"
    abandoned, answered = llm_events(session)
    assert abandoned.message["interrupted"] == "abandoned"
    assert answered.metadata["retry_of"] == abandoned.id
    # The partial reply stays in the record; the prompt has the reply that replaced it.
    assert build_prompt_from_session(session) == [
        {"role": "user", "content": QUESTION},
        {"role": "assistant", "content": "Sunny."},
    ]
    assert_every_prompt_asks_once(session, QUESTION)


def test_an_abandoned_reply_that_the_conversation_went_on_from_stays(
    store: InMemorySessionStore, openai_server: LocalOpenAIServer, openai_client: openai.OpenAI
) -> None:
    openai_server.queue(Reply("Sunny and warm.", chunk_chars=3), Reply("Go on."))
    with asm.session("kept"), asm.run("agent"):
        partial = stream_text(openai_client, [user(QUESTION)], read=3)
        history = [user(QUESTION), {"role": "assistant", "content": partial}, user("Continue")]
        openai_client.chat.completions.create(model=GPT, messages=history)
    session = stored(store, "kept")
    assert kinds(session) == "ULUL"
    assert [m["content"] for m in build_prompt_from_session(session)] == [
        QUESTION,
        partial,
        "Continue",
        "Go on.",
    ]


def test_readers_show_each_message_once_and_count_both_attempts(
    store: InMemorySessionStore, openai_server: LocalOpenAIServer, openai_client: openai.OpenAI
) -> None:
    openai_server.queue(ErrorReply(429), Reply("Sunny."))
    with asm.session("readers"), asm.run("agent"):
        retried(
            lambda: openai_client.chat.completions.create(model=GPT, messages=[user(QUESTION)]),
            (openai.RateLimitError,),
            attempts=2,
        )
    session = stored(store, "readers")
    shown = render_show(session)
    assert shown.count(QUESTION) == 1
    assert "2 LLM calls (1 failed)" in shown
    assert "↻ retry of the failed call above" in shown
    data = report_data(session)
    entries = data["entries"]
    assert [e["text"] for e in entries if e["role"] == "user"] == [QUESTION]
    assert [bool(e["retry"]) for e in entries] == [False, False, True]
    total = usage_report(session).total
    assert (total.calls, total.failed_calls) == (2, 1)
    answered = llm_events(session)[1].token_usage
    assert answered is not None and total.total_tokens == answered.total_tokens


def test_anthropic_overloaded_then_retried(
    store: InMemorySessionStore,
    anthropic_server: LocalAnthropicServer,
    anthropic_client: anthropic.Anthropic,
) -> None:
    anthropic_server.queue(ErrorReply(529), AnthropicReply("Sunny."))
    request: Any = {
        "model": CLAUDE,
        "max_tokens": 64,
        "system": "Be brief.",
        "messages": [user(QUESTION)],
    }
    with asm.session("claude"), asm.run("agent"):
        retried(
            lambda: anthropic_client.messages.create(**request),
            (anthropic.InternalServerError,),
            attempts=2,
        )
    session = stored(store, "claude")
    assert kinds(session) == "IULL"
    failed, answered = llm_events(session)
    assert failed.message["error"]["type"] == "anthropic.OverloadedError"
    assert answered.metadata["retry_of"] == failed.id
    assert_every_prompt_asks_once(session, QUESTION)
    assert build_anthropic_prompt_from_session(session) == {
        "system": "Be brief.",
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": QUESTION}]},
            {"role": "assistant", "content": [{"type": "text", "text": "Sunny."}]},
        ],
    }


@pytest.fixture
def litellm_store(clean_otel: None) -> Iterator[InMemorySessionStore]:
    with instrumented_store("litellm", "openai") as store:
        yield store


def test_litellm_application_retry(
    litellm_store: InMemorySessionStore, openai_server: LocalOpenAIServer
) -> None:
    openai_server.queue(ErrorReply(429), Reply("Sunny."))
    kwargs: Any = {
        "model": f"openai/{GPT}",
        "messages": [user(QUESTION)],
        "api_base": openai_server.base_url,
        "api_key": "k",
        "max_retries": 0,
    }
    with asm.session("litellm"), asm.run("agent"):
        retried(lambda: litellm.completion(**kwargs), (litellm.RateLimitError,), attempts=2)
    session = stored(litellm_store, "litellm")
    assert kinds(session) == "ULL"
    assert_every_prompt_asks_once(session, QUESTION)


def test_litellm_own_retries_are_one_call(
    litellm_store: InMemorySessionStore, openai_server: LocalOpenAIServer
) -> None:
    openai_server.queue(ErrorReply(429), Reply("Sunny."))
    kwargs: Any = {
        "model": f"openai/{GPT}",
        "messages": [user(QUESTION)],
        "api_base": openai_server.base_url,
        "api_key": "k",
        "max_retries": 0,
        "num_retries": 1,
    }
    with asm.session("litellm-retries"), asm.run("agent"):
        reply = litellm.completion(**kwargs)
    assert reply.choices[0].message.content == "Sunny."
    assert len(openai_server.requests) == 2
    session = stored(litellm_store, "litellm-retries")
    # One call of the application, one span: the attempts inside are LiteLLM's.
    assert kinds(session) == "UL"
    assert llm_events(session)[0].message == "Sunny."
    assert_every_prompt_asks_once(session, QUESTION)
