"""Session models built from values the mapper already made valid, without
running validation again: the mapper builds several per span."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel

from a2a_session_manager.models.event_source import EventSource
from a2a_session_manager.models.event_type import EventType
from a2a_session_manager.models.session_event import SessionEvent
from a2a_session_manager.models.session_run import SessionRun
from a2a_session_manager.models.token_usage import TokenUsage

_RUN_FIELDS = tuple(SessionRun.model_fields)
_USAGE_FIELDS = tuple(TokenUsage.model_fields)
_EVENT_FIELDS = tuple(SessionEvent.model_fields)
# What validation marks as set when the mapper builds these with keywords.
_USAGE_SET = frozenset(_USAGE_FIELDS) - {"total_tokens", "estimated_cost_usd"}
_set_attribute = object.__setattr__
_Model = TypeVar("_Model", bound=BaseModel)


def _trusted(model: type[_Model], values: dict[str, Any], fields_set: Iterable[str]) -> _Model:
    """An instance of ``model`` holding ``values`` (every field, in field
    order, already valid) without running validation."""
    instance = model.__new__(model)
    _set_attribute(instance, "__dict__", values)
    _set_attribute(instance, "__pydantic_fields_set__", set(fields_set))
    _set_attribute(instance, "__pydantic_extra__", None)
    _set_attribute(instance, "__pydantic_private__", None)
    return instance


def trusted_run(values: dict[str, Any]) -> SessionRun:
    """``SessionRun.model_construct(**values)`` for values that name every field
    in field order, without its per-field alias and default handling: every
    outermost run builds one of these on the caller's thread."""
    if tuple(values) != _RUN_FIELDS:  # a field added to the model: take the slow road
        return SessionRun.model_construct(**values)
    return _trusted(SessionRun, values, _RUN_FIELDS)


def trusted_usage(
    *,
    prompt_tokens: int,
    completion_tokens: int,
    cached_input_tokens: int,
    reasoning_tokens: int,
    model: str,
    source: str,
    cache_write_input_tokens: int = 0,
) -> TokenUsage:
    """``TokenUsage(...)`` for counts the mapper made non-negative ints, with
    the total and the cost derived as its validator derives them."""
    values: dict[str, Any] = {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "cached_input_tokens": cached_input_tokens,
        "cache_write_input_tokens": cache_write_input_tokens,
        "reasoning_tokens": reasoning_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
        "model": model,
        "estimated_cost_usd": None,
        "source": source,
    }
    if tuple(values) != _USAGE_FIELDS:  # the model changed: validate
        del values["total_tokens"], values["estimated_cost_usd"]
        return TokenUsage(**values)
    usage = _trusted(TokenUsage, values, _USAGE_SET)
    if model:
        values["estimated_cost_usd"] = usage.calculate_cost()
    return usage


def trusted_event(
    *,
    id: str,
    message: Any,
    source: EventSource,
    type: EventType,
    task_id: str | None,
    timestamp: datetime,
    metadata: dict[str, Any],
    token_usage: TokenUsage | None = None,
) -> SessionEvent:
    """``SessionEvent(...)`` for values the mapper built valid (an aware UTC
    ``timestamp``, enum members, a fresh ``metadata`` dict of JSON values)."""
    values: dict[str, Any] = {
        "id": id,
        "timestamp": timestamp,
        "message": message,
        "task_id": task_id,
        "type": type,
        "source": source,
        "metadata": metadata,
        "token_usage": token_usage,
    }
    if tuple(values) != _EVENT_FIELDS:  # the model changed: validate
        return SessionEvent(**values)
    return _trusted(SessionEvent, values, _EVENT_FIELDS)
