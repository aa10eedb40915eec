"""Agent to agent over A2A: a real a2a-sdk client (this process) and server
(tests/support/a2a_agent.py, its own process) on 127.0.0.1, both
instrumented. Checked: the spans against the conventions' A2A page, the
caller's session (what it sent and got back, failures), the agent's session
(a child of the caller's, the task as a run with its states and artifacts),
message ids linking the two, in the file and the Redis store."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from a2a.client import Client
from a2a.helpers.proto_helpers import new_text_message
from a2a.types.a2a_pb2 import (
    CancelTaskRequest,
    GetTaskRequest,
    Role,
    SendMessageRequest,
    SubscribeToTaskRequest,
)
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

import a2a_session_manager as asm
from a2a_session_manager.instrumentation.a2a import A2AInstrumentor
from a2a_session_manager.models import EventType, ParentLink
from a2a_session_manager.models.session import Session
from a2a_session_manager.models.session_run import RunStatus
from a2a_session_manager.storage import SessionStore
from a2a_session_manager.telemetry import semconv
from tests.support.a2a_agents import A2AAgent, eventually, unreachable_client
from tests.support.otel import clean_otel
from tests.support.processes import free_port
from tests.support.remote_agents import store_url

__all__ = ["clean_otel", "store_url"]

pytestmark = pytest.mark.timeout(120)


@dataclass
class Caller:
    store: SessionStore
    spans: InMemorySpanExporter


@pytest.fixture(scope="module")
def agent(store_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[A2AAgent]:
    """The agent process, one per store kind; it trusts its callers."""
    process = A2AAgent(store_url, tmp_path_factory.mktemp("a2a-spans") / "spans.jsonl")
    yield process
    process.stop()


@pytest.fixture
def caller(store_url: str, clean_otel: None) -> Iterator[Caller]:
    store = asm.create_store(store_url)
    provider = TracerProvider()
    spans = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    handle = asm.configure(store=store, tracer_provider=provider, instrument=("a2a",))
    yield Caller(store, spans)
    A2AInstrumentor().uninstrument()
    handle.shutdown()
    provider.shutdown()
    store.close()


def _request(
    text: str, *, task_id: str = "", context_id: str = "", refs: tuple[str, ...] = ()
) -> SendMessageRequest:
    message = new_text_message(
        text, role=Role.ROLE_USER, task_id=task_id or None, context_id=context_id or None
    )
    message.reference_task_ids.extend(refs)
    return SendMessageRequest(message=message)


async def _send(client: Client, request: SendMessageRequest) -> list[Any]:
    return [event async for event in client.send_message(request)]


def _a2a_spans(caller: Caller) -> list[ReadableSpan]:
    return [s for s in caller.spans.get_finished_spans() if s.kind is SpanKind.CLIENT]


def _events(session: Session, kind: str) -> list[Any]:
    return [e for e in session.events if e.type == kind]


def _agent_session(store: SessionStore, context_id: str, done: Any = None) -> Session:
    """The agent's session once what it recorded (up to ``done``) is stored."""

    def probe() -> Session | None:
        session = store.get(f"a2a-{context_id}")
        if session is None or (done is not None and not done(session)):
            return None
        return session

    return eventually(probe)


def _task_run_status(task_id: str, status: RunStatus) -> Any:
    return lambda s: any(r.id == task_id and r.status is status for r in s.runs)


async def test_blocking_send_links_two_sessions(caller: Caller, agent: A2AAgent) -> None:
    client = await agent.client(streaming=False)
    with asm.session("coordinator-1"), asm.run("coordinator") as run:
        [response] = await _send(client, _request("echo hello"))
    task = response.task
    assert task.status.state == 3  # TASK_STATE_COMPLETED

    # the caller's span, as the conventions name it
    [span] = _a2a_spans(caller)
    attrs = dict(span.attributes or {})
    assert span.name == "SendMessage"
    assert attrs["a2a.method.name"] == "SendMessage"
    assert attrs["a2a.task.id"] == task.id
    assert attrs["a2a.task.state"] == "TASK_STATE_COMPLETED"
    assert attrs["gen_ai.conversation.id"] == task.context_id
    assert attrs["gen_ai.agent.name"] == "scripted-agent"
    assert attrs["server.address"] == "127.0.0.1" and isinstance(attrs["server.port"], int)
    sent_id = attrs["a2a.message.id"]
    assert span.status.status_code is StatusCode.UNSET and "error.type" not in attrs

    # the agent's span continues the caller's trace under the client span
    assert span.context is not None
    trace_id = format(span.context.trace_id, "032x")
    [server] = eventually(lambda: agent.spans(trace_id))
    assert server["name"] == "SendMessage" and server["kind"] == "SERVER"
    assert server["parent_span_id"] == format(span.context.span_id, "016x")
    assert server["attributes"]["a2a.task.state"] == "TASK_STATE_COMPLETED"
    assert server["attributes"]["a2a.message.id"] == sent_id
    assert server["attributes"]["gen_ai.conversation.id"] == task.context_id
    assert server["attributes"]["a2a.protocol.version"] == "1.0"

    # the caller's session: what it sent and what came back, in its run
    mine = caller.store.get("coordinator-1")
    assert mine is not None
    [sent, reply] = _events(mine, "a2a_message")
    assert sent.metadata["a2a"]["message_id"] == sent_id
    assert sent.message == {"role": "user", "parts": [{"type": "text", "content": "echo hello"}]}
    assert reply.message["parts"] == [{"type": "text", "content": "echoed hello"}]
    [artifact] = _events(mine, "a2a_artifact")
    assert artifact.message == {"name": "echo", "parts": [{"type": "text", "content": "hello"}]}
    assert {e.task_id for e in mine.events} == {run.id}
    assert mine.runs and all(r.id != task.id for r in mine.runs)  # the task is the agent's run

    # the agent's session: a child of the caller's, the task as its run
    theirs = _agent_session(
        caller.store, task.context_id, _task_run_status(task.id, RunStatus.COMPLETED)
    )
    assert theirs.parent_id == "coordinator-1"
    assert theirs.parent_link == ParentLink.REMOTE_TRUSTED
    [task_run] = theirs.runs
    assert task_run.id == task.id and task_run.name == "scripted-agent"
    assert task_run.metadata["a2a"]["state"] == "TASK_STATE_COMPLETED"
    their_messages = {e.metadata["a2a"]["message_id"]: e for e in _events(theirs, "a2a_message")}
    assert set(their_messages) == {sent_id, reply.metadata["a2a"]["message_id"]}
    assert their_messages[sent_id].message == sent.message  # the same message on both sides
    assert all(e.task_id == task.id for e in theirs.events)
    # the agent never writes into the caller's session; the caller links the
    # session of the conversation it chose to start, on its own side
    assert mine.parent_id is None
    assert caller.store.children("coordinator-1") == [theirs.id]
    assert [s.id for s in mine.descendants(caller.store)] == [theirs.id]
    assert [a.id for a in theirs.ancestors(caller.store)] == ["coordinator-1"]


async def test_streaming_send_records_every_state_and_the_agents_tool(
    caller: Caller, agent: A2AAgent
) -> None:
    client = await agent.client(streaming=True)
    with asm.session("coordinator-2"), asm.run("coordinator"):
        events = await _send(client, _request("tool quiet"))
    kinds = [e.WhichOneof("payload") for e in events]
    assert kinds[0] == "task" and "artifact_update" in kinds
    task_id, context_id = events[0].task.id, events[0].task.context_id

    [span] = _a2a_spans(caller)
    assert span.name == "SendStreamingMessage"
    assert (span.attributes or {})["a2a.task.state"] == "TASK_STATE_COMPLETED"

    mine = caller.store.get("coordinator-2")
    assert mine is not None
    states = [e.message["state"] for e in _events(mine, "a2a_task_status")]
    assert states == ["TASK_STATE_SUBMITTED", "TASK_STATE_WORKING", "TASK_STATE_COMPLETED"]

    theirs = _agent_session(
        caller.store, context_id, _task_run_status(task_id, RunStatus.COMPLETED)
    )
    their_states = [e.message["state"] for e in _events(theirs, "a2a_task_status")]
    assert their_states == states
    # the executor ran in the agent's session, inside the task's run
    [tool_call] = [e for e in theirs.events if e.type == EventType.TOOL_CALL]
    assert tool_call.message["tool_name"] == "shout" and tool_call.message["result"] == "QUIET"
    assert tool_call.task_id == task_id
    [artifact] = _events(theirs, "a2a_artifact")
    assert artifact.message["parts"] == [{"type": "text", "content": "QUIET"}]


async def test_task_asks_for_input_then_resumes_and_a_follow_up_references_it(
    caller: Caller, agent: A2AAgent
) -> None:
    client = await agent.client(streaming=False)
    with asm.session("coordinator-3"), asm.run("coordinator"):
        [first] = await _send(client, _request("ask"))
        task = first.task
        assert task.status.state == 6  # TASK_STATE_INPUT_REQUIRED
        paused = _agent_session(
            caller.store, task.context_id, _task_run_status(task.id, RunStatus.RUNNING)
        )
        assert paused.runs[0].metadata["a2a"]["state"] == "TASK_STATE_INPUT_REQUIRED"
        assert paused.runs[0].ended_at is None

        [second] = await _send(
            client, _request("Paris", task_id=task.id, context_id=task.context_id)
        )
        assert second.task.id == task.id and second.task.status.state == 3
        [third] = await _send(
            client, _request("echo again", context_id=task.context_id, refs=(task.id,))
        )
    follow_up = third.task
    assert follow_up.id != task.id and follow_up.context_id == task.context_id

    spans = _a2a_spans(caller)
    assert [(s.attributes or {}).get("a2a.task.state") for s in spans] == [
        "TASK_STATE_INPUT_REQUIRED",
        "TASK_STATE_COMPLETED",
        "TASK_STATE_COMPLETED",
    ]
    assert (spans[2].attributes or {})["a2a.message.reference_task_ids"] == (task.id,)

    theirs = _agent_session(
        caller.store, task.context_id, _task_run_status(follow_up.id, RunStatus.COMPLETED)
    )
    runs = {r.id: r for r in theirs.runs}
    assert set(runs) == {task.id, follow_up.id}  # one conversation, two tasks
    assert runs[task.id].status is RunStatus.COMPLETED
    assert runs[follow_up.id].metadata["a2a"]["reference_task_ids"] == [task.id]
    states = [
        e.message["state"] for e in _events(theirs, "a2a_task_status") if e.task_id == task.id
    ]
    assert "TASK_STATE_INPUT_REQUIRED" in states and states[-1] == "TASK_STATE_COMPLETED"
    answers = [e.message["parts"] for e in _events(theirs, "a2a_artifact") if e.task_id == task.id]
    assert answers == [[{"type": "text", "content": "weather in Paris: sunny"}]]
    question = next(e for e in _events(theirs, "a2a_message") if e.source.value == "llm")
    assert question.message["parts"] == [{"type": "text", "content": "which city?"}]


async def test_one_client_across_sessions_runs_and_methods(
    caller: Caller, agent: A2AAgent
) -> None:
    """The client wrapper keeps the card's, method's and scope's attributes
    per client between calls: each span still carries its own call's."""
    client = await agent.client(streaming=False)
    with asm.session("coordinator-9a"), asm.run("first") as first:
        [sent] = await _send(client, _request("echo one"))
    with asm.session("coordinator-9b"), asm.run("second") as second:
        await client.get_task(GetTaskRequest(id=sent.task.id))
        await _send(client, _request("echo two"))
    with asm.session("coordinator-9a"):  # no run
        await _send(client, _request("echo three"))

    attrs = [dict(s.attributes or {}) for s in _a2a_spans(caller)]
    assert [
        (a["a2a.method.name"], a.get("session.id"), a.get(semconv.A2A_RUN_ID)) for a in attrs
    ] == [
        ("SendMessage", "coordinator-9a", first.id),
        ("GetTask", "coordinator-9b", second.id),
        ("SendMessage", "coordinator-9b", second.id),
        ("SendMessage", "coordinator-9a", None),
    ]
    assert all(a["gen_ai.agent.name"] == "scripted-agent" for a in attrs)
    assert all(a["server.address"] == "127.0.0.1" for a in attrs)
    assert attrs[1]["gen_ai.conversation.id"] == sent.task.context_id


async def test_failed_task(caller: Caller, agent: A2AAgent) -> None:
    client = await agent.client(streaming=True)
    with asm.session("coordinator-4"), asm.run("coordinator"):
        events = await _send(client, _request("fail"))
    task_id, context_id = events[0].task.id, events[0].task.context_id
    [span] = _a2a_spans(caller)
    # the call worked; the task failed: the state says so, not the span
    assert (span.attributes or {})["a2a.task.state"] == "TASK_STATE_FAILED"
    assert span.status.status_code is StatusCode.UNSET
    theirs = _agent_session(caller.store, context_id, _task_run_status(task_id, RunStatus.FAILED))
    [run] = theirs.runs
    assert run.ended_at is not None
    reasons = [
        e.message["parts"] for e in _events(theirs, "a2a_message") if e.source.value == "llm"
    ]
    assert reasons == [[{"type": "text", "content": "cannot do that"}]]


async def test_canceled_task(caller: Caller, agent: A2AAgent) -> None:
    client = await agent.client(streaming=True)
    seen: list[Any] = []
    with asm.session("coordinator-5"), asm.run("coordinator"):
        async for event in client.send_message(_request("wait")):
            seen.append(event)
            if (
                event.WhichOneof("payload") == "status_update"
                and event.status_update.status.state == 2
            ):
                canceled = await client.cancel_task(
                    CancelTaskRequest(id=event.status_update.task_id)
                )
                assert canceled.status.state == 5  # TASK_STATE_CANCELED
        task_id, context_id = seen[0].task.id, seen[0].task.context_id
        got = await client.get_task(GetTaskRequest(id=task_id))
    assert got.status.state == 5

    names = [s.name for s in _a2a_spans(caller)]
    assert sorted(names) == ["CancelTask", "GetTask", "SendStreamingMessage"]
    by_name = {s.name: dict(s.attributes or {}) for s in _a2a_spans(caller)}
    assert by_name["CancelTask"]["a2a.task.id"] == task_id
    assert by_name["CancelTask"]["a2a.task.state"] == "TASK_STATE_CANCELED"
    assert by_name["GetTask"]["a2a.task.state"] == "TASK_STATE_CANCELED"

    theirs = _agent_session(
        caller.store, context_id, _task_run_status(task_id, RunStatus.CANCELLED)
    )
    states = [e.message["state"] for e in _events(theirs, "a2a_task_status")]
    assert states.count("TASK_STATE_CANCELED") == 1  # seen by three calls, recorded once


async def test_agent_dropping_the_stream(caller: Caller, store_url: str, tmp_path: Path) -> None:
    """The agent's process dies mid-stream; it does not trust its callers."""
    dropping = A2AAgent(store_url, tmp_path / "spans.jsonl", policy="deny")
    flag = tmp_path / "drop-now"
    try:
        client = await dropping.client(streaming=True)
        seen: list[Any] = []
        with (
            asm.session("coordinator-6"),
            asm.run("coordinator"),
            pytest.raises(Exception) as raised,
        ):
            async for event in client.send_message(_request(f"drop {flag}")):
                seen.append(event)
                if event.WhichOneof("payload") == "status_update":
                    flag.touch()  # now the agent exits
        assert not type(raised.value).__module__.startswith("a2a_session_manager")
    finally:
        dropping.stop()
    context_id = seen[0].task.context_id

    [span] = _a2a_spans(caller)
    attrs = dict(span.attributes or {})
    assert span.status.status_code is StatusCode.ERROR and attrs["error.type"]
    assert attrs["a2a.task.state"] == "TASK_STATE_WORKING"  # as far as it got
    mine = caller.store.get("coordinator-6")
    assert mine is not None
    [error] = _events(mine, "a2a_error")
    assert error.message["method"] == "SendStreamingMessage" and error.message["error_type"]
    # the agent stored what it recorded before dying: linked, but not trusted
    theirs = caller.store.get(f"a2a-{context_id}")
    if theirs is not None:
        assert theirs.parent_id == "coordinator-6" and theirs.parent_link == ParentLink.REMOTE


async def test_unreachable_agent_is_recorded_and_raises_only_the_sdks_error(
    caller: Caller,
) -> None:
    client = unreachable_client(free_port())
    with (
        asm.session("coordinator-7"),
        asm.run("coordinator"),
        pytest.raises(Exception) as raised,
    ):
        await _send(client, _request("echo anyone"))
    assert type(raised.value).__module__.startswith("a2a.")
    [span] = _a2a_spans(caller)
    attrs = dict(span.attributes or {})
    assert span.status.status_code is StatusCode.ERROR
    assert attrs["error.type"] and attrs["gen_ai.agent.name"] == "gone-agent"
    mine = caller.store.get("coordinator-7")
    assert mine is not None
    [sent] = _events(mine, "a2a_message")
    assert sent.message["parts"] == [{"type": "text", "content": "echo anyone"}]
    [error] = _events(mine, "a2a_error")
    assert error.message["method"] == "SendMessage"


async def test_subscribe_to_a_running_task(caller: Caller, agent: A2AAgent) -> None:
    sender = await agent.client(streaming=False)
    listener = await agent.client(streaming=True)
    seen: list[Any] = []
    with asm.session("coordinator-8"), asm.run("coordinator"):
        request = _request("wait")
        request.configuration.return_immediately = True
        [first] = await _send(sender, request)
        task = first.task
        async for event in listener.subscribe(SubscribeToTaskRequest(id=task.id)):
            seen.append(event)
            if len(seen) == 1:
                await sender.cancel_task(CancelTaskRequest(id=task.id))
    assert seen

    spans = {s.name: s for s in _a2a_spans(caller)}
    assert set(spans) == {"SendMessage", "SubscribeToTask", "CancelTask"}
    subscribed = dict(spans["SubscribeToTask"].attributes or {})
    assert subscribed["a2a.method.name"] == "SubscribeToTask"
    assert subscribed["a2a.task.id"] == task.id
    assert subscribed["a2a.task.state"] == "TASK_STATE_CANCELED"
    context = spans["SubscribeToTask"].context
    assert context is not None
    served = eventually(
        lambda: [
            s
            for s in agent.spans(format(context.trace_id, "032x"))
            if s["name"] == "SubscribeToTask"
        ]
    )
    assert served[0]["kind"] == "SERVER"
    assert served[0]["attributes"]["a2a.task.id"] == task.id
    theirs = _agent_session(
        caller.store, task.context_id, _task_run_status(task.id, RunStatus.CANCELLED)
    )
    assert theirs.parent_id == "coordinator-8"


@pytest.mark.parametrize("mode", ["SPAN_ONLY", None])
async def test_what_the_call_carried_rides_on_the_span_only_when_spans_carry_content(
    caller: Caller, agent: A2AAgent, monkeypatch: pytest.MonkeyPatch, mode: str | None
) -> None:
    variable = semconv.OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT
    if mode is None:
        monkeypatch.delenv(variable, raising=False)
    else:
        monkeypatch.setenv(variable, mode)
    client = await agent.client(streaming=False)
    with asm.session(f"coordinator-content-{mode}"), asm.run("coordinator"):
        await _send(client, _request("echo content"))

    [span] = _a2a_spans(caller)
    attrs = dict(span.attributes or {})
    mine = caller.store.get(f"coordinator-content-{mode}")
    assert mine is not None
    recorded = [e.metadata["a2a"]["message_id"] for e in _events(mine, "a2a_message")]
    assert len(recorded) == 2 and recorded[0] == attrs["a2a.message.id"]
    if mode is None:  # the session store still has every record, built off the caller's thread
        assert semconv.A2A_EXCHANGE not in attrs
    else:
        records = json.loads(attrs[semconv.A2A_EXCHANGE])
        assert [r["message_id"] for r in records if r["kind"] == "message"] == recorded
        assert {r["kind"] for r in records} == {"message", "status", "artifact"}
