"""SessionAwareToolProcessor against the real SDK, exporter and stores: parsing,
concurrent execution, timeouts, failures, LLM retries and what the session keeps."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
from openai.types.chat import ChatCompletion, ChatCompletionMessage

import a2a_session_manager as asm
from a2a_session_manager.instrumentation.openai import OpenAIInstrumentor
from a2a_session_manager.models import EventSource, EventType, RunStatus, Session, SessionEvent
from a2a_session_manager.models.payloads import read_llm_message
from a2a_session_manager.prompts import build_prompt_from_session
from a2a_session_manager.session_aware_tool_processor import (
    SessionAwareToolProcessor,
    ToolProcessingError,
    ToolResult,
)
from a2a_session_manager.storage import SessionStoreProvider, create_file_session_store
from a2a_session_manager.storage.errors import InvalidSessionIdError, SessionNotFoundError
from a2a_session_manager.testing import LocalOpenAIServer, Reply
from a2a_session_manager.testing import ToolCall as FakeCall
from a2a_session_manager.tools import INVALID_TOOL_CALL, LLM_RETRY, parse_reply
from tests.support.otel import Recorder, clean_otel, recorder

__all__ = ["clean_otel", "recorder"]

WAIT = 30.0  # deadlock guard for waits between tools, never a measured duration


def call(name: str, arguments: Any, call_id: str | None = None) -> dict[str, Any]:
    raw = arguments if isinstance(arguments, str) else json.dumps(arguments)
    out: dict[str, Any] = {"type": "function", "function": {"name": name, "arguments": raw}}
    if call_id is not None:
        out["id"] = call_id
    return out


def reply(*calls: dict[str, Any]) -> dict[str, Any]:
    return {"role": "assistant", "content": None, "tool_calls": list(calls)}


class ScriptedLLM:
    """An ``llm_call_fn`` that answers retry prompts with the given replies, in order."""

    def __init__(self, *replies: Any) -> None:
        self.replies = list(replies)
        self.prompts: list[str] = []

    async def __call__(self, prompt: str) -> Any:
        self.prompts.append(prompt)
        return self.replies.pop(0)


def stored(store: Any, session_id: str) -> Session:
    session = store.get(session_id)
    assert session is not None, f"session {session_id!r} was not stored"
    return session  # type: ignore[no-any-return]


def of_type(session: Session, event_type: str) -> list[SessionEvent]:
    return [e for e in session.events if e.type == event_type]


def add(a: int, b: int = 2) -> int:
    return a + b


async def multiply(a: int, b: int) -> int:
    await asyncio.sleep(0)
    return a * b


def failing(reason: str) -> None:
    raise ValueError(reason)


TOOLS = {"add": add, "multiply": multiply, "failing": failing}


# -- the batch, its results and what the session records --------------------------------


async def test_calls_without_ids_get_ids_and_everything_is_linked(recorder: Recorder) -> None:
    processor = SessionAwareToolProcessor("tp-1", tools=TOOLS)
    message = reply(call("add", {"a": 1, "b": 5}), call("multiply", {"a": 3, "b": 4}))

    results = await processor.process_llm_message(message, ScriptedLLM())

    assert [(r.tool, r.result, r.error) for r in results] == [
        ("add", 6, None),
        ("multiply", 12, None),
    ]
    assert all(r.call_id.startswith("call_") and len(r.call_id) > 10 for r in results)
    assert results[0].call_id != results[1].call_id
    assert all(isinstance(r, ToolResult) and r.ok and r.duration_ms >= 0 for r in results)

    session = stored(recorder.store, "tp-1")
    (run,) = session.runs
    assert run.status is RunStatus.COMPLETED and run.name == "tool_calls"
    (llm,) = [e for e in session.events if e.source is EventSource.LLM]
    assert llm.type == EventType.MESSAGE and llm.task_id == run.id
    recorded_ids = [c["id"] for c in llm.message["tool_calls"]]
    assert recorded_ids == [r.call_id for r in results]
    # The one LLMMessage shape (models.payloads), arguments parsed.
    assert read_llm_message(llm.message).to_stored() == llm.message
    assert [(c["name"], c["arguments"]) for c in llm.message["tool_calls"]] == [
        (r.tool, r.arguments) for r in results
    ]
    assert set(llm.message) == {"content", "tool_calls"}
    tool_events = of_type(session, EventType.TOOL_CALL)
    assert {e.message["call_id"]: e.message["result"] for e in tool_events} == {
        results[0].call_id: 6,
        results[1].call_id: 12,
    }
    for event in tool_events:
        assert event.source is EventSource.TOOL
        assert event.metadata["parent_event_id"] == llm.id
        assert event.task_id == run.id
        assert event.message["error"] is None
    assert session.events.index(llm) < min(session.events.index(e) for e in tool_events)


async def test_sync_and_async_tools_run_concurrently(recorder: Recorder) -> None:
    loop = asyncio.get_running_loop()
    async_started = threading.Event()
    sync_reached = asyncio.Event()
    both_sync_tools_running = threading.Barrier(2, timeout=WAIT)

    async def waits_for_sync_tool() -> str:
        async_started.set()
        await asyncio.wait_for(sync_reached.wait(), WAIT)  # only a concurrent sync tool sets it
        return "async done"

    def sync_one() -> str:
        assert async_started.wait(WAIT), "the async tool never started"
        loop.call_soon_threadsafe(sync_reached.set)
        both_sync_tools_running.wait()  # only passes while sync_two runs at the same time
        return "sync one"

    def sync_two() -> str:
        both_sync_tools_running.wait()
        return "sync two"

    tools = {"waits": waits_for_sync_tool, "sync_one": sync_one, "sync_two": sync_two}
    processor = SessionAwareToolProcessor("tp-concurrent", tools=tools)
    message = reply(call("waits", {}), call("sync_one", {}), call("sync_two", {}))

    results = await processor.process_llm_message(message)

    assert [(r.result, r.error) for r in results] == [
        ("async done", None),
        ("sync one", None),
        ("sync two", None),
    ]


async def test_results_come_back_in_call_order_whatever_order_tools_finish(
    recorder: Recorder,
) -> None:
    second_done = asyncio.Event()

    async def first() -> str:
        await asyncio.wait_for(second_done.wait(), WAIT)
        return "first"

    async def second() -> str:
        second_done.set()
        return "second"

    processor = SessionAwareToolProcessor("tp-order", tools={"first": first, "second": second})
    message = reply(call("first", {}, "c-1"), call("second", {}, "c-2"))
    results = await processor.process_llm_message(message)
    assert [(r.call_id, r.result) for r in results] == [("c-1", "first"), ("c-2", "second")]
    # the session lists tool events in the order they ended: second, then first
    session = stored(recorder.store, "tp-order")
    assert [e.message["call_id"] for e in of_type(session, EventType.TOOL_CALL)] == ["c-2", "c-1"]


async def test_timed_out_tools_give_error_results_and_the_rest_complete(
    recorder: Recorder,
) -> None:
    release = threading.Event()
    never = asyncio.Event()

    async def hangs_async() -> None:
        await never.wait()

    def hangs_sync() -> str:
        release.wait(WAIT)
        return "late"

    tools = {"hangs_async": hangs_async, "hangs_sync": hangs_sync, "add": add}
    processor = SessionAwareToolProcessor("tp-timeout", tools=tools, timeout=0.2)
    message = reply(call("hangs_async", {}), call("add", {"a": 1}), call("hangs_sync", {}))
    try:
        results = await processor.process_llm_message(message)
    finally:
        release.set()  # let the worker thread finish
        processor.close()

    assert [r.error_type for r in results] == ["ToolTimeoutError", None, "ToolTimeoutError"]
    assert results[1].result == 3
    assert results[0].error == "ToolTimeoutError: tool 'hangs_async' timed out after 0.2 s"
    session = stored(recorder.store, "tp-timeout")
    errors = {e.message["tool_name"]: e.message["error"] for e in of_type(session, "tool_call")}
    assert errors["hangs_async"] == results[0].error
    assert errors["hangs_sync"] == results[2].error
    assert errors["add"] is None
    assert session.runs[0].status is RunStatus.COMPLETED


async def test_a_tool_that_raises_gives_an_error_result_and_is_recorded(
    recorder: Recorder,
) -> None:
    processor = SessionAwareToolProcessor("tp-raise", tools=TOOLS)
    message = reply(call("failing", {"reason": "disk on fire"}), call("add", {"a": 2, "b": 2}))

    results = await processor.process_llm_message(message)

    assert results[0].error == "ValueError: disk on fire"
    assert results[0].error_type == "ValueError" and results[0].result is None
    assert not results[0].ok
    assert results[1].result == 4
    session = stored(recorder.store, "tp-raise")
    failed = next(e for e in of_type(session, "tool_call") if e.message["tool_name"] == "failing")
    assert failed.message["error"] == "ValueError: disk on fire"
    assert failed.message["arguments"] == {"reason": "disk on fire"}
    assert session.runs[0].status is RunStatus.COMPLETED


async def test_a_tools_own_timeout_error_is_not_reported_as_our_timeout(
    recorder: Recorder,
) -> None:
    async def gives_up() -> None:
        raise TimeoutError("upstream timed out")

    processor = SessionAwareToolProcessor("tp-own-timeout", tools={"gives_up": gives_up})
    (result,) = await processor.process_llm_message(reply(call("gives_up", {})))
    assert result.error_type == "TimeoutError"
    assert result.error == "TimeoutError: upstream timed out"


async def test_arguments_are_checked_against_the_signature(recorder: Recorder) -> None:
    invoked: list[dict[str, Any]] = []

    def strict(location: str, *, units: str = "metric") -> str:
        invoked.append({"location": location, "units": units})
        return f"{location}/{units}"

    processor = SessionAwareToolProcessor("tp-args", tools={"strict": strict})
    message = reply(
        call("strict", {}),  # missing
        call("strict", {"location": "Oslo", "colour": "red"}),  # unexpected
        call("strict", {"location": "Oslo", "units": "imperial"}),
    )
    results = await processor.process_llm_message(message)

    assert [r.error_type for r in results] == ["ToolArgumentsError", "ToolArgumentsError", None]
    assert "missing a required argument: 'location'" in (results[0].error or "")
    assert "unexpected keyword argument 'colour'" in (results[1].error or "")
    assert results[2].result == "Oslo/imperial"
    assert invoked == [{"location": "Oslo", "units": "imperial"}]  # bad calls never ran
    session = stored(recorder.store, "tp-args")
    assert sum(1 for e in of_type(session, "tool_call") if e.message["error"]) == 2


async def test_decorated_tools_are_found_and_recorded_once_per_call(recorder: Recorder) -> None:
    @asm.tool("tp_lookup_city")
    async def lookup_city(code: str) -> str:
        asm.record_event(f"looking up {code}")  # recorded inside the tool's run
        return {"OSL": "Oslo"}.get(code, "?")

    @asm.tool
    def tp_shout(text: str) -> str:
        asm.record_event("shouting in a worker thread")
        return text.upper()

    processor = SessionAwareToolProcessor("tp-decorated")
    message = reply(call("tp_lookup_city", {"code": "OSL"}, "c1"), call("tp_shout", {"text": "hi"}))
    results = await processor.process_llm_message(message)

    assert [r.result for r in results] == ["Oslo", "HI"]
    session = stored(recorder.store, "tp-decorated")
    run_id = session.runs[0].id
    tool_events = of_type(session, "tool_call")
    assert sorted(e.message["tool_name"] for e in tool_events) == ["tp_lookup_city", "tp_shout"]
    assert {e.message["call_id"] for e in tool_events} == {"c1", results[1].call_id}
    notes = [e for e in session.events if e.source is EventSource.SYSTEM]
    assert {e.message for e in notes} == {"looking up OSL", "shouting in a worker thread"}
    assert all(e.task_id == run_id for e in session.events)


# -- replies in every shape -------------------------------------------------------


async def test_openai_sdk_message_and_completion_objects(recorder: Recorder) -> None:
    message = ChatCompletionMessage.model_validate(
        {"role": "assistant", "content": None, "tool_calls": [call("add", {"a": 40}, "call_sdk")]}
    )
    completion = ChatCompletion.model_validate(
        {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 1,
            "model": "gpt-4o-mini",
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "tool_calls",
                    "message": {
                        "role": "assistant",
                        "content": "computing",
                        "tool_calls": [call("multiply", {"a": 6, "b": 7}, "call_c")],
                    },
                }
            ],
        }
    )
    processor = SessionAwareToolProcessor("tp-sdk", tools=TOOLS)

    (from_message,) = await processor.process_llm_message(message)
    (from_completion,) = await processor.process_llm_message(completion)
    (from_json,) = await processor.process_llm_message(completion.model_dump_json())

    assert (from_message.call_id, from_message.result) == ("call_sdk", 42)
    assert (from_completion.call_id, from_completion.result) == ("call_c", 42)
    assert from_json.result == 42
    session = stored(recorder.store, "tp-sdk")
    assert len(session.runs) == 3
    llm_events = [e for e in session.events if e.source is EventSource.LLM]
    assert llm_events[1].message["content"] == "computing"


async def test_legacy_function_call(recorder: Recorder) -> None:
    processor = SessionAwareToolProcessor("tp-legacy", tools=TOOLS)
    legacy = {
        "role": "assistant",
        "content": None,
        "function_call": {"name": "add", "arguments": '{"a": 1, "b": 1}'},
    }
    (result,) = await processor.process_llm_message(legacy)
    assert result.result == 2 and result.call_id.startswith("call_")
    session = stored(recorder.store, "tp-legacy")
    (llm,) = [e for e in session.events if e.source is EventSource.LLM]
    assert llm.message["tool_calls"][0]["id"] == result.call_id
    (tool_event,) = of_type(session, "tool_call")
    assert tool_event.metadata["parent_event_id"] == llm.id


def test_parsing_hostile_replies() -> None:
    repeated = parse_reply(reply(call("add", {}, "same"), call("add", {}, "same")))
    assert repeated.valid and len({c.id for c in repeated.calls}) == 2

    huge = "x" * 5_000_000
    bad = parse_reply(reply(call("add", '{"a": "' + huge)))
    assert not bad.valid
    assert "malformed JSON arguments" in bad.problems[0] and len(bad.problems[0]) < 500

    assert parse_reply(reply(call("add", "[1, 2]"))).problems == [
        "tool call 0 (add): arguments must be a JSON object, got [1, 2]"
    ]
    assert parse_reply(b"\xff\xfe not utf-8").problems[0].startswith("the reply is not valid UTF-8")
    assert parse_reply(42).problems == ["the reply is a int, not a chat message"]
    assert parse_reply({"content": "just text"}).problems == ["the reply has no tool call"]
    assert parse_reply({"choices": []}).problems == ["the completion has no choices"]
    assert parse_reply(reply({"type": "function", "function": {"arguments": "{}"}})).problems == [
        "tool call 0 has no function name"
    ]
    custom = {"id": "c", "type": "custom", "custom": {"name": "grep", "input": "x"}}
    assert "unsupported type" in parse_reply(reply({**custom, "name": "grep"})).problems[0]
    nul = parse_reply(reply(call("add", {"a": "\x00\udcff"})))
    assert nul.valid and nul.calls[0].arguments == {"a": "\x00\udcff"}
    assert parse_reply(reply(call("add", ""))).calls[0].arguments == {}
    assert parse_reply([call("add", {"a": 1})]).valid


async def test_hostile_arguments_and_results_are_recorded_safely(
    recorder: Recorder, tmp_path: Path
) -> None:
    class Opaque:
        def __repr__(self) -> str:
            return "<opaque>"

    def echo(text: str) -> dict[str, Any]:
        return {"length": len(text), "object": Opaque()}

    processor = SessionAwareToolProcessor("tp-hostile", tools={"echo": echo})
    text = "\x00 nul, \udcff lone surrogate, " + "y" * 1_000_000
    (result,) = await processor.process_llm_message(reply(call("echo", {"text": text})))
    assert result.result["length"] == len(text)
    session = stored(recorder.store, "tp-hostile")
    (event,) = of_type(session, "tool_call")
    assert event.message["arguments"]["text"] == text
    assert event.message["result"] == {"length": len(text), "object": "<opaque>"}


# -- retries ------------------------------------------------------------------------


async def test_malformed_json_is_retried_then_succeeds(recorder: Recorder) -> None:
    llm = ScriptedLLM(reply(call("add", {"a": 1, "b": 2}, "call_ok")))
    processor = SessionAwareToolProcessor(
        "tp-retry", tools=TOOLS, max_llm_retries=2, llm_retry_prompt="Please fix the call."
    )
    results = await processor.process_llm_message(reply(call("add", '{"a": 1,')), llm)

    assert llm.prompts == ["Please fix the call."]
    assert [(r.call_id, r.result) for r in results] == [("call_ok", 3)]
    session = stored(recorder.store, "tp-retry")
    (run,) = session.runs
    assert run.status is RunStatus.COMPLETED
    rejected, retry, accepted, tool_event = session.events
    assert (rejected.source, rejected.type) == (EventSource.LLM, INVALID_TOOL_CALL)
    assert "malformed JSON arguments" in rejected.metadata["problems"][0]
    assert (retry.source, retry.type) == (EventSource.SYSTEM, LLM_RETRY)
    assert retry.metadata["parent_event_id"] == rejected.id
    assert retry.message["attempt"] == 1 and retry.message["prompt"] == "Please fix the call."
    assert (accepted.source, accepted.type) == (EventSource.LLM, EventType.MESSAGE)
    assert tool_event.metadata["parent_event_id"] == accepted.id
    assert all(e.task_id == run.id for e in session.events)


async def test_unknown_tool_is_retried(recorder: Recorder) -> None:
    llm = ScriptedLLM(reply(call("add", {"a": 5})))
    processor = SessionAwareToolProcessor("tp-unknown", tools=TOOLS, use_chuk_registry=False)
    message = reply(call("add", {"a": 1}), call("no_such_tool_anywhere", {}))
    results = await processor.process_llm_message(message, llm)
    # the first reply ran nothing: a reply is used whole or not at all
    assert [r.result for r in results] == [7]
    session = stored(recorder.store, "tp-unknown")
    (rejected,) = [e for e in session.events if e.type == INVALID_TOOL_CALL]
    assert rejected.metadata["problems"] == ["tool call 1: unknown tool 'no_such_tool_anywhere'"]
    assert len(of_type(session, "tool_call")) == 1


async def test_retries_exhausted_fail_the_run_with_a_clear_error(recorder: Recorder) -> None:
    llm = ScriptedLLM({"role": "assistant", "content": "I'd rather chat"}, reply(call("add", "{")))
    processor = SessionAwareToolProcessor("tp-exhausted", tools=TOOLS, max_llm_retries=2)

    with pytest.raises(ToolProcessingError) as caught:
        await processor.process_llm_message({"content": "no tools today"}, llm)

    error = caught.value
    assert error.attempts == 3 and error.session_id == "tp-exhausted"
    assert str(error).startswith("no valid tool call in 3 LLM replies (max_llm_retries=2): ")
    assert "malformed JSON arguments" in str(error)
    assert len(llm.prompts) == 2
    session = stored(recorder.store, "tp-exhausted")
    (run,) = session.runs
    assert run.id == error.run_id
    assert run.status is RunStatus.FAILED
    assert run.error == f"ToolProcessingError: {error}"
    assert len(of_type(session, LLM_RETRY)) == 2
    assert len(of_type(session, INVALID_TOOL_CALL)) == 3
    assert not of_type(session, "tool_call")


async def test_no_retries_without_llm_call_fn_or_with_zero_retries(recorder: Recorder) -> None:
    processor = SessionAwareToolProcessor("tp-zero", tools=TOOLS, max_llm_retries=0)
    llm = ScriptedLLM()
    with pytest.raises(ToolProcessingError, match=r"in 1 LLM reply \(max_llm_retries=0\)"):
        await processor.process_llm_message({"content": "hello"}, llm)
    assert llm.prompts == []
    with pytest.raises(ToolProcessingError):
        await SessionAwareToolProcessor("tp-zero", tools=TOOLS).process_llm_message("plain text")


async def test_sync_llm_call_fn_and_its_exceptions(recorder: Recorder) -> None:
    prompts: list[str] = []

    def sync_llm(prompt: str) -> dict[str, Any]:
        prompts.append(prompt)
        return reply(call("add", {"a": 0}))

    processor = SessionAwareToolProcessor("tp-sync-llm", tools=TOOLS)
    (result,) = await processor.process_llm_message({"content": "?"}, sync_llm)
    assert result.result == 2 and len(prompts) == 1

    class LLMDown(Exception):
        pass

    async def broken_llm(prompt: str) -> Any:
        raise LLMDown("503 from the provider")

    with pytest.raises(LLMDown, match="503"):
        await processor.process_llm_message({"content": "?"}, broken_llm)
    session = stored(recorder.store, "tp-sync-llm")
    assert [r.status for r in session.runs] == [RunStatus.COMPLETED, RunStatus.FAILED]
    assert (session.runs[1].error or "").endswith("LLMDown: 503 from the provider")


# -- sessions and stores --------------------------------------------------------------


async def test_inside_the_same_session_the_run_nests_under_the_current_run(
    recorder: Recorder,
) -> None:
    processor = SessionAwareToolProcessor("tp-nested", tools=TOOLS)
    async with asm.session("tp-nested"), asm.run("agent") as agent:
        await processor.process_llm_message(reply(call("add", {"a": 1})))
    session = stored(recorder.store, "tp-nested")
    runs = {r.name: r for r in session.runs}
    assert runs["tool_calls"].parent_run_id == agent.id
    assert session.parent_id is None


async def test_records_into_a_file_store(clean_otel: None, tmp_path: Path) -> None:
    store = create_file_session_store(tmp_path / "sessions")
    handle = asm.configure(store=store)
    try:
        processor = SessionAwareToolProcessor("tp/../file", tools=TOOLS)
        results = await processor.process_llm_message(reply(call("add", {"a": 2})))
    finally:
        handle.shutdown()
    assert results[0].result == 4
    reread = stored(create_file_session_store(tmp_path / "sessions"), "tp/../file")
    (tool_event,) = of_type(reread, "tool_call")
    (llm,) = [e for e in reread.events if e.source is EventSource.LLM]
    assert tool_event.metadata["parent_event_id"] == llm.id
    assert tool_event.task_id == reread.runs[0].id
    assert reread.runs[0].status is RunStatus.COMPLETED
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sessions"]  # no path escape


async def test_unconfigured_sdk_records_into_the_provider_store(clean_otel: None) -> None:
    processor = SessionAwareToolProcessor("tp-unconfigured", tools=TOOLS)
    (result,) = await processor.process_llm_message(reply(call("add", {"a": 3})))
    assert result.result == 5
    session = stored(SessionStoreProvider.get_store(), "tp-unconfigured")
    assert session.runs[0].status is RunStatus.COMPLETED
    assert len(of_type(session, "tool_call")) == 1


async def test_create_requires_an_existing_session(recorder: Recorder) -> None:
    with pytest.raises(SessionNotFoundError, match="no-such-session"):
        await SessionAwareToolProcessor.create("no-such-session")
    recorder.store.save(Session(id="exists"))
    processor = await SessionAwareToolProcessor.create("exists", tools=TOOLS)
    assert processor.session_id == "exists"


def test_constructor_rejects_bad_settings() -> None:
    with pytest.raises(InvalidSessionIdError):
        SessionAwareToolProcessor("")
    with pytest.raises(ValueError, match="max_llm_retries"):
        SessionAwareToolProcessor("s", max_llm_retries=-1)
    with pytest.raises(ValueError, match="timeout"):
        SessionAwareToolProcessor("s", timeout=0)
    with pytest.raises(TypeError, match="not callable"):
        SessionAwareToolProcessor("s", tools={"x": 3})  # type: ignore[dict-item]


# -- with the instrumented OpenAI client and the prompt builder ------------------------


@pytest.fixture
def instrumented(recorder: Recorder) -> Iterator[Recorder]:
    asm.configure(store=recorder.store, tracer_provider=recorder.provider, instrument=("openai",))
    yield recorder
    OpenAIInstrumentor().uninstrument()


async def test_a_full_loop_with_the_instrumented_client_replays_as_a_valid_prompt(
    instrumented: Recorder,
    openai_server: LocalOpenAIServer,
    async_openai_client: openai.AsyncOpenAI,
) -> None:
    openai_server.queue(
        Reply(
            tool_calls=[FakeCall("add", {"a": 1, "b": 2}), FakeCall("multiply", {"a": 2, "b": 5})]
        ),
        Reply("1 + 2 = 3 and 2 × 5 = 10."),
    )
    messages: list[dict[str, Any]] = [{"role": "user", "content": "add 1 and 2, multiply 2 by 5"}]
    processor = SessionAwareToolProcessor("tp-openai", tools=TOOLS, record_llm_message=False)
    async with asm.session("tp-openai"):
        first = await async_openai_client.chat.completions.create(
            model="gpt-4o-mini",
            messages=messages,  # type: ignore[arg-type]
        )
        results = await processor.process_llm_message(first.choices[0].message)
        messages.append(first.choices[0].message.model_dump(exclude_none=True))
        messages.extend(
            {"role": "tool", "tool_call_id": r.call_id, "content": json.dumps(r.result)}
            for r in results
        )
        await async_openai_client.chat.completions.create(
            model="gpt-4o-mini",
            messages=messages,  # type: ignore[arg-type]
        )

    assert [r.result for r in results] == [3, 10]
    session = stored(instrumented.store, "tp-openai")
    llm_events = [e for e in session.events if e.source is EventSource.LLM]
    assert len(llm_events) == 2  # the reply was recorded once, by the chat span
    tool_events = of_type(session, "tool_call")
    assert len(tool_events) == 2  # and the tool messages of the next request added nothing
    assert all(e.metadata["parent_event_id"] == llm_events[0].id for e in tool_events)
    assert {e.message["call_id"] for e in tool_events} == {r.call_id for r in results}

    # what the session recorded is a conversation the API accepts again
    prompt = build_prompt_from_session(session)
    assert [m["role"] for m in prompt] == ["user", "assistant", "tool", "tool", "assistant"]
    openai_server.queue(Reply("ok"))
    again = await async_openai_client.chat.completions.create(
        model="gpt-4o-mini",
        messages=prompt,  # type: ignore[arg-type]
    )
    assert again.choices[0].message.content == "ok"


async def test_a_processor_recorded_session_replays_as_a_valid_prompt(
    recorder: Recorder, openai_server: LocalOpenAIServer, async_openai_client: openai.AsyncOpenAI
) -> None:
    llm = ScriptedLLM(reply(call("add", {"a": 1}), call("failing", {"reason": "nope"})))
    processor = SessionAwareToolProcessor("tp-replay", tools=TOOLS)
    async with asm.session("tp-replay"):
        asm.record_event("add 1 and fail", source=EventSource.USER)
        await processor.process_llm_message(reply(call("add", "{oops")), llm)

    prompt = build_prompt_from_session(stored(recorder.store, "tp-replay"))
    # the rejected reply and the retry note are not chat messages
    assert [m["role"] for m in prompt] == ["user", "assistant", "tool", "tool"]
    assert "ValueError: nope" in prompt[3]["content"]
    openai_server.queue(Reply("done"))
    answer = await async_openai_client.chat.completions.create(
        model="gpt-4o-mini",
        messages=prompt,  # type: ignore[arg-type]
    )
    assert answer.choices[0].message.content == "done"


async def test_cancelling_the_batch_cancels_its_tools_and_records_the_run_cancelled(
    recorder: Recorder,
) -> None:
    started = asyncio.Event()

    async def forever() -> None:
        started.set()
        await asyncio.Event().wait()

    processor = SessionAwareToolProcessor("tp-cancel", tools={"forever": forever}, timeout=None)
    task = asyncio.create_task(processor.process_llm_message(reply(call("forever", {}))))
    await asyncio.wait_for(started.wait(), WAIT)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    session = stored(recorder.store, "tp-cancel")
    assert session.runs[0].status is RunStatus.CANCELLED
    (tool_event,) = of_type(session, "tool_call")
    assert tool_event.message["error"] == "cancelled"
