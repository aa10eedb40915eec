"""Where a session lives in Redis.

Every key of one session carries the session id as its hash tag::

    {prefix}{<escaped id>}:meta      hash: created_at/updated_at (+ sortable keys), parent_id
    {prefix}{<escaped id>}:props     hash: metadata property -> JSON value
    {prefix}{<escaped id>}:state     hash: state key -> JSON value
    {prefix}{<escaped id>}:events    list: one JSON event per element, in append order
    {prefix}{<escaped id>}:evidx     hash: event id -> index in :events (de-dup, replace)
    {prefix}{<escaped id>}:runs      list: one JSON run per element, in first-write order
    {prefix}{<escaped id>}:runidx    hash: run id -> index in :runs (upsert)
    {prefix}{<escaped id>}:children  sorted set: child ids, scored by insertion order
    {prefix}{<escaped id>}:evuse     hash: event id -> "tokens cost" (events with usage)

and the index, spread over ``INDEX_SHARDS`` shards (a session's shard is a
hash of its id; each shard is one hash tag, so no key holds all sessions and a
cluster spreads the shards over its masters)::

    {prefix}{~index:<n>}:ids         sorted set, all scores 0: ids in code-point order
    {prefix}{~index:<n>}:updated     sorted set: ids by update time (microseconds)
    {prefix}{~index:<n>}:errors      sorted set: ids of sessions with errors, same scores
    {prefix}{~index:<n>}:p:<key>=<json value>
                                     sorted set: ids whose property has that value

so Redis Cluster puts all of a session's keys in one slot and one Lua script
may touch them together. The id is escaped (``%``, ``{``, ``}``) so that an
id holding braces can neither end the hash tag early nor collide with
another id's keys; Redis keys are binary-safe, so nothing else needs it.
"""

from __future__ import annotations

import zlib
from typing import NamedTuple

INDEX_SHARDS = 16


def escape_session_id(session_id: str) -> str:
    return session_id.replace("%", "%25").replace("{", "%7B").replace("}", "%7D")


class SessionKeys(NamedTuple):
    meta: str
    props: str
    state: str
    events: str
    evidx: str
    runs: str
    runidx: str
    children: str
    evuse: str


def session_keys(prefix: str, session_id: str) -> SessionKeys:
    base = f"{prefix}{{{escape_session_id(session_id)}}}:"
    return SessionKeys(*(base + name for name in SessionKeys._fields))


def index_key(prefix: str) -> str:
    """The single index of earlier versions (read by nothing now)."""
    return f"{prefix}index"


def index_shard(session_id: str) -> int:
    return zlib.crc32(session_id.encode("utf-8")) % INDEX_SHARDS


class IndexKeys(NamedTuple):
    ids: str
    updated: str
    errors: str
    base: str

    def property(self, key: str, value_text: str) -> str:
        return f"{self.base}p:{key}={value_text}"


def index_keys(prefix: str, shard: int) -> IndexKeys:
    # The suffixes differ from every session key's, so even an id spelled
    # "~index:3" (same hash tag) names other keys.
    base = f"{prefix}{{~index:{shard}}}:"
    return IndexKeys(base + "ids", base + "updated", base + "errors", base)


def shard_keys(prefix: str, session_id: str) -> IndexKeys:
    return index_keys(prefix, index_shard(session_id))
