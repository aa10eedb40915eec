"""The Redis store's index and the reads it serves, written once for the sync
and the asyncio client.

Each read is a *plan*: a generator that yields ``Step``s (a batch of commands
for one pipelined round trip) and receives their replies, so the same code
runs on ``redis.Redis``, ``redis.cluster.RedisCluster`` and their asyncio
twins (``run_plan`` / ``arun_plan``).

Pages merge the ``INDEX_SHARDS`` shards (layout in ``_redis_keys``): each shard
is read from the cursor on, a batch at a time, and the merged order is only
trusted up to the point every shard has been read to, so a page costs about
``shards + page`` entries however many sessions there are. Index entries are
hints: every candidate is checked against its session's own summary (``meta``
and ``props``), which also drops entries of expired or deleted sessions.
"""

from __future__ import annotations

import heapq
import json
import logging
from collections import deque
from collections.abc import Callable, Generator, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from a2a_session_manager.storage._redis_keys import (
    INDEX_SHARDS,
    IndexKeys,
    index_key,
    index_keys,
    session_keys,
    shard_keys,
)
from a2a_session_manager.storage.query import (
    Page,
    SessionQuery,
    SessionSummary,
    check_limit,
    encode_cursor,
    is_indexed_value,
    list_position,
    matches,
    query_position,
    time_key,
    value_text,
)

logger = logging.getLogger(__name__)

Command = tuple[str, tuple[Any, ...], dict[str, Any]]


@dataclass
class Step:
    commands: list[Command]
    transaction: bool = False


def cmd(name: str, *args: Any, **kwargs: Any) -> Command:
    return (name, args, kwargs)


def text(value: bytes | str) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else value


_SUMMARY_FIELDS = (
    "created_at",
    "updated_at",
    "updated_key",
    "parent_id",
    "n_events",
    "tokens",
    "cost",
    "errors",
)


# -- writes -------------------------------------------------------------------
def index_commands(prefix: str, session_id: str, reply: Sequence[Any]) -> list[Command]:
    """What to write to the index after the apply script answered ``reply``
    for ``session_id`` (see ``_redis_scripts``)."""
    _appended, updated, errors, stale, props = reply
    keys = shard_keys(prefix, session_id)
    score = int(updated)
    commands = [
        cmd("zadd", keys.ids, {session_id: 0}, nx=True),
        cmd("zadd", keys.updated, {session_id: score}, gt=True),
    ]
    if int(errors):
        commands.append(cmd("zadd", keys.errors, {session_id: score}, gt=True))
    for key, raw in _pairs(stale):
        indexed = _indexed_text(raw)
        if indexed is not None:
            commands.append(cmd("zrem", keys.property(key, indexed), session_id))
    for key, raw in _pairs(props):
        indexed = _indexed_text(raw)
        if indexed is not None:
            commands.append(cmd("zadd", keys.property(key, indexed), {session_id: score}, gt=True))
    return commands


def unindex_commands(prefix: str, session_id: str, props: dict[Any, Any]) -> list[Command]:
    keys = shard_keys(prefix, session_id)
    commands = [
        cmd("zrem", keys.ids, session_id),
        cmd("zrem", keys.updated, session_id),
        cmd("zrem", keys.errors, session_id),
    ]
    for key, raw in props.items():
        indexed = _indexed_text(raw)
        if indexed is not None:
            commands.append(cmd("zrem", keys.property(text(key), indexed), session_id))
    return commands


def _pairs(flat: Sequence[Any]) -> Iterable[tuple[str, Any]]:
    for at in range(0, len(flat) - 1, 2):
        yield text(flat[at]), flat[at + 1]


def _indexed_text(raw: bytes | str) -> str | None:
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    return value_text(value) if is_indexed_value(value) else None


def migrate_plan(prefix: str, batch: int = 500) -> Generator[Step, list[Any], int]:
    """Move the single index of earlier versions (``{prefix}index``) into the
    shards, once: its sessions are indexed from what they hold (events are
    counted; tokens and cost start from their next write). Returns how many
    sessions moved."""
    legacy = index_key(prefix)
    (count,) = yield Step([cmd("zcard", legacy)])
    if not count:
        return 0
    moved = 0
    start = 0
    while True:
        (members,) = yield Step([cmd("zrange", legacy, start, start + batch - 1)])
        if not members:
            break
        start += batch
        ids = [entry[1] for entry in _scored_entries([(m, 0) for m in members])]
        reads: list[Command] = []
        for sid in ids:
            keys = session_keys(prefix, sid)
            reads += [
                cmd("hmget", keys.meta, ["updated_key", "errors", "n_events"]),
                cmd("hgetall", keys.props),
                cmd("llen", keys.events),
            ]
        replies = yield Step(reads)
        writes: list[Command] = []
        for at, sid in enumerate(ids):
            (updated, errors, events), props, length = replies[3 * at : 3 * at + 3]
            if updated is None:
                continue  # expired or deleted meanwhile
            flat = [item for pair in props.items() for item in pair]
            writes += index_commands(prefix, sid, (0, updated, errors or 0, [], flat))
            if events is None:
                writes.append(cmd("hsetnx", session_keys(prefix, sid).meta, "n_events", length))
            moved += 1
        if writes:
            yield Step(writes)
    yield Step([cmd("delete", legacy)])
    return moved


# -- summaries ----------------------------------------------------------------
def summary_commands(prefix: str, session_id: str) -> list[Command]:
    keys = session_keys(prefix, session_id)
    return [cmd("hmget", keys.meta, list(_SUMMARY_FIELDS)), cmd("hgetall", keys.props)]


def summary_from(
    session_id: str, meta: Sequence[Any], props: dict[Any, Any]
) -> SessionSummary | None:
    fields = dict(zip(_SUMMARY_FIELDS, meta, strict=True))
    if fields["created_at"] is None or fields["updated_at"] is None:
        return None  # gone (deleted or expired)
    properties: dict[str, Any] = {}
    for key, raw in props.items():
        try:
            properties[text(key)] = json.loads(raw)
        except ValueError:
            continue
    parent = fields["parent_id"]
    return SessionSummary(
        id=session_id,
        created_at=datetime.fromisoformat(text(fields["created_at"])),
        updated_at=datetime.fromisoformat(text(fields["updated_at"])),
        parent_id=text(parent) if parent else None,
        properties=properties,
        events=int(fields["n_events"] or 0),
        total_tokens=int(fields["tokens"] or 0),
        cost_usd=float(fields["cost"] or 0.0),
        has_errors=bool(int(fields["errors"] or 0)),
    )


def summary_plan(prefix: str, session_id: str) -> Generator[Step, list[Any], SessionSummary | None]:
    meta, props = yield Step(summary_commands(prefix, session_id))
    return summary_from(session_id, meta, props)


# -- merged shard streams -----------------------------------------------------
class _Stream:
    """One shard's entries from a bound on, fetched a batch at a time."""

    def __init__(self, fetch: Callable[[int, int], Command], batch: int) -> None:
        self.fetch = fetch
        self.batch = batch
        self.offset = 0
        self.buffer: deque[tuple[Any, ...]] = deque()
        self.last: tuple[Any, ...] | None = None  # the last entry fetched
        self.done = False

    def command(self) -> Command:
        return self.fetch(self.offset, self.batch)

    def take(self, entries: list[tuple[Any, ...]], keep: Callable[[tuple[Any, ...]], bool]) -> None:
        self.offset += len(entries)
        if entries:
            self.last = entries[-1]
        self.buffer.extend(e for e in entries if keep(e))
        self.done = len(entries) < self.batch
        self.batch = min(self.batch * 2, 2048)


def _merged(
    streams: list[_Stream],
    parse: Callable[[Any], list[tuple[Any, ...]]],
    keep: Callable[[tuple[Any, ...]], bool],
    want: int,
) -> Generator[Step, list[Any], list[tuple[Any, ...]] | None]:
    """Fill empty buffers (one round trip); return up to ``want`` entries in
    order that are safe to emit now (every shard read past them), or ``None``
    when all shards are exhausted and empty."""
    hungry = [s for s in streams if not s.buffer and not s.done]
    if hungry:
        replies = yield Step([s.command() for s in hungry])
        for stream, reply in zip(hungry, replies, strict=True):
            stream.take(parse(reply), keep)
    if all(s.done and not s.buffer for s in streams):
        return None
    # Entries come largest first. A shard that may hold more holds nothing
    # above the last entry it gave, so what is at least every such last
    # entry is in its final place.
    floor = max((s.last for s in streams if not s.done and s.last is not None), default=None)
    heads: list[tuple[_Max, int]] = [
        (_Max(s.buffer[0]), n) for n, s in enumerate(streams) if s.buffer
    ]
    heapq.heapify(heads)
    out: list[tuple[Any, ...]] = []
    while heads and len(out) < want:
        top, n = heapq.heappop(heads)
        if floor is not None and top.entry < floor:
            break
        stream = streams[n]
        out.append(stream.buffer.popleft())
        if stream.buffer:
            heapq.heappush(heads, (_Max(stream.buffer[0]), n))
    return out


class _Max:
    """Inverts the order of an entry, so heapq (a min-heap) pops the largest."""

    __slots__ = ("entry",)

    def __init__(self, entry: tuple[Any, ...]) -> None:
        self.entry = entry

    def __lt__(self, other: _Max) -> bool:
        return bool(self.entry > other.entry)


def _first_batch(limit: int | None, batch: int) -> int:
    # A page spreads over the shards: ask each for a fair share and some
    # slack, and for more (doubling) only from the shards that run out.
    if limit is None:
        return batch
    return min(batch, max(8, 2 * (limit + 1) // INDEX_SHARDS + 1))


# -- listing ------------------------------------------------------------------
def list_plan(
    prefix: str, id_prefix: str, limit: int | None, cursor: str | None, *, batch: int = 256
) -> Generator[Step, list[Any], Page[str]]:
    """Ids in code-point order (UTF-8 byte order is the same), a page at a time."""
    check_limit(limit)
    last = list_position(cursor)
    lower = b"[" + id_prefix.encode() if id_prefix else b"-"
    if last is not None and last >= id_prefix:
        lower = b"(" + last.encode()
    upper = b"[" + id_prefix.encode() + b"\xff" if id_prefix else b"+"
    size = _first_batch(limit, batch)
    streams = []
    for shard in range(INDEX_SHARDS):
        key = index_keys(prefix, shard).ids
        streams.append(_Stream(_fetcher("zrangebylex", key, lower, upper), size))
    found: list[str] = []
    # Ids sort ascending here: stream entries are (negated order) via reverse=True
    # in _merged, so wrap each id in a key that sorts descending.
    while limit is None or len(found) <= limit:
        ready = yield from _merged(
            streams, _list_entries, _always, (limit + 1 - len(found)) if limit else batch
        )
        if ready is None:
            break
        candidates = [entry[0].value for entry in ready]
        alive = yield Step([cmd("exists", session_keys(prefix, sid).meta) for sid in candidates])
        gone: list[Command] = []
        for sid, present in zip(candidates, alive, strict=True):
            if present:
                found.append(sid)
            else:
                gone.append(cmd("zrem", shard_keys(prefix, sid).ids, sid))
        if gone:
            yield Step(gone)  # expired sessions leave the index
    if limit is not None and len(found) > limit:
        return Page(found[:limit], encode_cursor("list", found[limit - 1]))
    return Page(found)


def _list_entries(reply: Sequence[Any]) -> list[tuple[Any, ...]]:
    out: list[tuple[Any, ...]] = []
    for member in reply:
        try:
            out.append((_Desc(text(member)),))
        except UnicodeDecodeError:
            # No id of ours is anything but UTF-8: a planted member names nothing.
            logger.warning("Redis store: skipping an index member that is not UTF-8: %r", member)
    return out


def _scored_entries(reply: Sequence[Any]) -> list[tuple[Any, ...]]:
    out: list[tuple[Any, ...]] = []
    for member, score in reply:
        try:
            out.append((int(score), text(member)))
        except UnicodeDecodeError:
            logger.warning("Redis store: skipping an index member that is not UTF-8: %r", member)
    return out


class _Desc:
    """Reverses the order of a str, so "largest first" merging yields ascending ids."""

    __slots__ = ("value",)

    def __init__(self, value: str) -> None:
        self.value = value

    def __lt__(self, other: _Desc) -> bool:
        return self.value > other.value

    def __le__(self, other: _Desc) -> bool:
        return self.value >= other.value

    def __gt__(self, other: _Desc) -> bool:
        return self.value < other.value

    def __ge__(self, other: _Desc) -> bool:
        return self.value <= other.value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Desc) and self.value == other.value

    def __hash__(self) -> int:
        return hash(self.value)


def _always(_entry: tuple[Any, ...]) -> bool:
    return True


# -- queries ------------------------------------------------------------------
_Driver = str | tuple[str, str]  # "updated", "errors" or (property, JSON value)


def _driver_key(keys: IndexKeys, driver: _Driver) -> str:
    if driver == "updated":
        return keys.updated
    if driver == "errors":
        return keys.errors
    assert isinstance(driver, tuple)
    return keys.property(*driver)


def _fetcher(
    name: str, key: str, high: Any, low: Any, **options: Any
) -> Callable[[int, int], Command]:
    def fetch(offset: int, count: int) -> Command:
        return cmd(name, key, high, low, start=offset, num=count, **options)

    return fetch


def query_plan(
    prefix: str, query: SessionQuery, limit: int | None, cursor: str | None, *, batch: int = 64
) -> Generator[Step, list[Any], Page[SessionSummary]]:
    check_limit(limit)
    position = query_position(cursor)
    if query.parent_id is not None:
        return (yield from _children_query(prefix, query, limit, position))
    drivers: list[_Driver] = ["updated", *query.equalities()]
    if query.has_errors:
        drivers.append("errors")
    if len(drivers) > 1:
        # The smallest index drives (one ZCARD per shard and candidate).
        sizes = yield Step(
            [
                cmd("zcard", _driver_key(index_keys(prefix, shard), driver))
                for driver in drivers
                for shard in range(INDEX_SHARDS)
            ]
        )
        totals = [
            sum(sizes[i * INDEX_SHARDS : (i + 1) * INDEX_SHARDS]) for i in range(len(drivers))
        ]
        driver = drivers[totals.index(min(totals))]
        if min(totals) == 0:
            return Page([])
    else:
        driver = drivers[0]
    upper: Any = "+inf"
    if query.until is not None:
        upper = time_key(query.until)
    if position is not None:
        upper = position[0] if upper == "+inf" else min(upper, position[0])
    lower: Any = time_key(query.since) if query.since is not None else "-inf"
    size = _first_batch(limit, batch)

    def keep(entry: tuple[Any, ...]) -> bool:
        return position is None or entry < position

    streams = []
    for shard in range(INDEX_SHARDS):
        key = _driver_key(index_keys(prefix, shard), driver)
        streams.append(
            _Stream(_fetcher("zrevrangebyscore", key, upper, lower, withscores=True), size)
        )
    found: list[tuple[tuple[int, str], SessionSummary]] = []
    while limit is None or len(found) <= limit:
        ready = yield from _merged(
            streams, _scored_entries, keep, (limit + 1 - len(found)) if limit else batch
        )
        if ready is None:
            break
        found += yield from _verified(prefix, ready, query)
    if limit is not None and len(found) > limit:
        (score, last), _ = found[limit - 1]
        return Page([s for _, s in found[:limit]], encode_cursor("query", score, last))
    return Page([s for _, s in found])


def _verified(
    prefix: str, entries: list[tuple[Any, ...]], query: SessionQuery
) -> Generator[Step, list[Any], list[tuple[tuple[int, str], SessionSummary]]]:
    commands: list[Command] = []
    for _score, sid in entries:
        commands += summary_commands(prefix, sid)
    replies = yield Step(commands)
    out: list[tuple[tuple[int, str], SessionSummary]] = []
    gone: list[Command] = []
    for at, (score, sid) in enumerate(entries):
        summary = summary_from(sid, replies[2 * at], replies[2 * at + 1])
        if summary is None:
            gone += unindex_commands(prefix, sid, {})
        elif matches(summary, query):
            out.append(((score, sid), summary))
    if gone:
        yield Step(gone)
    return out


def _children_query(
    prefix: str, query: SessionQuery, limit: int | None, position: tuple[int, str] | None
) -> Generator[Step, list[Any], Page[SessionSummary]]:
    assert query.parent_id is not None
    (members,) = yield Step([cmd("zrange", session_keys(prefix, query.parent_id).children, 0, -1)])
    ids = [text(m) for m in members]
    checked = yield from _verified(prefix, [(0, sid) for sid in ids], query)
    ranked = sorted(
        (((time_key(s.updated_at), s.id), s) for _, s in checked), key=lambda x: x[0], reverse=True
    )
    ranked = [r for r in ranked if position is None or r[0] < position]
    if limit is not None and len(ranked) > limit:
        (score, last), _ = ranked[limit - 1]
        return Page([s for _, s in ranked[:limit]], encode_cursor("query", score, last))
    return Page([s for _, s in ranked])


# -- running plans ------------------------------------------------------------
def run_plan(client: Any, plan: Generator[Step, list[Any], Any]) -> Any:
    try:
        step = next(plan)
        while True:
            step = plan.send(_execute(client, step))
    except StopIteration as done:
        return done.value


def _execute(client: Any, step: Step) -> list[Any]:
    pipe = client.pipeline(transaction=step.transaction)
    for name, args, kwargs in step.commands:
        getattr(pipe, name)(*args, **kwargs)
    result: list[Any] = pipe.execute()
    return result


async def arun_plan(client: Any, plan: Generator[Step, list[Any], Any]) -> Any:
    try:
        step = next(plan)
        while True:
            pipe = client.pipeline(transaction=step.transaction)
            for name, args, kwargs in step.commands:
                getattr(pipe, name)(*args, **kwargs)
            step = plan.send(await pipe.execute())
    except StopIteration as done:
        return done.value
