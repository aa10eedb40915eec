"""JSON for stores that keep text (file, Redis): lossless for JSON values,
safe for everything else.

A value that is not JSON (a socket, a set, bytes that are not UTF-8) is
stored as its ``repr`` rather than failing the write or dropping the event.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pydantic_core
from pydantic import BaseModel, TypeAdapter, ValidationError

from a2a_session_manager.models.session_event import SessionEvent
from a2a_session_manager.models.session_run import SessionRun

logger = logging.getLogger(__name__)

_events_adapter = TypeAdapter(list[SessionEvent])
_runs_adapter = TypeAdapter(list[SessionRun])


def _fallback(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", errors="backslashreplace")
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    logger.debug("storing non-JSON value of type %s as its repr", type(value).__name__)
    return repr(value)


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


def to_json(model: BaseModel) -> str:
    """One line of JSON for ``model`` (never raises for odd field values)."""
    try:
        return model.model_dump_json(fallback=_fallback)
    except ValueError:
        # Lone surrogates ("\ud800") and non-UTF-8 bytes (which pydantic
        # encodes itself, without the fallback) cannot be UTF-8; keep them
        # visibly escaped.
        data = _scrub_surrogates(model.model_dump(fallback=_fallback))
        return pydantic_core.to_json(data, fallback=_fallback).decode()


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


def _validate_many(adapter: TypeAdapter[Any], lines: list[str] | list[bytes]) -> Any:
    if not lines:
        return []
    joined = b"[" + b",".join(x if isinstance(x, bytes) else x.encode() for x in lines) + b"]"
    try:
        # What we wrote ourselves passes strict validation, about 20% faster.
        return adapter.validate_json(joined, strict=True)
    except ValidationError:
        # Older or hand-written data may need coercion; a real error raises here.
        return adapter.validate_json(joined)


def events_from_json_lines(lines: list[str] | list[bytes]) -> list[SessionEvent]:
    """Parse many event JSON documents at once (one pass in pydantic-core)."""
    result: list[SessionEvent] = _validate_many(_events_adapter, lines)
    return result


def runs_from_json_lines(lines: list[str] | list[bytes]) -> list[SessionRun]:
    result: list[SessionRun] = _validate_many(_runs_adapter, lines)
    return result
