"""Session stores: one protocol, memory / file / Redis implementations, the
application's current store, and a URL factory. Nothing here imports OTel."""

from a2a_session_manager.storage.base import BaseSessionStore, SessionStore
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
from a2a_session_manager.storage.provider import SessionStoreProvider
from a2a_session_manager.storage.redis import RedisSessionStore, create_redis_session_store

__all__ = [
    "BaseSessionStore",
    "EventOrderError",
    "FileSessionStore",
    "InMemorySessionStore",
    "InvalidSessionIdError",
    "RedisSessionStore",
    "SessionChanges",
    "SessionCorruptedError",
    "SessionNotFoundError",
    "SessionStore",
    "SessionStoreProvider",
    "StoreError",
    "StoreUnavailableError",
    "UnknownStoreURLError",
    "create_file_session_store",
    "create_redis_session_store",
    "create_store",
]
