"""PLACEHOLDER: the Redis store is being written (see helper brief).

Imports ``redis`` lazily so the package works without the [redis] extra."""

from __future__ import annotations

from typing import Any

from a2a_session_manager.storage.memory import InMemorySessionStore


class RedisSessionStore(InMemorySessionStore):
    pass


def create_redis_session_store(
    host: str = "localhost",
    port: int = 6379,
    db: int = 0,
    password: str | None = None,
    key_prefix: str = "session:",
    expiration_seconds: int | None = None,
    **kwargs: Any,
) -> RedisSessionStore:
    return RedisSessionStore()
