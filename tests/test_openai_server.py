"""The local OpenAI-compatible server, driven by the real openai client."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import httpx
import openai
import pytest

from a2a_session_manager.testing import ErrorReply, LocalOpenAIServer, Reply, ToolCall

USER = [{"role": "user", "content": "What's the weather in Seattle?"}]
CALL_1 = {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}


def test_text_reply_has_recorded_shape_and_exact_usage(
    openai_server: LocalOpenAIServer, openai_client: openai.OpenAI
) -> None:
    openai_server.queue(Reply("Sunny.", cached_tokens=2, reasoning_tokens=1))
    completion = openai_client.chat.completions.create(model="gpt-4o-mini", messages=USER)

    assert completion.object == "chat.completion"
    assert completion.id.startswith("chatcmpl-")
    assert completion.choices[0].message.content == "Sunny."
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None
    assert completion.usage.completion_tokens == 2  # "Sunny" + "."
    assert completion.usage.prompt_tokens_details is not None
    assert completion.usage.prompt_tokens_details.cached_tokens == 2
    assert completion.usage.completion_tokens_details is not None
    assert completion.usage.completion_tokens_details.reasoning_tokens == 1
    request = openai_server.requests[-1]
    assert request.path == "/v1/chat/completions"
    assert request.body["messages"] == USER
    assert request.headers["authorization"] == "Bearer test"


def test_unqueued_request_gets_default_text(openai_client: openai.OpenAI) -> None:
    completion = openai_client.chat.completions.create(model="gpt-4o-mini", messages=USER)
    assert completion.choices[0].message.content == "This is a test."


def test_scripted_tool_call_round_trip(
    openai_server: LocalOpenAIServer, openai_client: openai.OpenAI
) -> None:
    openai_server.queue(
        Reply(tool_calls=[ToolCall("get_weather", {"location": "Seattle"}, id="call_1")]),
        Reply("50 degrees and raining."),
    )
    first = openai_client.chat.completions.create(model="gpt-4o-mini", messages=USER)
    message = first.choices[0].message
    assert first.choices[0].finish_reason == "tool_calls"
    assert message.tool_calls is not None
    call = message.tool_calls[0]
    assert call.id == "call_1"
    assert json.loads(call.function.arguments) == {"location": "Seattle"}

    history = [
        *USER,
        message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": "call_1", "content": "50F rain"},
    ]
    second = openai_client.chat.completions.create(model="gpt-4o-mini", messages=history)
    assert second.choices[0].message.content == "50 degrees and raining."
    assert openai_server.pending == 0


def test_streamed_parallel_tool_calls_arrive_in_small_deltas(
    openai_server: LocalOpenAIServer, openai_client: openai.OpenAI
) -> None:
    calls = [ToolCall("f", {"city": "Paris"}, id="a"), ToolCall("g", {"city": "Rome"}, id="b")]
    openai_server.queue(Reply(tool_calls=calls, chunk_chars=3))
    chunks = list(
        openai_client.chat.completions.create(
            model="gpt-4o-mini",
            messages=USER,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    arguments: dict[int, str] = {}
    for chunk in chunks:
        for choice in chunk.choices:
            for delta in choice.delta.tool_calls or ():
                arguments[delta.index] = arguments.get(delta.index, "") + (
                    delta.function.arguments or "" if delta.function else ""
                )
    assert {i: json.loads(a) for i, a in arguments.items()} == {
        0: {"city": "Paris"},
        1: {"city": "Rome"},
    }
    assert len(chunks) > 10
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None


def test_stream_without_include_usage_carries_no_usage(openai_client: openai.OpenAI) -> None:
    chunks = list(
        openai_client.chat.completions.create(model="gpt-4o-mini", messages=USER, stream=True)
    )
    assert all(chunk.usage is None for chunk in chunks)
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "This is a test."


@pytest.mark.parametrize(
    ("reply", "error_type"),
    [
        (ErrorReply(404), openai.NotFoundError),
        (ErrorReply(429, retry_after=7), openai.RateLimitError),
        (ErrorReply(500), openai.InternalServerError),
    ],
)
def test_error_replies(
    openai_server: LocalOpenAIServer,
    openai_client: openai.OpenAI,
    reply: ErrorReply,
    error_type: type[openai.APIStatusError],
) -> None:
    openai_server.queue(reply)
    with pytest.raises(error_type) as caught:
        openai_client.chat.completions.create(model="gpt-4o-mini", messages=USER)
    assert caught.value.status_code == reply.status
    body = caught.value.body
    assert isinstance(body, dict)
    assert set(body) == {"message", "type", "param", "code"}
    if reply.retry_after is not None:
        assert caught.value.response.headers["retry-after"] == "7"


def test_unknown_model_is_404_like_the_recording(openai_client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        openai_client.chat.completions.create(model="this-model-does-not-exist", messages=USER)
    assert caught.value.code == "model_not_found"


@pytest.mark.parametrize(
    "messages",
    [
        [],
        [{"role": "robot", "content": "hi"}],
        [{"role": "tool", "tool_call_id": "call_1", "content": "orphan result"}],
        [
            *USER,
            {
                "role": "assistant",
                "tool_calls": [CALL_1],
            },
            {"role": "user", "content": "no tool answer in between"},
        ],
        [
            *USER,
            {
                "role": "assistant",
                "tool_calls": [CALL_1],
            },
            {"role": "tool", "tool_call_id": "call_2", "content": "answers another id"},
        ],
        [
            {
                "role": "assistant",
                "tool_calls": [
                    {"id": "c", "type": "function", "function": {"name": "f", "arguments": {}}}
                ],
            }
        ],
    ],
    ids=["empty", "bad-role", "orphan-tool", "unanswered-call", "wrong-call-id", "args-object"],
)
def test_invalid_requests_are_rejected_like_the_real_api(
    openai_client: openai.OpenAI, messages: list[dict[str, object]]
) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        openai_client.chat.completions.create(model="gpt-4o-mini", messages=messages)  # type: ignore[arg-type]
    assert caught.value.type == "invalid_request_error"


def test_stream_options_without_stream_is_rejected(openai_client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError, match="stream_options"):
        openai_client.chat.completions.create(
            model="gpt-4o-mini", messages=USER, stream_options={"include_usage": True}
        )


def test_non_json_body_is_rejected(openai_server: LocalOpenAIServer) -> None:
    response = httpx.post(
        f"{openai_server.base_url}/chat/completions",
        content=b"\xff\xfe not json",
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"
    assert openai_server.requests[-1].body is None


def test_cut_stream_raises_connection_error(
    openai_server: LocalOpenAIServer, openai_client: openai.OpenAI
) -> None:
    openai_server.queue(Reply("a long answer cut in the middle", cut_after=3))
    received = []
    with pytest.raises(openai.APIConnectionError):
        for chunk in openai_client.chat.completions.create(
            model="gpt-4o-mini", messages=USER, stream=True
        ):
            received.append(chunk)
    assert len(received) == 3


def test_stalled_stream_resumes_whole(
    openai_server: LocalOpenAIServer, openai_client: openai.OpenAI
) -> None:
    openai_server.queue(Reply("stalled but whole", chunk_chars=4, stall_after=2, stall=0.05))
    text = "".join(
        chunk.choices[0].delta.content or ""
        for chunk in openai_client.chat.completions.create(
            model="gpt-4o-mini", messages=USER, stream=True
        )
        if chunk.choices
    )
    assert text == "stalled but whole"


def test_responses_json_and_stream(
    openai_server: LocalOpenAIServer, openai_client: openai.OpenAI
) -> None:
    openai_server.queue(
        Reply("This is a test."),
        Reply(tool_calls=[ToolCall("get_weather", {"location": "Seattle"}, id="call_9")]),
    )
    response = openai_client.responses.create(
        model="gpt-4o-mini", input="Say this is a test", instructions="Be brief."
    )
    assert response.output_text == "This is a test."
    assert response.usage is not None
    assert response.usage.output_tokens == 5

    events = list(openai_client.responses.create(model="gpt-4o-mini", input="hi", stream=True))
    assert events[0].type == "response.created"
    assert events[-1].type == "response.completed"
    final = events[-1].response  # type: ignore[union-attr]
    assert final.output[0].type == "function_call"
    assert final.output[0].call_id == "call_9"  # type: ignore[union-attr]


def test_responses_rejects_output_for_unknown_call(openai_client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError):
        openai_client.responses.create(
            model="gpt-4o-mini",
            input=[{"type": "function_call_output", "call_id": "nope", "output": "x"}],
        )


def test_server_runs_outside_pytest_and_stops_cleanly() -> None:
    with LocalOpenAIServer() as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="test", max_retries=0)
        client.chat.completions.create(model="gpt-4o-mini", messages=USER)
        client.close()
    client = openai.OpenAI(base_url=server.base_url, api_key="test", max_retries=0, timeout=2)
    with pytest.raises(openai.APIConnectionError):
        client.chat.completions.create(model="gpt-4o-mini", messages=USER)
    client.close()
    server.stop()  # idempotent


def test_runs_as_a_foreground_process() -> None:
    command = [sys.executable, "-m", "a2a_session_manager.testing"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        base_url = process.stdout.readline().strip()
        assert base_url.startswith("http://127.0.0.1:")
        client = openai.OpenAI(base_url=base_url, api_key="test", max_retries=0)
        completion = client.chat.completions.create(model="gpt-4o-mini", messages=USER)
        client.close()
        assert completion.choices[0].message.content == "This is a test."
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0
