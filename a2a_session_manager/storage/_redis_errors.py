"""redis-py exceptions, re-raised as the store error hierarchy (``storage.errors``).

    ConnectionError, TimeoutError, OSError (incl. LOADING),
    ReadOnlyError, ClusterDownError, TryAgainError      -> StoreUnavailableError
    WRONGTYPE, or our script's CORRUPT reply,
    a reply a decode_responses client cannot decode    -> SessionCorruptedError
    any other RedisError                                -> StoreError

The original exception is always kept as ``__cause__``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

from a2a_session_manager.storage.errors import (
    SessionCorruptedError,
    StoreError,
    StoreUnavailableError,
)

# Replies meaning the stored data is not what this store wrote (alone, or
# after redis-py's "Command # N (...) of pipeline caused error: ").
_CORRUPT_REPLY = re.compile(r"(?:^|caused error: )(?:WRONGTYPE|CORRUPT) ")
_MAX_MESSAGE = 300


@contextmanager
def translate_redis_errors(action: str) -> Iterator[None]:
    """Run the block, re-raising redis-py failures as store errors about ``action``."""
    # Imported here: redis-py is an optional extra, and this only runs once a
    # store (and so a client) exists.
    from redis import exceptions as redis_errors

    try:
        yield
    except (
        redis_errors.ConnectionError,
        redis_errors.TimeoutError,
        OSError,
        # a server that is up but cannot serve us right now
        redis_errors.ReadOnlyError,
        redis_errors.ClusterDownError,
        redis_errors.TryAgainError,
    ) as exc:
        raise StoreUnavailableError(f"Redis is unavailable ({action}): {exc}") from exc
    except redis_errors.RedisError as exc:
        # redis-py prefixes pipeline errors with the whole command, which
        # may hold megabytes of events: keep the message short.
        message = str(exc)
        if len(message) > _MAX_MESSAGE:
            message = message[:_MAX_MESSAGE] + "..."
        if _CORRUPT_REPLY.search(str(exc)):
            raise SessionCorruptedError(
                f"stored session data is unusable ({action}): {message}"
            ) from exc
        raise StoreError(f"Redis error ({action}): {message}") from exc
    except UnicodeDecodeError as exc:
        raise SessionCorruptedError(f"stored data is not UTF-8 ({action}): {exc}") from exc
