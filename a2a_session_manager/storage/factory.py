"""Build any store from a URL: ``memory://``, ``file://DIR``, ``redis://HOST:PORT/DB``."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from a2a_session_manager.storage.base import SessionStore
from a2a_session_manager.storage.errors import StoreError
from a2a_session_manager.storage.file import create_file_session_store
from a2a_session_manager.storage.memory import InMemorySessionStore


class UnknownStoreURLError(StoreError, ValueError):
    """A store URL whose scheme or form this library does not know."""


def _seconds(url: str, name: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0:  # also NaN
        raise UnknownStoreURLError(f"{name} must be a positive number of seconds in {url!r}")
    return value


def create_store(url: str) -> SessionStore:
    """A store for ``url``.

    - ``memory://`` — in this process
    - ``file://DIR`` or ``file:///abs/dir`` — one append-only log per session in DIR
    - ``redis://[[user]:password@]HOST[:PORT][/DB][?key_prefix=session:&ttl=86400]``
      (``rediss://`` for TLS); ``socket_timeout`` and ``socket_connect_timeout``
      (seconds) in the query override the store's finite defaults
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "memory":
        return InMemorySessionStore()
    if scheme == "file":
        directory = unquote(parts.netloc + parts.path)
        if not directory:
            raise UnknownStoreURLError(f"file store URL needs a directory: {url!r}")
        return create_file_session_store(directory=directory)
    if scheme in ("redis", "rediss"):
        from a2a_session_manager.storage.redis import create_redis_session_store

        query = parse_qs(parts.query)
        db_text = parts.path.strip("/") or "0"
        if not db_text.isdigit():
            raise UnknownStoreURLError(f"Redis database must be a number in {url!r}")
        ttl = query.get("ttl", [None])[0]
        timeouts: dict[str, Any] = {
            name: _seconds(url, name, query[name][0])
            for name in ("socket_timeout", "socket_connect_timeout")
            if name in query
        }
        return create_redis_session_store(
            host=parts.hostname or "localhost",
            port=parts.port or 6379,
            db=int(db_text),
            password=unquote(parts.password) if parts.password else None,
            username=unquote(parts.username) if parts.username else None,  # an ACL user
            key_prefix=query.get("key_prefix", ["session:"])[0],
            expiration_seconds=int(ttl) if ttl else None,
            ssl=scheme == "rediss",
            **timeouts,
        )
    raise UnknownStoreURLError(
        f"unknown store URL {url!r}: use memory://, file://DIR or redis://HOST:PORT/DB"
    )
