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
    {prefix}index                    sorted set: session ids scored by creation time

so Redis Cluster puts all of a session's keys in one slot and one Lua script
may touch them together. The id is escaped (``%``, ``{``, ``}``) so that an
id holding braces can neither end the hash tag early nor collide with
another id's keys; Redis keys are binary-safe, so nothing else needs it.
"""

from __future__ import annotations

from typing import NamedTuple


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


def session_keys(prefix: str, session_id: str) -> SessionKeys:
    base = f"{prefix}{{{escape_session_id(session_id)}}}:"
    return SessionKeys(*(base + name for name in SessionKeys._fields))


def index_key(prefix: str) -> str:
    # No braces: never equal to a session key, which always holds "{...}:".
    return f"{prefix}index"
