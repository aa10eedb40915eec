"""Errors raised by session stores.

    StoreError
    ├── StoreUnavailableError   the backend cannot be reached (Redis down, disk gone)
    ├── SessionCorruptedError   stored data exists but cannot be read back
    ├── SessionNotFoundError    (also a KeyError) a session that must exist does not
    ├── InvalidSessionIdError   (also a ValueError) an id no store can hold
    └── EventOrderError         (also a ValueError) ``save`` of an event inserted
                                before events already stored (stores append)

Backend exceptions (``redis.RedisError``, ``OSError``) are re-raised as one of
these with the original as ``__cause__``.
"""

from __future__ import annotations


class StoreError(Exception):
    """Base class of every error a session store raises."""


class StoreUnavailableError(StoreError):
    """The store's backend could not be reached or refused the operation."""


class SessionCorruptedError(StoreError):
    """A stored session exists but its data cannot be parsed."""


class SessionNotFoundError(StoreError, KeyError):
    """A session that the operation needs does not exist."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else "session not found"


class InvalidSessionIdError(StoreError, ValueError):
    """A session id that is empty, not a string, or not encodable as UTF-8."""


class EventOrderError(StoreError, ValueError):
    """``save`` found an event inserted before events the store already holds.

    Stores append events; saving it would put it after them, silently changing
    the conversation's order, so nothing of that save is written."""


def validate_session_id(session_id: object) -> str:
    """Return ``session_id`` if every store can hold it, else raise a clear error.

    Any non-empty string of valid Unicode is accepted, including ``../x``,
    ``a/b``, NUL and very long ids: stores encode ids, they never use them
    as raw paths.
    """
    if not isinstance(session_id, str):
        raise InvalidSessionIdError(f"session id must be a str, got {type(session_id).__name__}")
    if not session_id:
        raise InvalidSessionIdError("session id must not be empty")
    try:
        session_id.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidSessionIdError(f"session id is not valid Unicode: {exc}") from exc
    return session_id
