"""The application's current store (one per application)."""

from __future__ import annotations

import threading
from typing import ClassVar

from a2a_session_manager.models import hierarchy
from a2a_session_manager.storage.base import SessionStore
from a2a_session_manager.storage.memory import InMemorySessionStore


class SessionStoreProvider:
    """Holds the store that the hierarchy, the prompt builder, the SDK and
    the tool processor use when not given one. In-memory by default."""

    _store: ClassVar[SessionStore | None] = None
    _lock: ClassVar[threading.Lock] = threading.Lock()

    @classmethod
    def get_store(cls) -> SessionStore:
        store = cls._store
        if store is None:
            with cls._lock:
                if cls._store is None:
                    cls._store = InMemorySessionStore()
                store = cls._store
        return store

    @classmethod
    def set_store(cls, store: SessionStore) -> None:
        cls._store = store

    @classmethod
    def reset(cls) -> None:
        """Forget the current store (the next ``get_store`` makes a new in-memory one)."""
        cls._store = None


hierarchy.set_reader_lookup(SessionStoreProvider.get_store)
