"""Summaries and their indexes held in this process (the memory store's, and
the file store's once read from its index file).

Ids are kept in order for listing; ``(update time, id)`` keys in order for
every session, per indexed property value and for sessions with errors, so a
query walks the smallest of those lists newest first and stops after one
page.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from a2a_session_manager.storage._sorted_keys import SortedKeys
from a2a_session_manager.storage.query import (
    Page,
    SessionQuery,
    SessionSummary,
    check_limit,
    encode_cursor,
    is_indexed_value,
    list_position,
    matches,
    query_position,
    time_key,
    value_text,
)

_Key = tuple[int, str]


@dataclass
class SummaryUpdate:
    """One write's effect on a summary (what the file store's index lines hold)."""

    session_id: str
    created: Any = None  # datetime
    updated: Any = None  # datetime
    parent_id: str | None = None
    properties: Mapping[str, Any] = field(default_factory=dict)
    removed_properties: list[str] = field(default_factory=list)
    events: int = 0
    tokens: int = 0
    cost: float = 0.0
    errors: bool = False


class SummaryIndex:
    """Not thread-safe: the owning store holds its lock around every call."""

    def __init__(self) -> None:
        self._summaries: dict[str, SessionSummary] = {}
        self._ids = SortedKeys()
        self._by_time = SortedKeys()
        self._with_errors = SortedKeys()
        self._by_property: dict[tuple[str, str], SortedKeys] = {}
        self._children: dict[str, set[str]] = {}

    def __len__(self) -> int:
        return len(self._summaries)

    def get(self, session_id: str) -> SessionSummary | None:
        return self._summaries.get(session_id)

    def ids(self) -> Iterator[str]:
        return self._ids.iter_from()

    # -- writes --------------------------------------------------------------
    def apply(self, update: SummaryUpdate) -> None:
        session_id = update.session_id
        old = self._summaries.get(session_id)
        if old is None:
            created = update.created or update.updated
            updated = update.updated or update.created
            if created is None or updated is None:
                raise ValueError("a new summary needs a creation or update time")
            new = SessionSummary(id=session_id, created_at=created, updated_at=updated)
        else:
            new = old
            if update.created is not None and update.created < new.created_at:
                new = replace(new, created_at=update.created)
            if update.updated is not None and update.updated > new.updated_at:
                new = replace(new, updated_at=update.updated)
        if update.properties or update.removed_properties:
            properties = {**new.properties, **update.properties}
            for key in update.removed_properties:
                properties.pop(key, None)
            new = replace(new, properties=properties)
        if update.parent_id is not None:
            new = replace(new, parent_id=update.parent_id)
        if update.events or update.tokens or update.cost or update.errors:
            new = replace(
                new,
                events=new.events + update.events,
                total_tokens=new.total_tokens + update.tokens,
                cost_usd=new.cost_usd + update.cost,
                has_errors=new.has_errors or update.errors,
            )
        self.put(new)

    def put(self, new: SessionSummary) -> None:
        """Index ``new`` in place of whatever this id had."""
        old = self._summaries.get(new.id)
        if old is not None:
            self._unindex(old)
        else:
            self._ids.add(new.id)
        self._summaries[new.id] = new
        key = (time_key(new.updated_at), new.id)
        self._by_time.add(key)
        if new.has_errors:
            self._with_errors.add(key)
        for pair in _pairs(new):
            keys = self._by_property.get(pair)
            if keys is None:
                keys = self._by_property[pair] = SortedKeys()
            keys.add(key)
        if new.parent_id is not None:
            self._children.setdefault(new.parent_id, set()).add(new.id)

    def remove(self, session_id: str) -> None:
        old = self._summaries.pop(session_id, None)
        if old is not None:
            self._unindex(old)
            self._ids.discard(session_id)

    def clear(self) -> None:
        self.__init__()  # type: ignore[misc]

    def _unindex(self, old: SessionSummary) -> None:
        key = (time_key(old.updated_at), old.id)
        self._by_time.discard(key)
        self._with_errors.discard(key)
        for pair in _pairs(old):
            keys = self._by_property.get(pair)
            if keys is not None:
                keys.discard(key)
                if not len(keys):
                    del self._by_property[pair]
        if old.parent_id is not None:
            siblings = self._children.get(old.parent_id)
            if siblings is not None:
                siblings.discard(old.id)
                if not siblings:
                    del self._children[old.parent_id]

    # -- reads ---------------------------------------------------------------
    def list_page(
        self, prefix: str = "", limit: int | None = None, cursor: str | None = None
    ) -> Page[str]:
        check_limit(limit)
        last = list_position(cursor)
        if last is not None and last >= prefix:
            keys = self._ids.iter_from(last, exclusive=True)
        else:
            keys = self._ids.iter_from(prefix or None)
        found: list[str] = []
        for session_id in keys:
            if not session_id.startswith(prefix):
                break
            if limit is not None and len(found) == limit:
                return Page(found, encode_cursor("list", found[-1]))
            found.append(session_id)
        return Page(found)

    def query(
        self, query: SessionQuery, limit: int | None = None, cursor: str | None = None
    ) -> Page[SessionSummary]:
        check_limit(limit)
        position = query_position(cursor)
        for pair in query.equalities():
            if pair not in self._by_property:
                return Page([])
        drivers: list[SortedKeys] = [self._by_time]
        drivers += [self._by_property[pair] for pair in query.equalities()]
        if query.has_errors:
            drivers.append(self._with_errors)
        keys: Iterator[_Key]
        if query.parent_id is not None:
            children = self._children.get(query.parent_id, set())
            if len(children) < min(map(len, drivers)):
                keys = iter(
                    sorted(
                        (
                            (time_key(s.updated_at), s.id)
                            for s in map(self._summaries.__getitem__, children)
                        ),
                        reverse=True,
                    )
                )
                keys = (k for k in keys if position is None or k < position)
                return self._collect(keys, query, limit)
        driver = min(drivers, key=len)
        start: _Key | None = position
        if query.until is not None:
            bound = (time_key(query.until) + 1, "")
            start = bound if start is None else min(start, bound)
        return self._collect(driver.iter_down_from(start, exclusive=True), query, limit)

    def _collect(
        self, keys: Iterator[_Key], query: SessionQuery, limit: int | None
    ) -> Page[SessionSummary]:
        since = time_key(query.since) if query.since is not None else None
        found: list[SessionSummary] = []
        for updated, session_id in keys:
            if since is not None and updated < since:
                break
            summary = self._summaries[session_id]
            if not matches(summary, query):
                continue
            if limit is not None and len(found) == limit:
                last = found[-1]
                return Page(found, encode_cursor("query", time_key(last.updated_at), last.id))
            found.append(summary)
        return Page(found)


def _pairs(summary: SessionSummary) -> list[tuple[str, str]]:
    return [
        (key, value_text(value))
        for key, value in summary.properties.items()
        if is_indexed_value(value)
    ]
