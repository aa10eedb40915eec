"""Finding sessions: paged listing and queries on the recorded overview.

Every store keeps, on write, a ``SessionSummary`` per session (times, parent,
properties, event count, tokens, cost, whether anything failed) and indexes
on it, so that a page costs about the page, not every session:

- ``store.list_sessions(prefix, limit=N, cursor=c)``: ids in code-point
  order, ``N`` at a time; ``store.list_page(...)`` also returns the cursor of
  the next page (``None`` after the last one).
- ``store.query(SessionQuery(...), limit=N, cursor=c)``: the summaries that
  match, most recently updated first, a ``Page`` at a time.

Cursors are opaque strings. Pages are keyset pages: a session written while
a caller pages never shifts the pages after it (it may move before the
cursor, since its update time changed).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from a2a_session_manager.models.session import Session
from a2a_session_manager.models.session_event import SessionEvent
from a2a_session_manager.models.session_run import RunStatus, SessionRun
from a2a_session_manager.storage.errors import StoreError

_T = TypeVar("_T")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
DEFAULT_PAGE = 100
USER_PROPERTY = "user"

Scalar = str | int | float | bool


class InvalidCursorError(StoreError, ValueError):
    """A cursor this store did not hand out (or one for another kind of page)."""


@dataclass(frozen=True)
class SessionQuery:
    """Conditions on the recorded overview; all given ones must hold.

    ``since``/``until`` bound the last update time (inclusive); ``user`` is
    the ``"user"`` property; ``properties`` match by equality of their JSON
    values (only str, int, float and bool values are indexed); ``has_errors``
    is true for sessions with a failed run or an event recording an error;
    cost (USD) and token bounds are inclusive; ``parent_id`` selects the
    children a parent recorded."""

    since: datetime | None = None
    until: datetime | None = None
    user: str | None = None
    properties: Mapping[str, Scalar] = field(default_factory=dict)
    has_errors: bool | None = None
    min_cost: float | None = None
    max_cost: float | None = None
    min_tokens: int | None = None
    max_tokens: int | None = None
    parent_id: str | None = None

    def equalities(self) -> list[tuple[str, str]]:
        """(property, JSON text of the value) pairs the query asks for."""
        pairs = dict(self.properties)
        if self.user is not None:
            pairs[USER_PROPERTY] = self.user
        return [(key, value_text(value)) for key, value in sorted(pairs.items())]


@dataclass(frozen=True)
class SessionSummary:
    """What a store indexes about one session (kept on every write)."""

    id: str
    created_at: datetime
    updated_at: datetime
    parent_id: str | None = None
    properties: Mapping[str, Any] = field(default_factory=dict)
    events: int = 0
    total_tokens: int = 0
    cost_usd: float = 0.0
    has_errors: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
            "parent_id": self.parent_id,
            "properties": dict(self.properties),
            "events": self.events,
            "total_tokens": self.total_tokens,
            "cost_usd": self.cost_usd,
            "has_errors": self.has_errors,
        }


@dataclass(frozen=True)
class Page(Generic[_T]):
    """One page of results and the cursor of the next (``None``: no more)."""

    items: list[_T]
    next_cursor: str | None = None


def time_key(moment: datetime) -> int:
    """Integer microseconds since the epoch (naive times are taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def value_text(value: Any) -> str:
    """The JSON text a property value is indexed (and compared) under."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def is_indexed_value(value: Any) -> bool:
    return isinstance(value, str | int | float | bool) and len(value_text(value)) <= 256


def event_has_error(event: SessionEvent) -> bool:
    """An LLM call or tool call that recorded an error (see models.payloads)."""
    message = event.message
    return isinstance(message, Mapping) and message.get("error") not in (None, "", {})


def run_failed(run: SessionRun) -> bool:
    return run.status == RunStatus.FAILED


@dataclass
class EventTotals:
    """What some events add to a summary."""

    events: int = 0
    tokens: int = 0
    cost: float = 0.0
    errors: bool = False

    def add(self, event: SessionEvent) -> None:
        self.events += 1
        usage = event.token_usage
        if usage is not None:
            self.tokens += usage.total_tokens
            self.cost += usage.estimated_cost_usd or 0.0
        if not self.errors and event_has_error(event):
            self.errors = True

    def add_totals(self, other: EventTotals, replacing: EventTotals | None = None) -> None:
        """Add ``other``; when it replaces what ``replacing`` counted (the same
        event written again), only the difference."""
        self.events += other.events
        self.tokens += other.tokens
        self.cost += other.cost
        self.errors = self.errors or other.errors
        if replacing is not None:
            self.events -= replacing.events
            self.tokens -= replacing.tokens
            self.cost -= replacing.cost

    @classmethod
    def of(cls, events: Iterable[SessionEvent]) -> EventTotals:
        totals = cls()
        for event in events:
            totals.add(event)
        return totals


def summary_of(session: Session) -> SessionSummary:
    """The summary of a whole session (what the indexes keep up to date)."""
    totals = EventTotals.of(session.events)
    return SessionSummary(
        id=session.id,
        created_at=session.metadata.created_at,
        updated_at=session.metadata.updated_at,
        parent_id=session.parent_id,
        properties=dict(session.metadata.properties),
        events=totals.events,
        total_tokens=totals.tokens,
        cost_usd=totals.cost,
        has_errors=totals.errors or any(run_failed(run) for run in session.runs),
    )


def matches(summary: SessionSummary, query: SessionQuery) -> bool:
    """Whether ``summary`` satisfies every condition of ``query`` (the
    definition that each store's indexes answer faster)."""
    updated = time_key(summary.updated_at)
    if query.since is not None and updated < time_key(query.since):
        return False
    if query.until is not None and updated > time_key(query.until):
        return False
    for key, text in query.equalities():
        if key not in summary.properties or value_text(summary.properties[key]) != text:
            return False
    if query.has_errors is not None and summary.has_errors != query.has_errors:
        return False
    if query.min_cost is not None and summary.cost_usd < query.min_cost - 1e-12:
        return False
    if query.max_cost is not None and summary.cost_usd > query.max_cost + 1e-12:
        return False
    if query.min_tokens is not None and summary.total_tokens < query.min_tokens:
        return False
    if query.max_tokens is not None and summary.total_tokens > query.max_tokens:
        return False
    return query.parent_id is None or summary.parent_id == query.parent_id


# -- cursors ----------------------------------------------------------------
def encode_cursor(kind: str, *position: Any) -> str:
    raw = json.dumps([kind, *position], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, kind: str) -> list[Any]:
    """The position ``encode_cursor(kind, ...)`` packed; raises ``InvalidCursorError``."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value = json.loads(raw)
    except (ValueError, TypeError) as exc:
        raise InvalidCursorError(f"not a cursor of this store: {cursor[:80]!r}") from exc
    if not isinstance(value, list) or not value or value[0] != kind:
        raise InvalidCursorError(f"not a {kind} cursor: {cursor[:80]!r}")
    return value[1:]


def list_position(cursor: str | None) -> str | None:
    """The last id of the previous listing page."""
    if cursor is None:
        return None
    (last,) = _shape(decode_cursor(cursor, "list"), 1, cursor)
    if not isinstance(last, str):
        raise InvalidCursorError(f"not a listing cursor: {cursor[:80]!r}")
    return last


def query_position(cursor: str | None) -> tuple[int, str] | None:
    """(update time key, id) of the last summary of the previous query page."""
    if cursor is None:
        return None
    updated, last = _shape(decode_cursor(cursor, "query"), 2, cursor)
    if not isinstance(updated, int) or not isinstance(last, str):
        raise InvalidCursorError(f"not a query cursor: {cursor[:80]!r}")
    return updated, last


def _shape(values: list[Any], size: int, cursor: str) -> list[Any]:
    if len(values) != size:
        raise InvalidCursorError(f"not a cursor of this store: {cursor[:80]!r}")
    return values


def check_limit(limit: int | None) -> int | None:
    if limit is not None and (not isinstance(limit, int) or limit <= 0):
        raise ValueError(f"limit must be a positive int or None, got {limit!r}")
    return limit
