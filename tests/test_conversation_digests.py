"""The digests stored on LLM events (``conversation_digest``, ``context_digest``,
``input_digest``) are compared with those computed for later requests, also by
newer versions reading sessions older ones wrote: they must never change. The
expected values below were computed by the code that wrote the first stored
sessions; a change that alters any of them breaks continuation recognition."""

from __future__ import annotations

import json
from typing import Any

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from a2a_session_manager.exporters import SpanMapper
from a2a_session_manager.exporters._conversation import digest_of, extend_digest, prefix_digests
from a2a_session_manager.exporters._session_state import (
    CONTEXT_DIGEST,
    CONVERSATION_DIGEST,
    INPUT_DIGEST,
)
from a2a_session_manager.telemetry import semconv

CORPUS: list[dict[str, Any]] = [
    {"role": "user", "content": "plain content string"},
    {
        "role": "user",
        "parts": [{"type": "text", "content": 'Héllo wörld ✓ \u2028 "quoted" \\ back'}],
    },
    {
        "role": "assistant",
        "parts": [{"type": "text", "content": ""}, {"type": "text", "content": None}],
    },
    {
        "role": "assistant",
        "parts": [
            {"type": "reasoning", "content": "thinking..."},
            {"type": "text", "content": "Let me check."},
            {
                "type": "tool_call",
                "id": "call_1",
                "name": "get_weather",
                "arguments": '{"city": "Paris", "units": "C"}',
            },
            {
                "type": "tool_call",
                "id": "call_2",
                "name": "get_time",
                "arguments": {"tz": "Europe/Paris", "a": [1, 2.5, None, True]},
            },
        ],
    },
    {
        "role": "tool",
        "parts": [{"type": "tool_call_response", "id": "call_1", "response": '{"temp": 21}'}],
    },
    {
        "role": "tool",
        "parts": [{"type": "tool_call_response", "id": "call_2", "response": "not json at all"}],
    },
    {
        "role": "tool",
        "parts": [
            {
                "type": "tool_call_response",
                "id": None,
                "response": {"nested": {"z": 1, "a": [{}, []]}},
            }
        ],
    },
    {
        "role": "user",
        "parts": [
            {"type": "image", "url": "http://x"},
            {"type": "text", "content": "what is this?"},
            "not a dict",
        ],
    },
    {"role": "user", "parts": [{"type": "text", "content": {"structured": True}}]},
    {"parts": [{"type": "text", "content": "no role"}]},
    {
        "role": "assistant",
        "parts": [{"type": "tool_call", "id": "c", "name": "n", "arguments": None}],
    },
    {
        "role": "assistant",
        "parts": [{"type": "tool_call", "id": "c", "name": "n", "arguments": '{"b":1,"a":2}'}],
    },
    {"role": "user", "parts": [{"type": "text", "content": "emoji 😀 and \ud800 lone surrogate"}]},
    {
        "role": "user",
        "parts": [{"type": "tool_call", "id": "x", "name": "y", "arguments": {"f": float("nan")}}],
    },
    {"role": "user", "parts": [{"type": "text", "content": "a"}, {"type": None}, {"type": 3}]},
    {"role": "user", "parts": []},
    {"role": "user", "content": ["list content"]},
    {"role": "system", "content": "system message"},
]

PREFIX = [
    "6132612d636f6e766572736174696f6e2d7632",
    "86b0d065a0e293b047d58bb16512987c",
    "c1acea132c9b3c6e6d949553a5e0f792",
    "4006caba0a7e9f29ce5c17fc4c38f6d1",
    "6a60ea209286ca346d874c61a808d82c",
    "fe2a68f43980fbd64263cc834739fb80",
    "2770bcb5e827f6923f942693393de565",
    "1e66ad61e8f301e48db66b939780e42b",
    "7445dbdbad037865fb2d3ed966eaa101",
    "6f7879d12f09b486d72d85681c614e06",
    "6b5669802830e4bdee3034d664172122",
    "ed0018579452769e69cdb0636c4d343d",
    "e1766576f7de708c5f7b80fa4d09d63a",
    "e0de62c4ce36f53de23b05bb9a259e35",
    "4daaa200d7f7b7ef8955737b18e3ae40",
    "e071366ac14aa6398b6e96cb05a294ae",
    "fc3fa20b5aae783052046b389a2f628b",
    "069bca3a961bb58482cec554ed5f7dbc",
    "63027142c03b30170581baa1778cbb44",
]

VALUES: list[Any] = [
    {
        "system": [{"role": "system", "content": "x"}],
        "parameters": {"temperature": 0.2, "max_tokens": 10},
        "tools": [],
    },
    {"system": [], "parameters": {}, "tools": []},
    '{"a": 1}',
    "text",
    None,
    {"k": "é😀"},
]
DIGEST_OF = [
    "c1de3b229641bb1aa4edf7ae",
    "ab4d5677b2e8ee9ec7da2357",
    "abd04f5426c58fe48d04555e",
    "62d5d63bcdb861094cd527bb",
    "d9f16f6ef9a5bc1a9c0a2c98",
    "9fc5ab658cfba2f93367d785",
]

ALONE = [
    "86b0d065a0e293b047d58bb16512987c",
    "8f481d4f5d37219e8dd6445307362446",
    "75b255e5939e92f9755024114417e04e",
    "7211d1c4885598940d8becdf987b99a2",
    "135336e049549515f0c45207a86a7b41",
    "5a0fbef5977c4de6850ec5d28909ee0a",
    "4b7559e89d2059bec6dc70ec289d1faf",
    "1730061dc89e2df1b614dbefe501c3e9",
    "1a50f830b8180d9e546a5304a1cdf0b5",
    "8c718d75db738e6ca2cd109586561b83",
    "a8d2dd53df9f3745e66becb22d517262",
    "eb88f560478439ceb0593665392aa340",
    "9c4fba6c7345110b708dcdf338e8c4f6",
    "8edb8a0f927812433fef0438c53932df",
    "b8fe0722d7c03d03b65cbe6886a8a57d",
    "714b30fe41439c7c6eeb11382f12ce51",
    "714b30fe41439c7c6eeb11382f12ce51",
    "0e5c42437cf8d0979e33c61c2f873a87",
]

# conversation_digest and context_digest of a finished call; input_digest and
# context_digest of the same call failed.
MAPPED = [
    "2e112204f6375ebe4219b00e72b28211",
    "626c8c4735fa6c0adedd6512",
    "27fa11302b4ce097737008175b5759a1",
    "626c8c4735fa6c0adedd6512",
]


def test_prefix_digests_are_pinned() -> None:
    assert prefix_digests(CORPUS) == PREFIX


def test_extending_a_prefix_gives_the_longer_prefix_digest() -> None:
    assert extend_digest(prefix_digests(CORPUS[:3]), CORPUS[3:6]) == PREFIX[6]
    assert extend_digest([], CORPUS[:1]) == PREFIX[1]


def test_each_message_digest_is_pinned_alone() -> None:
    assert [prefix_digests([message])[1] for message in CORPUS] == ALONE


def test_context_digests_are_pinned() -> None:
    assert [digest_of(value) for value in VALUES] == DIGEST_OF


def _mapped_llm_metadata(*, failed: bool) -> dict[str, Any]:
    """The metadata of the LLM event of one chat span carrying ``CORPUS``."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("a2a_session_manager.instrumentation.openai")
    with tracer.start_as_current_span("chat gpt-4o-mini") as span:
        span.set_attributes(
            {
                semconv.SESSION_ID: "pinned",
                semconv.GEN_AI_OPERATION_NAME: semconv.OPERATION_CHAT,
                semconv.GEN_AI_REQUEST_MODEL: "gpt-4o-mini",
                semconv.GEN_AI_REQUEST_TEMPERATURE: 0.5,
                semconv.GEN_AI_INPUT_MESSAGES: json.dumps(CORPUS[:13] + CORPUS[14:]),
                semconv.GEN_AI_OUTPUT_MESSAGES: json.dumps([CORPUS[3]]),
                semconv.GEN_AI_SYSTEM_INSTRUCTIONS: json.dumps(
                    [{"type": "text", "content": "Be brief."}]
                ),
            }
        )
        if failed:
            span.set_status(StatusCode.ERROR, "boom")
    provider.shutdown()
    changes = SpanMapper().map(exporter.get_finished_spans())["pinned"]
    (llm,) = [e for e in changes.events if e.metadata.get(CONTEXT_DIGEST)]
    return llm.metadata


def test_digests_on_mapped_events_are_pinned() -> None:
    done = _mapped_llm_metadata(failed=False)
    failed = _mapped_llm_metadata(failed=True)
    assert [
        done[CONVERSATION_DIGEST],
        done[CONTEXT_DIGEST],
        failed[INPUT_DIGEST],
        failed[CONTEXT_DIGEST],
    ] == MAPPED
