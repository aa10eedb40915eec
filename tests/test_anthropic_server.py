"""The local Anthropic-compatible server, driven by the real anthropic client."""

from __future__ import annotations

import anthropic
import pytest

from a2a_session_manager.testing import (
    AnthropicReply,
    ErrorReply,
    LocalAnthropicServer,
    ToolCall,
)

MODEL = "claude-sonnet-4-5"
USER = [{"role": "user", "content": "What's the weather in Paris?"}]


def test_message_has_thinking_text_tool_use_and_cache_usage(
    anthropic_server: LocalAnthropicServer, anthropic_client: anthropic.Anthropic
) -> None:
    anthropic_server.queue(
        AnthropicReply(
            "Let me look.",
            thinking="The user wants weather.",
            tool_calls=[ToolCall("get_weather", {"city": "Paris"}, id="toolu_1")],
            prompt_tokens=12,
            completion_tokens=30,
            cached_tokens=1800,
            cache_creation_tokens=200,
        )
    )
    message = anthropic_client.messages.create(
        model=MODEL, max_tokens=256, system="Be brief.", messages=USER
    )
    assert [block.type for block in message.content] == ["thinking", "text", "tool_use"]
    assert message.stop_reason == "tool_use"
    assert message.content[2].input == {"city": "Paris"}  # type: ignore[union-attr]
    assert message.usage.input_tokens == 12
    assert message.usage.cache_read_input_tokens == 1800
    assert message.usage.cache_creation_input_tokens == 200
    assert message.usage.output_tokens == 30
    request = anthropic_server.requests[-1]
    assert request.path == "/v1/messages"
    assert "anthropic-version" in request.headers
    assert request.body["system"] == "Be brief."


def test_stream_helper_accumulates_the_same_message(
    anthropic_server: LocalAnthropicServer, anthropic_client: anthropic.Anthropic
) -> None:
    calls = [ToolCall("get_weather", {"city": "Paris"}, id="toolu_1")]
    anthropic_server.queue(
        AnthropicReply("Sunny.", thinking="hm", tool_calls=calls, chunk_chars=2, cached_tokens=7)
    )
    with anthropic_client.messages.stream(model=MODEL, max_tokens=64, messages=USER) as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_message()
    assert kinds[0] == "message_start" and kinds[-1] == "message_stop"
    assert "input_json" in kinds and "thinking" in kinds and "text" in kinds
    assert final.content[1].text == "Sunny."  # type: ignore[union-attr]
    assert final.content[2].input == {"city": "Paris"}  # type: ignore[union-attr]
    assert final.usage.cache_read_input_tokens == 7
    assert final.stop_reason == "tool_use"


@pytest.mark.parametrize(
    ("messages", "fragment"),
    [
        ([{"role": "assistant", "content": "x"}], 'first message must use the "user" role'),
        (
            [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}],
            "roles must alternate",
        ),
        ([{"role": "system", "content": "x"}], 'Unexpected role "system"'),
        ([{"role": "user", "content": ""}], "text content blocks must be non-empty"),
        (
            [
                {"role": "user", "content": "a"},
                {
                    "role": "assistant",
                    "content": [{"type": "tool_use", "id": "t1", "name": "f", "input": {}}],
                },
                {"role": "user", "content": "no result"},
            ],
            "`tool_use` ids were found without `tool_result` blocks",
        ),
        (
            [
                {
                    "role": "user",
                    "content": [{"type": "tool_result", "tool_use_id": "t9", "content": "x"}],
                }
            ],
            "unexpected `tool_use_id`",
        ),
    ],
)
def test_invalid_requests_are_rejected_like_the_real_api(
    anthropic_client: anthropic.Anthropic, messages: list[dict[str, object]], fragment: str
) -> None:
    with pytest.raises(anthropic.BadRequestError) as caught:
        anthropic_client.messages.create(model=MODEL, max_tokens=8, messages=messages)  # type: ignore[arg-type]
    assert fragment in caught.value.message
    assert caught.value.body["error"]["type"] == "invalid_request_error"  # type: ignore[index]


def test_max_tokens_is_required(anthropic_server: LocalAnthropicServer) -> None:
    import httpx

    response = httpx.post(
        anthropic_server.base_url + "/v1/messages", json={"model": MODEL, "messages": USER}
    )
    assert response.status_code == 400
    assert response.json()["error"]["message"] == "max_tokens: Field required"


def test_errors_have_anthropic_types(
    anthropic_server: LocalAnthropicServer, anthropic_client: anthropic.Anthropic
) -> None:
    anthropic_server.queue(ErrorReply(429, retry_after=3), ErrorReply(529))
    with pytest.raises(anthropic.RateLimitError) as limited:
        anthropic_client.messages.create(model=MODEL, max_tokens=8, messages=USER)
    assert limited.value.response.headers["retry-after"] == "3"
    with pytest.raises(anthropic.OverloadedError) as overloaded:
        anthropic_client.messages.create(model=MODEL, max_tokens=8, messages=USER)
    assert overloaded.value.status_code == 529
    with pytest.raises(anthropic.NotFoundError):
        anthropic_client.messages.create(
            model="this-model-does-not-exist", max_tokens=8, messages=USER
        )


def test_cut_stream_breaks_the_client_mid_body(
    anthropic_server: LocalAnthropicServer, anthropic_client: anthropic.Anthropic
) -> None:
    anthropic_server.queue(AnthropicReply("A long answer that never ends.", cut_after=4))
    seen = []
    with pytest.raises(anthropic.APIConnectionError):
        for event in anthropic_client.messages.create(
            model=MODEL, max_tokens=64, messages=USER, stream=True
        ):
            seen.append(event.type)
    assert seen[0] == "message_start"
    assert "message_stop" not in seen
