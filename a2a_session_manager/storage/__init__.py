"""Session stores: one protocol, memory / file / Redis implementations, the
application's current store, and a URL factory. Nothing here imports OTel."""

from a2a_session_manager.storage.base import (
    AsyncSessionReader,
    BaseSessionStore,
    IncrementalEventReader,
    SearchableSessionStore,
    SessionStore,
)
from a2a_session_manager.storage.changes import SessionChanges
from a2a_session_manager.storage.errors import (
    EventOrderError,
    InvalidSessionIdError,
    SessionCorruptedError,
    SessionNotFoundError,
    StoreError,
    StoreUnavailableError,
)
from a2a_session_manager.storage.factory import UnknownStoreURLError, create_store
from a2a_session_manager.storage.file import FileSessionStore, create_file_session_store
from a2a_session_manager.storage.memory import InMemorySessionStore
from a2a_session_manager.storage.positions import EventPosition, NewEvents
from a2a_session_manager.storage.provider import SessionStoreProvider
from a2a_session_manager.storage.query import (
    InvalidCursorError,
    Page,
    SessionQuery,
    SessionSummary,
)
from a2a_session_manager.storage.redis import RedisSessionStore, create_redis_session_store

__all__ = [
    "AsyncSessionReader",
    "BaseSessionStore",
    "EventOrderError",
    "EventPosition",
    "FileSessionStore",
    "InMemorySessionStore",
    "IncrementalEventReader",
    "InvalidCursorError",
    "InvalidSessionIdError",
    "NewEvents",
    "Page",
    "RedisSessionStore",
    "SearchableSessionStore",
    "SessionChanges",
    "SessionCorruptedError",
    "SessionNotFoundError",
    "SessionQuery",
    "SessionStore",
    "SessionStoreProvider",
    "SessionSummary",
    "StoreError",
    "StoreUnavailableError",
    "UnknownStoreURLError",
    "create_file_session_store",
    "create_redis_session_store",
    "create_store",
]
