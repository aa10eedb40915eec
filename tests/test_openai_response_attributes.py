"""A ``ChatCompletion``'s attributes read in one pass (the client's objects,
usage with both details) match what the general reader gives the same
response as a plain dict, and responses missing any of it take that reader."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from openai.types.chat import ChatCompletion

from a2a_session_manager.instrumentation.openai._attributes import chat_response_attributes
from a2a_session_manager.telemetry import semconv

CANNED: dict[str, Any] = json.loads(
    (Path(__file__).parents[1] / "benchmarks" / "peers" / "chat_completion.json").read_text(
        encoding="utf-8"
    )
)


def _variant(change: str) -> dict[str, Any]:
    body = copy.deepcopy(CANNED)
    usage = body["usage"]
    if change == "no usage":
        body["usage"] = None
    elif change == "no details":
        usage.pop("prompt_tokens_details", None)
        usage.pop("completion_tokens_details", None)
    elif change == "no cached count":
        usage["prompt_tokens_details"] = {"cached_tokens": None}
    elif change == "two choices":
        body["choices"].append({**body["choices"][0], "index": 1, "finish_reason": "length"})
    return body


@pytest.mark.parametrize(
    "change", ["as sent", "no usage", "no details", "no cached count", "two choices"]
)
def test_object_and_dict_give_the_same_attributes(change: str) -> None:
    body = _variant(change)
    parsed = ChatCompletion.model_validate(body)
    assert chat_response_attributes(parsed) == chat_response_attributes(body)


def test_openai_usage_is_read_whole() -> None:
    attributes = chat_response_attributes(ChatCompletion.model_validate(CANNED))
    usage = CANNED["usage"]
    assert attributes[semconv.GEN_AI_USAGE_INPUT_TOKENS] == usage["prompt_tokens"]
    assert attributes[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == usage["completion_tokens"]
    assert (
        attributes[semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS]
        == usage["prompt_tokens_details"]["cached_tokens"]
    )
    assert attributes[semconv.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)
    assert attributes[semconv.A2A_USAGE_SOURCE] == "provider"
