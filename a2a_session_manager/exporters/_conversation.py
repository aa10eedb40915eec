"""What a chat request says about the conversation it continues.

A request continues an earlier call of the session when its messages begin
exactly with that call's input followed by its output. Each recorded call
keeps the digest of that sequence (``conversation_digest`` on its LLM event,
so it lives in the store with the session); a request's prefix digests are
computed as one hash chain over its messages, so finding the longest
continued call costs one hash per message, whatever the conversation's length.

Messages are compared in a canonical form that keeps what the conversation
means (role, text, tool calls with parsed arguments, tool results) and drops
what differs between a response and the same message sent back (ids of
response items, finish reasons, empty text, how arguments were spelled,
reasoning parts).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from a2a_session_manager.telemetry import semconv
from a2a_session_manager.telemetry._json import from_json_text

INSTRUCTION_ROLES = frozenset({"system", "developer"})
_ROOT = b"a2a-conversation-v2"  # v2: instruction messages left out of the chain
# One encoder each, shared: ``json.dumps`` with options builds a new encoder
# per call, several times per chat span. Same options, so the same text (the
# digests stored sessions hold depend on it).
_SORTED = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":"))
_COMPACT = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
_encode_string = json.encoder.encode_basestring  # what ``_COMPACT`` encodes a str with


def parts(message: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A structured message's parts (plain ``{"role", "content"}`` tolerated)."""
    raw = message.get("parts")
    if isinstance(raw, list):
        return [p for p in raw if isinstance(p, dict)]
    content = message.get("content")
    if isinstance(content, str):
        return [{"type": semconv.PART_TEXT, "content": content}]
    return []


def text_of(message_parts: Iterable[Mapping[str, Any]]) -> str | None:
    """The text parts joined, or ``None`` when there are none."""
    texts = [p.get("content") for p in message_parts if p.get("type") == semconv.PART_TEXT]
    if not texts:
        return None
    return "".join(t if isinstance(t, str) else _canonical_json(t) for t in texts)


def merged_turns(messages: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Consecutive assistant messages as one: the Responses API sends a reply
    back as one input item per output item (text, each function call), where
    the call's output was one message with all of them."""
    merged: list[dict[str, Any]] = []
    for message in messages:
        if merged and message.get("role") == "assistant" and merged[-1].get("role") == "assistant":
            merged[-1] = {**merged[-1], "parts": parts(merged[-1]) + parts(message)}
        else:
            merged.append(message)
    return merged


def _canonical_json(value: Any) -> str:
    value = from_json_text(value)
    try:
        return _SORTED.encode(value)
    except (TypeError, ValueError, RecursionError):
        return repr(value)


def _canonical_part(part: Mapping[str, Any]) -> list[Any] | None:
    kind = part.get("type")
    if kind == semconv.PART_TEXT:
        content = part.get("content")
        return None if content in ("", None) else ["t", content]
    if kind == semconv.PART_TOOL_CALL:
        return ["c", part.get("id"), part.get("name"), _canonical_json(part.get("arguments"))]
    if kind == semconv.PART_TOOL_CALL_RESPONSE:
        return ["r", part.get("id"), _canonical_json(part.get("response"))]
    if kind == semconv.PART_REASONING:
        return None  # a model's reasoning may be sent back or left out (Anthropic's thinking)
    return ["o", str(kind)]


def canonical(message: Mapping[str, Any]) -> bytes:
    """The message as compared between a response and the request that sends it back."""
    form = [message.get("role")]
    for part in parts(message):
        canon = _canonical_part(part)
        if canon is not None:
            form.append(canon)
    text = _flat_json(form)
    if text is None:
        try:
            text = _COMPACT.encode(form)
        except (TypeError, ValueError, RecursionError):
            text = repr(form)
    return text.encode("utf-8", "surrogatepass")


def _flat_json(form: list[Any]) -> str | None:
    """``_COMPACT.encode(form)`` for the usual form, whose values are all
    strings or ``None``, joined from the string encoder the JSON encoder uses
    (without its set-up per call, most of the cost of hashing a message);
    ``None`` for any other form."""
    role = form[0]
    if role is None:
        pieces = ["null"]
    elif isinstance(role, str):
        pieces = [_encode_string(role)]
    else:
        return None
    for canon in form[1:]:
        items = []
        for value in canon:
            if isinstance(value, str):
                items.append(_encode_string(value))
            elif value is None:
                items.append("null")
            else:
                return None
        pieces.append("[" + ",".join(items) + "]")
    return "[" + ",".join(pieces) + "]"


def _step(previous: bytes, message: Mapping[str, Any]) -> bytes:
    return hashlib.blake2b(previous + canonical(message), digest_size=16).digest()


def prefix_digests(messages: Sequence[Mapping[str, Any]]) -> list[str]:
    """``result[j]`` is the digest of ``messages[:j]`` (``result[0]``: empty)."""
    chain = [_ROOT]
    for message in messages:
        chain.append(_step(chain[-1], message))
    return [d.hex() for d in chain]


def extend_digest(digests: Sequence[str], messages: Iterable[Mapping[str, Any]]) -> str:
    """The digest of the sequence ``digests`` ends with, followed by ``messages``."""
    current = bytes.fromhex(digests[-1]) if digests else _ROOT
    for message in messages:
        current = _step(current, message)
    return current.hex()


def digest_of(value: Any) -> str:
    """A short digest of any JSON value (instructions, parameters, tools)."""
    return hashlib.blake2b(
        _canonical_json(value).encode("utf-8", "surrogatepass"), digest_size=12
    ).hexdigest()


def text_digest(text: str) -> bytes:
    """What is remembered of a text recorded with ``record_event``: its digest."""
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()


def derived_id(*seed: str) -> str:
    """An event id derived from where the event comes from (span, position,
    call): writing the same batch twice stores each event once."""
    joined = "\x1f".join(seed).encode("utf-8", "surrogatepass")
    return hashlib.blake2b(joined, digest_size=16).hexdigest()
