"""What a stored value may be: JSON, at most :data:`MAX_DEPTH` levels deep.

Every writer (``record_event``, ``@tool``, the stores) and every reader goes
through here, so that anything written reads back. A value JSON cannot hold
is never dropped with its event; it is stored in its place as::

    {"__unencodable__": {"type": "<type name>", "repr": "<safe, shortened repr or why>"}}

and counted (:func:`unencodable_count`). That happens to a value whose
``repr`` raises, to an integer of more than 4,300 digits, to NaN and
infinities, to a container nested deeper than :data:`MAX_DEPTH` in a value
the application hands over, or :data:`STORED_DEPTH` in a stored field (the
part above the limit is kept), and to a container that contains itself. Other
non-JSON values keep today's rules: bytes as text (invalid UTF-8
backslash-escaped), sets and tuples as lists, pydantic models as their
fields, dates as ISO text, anything else as its ``repr``; non-text keys
become text.
"""

from __future__ import annotations

import math
import reprlib
import threading
from collections.abc import Mapping
from datetime import date, datetime, time
from enum import Enum
from typing import Any

# Containers deeper than this in a value handed to the SDK become placeholders.
MAX_DEPTH = 64
# The same rule for a stored model's fields (message, metadata, ...): room for
# the payload around an application's value (a tool call's arguments sit two
# levels down in its event). pydantic-core reads at most 200 levels per document.
STORED_DEPTH = MAX_DEPTH + 8

UNENCODABLE_KEY = "__unencodable__"

# Integers with more digits than Python converts to text by default are
# refused by readers (pydantic-core too).
MAX_INT_DIGITS = 4_300
_INT_LIMIT = 10**MAX_INT_DIGITS


def _int_fits(value: int) -> bool:
    return value.bit_length() < 14_000 or -_INT_LIMIT < value < _INT_LIMIT


_REPR_CHARS = 200

_repr = reprlib.Repr()
_repr.maxstring = _REPR_CHARS
_repr.maxother = _REPR_CHARS
_repr.maxlevel = 3

_count_lock = threading.Lock()
_count = 0


def unencodable_count() -> int:
    """How many values this process stored as placeholders so far."""
    return _count


def _counted() -> None:
    global _count
    with _count_lock:
        _count += 1


def _type_name(value: Any) -> str:
    try:
        return str(type(value).__qualname__)
    except Exception:
        return "object"


def safe_repr(value: Any) -> str:
    """A short ``repr`` that never raises (it says why when it cannot)."""
    if isinstance(value, int) and not _int_fits(value):
        return f"<int of about {int(value.bit_length() * 0.30103)} digits>"
    try:
        # reprlib bounds containers (depth, items) and survives raising items.
        text = _repr.repr(value) if isinstance(value, dict | list | tuple | set) else repr(value)
    except Exception as exc:
        text = f"<repr failed: {_type_name(exc)}>"
    return text if len(text) <= _REPR_CHARS else text[: _REPR_CHARS - 1] + "…"


def placeholder(
    value: Any, why: str | None = None, *, type_name: str | None = None
) -> dict[str, Any]:
    """The stored stand-in for ``value`` (counted)."""
    _counted()
    kind = type_name or _type_name(value)
    return {UNENCODABLE_KEY: {"type": kind, "repr": why or safe_repr(value)}}


def is_placeholder(value: Any) -> bool:
    return isinstance(value, Mapping) and len(value) == 1 and UNENCODABLE_KEY in value


def _key(key: Any) -> str:
    # As json.dumps writes them where it can; the safe repr elsewhere.
    if isinstance(key, str):
        return key
    if isinstance(key, bool) or key is None:
        return "true" if key is True else "false" if key is False else "null"
    return safe_repr(key)


def json_safe(value: Any, max_depth: int = MAX_DEPTH) -> Any:
    """``value`` as JSON values only (placeholders where needed). Parts that
    are already JSON are returned as they are, not copied."""
    return _safe(value, max_depth, 0, set())


def _safe(value: Any, limit: int, depth: int, path: set[int]) -> Any:
    if value is None or isinstance(value, str | bool):
        return value
    if isinstance(value, int):
        return value if _int_fits(value) else placeholder(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else placeholder(value)
    if isinstance(value, dict | list | tuple | set | frozenset):
        if depth >= limit:
            return placeholder(value, f"<nested deeper than {limit} levels>")
        if id(value) in path:
            return placeholder(value, "<contains itself>")
        path.add(id(value))
        try:
            return _container(value, limit, depth + 1, path)
        finally:
            path.discard(id(value))
    return _leaf(value, limit, depth, path)


def _container(value: Any, limit: int, depth: int, path: set[int]) -> Any:
    if isinstance(value, dict):
        items = [(k, _safe(v, limit, depth, path)) for k, v in value.items()]
        if all(
            isinstance(k, str) and new is old
            for (k, new), old in zip(items, value.values(), strict=True)
        ):
            return value
        out: dict[str, Any] = {}
        for k, v in items:
            out.setdefault(_key(k), v)
        return out
    items_list = [_safe(v, limit, depth, path) for v in value]
    if isinstance(value, list) and all(a is b for a, b in zip(items_list, value, strict=True)):
        return value
    return items_list


def _leaf(value: Any, limit: int, depth: int, path: set[int]) -> Any:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", errors="backslashreplace")
    if isinstance(value, Enum):
        return _safe(value.value, limit, depth, path)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    model_dump = getattr(value, "model_dump", None)  # pydantic models keep their fields
    if callable(model_dump):
        try:
            return _safe(model_dump(mode="json"), limit, depth, path)
        except Exception:
            pass
    try:
        return repr(value)
    except Exception as exc:
        return placeholder(value, f"<repr failed: {_type_name(exc)}>")


def text_nests_deeper_than(text: str, value: Any, limit: int) -> bool:
    """Whether ``value``, encoded as ``text``, nests objects and arrays more
    than ``limit`` levels. Counting brackets (in C) rules it out for nearly
    every value; only values with more brackets than the limit are walked."""
    if text.count("{") + text.count("[") <= limit:
        return False
    return needs_safing(value, limit)


def needs_safing(value: Any, max_depth: int = STORED_DEPTH) -> bool:
    """Whether a stored model's field value needs :func:`json_safe` before the
    store's encoder sees it (too deep, self-containing, huge numbers, NaN,
    odd keys). Iterative, with exact type checks first: it runs over whole
    messages on the write path. A value that contains itself nests past the
    limit along the loop, so no visited set is needed."""
    pending: list[tuple[Any, int]] = [(value, 0)]
    while pending:
        item, depth = pending.pop()
        kind = type(item)
        if kind is str or kind is bool or item is None:
            continue
        if kind is dict or kind is list:
            if depth >= max_depth:
                return True
            if kind is dict:
                for key, child in item.items():
                    if type(key) is not str:
                        return True
                    if type(child) is not str:
                        pending.append((child, depth + 1))
            else:
                pending.extend((child, depth + 1) for child in item if type(child) is not str)
        elif isinstance(item, bool):
            continue
        elif isinstance(item, int):
            if not _int_fits(item):
                return True
        elif isinstance(item, float):
            if not math.isfinite(item):
                return True
        elif isinstance(item, dict):  # subclasses, as above
            if depth >= max_depth or any(type(k) is not str for k in item):
                return True
            pending.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list | tuple | set | frozenset):
            if depth >= max_depth:
                return True
            pending.extend((child, depth + 1) for child in item)
        # Other objects go through the encoder's fallback, which is safe.
    return False
