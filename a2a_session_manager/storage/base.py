"""The session store protocols, and what every built-in store shares: ``save``
(``apply`` of what is new), paged listing on top of ``list_page``, incremental
event reads on top of ``get``, and async reads (a worker thread unless a store
has a better way)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any, Protocol, runtime_checkable

from a2a_session_manager.models.session import Session
from a2a_session_manager.storage._summary_index import SummaryIndex
from a2a_session_manager.storage.changes import (
    SessionChanges,
    changes_since_persisted,
    mark_saved,
)
from a2a_session_manager.storage.positions import START, EventPosition, NewEvents, events_after
from a2a_session_manager.storage.query import Page, SessionQuery, SessionSummary, summary_of

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@runtime_checkable
class SessionStore(Protocol):
    """What every store offers. Stores know nothing about OpenTelemetry.

    ``get`` returns ``None`` only when the session does not exist; data that
    exists but cannot be read raises ``SessionCorruptedError``, and an
    unreachable backend raises ``StoreUnavailableError``.
    """

    def get(self, session_id: str) -> Session | None: ...

    def save(self, session: Session) -> None:
        """Write what ``session`` gained since it was loaded or last saved."""
        ...

    def apply(self, changes: SessionChanges) -> None:
        """Append events, upsert runs, merge metadata and state, add children;
        creates the session if it does not exist."""
        ...

    def delete(self, session_id: str) -> None: ...

    def exists(self, session_id: str) -> bool: ...

    def list_sessions(self, prefix: str = "") -> list[str]: ...

    def children(self, session_id: str) -> list[str]: ...

    def close(self) -> None: ...


@runtime_checkable
class SearchableSessionStore(SessionStore, Protocol):
    """A store that lists in pages and answers queries from its own indexes
    (every built-in store; see ``storage.query``)."""

    def list_page(
        self, prefix: str = "", *, limit: int | None = None, cursor: str | None = None
    ) -> Page[str]: ...

    def query(
        self,
        query: SessionQuery | None = None,
        *,
        limit: int | None = None,
        cursor: str | None = None,
        **conditions: Any,
    ) -> Page[SessionSummary]: ...

    def summary(self, session_id: str) -> SessionSummary | None: ...


@runtime_checkable
class IncrementalEventReader(Protocol):
    """Reads only what a session gained since an earlier read (every built-in
    store), so a reader that follows a growing session pays for the new
    events, not for the whole session each time (see ``storage.positions``).

    ``events_since`` returns the events first appended after ``position``, as
    they are now, and the position to pass next time; a session that does not
    exist has none. A session deleted and written again since ``position`` is
    read from its first event. An event replaced in place keeps its position:
    replaced before ``position``, it may or may not be returned again (the file
    store returns it, its log records the replacement as a new line).
    """

    def events_since(self, session_id: str, position: EventPosition = START) -> NewEvents: ...


@runtime_checkable
class AsyncSessionReader(Protocol):
    """Reads that never block an event loop (every built-in store)."""

    async def aget(self, session_id: str) -> Session | None: ...

    async def aexists(self, session_id: str) -> bool: ...

    async def alist_sessions(
        self, prefix: str = "", *, limit: int | None = None, cursor: str | None = None
    ) -> list[str]: ...

    async def alist_page(
        self, prefix: str = "", *, limit: int | None = None, cursor: str | None = None
    ) -> Page[str]: ...

    async def aquery(
        self,
        query: SessionQuery | None = None,
        *,
        limit: int | None = None,
        cursor: str | None = None,
        **conditions: Any,
    ) -> Page[SessionSummary]: ...

    async def achildren(self, session_id: str) -> list[str]: ...


def as_query(query: SessionQuery | None, conditions: dict[str, Any]) -> SessionQuery:
    """``query`` or the ``SessionQuery`` built from keyword conditions (not both)."""
    if query is not None and conditions:
        raise TypeError("pass a SessionQuery or keyword conditions, not both")
    return query if query is not None else SessionQuery(**conditions)


class BaseSessionStore:
    """Shared behaviour: ``save`` is ``apply`` of what is new; listing is
    ``list_page``; async reads run the sync ones in a worker thread (stores
    that can do better override them)."""

    def apply(self, changes: SessionChanges) -> None:
        raise NotImplementedError

    def save(self, session: Session) -> None:
        changes = changes_since_persisted(session)
        self.apply(changes)
        mark_saved(session, changes)

    def close(self) -> None:
        """Release connections and files; the default holds none."""

    def get(self, session_id: str) -> Session | None:
        raise NotImplementedError

    def exists(self, session_id: str) -> bool:
        raise NotImplementedError

    def children(self, session_id: str) -> list[str]:
        raise NotImplementedError

    def events_since(self, session_id: str, position: EventPosition = START) -> NewEvents:
        """The events stored after ``position`` (``IncrementalEventReader``).
        This default reads the whole session (built-in stores read only the new
        events)."""
        session = self.get(session_id)
        return events_after(session.events if session is not None else (), position)

    # -- listing and queries ----------------------------------------------
    def list_page(
        self, prefix: str = "", *, limit: int | None = None, cursor: str | None = None
    ) -> Page[str]:
        """One page of ids. This default serves stores that only implement
        ``list_sessions(prefix)`` (it reads every id: built-in stores index)."""
        if type(self).list_sessions is BaseSessionStore.list_sessions:
            raise NotImplementedError("a store implements list_page or list_sessions")
        index = SummaryIndex()
        for session_id in self.list_sessions(prefix):
            index.put(SessionSummary(session_id, _EPOCH, _EPOCH))
        return index.list_page(prefix, limit, cursor)

    def list_sessions(
        self, prefix: str = "", *, limit: int | None = None, cursor: str | None = None
    ) -> list[str]:
        """Ids starting with ``prefix`` in code-point order; with ``limit``, one
        page (``list_page`` also gives the next page's cursor)."""
        return self.list_page(prefix, limit=limit, cursor=cursor).items

    def query(
        self,
        query: SessionQuery | None = None,
        *,
        limit: int | None = None,
        cursor: str | None = None,
        **conditions: Any,
    ) -> Page[SessionSummary]:
        """Summaries matching ``query`` (or ``SessionQuery(**conditions)``),
        most recently updated first, ``limit`` at a time. This default reads
        every session (built-in stores answer from their indexes)."""
        index = SummaryIndex()
        for session_id in self.list_sessions():
            found = self.summary(session_id)
            if found is not None:
                index.put(found)
        return index.query(as_query(query, conditions), limit, cursor)

    def summary(self, session_id: str) -> SessionSummary | None:
        """The indexed overview of one session (``None`` if unknown)."""
        session = self.get(session_id)
        return summary_of(session) if session is not None else None

    # -- async reads ------------------------------------------------------
    async def aget(self, session_id: str) -> Session | None:
        return await asyncio.to_thread(self.get, session_id)

    async def aexists(self, session_id: str) -> bool:
        return await asyncio.to_thread(self.exists, session_id)

    async def achildren(self, session_id: str) -> list[str]:
        return await asyncio.to_thread(self.children, session_id)

    async def alist_page(
        self, prefix: str = "", *, limit: int | None = None, cursor: str | None = None
    ) -> Page[str]:
        return await asyncio.to_thread(self.list_page, prefix, limit=limit, cursor=cursor)

    async def alist_sessions(
        self, prefix: str = "", *, limit: int | None = None, cursor: str | None = None
    ) -> list[str]:
        return (await self.alist_page(prefix, limit=limit, cursor=cursor)).items

    async def aquery(
        self,
        query: SessionQuery | None = None,
        *,
        limit: int | None = None,
        cursor: str | None = None,
        **conditions: Any,
    ) -> Page[SessionSummary]:
        built = as_query(query, conditions)
        return await asyncio.to_thread(self.query, built, limit=limit, cursor=cursor)

    def __enter__(self) -> BaseSessionStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
