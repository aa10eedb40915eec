"""JSON for stores that keep text (file, Redis): lossless for JSON values,
safe for everything else.

A value that is not JSON (a socket, a set, bytes that are not UTF-8) is
stored as its ``repr`` rather than failing the write or dropping the event;
what cannot be encoded at all (too deep, self-containing, a raising
``repr``, NaN, huge integers) becomes the placeholder of
:mod:`a2a_session_manager.models.json_values`. Each model is encoded on its
own, so one bad value never takes its batch-mates with it, and reading
applies the same depth limit, so everything written reads back.
"""

from __future__ import annotations

import gc
import json
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pydantic_core
from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError

from a2a_session_manager.models.json_values import (
    MAX_INT_DIGITS,
    STORED_DEPTH,
    json_safe,
    needs_safing,
    placeholder,
)
from a2a_session_manager.models.session_event import SessionEvent
from a2a_session_manager.models.session_run import SessionRun

logger = logging.getLogger(__name__)

_LONG_NUMBER = re.compile(rf"\d{{{MAX_INT_DIGITS + 1}}}")
# Only keys go through pydantic-core's string cache: stored values (ids,
# messages) are nearly all distinct, and caching them costs ~4% of a cold read.
_MANY = ConfigDict(cache_strings="keys")
_events_adapter = TypeAdapter(list[SessionEvent], config=_MANY)
_runs_adapter = TypeAdapter(list[SessionRun], config=_MANY)
_item_adapters: dict[TypeAdapter[Any], TypeAdapter[Any]] = {
    _events_adapter: TypeAdapter(SessionEvent),
    _runs_adapter: TypeAdapter(SessionRun),
}


def _fallback(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", errors="backslashreplace")
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    logger.debug("storing non-JSON value of type %s as its repr", type(value).__name__)
    try:
        return repr(value)
    except Exception:
        return placeholder(value)


def _scrub_surrogates(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", errors="backslashreplace")
    if isinstance(value, str):
        return value.encode("utf-8", errors="backslashreplace").decode("utf-8")
    if isinstance(value, dict):
        return {_scrub_surrogates(k): _scrub_surrogates(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub_surrogates(v) for v in value]
    return value


def _free_values(model: BaseModel) -> dict[str, Any]:
    # The fields that hold application values (message, metadata, properties,
    # state): nested models, dates and enums are pydantic's own business.
    return {
        name: value
        for name, value in model
        if isinstance(value, dict | list | tuple | int | float) and not isinstance(value, bool)
    }


def _safed(model: BaseModel, *, always: bool = False) -> BaseModel:
    update = {
        name: json_safe(value, STORED_DEPTH)
        for name, value in _free_values(model).items()
        if always or needs_safing(value)
    }
    return model.model_copy(update=update) if update else model


def _may_not_read_back(text: str) -> bool:
    """Whether a document may nest deeper than the limit or hold an integer
    readers refuse: counting brackets (in C) rules both out for nearly every
    document without walking its values."""
    return text.count("{") + text.count("[") > STORED_DEPTH or (
        len(text) > MAX_INT_DIGITS and _LONG_NUMBER.search(text) is not None
    )


def _encoded_safely(model: BaseModel) -> str:
    data = _scrub_surrogates(_safed(model, always=True).model_dump(fallback=_fallback))
    return pydantic_core.to_json(data, fallback=_fallback).decode()


def to_json(model: BaseModel) -> str:
    """One line of JSON for ``model`` (never raises for odd field values).
    (NaN and infinities in fields pydantic encodes itself become ``null``.)"""
    try:
        text = model.model_dump_json(fallback=_fallback)
    except Exception:
        # Lone surrogates ("\ud800") and non-UTF-8 bytes (which pydantic
        # encodes itself, without the fallback) cannot be UTF-8: kept visibly
        # escaped. Self-containing values and hostile serialisation hooks:
        # placeholders.
        logger.debug("encoding a %s the safe way", type(model).__name__, exc_info=True)
        return _encoded_safely(model)
    if _may_not_read_back(text):
        safed = _safed(model)
        if safed is not model:
            return safed.model_dump_json(fallback=_fallback)
    return text


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a stored session is rebuilt.

    Building thousands of models at once makes the collector run again and
    again over new objects that hold no cycles; pausing it more than halves a
    cold read of a long session. A collector the application disabled stays so.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _parse_int(text: str) -> Any:
    return (
        int(text)
        if len(text) < 3_600
        else placeholder(text, f"<int of {len(text)} digits>", type_name="int")
    )


def _parse_constant(text: str) -> Any:
    return placeholder(float(text))


def _rescued(adapter: TypeAdapter[Any], line: str | bytes) -> Any:
    """One stored document that pydantic-core refuses to read (written by an
    older version: nested past its limit, a huge integer, NaN): parsed with
    the standard library, with the same placeholders a write would make.
    Anything else that cannot be read raises."""
    try:
        return adapter.validate_json(line)
    except ValidationError:
        data = json.loads(line, parse_int=_parse_int, parse_constant=_parse_constant)
        return adapter.validate_python(json_safe(data, STORED_DEPTH + 1))  # + the document


def _json_array(lines: list[str] | list[bytes]) -> bytes:
    """``[line,line,...]`` in one copy of the lines (joined in C: no Python
    step per line, and no second copy of megabytes to add the brackets)."""
    parts: list[Any] = list(lines)
    try:
        parts[0] = b"[" + parts[0]
        parts[-1] = parts[-1] + b"]"
        return b",".join(parts)
    except TypeError:  # text lines (the stores hand over bytes)
        return _json_array([x if isinstance(x, bytes) else x.encode() for x in lines])


def _validate_many(adapter: TypeAdapter[Any], lines: list[str] | list[bytes]) -> Any:
    if not lines:
        return []
    joined = _json_array(lines)
    try:
        # What we wrote ourselves passes strict validation, about 20% faster.
        return adapter.validate_json(joined, strict=True)
    except ValidationError:
        pass
    try:
        # Older or hand-written data may need coercion.
        return adapter.validate_json(joined)
    except ValidationError as exc:
        item: TypeAdapter[Any] = _item_adapters.get(adapter) or adapter
        try:
            return [_rescued(item, line) for line in lines]
        except (ValueError, RecursionError):
            raise exc from None


def events_from_json_lines(lines: list[str] | list[bytes]) -> list[SessionEvent]:
    """Parse many event JSON documents at once (one pass in pydantic-core)."""
    result: list[SessionEvent] = _validate_many(_events_adapter, lines)
    return result


def runs_from_json_lines(lines: list[str] | list[bytes]) -> list[SessionRun]:
    result: list[SessionRun] = _validate_many(_runs_adapter, lines)
    return result
