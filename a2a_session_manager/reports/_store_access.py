"""Opening a store by URL for reading, and loading sessions with clear errors."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from urllib.parse import unquote, urlsplit

from a2a_session_manager.models.session import Session
from a2a_session_manager.reports._overview import SessionOverview, newest_first
from a2a_session_manager.storage.base import BaseSessionStore, SessionStore
from a2a_session_manager.storage.errors import (
    SessionCorruptedError,
    SessionNotFoundError,
    StoreUnavailableError,
)
from a2a_session_manager.storage.factory import UnknownStoreURLError, create_store
from a2a_session_manager.storage.query import SessionQuery

logger = logging.getLogger(__name__)


def open_store(url: str) -> SessionStore:
    """The store at ``url``, checked to be worth reading from another process.

    ``memory://`` is refused (it only ever holds this process's sessions) and a
    ``file://`` directory must already exist: a reader never creates one.
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "memory":
        raise UnknownStoreURLError(
            "memory:// holds sessions only inside the process that recorded them; "
            "point the command at file://DIR or redis://HOST:PORT/DB"
        )
    if scheme == "file":
        directory = Path(unquote(parts.netloc + parts.path))
        if str(directory) and not directory.is_dir():
            raise StoreUnavailableError(f"store directory {str(directory)!r} does not exist")
    try:
        return create_store(url)
    except ImportError as exc:
        raise StoreUnavailableError(
            f"{scheme}:// needs an optional dependency ({exc.name or exc}); "
            "install a2a-session-manager[redis]"
        ) from exc


def load_session(store: SessionStore, session_id: str) -> Session:
    session = store.get(session_id)
    if session is None:
        raise SessionNotFoundError(f"no session {session_id!r} in this store")
    return session


ProgressCallback = Callable[[int, int], None]


def list_overviews(
    store: SessionStore, progress: ProgressCallback | None = None
) -> tuple[list[SessionOverview], dict[str, str]]:
    """Every session's overview, newest first, and the ids that could not be read
    (with why): one unreadable session does not hide the others."""
    ids = store.list_sessions()
    overviews: list[SessionOverview] = []
    unreadable: dict[str, str] = {}
    for done, session_id in enumerate(ids, start=1):
        try:
            session = store.get(session_id)
        except SessionCorruptedError as exc:
            logger.debug("session %r unreadable", session_id, exc_info=True)
            unreadable[session_id] = str(exc)
            session = None
        if session is not None:
            overviews.append(SessionOverview.of(session))
        if progress is not None:
            progress(done, len(ids))
    return newest_first(overviews), unreadable


def find_overviews(
    store: SessionStore,
    query: SessionQuery,
    *,
    limit: int | None = None,
    cursor: str | None = None,
    progress: ProgressCallback | None = None,
    page_size: int = 200,
) -> tuple[list[SessionOverview], dict[str, str], str | None]:
    """The overviews of the sessions matching ``query``, most recently updated
    first (``limit`` of them from ``cursor``, or all), the ids that could not be
    read, and the cursor of what follows. Only matching sessions are read: the
    store's index finds them. ``progress(done, 0)``: the total is not known."""
    if not isinstance(store, BaseSessionStore):
        # A store that only implements the protocol: read everything.
        everything, skipped = list_overviews(store, progress)
        return everything[:limit] if limit is not None else everything, skipped, None
    overviews: list[SessionOverview] = []
    unreadable: dict[str, str] = {}
    done = 0
    while True:
        want = page_size if limit is None else min(page_size, limit - done)
        page = store.query(query, limit=want, cursor=cursor)
        for summary in page.items:
            done += 1
            try:
                session = store.get(summary.id)
            except SessionCorruptedError as exc:
                logger.debug("session %r unreadable", summary.id, exc_info=True)
                unreadable[summary.id] = str(exc)
                session = None
            if session is not None:
                overviews.append(SessionOverview.of(session))
            if progress is not None:
                progress(done, 0)
        cursor = page.next_cursor
        if cursor is None or (limit is not None and done >= limit):
            return overviews, unreadable, cursor
