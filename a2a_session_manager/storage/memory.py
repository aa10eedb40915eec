"""The embedded default store: sessions in this process's memory, thread-safe."""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from a2a_session_manager.models.hierarchy import ParentLink
from a2a_session_manager.models.session import Session
from a2a_session_manager.models.session_event import SessionEvent
from a2a_session_manager.models.session_metadata import SessionMetadata
from a2a_session_manager.models.session_run import SessionRun
from a2a_session_manager.models.token_usage import TokenSummary
from a2a_session_manager.storage._after_fork import renew_locks_after_fork
from a2a_session_manager.storage._summary_index import SummaryIndex, SummaryUpdate
from a2a_session_manager.storage.base import BaseSessionStore, as_query
from a2a_session_manager.storage.changes import SessionChanges, mark_persisted, merge_metadata
from a2a_session_manager.storage.errors import validate_session_id
from a2a_session_manager.storage.positions import START, EventPosition, NewEvents, events_after
from a2a_session_manager.storage.query import (
    EventTotals,
    Page,
    SessionQuery,
    SessionSummary,
    run_failed,
)


def _copied(values: dict[str, Any]) -> dict[str, Any]:
    """A deep copy of state or properties, so that a value changed in place on
    a loaded object reaches the store only through ``save`` (a value that
    cannot be copied, a lock or a socket, is shared as it is)."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        try:
            out[key] = copy.deepcopy(value)
        except Exception:
            out[key] = value
    return out


@dataclass
class _Record:
    metadata: SessionMetadata | None = None
    parent_id: str | None = None
    parent_link: ParentLink = ParentLink.LOCAL
    children: dict[str, None] = field(default_factory=dict)  # ordered set
    state: dict[str, Any] = field(default_factory=dict)
    events: list[SessionEvent] = field(default_factory=list)
    event_index: dict[str, int] = field(default_factory=dict)
    runs: dict[str, SessionRun] = field(default_factory=dict)
    summary: TokenSummary = field(default_factory=TokenSummary)


class InMemorySessionStore(BaseSessionStore):
    """Sessions held in a dict. ``get`` returns a new ``Session`` object each
    time (sharing the event objects), so callers never mutate the store by
    accident and ``save`` of a loaded object appends only what is new."""

    def __init__(self) -> None:
        self._records: dict[str, _Record] = {}
        self._index = SummaryIndex()
        self._lock = threading.RLock()
        self._read_barrier: Callable[[], None] | None = None
        renew_locks_after_fork(self)

    def after_fork_in_child(self) -> None:
        # A reader thread of the parent may have held the lock at the fork.
        self._lock = threading.RLock()

    def set_read_barrier(self, barrier: Callable[[], None] | None) -> None:
        """Run ``barrier`` before every read.

        This store lives in one process, so "written" only matters to readers:
        the session exporter installs its queue drain here instead of writing
        on every run's return, and every read still sees everything recorded
        (read-your-writes) at no cost to the run.
        """
        self._read_barrier = barrier

    @property
    def read_barrier(self) -> Callable[[], None] | None:
        return self._read_barrier

    def _before_read(self) -> None:
        barrier = self._read_barrier
        if barrier is not None:
            barrier()

    def apply(self, changes: SessionChanges) -> None:
        session_id = validate_session_id(changes.session_id)
        with self._lock:
            record = self._records.get(session_id)
            if record is None:
                record = self._records[session_id] = _Record()
            added = EventTotals()
            if changes.metadata is not None:
                incoming = changes.metadata.model_copy(
                    update={"properties": _copied(changes.metadata.properties)}
                )
                record.metadata = merge_metadata(record.metadata, incoming)
            elif record.metadata is None:
                record.metadata = SessionMetadata()
            for key in changes.removed_properties:
                record.metadata.properties.pop(key, None)
            if changes.parent_id and changes.parent_id != session_id:
                record.parent_id = changes.parent_id
                record.parent_link = changes.parent_link
                if changes.parent_link == ParentLink.LOCAL:
                    parent = self._records.get(changes.parent_id)
                    if parent is None:
                        parent = self._records[changes.parent_id] = _Record(
                            metadata=SessionMetadata()
                        )
                        assert parent.metadata is not None
                        self._index.apply(
                            SummaryUpdate(
                                changes.parent_id,
                                parent.metadata.created_at,
                                parent.metadata.updated_at,
                            )
                        )
                    parent.children.setdefault(session_id, None)
            for child_id in changes.child_ids:
                record.children.setdefault(child_id, None)
            record.state.update(_copied(changes.state))
            for key in changes.removed_state:
                record.state.pop(key, None)
            for event in changes.events:
                index = record.event_index.get(event.id)
                if index is None:
                    record.event_index[event.id] = len(record.events)
                    record.events.append(event)
                    if event.token_usage is not None:
                        record.summary.add_usage(event.token_usage)
                    added.add(event)
                else:
                    # A replaced event's usage counts once, as its new value.
                    replaced = EventTotals.of([record.events[index]])
                    record.events[index] = event
                    added.add_totals(EventTotals.of([event]), replacing=replaced)
            for run in changes.runs:
                record.runs[run.id] = run.model_copy()
                added.errors = added.errors or run_failed(run)
            metadata = record.metadata
            self._index.apply(
                SummaryUpdate(
                    session_id,
                    metadata.created_at,
                    metadata.updated_at,
                    parent_id=record.parent_id,
                    properties=metadata.properties,
                    removed_properties=changes.removed_properties,
                    events=added.events,
                    tokens=added.tokens,
                    cost=added.cost,
                    errors=added.errors,
                )
            )

    def get(self, session_id: str) -> Session | None:
        self._before_read()
        with self._lock:
            record = self._records.get(session_id)
            if record is None:
                return None
            stored_metadata = record.metadata or SessionMetadata()
            session = Session.model_construct(
                id=session_id,
                metadata=stored_metadata.model_copy(
                    update={"properties": _copied(stored_metadata.properties)}
                ),
                parent_id=record.parent_id,
                parent_link=record.parent_link,
                child_ids=list(record.children),
                task_ids=[],
                runs=[r.model_copy() for r in record.runs.values()],
                events=list(record.events),
                state=_copied(record.state),
                token_summary=record.summary.model_copy(deep=True),
            )
        mark_persisted(session)
        return session

    def events_since(self, session_id: str, position: EventPosition = START) -> NewEvents:
        self._before_read()
        with self._lock:
            record = self._records.get(session_id)
            return events_after(record.events if record is not None else (), position)

    def delete(self, session_id: str) -> None:
        with self._lock:
            record = self._records.pop(session_id, None)
            self._index.remove(session_id)
            if (
                record
                and record.parent_id
                and record.parent_link == ParentLink.LOCAL
                and record.parent_id in self._records
            ):
                self._records[record.parent_id].children.pop(session_id, None)

    def exists(self, session_id: str) -> bool:
        self._before_read()
        return session_id in self._records

    def list_page(
        self, prefix: str = "", *, limit: int | None = None, cursor: str | None = None
    ) -> Page[str]:
        self._before_read()
        with self._lock:
            return self._index.list_page(prefix, limit, cursor)

    def query(
        self,
        query: SessionQuery | None = None,
        *,
        limit: int | None = None,
        cursor: str | None = None,
        **conditions: Any,
    ) -> Page[SessionSummary]:
        built = as_query(query, conditions)
        self._before_read()
        with self._lock:
            return self._index.query(built, limit, cursor)

    def summary(self, session_id: str) -> SessionSummary | None:
        self._before_read()
        with self._lock:
            return self._index.get(session_id)

    # Async reads run inline: nothing here waits on I/O.
    async def aget(self, session_id: str) -> Session | None:
        return self.get(session_id)

    async def aexists(self, session_id: str) -> bool:
        return self.exists(session_id)

    async def achildren(self, session_id: str) -> list[str]:
        return self.children(session_id)

    async def alist_page(
        self, prefix: str = "", *, limit: int | None = None, cursor: str | None = None
    ) -> Page[str]:
        return self.list_page(prefix, limit=limit, cursor=cursor)

    async def aquery(
        self,
        query: SessionQuery | None = None,
        *,
        limit: int | None = None,
        cursor: str | None = None,
        **conditions: Any,
    ) -> Page[SessionSummary]:
        return self.query(query, limit=limit, cursor=cursor, **conditions)

    def children(self, session_id: str) -> list[str]:
        self._before_read()
        with self._lock:
            record = self._records.get(session_id)
            return list(record.children) if record else []

    def clear(self) -> None:
        with self._lock:
            self._records.clear()
            self._index.clear()
