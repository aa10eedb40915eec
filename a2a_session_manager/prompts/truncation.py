"""Fit a chat prompt into a token budget, counted exactly as the API bills it.

What is kept: every system message, the task (first user message), the
latest user message and the latest unit. A unit is one message, or an
assistant message with tool calls together with its tool results: units
are kept or dropped whole, so a call never loses its answer. Other units
are dropped oldest first. If what is kept still does not fit, the longest
text contents are cut (a prefix of their tokens plus ``TRUNCATION_MARKER``)
until it does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypeVar, cast

from a2a_session_manager.tokens.counting import REPLY_PRIMING_TOKENS, count_message_tokens
from a2a_session_manager.tokens.encodings import encoding_for_model

ChatMessage = dict[str, Any]
M = TypeVar("M", bound=Mapping[str, Any])

TRUNCATION_MARKER = "…[truncated]"


def _units(messages: Sequence[Mapping[str, Any]]) -> list[list[int]]:
    """Indexes of the messages grouped into units (see module docstring)."""
    units: list[list[int]] = []
    i = 0
    while i < len(messages):
        unit = [i]
        calls = messages[i].get("tool_calls") if messages[i].get("role") == "assistant" else None
        if calls:
            ids = {c.get("id") for c in calls if isinstance(c, Mapping)}
            while (
                i + 1 < len(messages)
                and messages[i + 1].get("role") == "tool"
                and messages[i + 1].get("tool_call_id") in ids
            ):
                i += 1
                unit.append(i)
        units.append(unit)
        i += 1
    return units


def _essential_units(messages: Sequence[Mapping[str, Any]], units: list[list[int]]) -> set[int]:
    role_of_unit = [messages[unit[0]].get("role") for unit in units]
    essential = {u for u, role in enumerate(role_of_unit) if role == "system"}
    user_units = [u for u, role in enumerate(role_of_unit) if role == "user"]
    if user_units:
        essential.update((user_units[0], user_units[-1]))
    essential.add(len(units) - 1)
    return essential


def _cut(message: ChatMessage, target: int, model: str) -> tuple[ChatMessage, int]:
    """``message`` with its content cut so that it costs at most ``target``
    tokens if possible (never less than the marker alone); and its cost."""
    encoding = encoding_for_model(model)
    tokens = encoding.encode(message["content"], disallowed_special=())
    overhead = count_message_tokens({**message, "content": TRUNCATION_MARKER}, model)
    # Each kept token costs about one token; merges at the cut can shift that
    # by a token or two, so start just above the estimate and step down.
    keep = max(0, min(len(tokens), target - overhead + 2))
    while True:
        text = encoding.decode_bytes(tokens[:keep]).decode("utf-8", errors="ignore")
        cut = {**message, "content": text + TRUNCATION_MARKER}
        cost = count_message_tokens(cut, model)
        if cost <= target or keep == 0:
            return cut, cost
        keep = max(0, keep - (cost - target))


def _floor_cost(message: ChatMessage, cost: int, model: str) -> int:
    """The least this message can cost once its content is cut."""
    if not isinstance(message.get("content"), str):
        return cost
    return min(cost, count_message_tokens({**message, "content": TRUNCATION_MARKER}, model))


def _shrink_contents(
    messages: list[ChatMessage], costs: list[int], max_tokens: int, model: str
) -> list[ChatMessage]:
    total = REPLY_PRIMING_TOKENS + sum(costs)
    floors = [_floor_cost(m, c, model) for m, c in zip(messages, costs, strict=True)]
    least = REPLY_PRIMING_TOKENS + sum(floors)
    if least > max_tokens:
        raise ValueError(
            f"max_tokens={max_tokens} cannot hold the system messages, the task and the "
            f"latest turn even with their text cut; at least {least} tokens are needed"
        )
    out = list(messages)
    done: set[int] = set()
    while total > max_tokens:
        # The longest text that can still give tokens back.
        j = max(
            (i for i in range(len(out)) if i not in done and costs[i] > floors[i]),
            key=lambda i: costs[i] - floors[i],
        )
        done.add(j)
        out[j], new_cost = _cut(out[j], costs[j] - (total - max_tokens), model)
        total += new_cost - costs[j]
        costs[j] = new_cost
    return out


def truncate_prompt_to_token_limit(
    prompt: Sequence[M], max_tokens: int, model: str = "gpt-4o-mini"
) -> list[M]:
    """``prompt`` cut to at most ``max_tokens`` prompt tokens of ``model``.

    Returns new message dicts of the same type (the input is not modified).
    Raises ``ValueError`` when ``max_tokens`` cannot hold the kept messages
    even with all their text cut to the marker.
    """
    return cast("list[M]", _truncated(prompt, max_tokens, model))


def _truncated(
    prompt: Sequence[Mapping[str, Any]], max_tokens: int, model: str
) -> list[ChatMessage]:
    if max_tokens <= REPLY_PRIMING_TOKENS:
        raise ValueError(f"max_tokens must be more than {REPLY_PRIMING_TOKENS}, got {max_tokens}")
    messages = [dict(m) for m in prompt]
    if not messages:
        return []
    costs = [count_message_tokens(m, model) for m in messages]
    total = REPLY_PRIMING_TOKENS + sum(costs)
    if total <= max_tokens:
        return messages
    units = _units(messages)
    essential = _essential_units(messages, units)
    kept = [True] * len(units)
    for u, unit in enumerate(units):
        if total <= max_tokens:
            break
        if u not in essential:
            kept[u] = False
            total -= sum(costs[i] for i in unit)
    indexes = [i for u, unit in enumerate(units) if kept[u] for i in unit]
    messages = [messages[i] for i in indexes]
    if total <= max_tokens:
        return messages
    return _shrink_contents(messages, [costs[i] for i in indexes], max_tokens, model)
