"""What an A2A span carried, from the a2a-sdk's own protobuf objects: the
conventions' attributes read as the call goes, the records built later from
snapshots (each message once, each state once, each artifact)."""

from __future__ import annotations

import json

from a2a.helpers.proto_helpers import new_text_message, new_text_part
from a2a.types.a2a_pb2 import (
    Artifact,
    Message,
    Role,
    SendMessageRequest,
    StreamResponse,
    Task,
    TaskArtifactUpdateEvent,
    TaskState,
    TaskStatus,
    TaskStatusUpdateEvent,
)

from a2a_session_manager.instrumentation.a2a._records import Exchange
from a2a_session_manager.telemetry import semconv


def _request(text: str) -> SendMessageRequest:
    message = Message(message_id="m-1", role=Role.ROLE_USER, parts=[new_text_part(text)])
    message.reference_task_ids.append("t-0")
    return SendMessageRequest(message=message, tenant="billing")


def _status(state: int, message: Message | None = None) -> StreamResponse:
    status = TaskStatus(state=state)  # type: ignore[arg-type]
    if message is not None:
        status.message.CopyFrom(message)
    return StreamResponse(
        status_update=TaskStatusUpdateEvent(task_id="t-1", context_id="ctx-1", status=status)
    )


def _records(exchange: Exchange) -> list[dict[str, object]]:
    records = exchange.records_plain()[semconv.A2A_EXCHANGE]
    assert records == json.loads(exchange.records_json())
    for record in records:
        assert isinstance(record.pop("time_unix_nano"), int)
    return records  # type: ignore[no-any-return]


def test_a_request_changed_after_the_call_is_recorded_as_sent() -> None:
    request = _request("the question")
    exchange = Exchange()
    exchange.request(request)
    request.message.parts[0].text = "another question"
    request.message.message_id = "m-2"

    [sent] = _records(exchange)
    assert sent["message_id"] == "m-1"
    assert sent["parts"] == [{"type": "text", "content": "the question"}]
    assert sent["reference_task_ids"] == ["t-0"]
    assert exchange.attributes() == {
        semconv.A2A_PROTOCOL_MESSAGE_ID: "m-1",
        semconv.A2A_PROTOCOL_TENANT: "billing",
        semconv.A2A_PROTOCOL_REFERENCE_TASK_IDS: ("t-0",),
    }


def test_a_stream_records_each_message_state_and_artifact_once() -> None:
    reply = new_text_message("done", role=Role.ROLE_AGENT, context_id="ctx-1", task_id="t-1")
    artifact = Artifact(artifact_id="a-1", name="answer", parts=[new_text_part("42")])
    exchange = Exchange()
    exchange.request(_request("the question"))
    for event in (
        _status(TaskState.TASK_STATE_WORKING),
        _status(TaskState.TASK_STATE_WORKING),  # streams repeat a state
        StreamResponse(
            artifact_update=TaskArtifactUpdateEvent(
                task_id="t-1", context_id="ctx-1", artifact=artifact
            )
        ),
        _status(TaskState.TASK_STATE_COMPLETED, reply),
        StreamResponse(  # the final task repeats what the events said
            task=Task(
                id="t-1",
                context_id="ctx-1",
                status=TaskStatus(state=TaskState.TASK_STATE_COMPLETED, message=reply),
                artifacts=[artifact],
            )
        ),
    ):
        exchange.result(event)

    assert [(r["kind"], r.get("state") or r.get("message_id")) for r in _records(exchange)] == [
        ("message", "m-1"),
        ("status", "TASK_STATE_WORKING"),
        ("artifact", None),
        ("message", reply.message_id),
        ("status", "TASK_STATE_COMPLETED"),
    ]
    attributes = exchange.attributes()
    assert attributes[semconv.A2A_PROTOCOL_TASK_ID] == "t-1"
    assert attributes[semconv.A2A_PROTOCOL_TASK_STATE] == "TASK_STATE_COMPLETED"
    assert attributes[semconv.GEN_AI_CONVERSATION_ID] == "ctx-1"


def test_a_task_names_its_context_by_the_last_message_that_names_one() -> None:
    exchange = Exchange()
    exchange.result(
        Task(
            id="t-1",
            context_id="ctx-task",
            history=[
                Message(message_id="h-1", context_id="ctx-old"),
                Message(message_id="h-2", context_id="ctx-last"),
                Message(message_id="h-3"),
            ],
            status=TaskStatus(state=TaskState.TASK_STATE_INPUT_REQUIRED),
        )
    )
    assert exchange.context_id == "ctx-last"
    assert exchange.task_state == "TASK_STATE_INPUT_REQUIRED"
    assert [r["message_id"] for r in _records(exchange) if r["kind"] == "message"] == [
        "h-1",
        "h-2",
        "h-3",
    ]
