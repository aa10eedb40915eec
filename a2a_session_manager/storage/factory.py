"""Build any store from a URL: ``memory://``, ``file://DIR``, ``redis://HOST:PORT/DB``."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from a2a_session_manager.storage.base import SessionStore
from a2a_session_manager.storage.errors import StoreError
from a2a_session_manager.storage.file import create_file_session_store
from a2a_session_manager.storage.memory import InMemorySessionStore

# The variable that names the application's store URL (configure() and the CLI).
STORE_URL_ENV = "A2A_SESSIONS_STORE"


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


def _options(url: str, query: dict[str, list[str]]) -> dict[str, Any]:
    options: dict[str, Any] = {
        name: _seconds(url, name, query[name][0])
        for name in ("socket_timeout", "socket_connect_timeout")
        if name in query
    }
    if "wait_replicas" in query:
        text = query["wait_replicas"][0]
        if not text.isdigit():
            raise UnknownStoreURLError(f"wait_replicas must be a whole number in {url!r}")
        options["wait_for_replicas"] = int(text)
    return options


def _cluster_store(url: str, netloc: str, query: dict[str, list[str]], tls: bool) -> SessionStore:
    from a2a_session_manager.storage.redis import create_redis_session_store

    userinfo, _, hosts = netloc.rpartition("@")
    username, _, password = userinfo.partition(":") if userinfo else ("", "", "")
    nodes: list[tuple[str, int]] = []
    for entry in hosts.split(","):
        host, _, port = entry.strip().rpartition(":")
        if not host or not port.isdigit():
            raise UnknownStoreURLError(f"cluster nodes must be HOST:PORT in {url!r}")
        nodes.append((host.strip("[]"), int(port)))
    ttl = query.get("ttl", [None])[0]
    return create_redis_session_store(
        cluster=True,
        startup_nodes=nodes,
        password=unquote(password) if password else None,
        username=unquote(username) if username else None,
        key_prefix=query.get("key_prefix", ["session:"])[0],
        expiration_seconds=int(ttl) if ttl else None,
        ssl=tls,
        **_options(url, query),
    )


def create_store(url: str) -> SessionStore:
    """A store for ``url``.

    - ``memory://`` — in this process
    - ``file://DIR`` or ``file:///abs/dir`` — one append-only log per session in DIR
    - ``redis://[[user]:password@]HOST[:PORT][/DB][?key_prefix=session:&ttl=86400]``
      (``rediss://`` for TLS); ``socket_timeout`` and ``socket_connect_timeout``
      (seconds) in the query override the store's finite defaults
    - ``redis+cluster://[[user]:password@]HOST:PORT[,HOST:PORT...]/[?...]`` — a
      Redis Cluster reached through any of those nodes (``rediss+cluster://``
      for TLS); the same query options, and ``wait_replicas=N``: a write
      returns once N replicas have it (see ``create_redis_session_store``)
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
    if scheme in ("redis+cluster", "rediss+cluster"):
        return _cluster_store(url, parts.netloc, parse_qs(parts.query), scheme.startswith("rediss"))
    if scheme in ("redis", "rediss"):
        from a2a_session_manager.storage.redis import create_redis_session_store

        query = parse_qs(parts.query)
        db_text = parts.path.strip("/") or "0"
        if not db_text.isdigit():
            raise UnknownStoreURLError(f"Redis database must be a number in {url!r}")
        ttl = query.get("ttl", [None])[0]
        return create_redis_session_store(
            host=parts.hostname or "localhost",
            port=parts.port or 6379,
            db=int(db_text),
            password=unquote(parts.password) if parts.password else None,
            username=unquote(parts.username) if parts.username else None,  # an ACL user
            key_prefix=query.get("key_prefix", ["session:"])[0],
            expiration_seconds=int(ttl) if ttl else None,
            ssl=scheme == "rediss",
            **_options(url, query),
        )
    raise UnknownStoreURLError(
        f"unknown store URL {url!r}: use memory://, file://DIR, redis://HOST:PORT/DB "
        "or redis+cluster://HOST:PORT,HOST:PORT/"
    )
