"""Sessions in Redis, shared by every process that points at the same server.

Each session is a handful of keys under one hash tag (layout in
``_redis_keys``), so a Redis Cluster keeps them in one slot. A write is one
pipelined round trip: a Lua script (``_redis_scripts``) that appends events
(de-duplicated by id, a known id replaced in place), upserts runs, merges
metadata and state and adds children atomically on the server, then refreshes
the TTL of every key of the session. Nothing is ever rewritten whole, so
several processes writing one session lose nothing and never double an event.

Sessions are listed and queried from an index spread over shards (layout in
``_redis_keys``, reads in ``_redis_index``), never with ``KEYS``; the script
keeps each session's summary, and the index follows it after every write.

redis-py is an optional extra (``pip install a2a-session-manager[redis]``);
it is imported only when a store is created.
"""

from __future__ import annotations

import asyncio
import json
import logging
import operator
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from a2a_session_manager.models.hierarchy import ParentLink
from a2a_session_manager.models.session import Session
from a2a_session_manager.models.session_event import SessionEvent
from a2a_session_manager.models.session_metadata import SessionMetadata
from a2a_session_manager.models.token_usage import TokenSummary
from a2a_session_manager.storage._redis_errors import translate_redis_errors
from a2a_session_manager.storage._redis_index import (
    Step,
    arun_plan,
    index_commands,
    list_plan,
    migrate_plan,
    query_plan,
    run_plan,
    summary_plan,
    unindex_commands,
)
from a2a_session_manager.storage._redis_keys import SessionKeys, session_keys
from a2a_session_manager.storage._redis_scripts import APPLY_SCRIPT, APPLY_SCRIPT_SHA
from a2a_session_manager.storage.base import BaseSessionStore, as_query
from a2a_session_manager.storage.changes import SessionChanges, mark_persisted
from a2a_session_manager.storage.errors import (
    InvalidSessionIdError,
    SessionCorruptedError,
    StoreUnavailableError,
    validate_session_id,
)
from a2a_session_manager.storage.positions import START, EventPosition, NewEvents
from a2a_session_manager.storage.query import (
    Page,
    SessionQuery,
    SessionSummary,
    event_has_error,
    run_failed,
    time_key,
)
from a2a_session_manager.storage.serialization import (
    events_from_json_lines,
    gc_paused,
    runs_from_json_lines,
    to_json,
)

if TYPE_CHECKING:
    from redis import Redis
    from redis.client import Pipeline

logger = logging.getLogger(__name__)

_INSTALL_HINT = "the Redis session store needs redis-py: pip install a2a-session-manager[redis]"
# Events per script call: bounds one call's arguments and how long it holds
# the (single-threaded) server; a bigger write becomes several calls in the
# same pipeline, each idempotent.
_EVENTS_PER_CALL = 1000
_WAIT_MS = 2000  # how long a write waits for its replicas (wait_for_replicas)
_token_usage = operator.attrgetter("token_usage")

ScriptArg = str | int


def _import_redis() -> ModuleType:
    try:
        import redis
        import redis.asyncio
    except ImportError as exc:
        raise ImportError(_INSTALL_HINT) from exc
    return redis


# Every client this module creates has finite timeouts, so a server that
# stops answering (SIGSTOP, a black-holed network) fails a call instead of
# hanging it: redis-py before 8.0 waits forever by default. A caller's own
# values are kept; ``None`` (forever) is replaced.
DEFAULT_SOCKET_TIMEOUT = 5.0
DEFAULT_SOCKET_CONNECT_TIMEOUT = 3.0


def _bounded(connection_kwargs: dict[str, Any]) -> dict[str, Any]:
    """``connection_kwargs`` with finite timeouts and our retry policy."""
    for key, default in (
        ("socket_timeout", DEFAULT_SOCKET_TIMEOUT),
        ("socket_connect_timeout", DEFAULT_SOCKET_CONNECT_TIMEOUT),
    ):
        if connection_kwargs.get(key) is None:
            connection_kwargs[key] = default
    connection_kwargs.setdefault("retry", _default_retry())
    return connection_kwargs


def _async_twin(make: Callable[..., Any], *args: Any, **kwargs: Any) -> Callable[[], Any]:
    """A factory of asyncio clients made like the store's own client (the sync
    ``retry`` object does not fit them: theirs is redis-py's default)."""
    kwargs = {k: v for k, v in kwargs.items() if k != "retry"}
    return lambda: make(*args, **kwargs)


def _default_retry() -> Any:
    # redis-py's default retries for seconds; a store should fail fast so the
    # caller (the exporter's buffer) decides. One retry still rides over a
    # pooled connection that died with a server restart.
    from redis.backoff import ExponentialBackoff
    from redis.retry import Retry

    return Retry(ExponentialBackoff(cap=0.2, base=0.02), retries=2)


def _text(value: bytes | str) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else value


def _ids(members: Sequence[bytes | str], where: str) -> list[str]:
    """Session ids from a sorted set; a member that is not UTF-8 (no id of
    ours is) cannot name a session: it is skipped with a warning."""
    out: list[str] = []
    for member in members:
        try:
            out.append(_text(member))
        except UnicodeDecodeError:
            logger.warning(
                "Redis store: skipping a member of %s that is not UTF-8: %r", where, member
            )
    return out


class _Values(BaseModel):
    values: dict[str, Any]


def _json_values(values: dict[str, Any]) -> list[tuple[str, str]]:
    """(key, JSON text) pairs; values that are not JSON are stored as their repr."""
    if not values:
        return []
    # to_json gives the store-wide fallbacks (repr, surrogates); model_construct
    # keeps odd keys from failing validation (they become JSON object keys).
    safe = json.loads(to_json(_Values.model_construct(values=values)))["values"]
    return [(key, json.dumps(value, ensure_ascii=False)) for key, value in safe.items()]


def _metadata_args(metadata: SessionMetadata) -> tuple[list[ScriptArg], list[tuple[str, str]]]:
    doc = json.loads(to_json(metadata))
    times: list[ScriptArg] = [
        doc["created_at"],
        time_key(metadata.created_at),
        doc["updated_at"],
        time_key(metadata.updated_at),
    ]
    props = [
        (key, json.dumps(value, ensure_ascii=False)) for key, value in doc["properties"].items()
    ]
    return times, props


def _script_args(
    *,
    ttl: int,
    merge: bool,
    times: Sequence[ScriptArg],
    parent_id: str | None = None,
    parent_link: ParentLink = ParentLink.LOCAL,
    props: Sequence[tuple[str, str]] = (),
    state: Sequence[tuple[str, str]] = (),
    events: Sequence[tuple[str, str, str, str, str]] = (),
    runs: Sequence[tuple[str, str]] = (),
    failed: bool = False,
    children: Sequence[str] = (),
    unset_props: Sequence[str] = (),
    unset_state: Sequence[str] = (),
) -> list[ScriptArg]:
    args: list[ScriptArg] = [
        ttl,
        "merge" if merge else "default",
        *times,
        parent_id or "",
        parent_link.value,
        len(props),
        len(state),
        len(events),
        len(runs),
        len(children),
        len(unset_props),
        len(unset_state),
        "1" if failed else "0",
    ]
    for pairs in (props, state):
        for key, value in pairs:
            args.append(key)
            args.append(value)
    for event in events:
        args.extend(event)
    for key, value in runs:
        args.append(key)
        args.append(value)
    args.extend(children)
    args.extend(unset_props)
    args.extend(unset_state)
    return args


def _is_valid_id(session_id: object) -> bool:
    try:
        validate_session_id(session_id)
    except InvalidSessionIdError:
        return False
    return True


class RedisSessionStore(BaseSessionStore):
    """A session store on a Redis server (or cluster) shared across processes.

    ``client`` is a ``redis.Redis`` (bytes or ``decode_responses=True``);
    the store closes it on ``close()`` only when ``close_client`` is true.
    ``expiration_seconds``: every key of a session expires that long after
    the session's last write (``None``: never).

    ``list_sessions`` returns ids oldest first (by creation time). Key order
    of ``state`` and of metadata ``properties`` is not kept (Redis hashes);
    event, run and child order is.
    """

    def __init__(
        self,
        client: Redis[Any],
        key_prefix: str = "session:",
        expiration_seconds: int | None = None,
        *,
        close_client: bool = False,
        async_client_factory: Callable[[], Any] | None = None,
        wait_for_replicas: int = 0,
    ) -> None:
        if expiration_seconds is not None and expiration_seconds <= 0:
            raise ValueError(
                f"expiration_seconds must be a positive number of seconds or None, "
                f"got {expiration_seconds!r}"
            )
        self._client = client
        self._prefix = key_prefix
        self._ttl = expiration_seconds or 0
        self._close_client = close_client
        self._async_factory = async_client_factory
        self._wait_for_replicas = wait_for_replicas
        self._cluster = hasattr(client, "get_node_from_key")
        self._legacy_checked = False
        self._async_clients: dict[int, Any] = {}

    @classmethod
    def from_url(
        cls,
        url: str,
        key_prefix: str = "session:",
        expiration_seconds: int | None = None,
        **connection_kwargs: Any,
    ) -> RedisSessionStore:
        """A store with its own client for ``redis://[:password@]host[:port][/db]``.

        Timeouts given in the URL's query (``?socket_timeout=2``) or as
        arguments are kept; otherwise ``DEFAULT_SOCKET_TIMEOUT`` and
        ``DEFAULT_SOCKET_CONNECT_TIMEOUT`` apply (never "wait forever")."""
        redis = _import_redis()
        client = redis.Redis.from_url(url, **_bounded(connection_kwargs))
        twin = _async_twin(redis.asyncio.Redis.from_url, url, **connection_kwargs)
        return cls(
            client, key_prefix, expiration_seconds, close_client=True, async_client_factory=twin
        )

    @property
    def client(self) -> Redis[Any]:
        return self._client

    @property
    def key_prefix(self) -> str:
        return self._prefix

    def _keys(self, session_id: str) -> SessionKeys:
        return session_keys(self._prefix, session_id)

    # -- writes ------------------------------------------------------------
    def apply(self, changes: SessionChanges) -> None:
        session_id = validate_session_id(changes.session_id)
        keys = self._keys(session_id)
        merge = changes.metadata is not None
        times, props = _metadata_args(changes.metadata or SessionMetadata())
        parent_id = changes.parent_id if changes.parent_id != session_id else None
        if parent_id:
            validate_session_id(parent_id)
        events = [_event_entry(event) for event in changes.events]
        runs = [(run.id, to_json(run)) for run in changes.runs]

        calls: list[tuple[SessionKeys, list[ScriptArg]]] = [
            (
                keys,
                _script_args(
                    ttl=self._ttl,
                    merge=merge,
                    times=times,
                    parent_id=parent_id,
                    parent_link=changes.parent_link,
                    props=props if merge else (),
                    state=_json_values(changes.state),
                    events=events[:_EVENTS_PER_CALL],
                    runs=runs,
                    failed=any(run_failed(run) for run in changes.runs),
                    children=changes.child_ids,
                    unset_props=changes.removed_properties,
                    unset_state=changes.removed_state,
                ),
            )
        ]
        for start in range(_EVENTS_PER_CALL, len(events), _EVENTS_PER_CALL):
            chunk = events[start : start + _EVENTS_PER_CALL]
            calls.append(
                (keys, _script_args(ttl=self._ttl, merge=False, times=times, events=chunk))
            )
        written = [session_id] * len(calls)
        if parent_id and changes.parent_link == ParentLink.LOCAL:
            # The parent gets the child, and exists from now on (as in memory);
            # a parent claimed by a remote caller is never written to.
            parent_times, _ = _metadata_args(SessionMetadata())
            calls.append(
                (
                    self._keys(parent_id),
                    _script_args(
                        ttl=self._ttl, merge=False, times=parent_times, children=[session_id]
                    ),
                )
            )
            written.append(parent_id)

        def build(pipe: Pipeline[Any]) -> None:
            for call_keys, args in calls:
                pipe.evalsha(APPLY_SCRIPT_SHA, len(call_keys), *call_keys, *args)

        with translate_redis_errors("write session"):
            replies = self._run_scripted(build)
            # The index follows what the scripts report (a second round trip:
            # in a cluster the index shards live in other slots). A writer
            # that dies in between leaves the index one write behind, until
            # that session's next write; reads check every entry anyway.
            commands = []
            for sid, reply in zip(written, replies, strict=True):
                commands += index_commands(self._prefix, sid, reply)
            run_plan(self._client, _steps(Step(commands)))
        if self._wait_for_replicas:
            self._wait_replicated(keys.meta)

    def _wait_replicated(self, key: str) -> None:
        """Return once ``_wait_for_replicas`` replicas hold this write.

        ``WAIT`` counts the writes of its own connection, and a master
        replicates in order: so one short-lived write next to the session
        (same slot, same master), then ``WAIT``, on one connection, covers
        everything written to that master before."""
        wanted = self._wait_for_replicas
        marker = key.rsplit(":", 1)[0] + ":ack"
        with translate_redis_errors("wait for replicas"):
            client: Any = self._client
            if self._cluster:
                client = client.get_node_from_key(marker).redis_connection
            pipe = client.pipeline(transaction=False)
            pipe.set(marker, 1, px=60_000)
            pipe.execute_command("WAIT", wanted, _WAIT_MS)
            _, acked = pipe.execute()
        if int(acked) < wanted:
            raise StoreUnavailableError(
                f"written, but {acked} of {wanted} replicas acknowledged it within "
                f"{_WAIT_MS} ms: write again (writes are idempotent)"
            )

    def _run_scripted(self, build: Callable[[Pipeline[Any]], None]) -> list[Any]:
        """Run a pipeline of script calls in one round trip, loading the
        script if the server lacks it (first use, or after a restart)."""
        from redis.exceptions import NoScriptError

        for attempt in (1, 2):
            pipe = self._client.pipeline(transaction=False)
            build(pipe)
            results: list[Any] = pipe.execute(raise_on_error=False)
            if attempt == 1 and any(isinstance(r, NoScriptError) for r in results):
                # Replaying the whole pipeline is safe: every call is idempotent.
                self._client.script_load(APPLY_SCRIPT)  # type: ignore[no-untyped-call]
                continue
            break
        for result in results:
            if isinstance(result, Exception):
                raise result
        return results

    def delete(self, session_id: str) -> None:
        if not _is_valid_id(session_id):
            return
        keys = self._keys(session_id)
        with translate_redis_errors("delete session"):
            raw_parent, link = self._client.hmget(keys.meta, ["parent_id", "parent_link"])
            parent_ids = _ids([raw_parent or ""], keys.meta)
            parent_id = parent_ids[0] if parent_ids else None
            props = self._client.hgetall(keys.props)
            pipe = self._client.pipeline(transaction=False)
            for key in keys:  # one by one: cluster pipelines refuse multi-key DEL
                pipe.delete(key)
            for name, args, kwargs in unindex_commands(self._prefix, session_id, props):
                getattr(pipe, name)(*args, **kwargs)
            if parent_id and ParentLink.parse(link and _text(link)) == ParentLink.LOCAL:
                pipe.zrem(self._keys(parent_id).children, session_id)
            pipe.execute()

    # -- reads -------------------------------------------------------------
    def get(self, session_id: str) -> Session | None:
        if not _is_valid_id(session_id):
            return None
        with translate_redis_errors("read session"):
            replies = run_plan(self._client, _steps(self._read_step(session_id)))
        return self._session_from(session_id, replies)

    def _read_step(self, session_id: str) -> Step:
        keys = self._keys(session_id)
        # MULTI/EXEC: one round trip and one consistent snapshot.
        return Step(
            [
                ("hgetall", (keys.meta,), {}),
                ("hgetall", (keys.props,), {}),
                ("hgetall", (keys.state,), {}),
                ("lrange", (keys.events, 0, -1), {}),
                ("lrange", (keys.runs, 0, -1), {}),
                ("zrange", (keys.children, 0, -1), {}),
            ],
            transaction=True,
        )

    def _session_from(self, session_id: str, replies: list[Any]) -> Session | None:
        meta, props, state, events, runs, children = replies
        if not meta:
            return None
        try:
            with gc_paused():
                session = self._decode(session_id, meta, props, state, events, runs, children)
        except (ValueError, KeyError, TypeError) as exc:
            # ValueError covers JSON, UTF-8 and pydantic validation errors.
            raise SessionCorruptedError(
                f"session {session_id[:200]!r} in Redis cannot be read: {exc}"
            ) from exc
        mark_persisted(session)
        return session

    @staticmethod
    def _decode(
        session_id: str,
        meta: dict[Any, Any],
        props: dict[Any, Any],
        state: dict[Any, Any],
        events: list[Any],
        runs: list[Any],
        children: list[Any],
    ) -> Session:
        fields = {_text(k): _text(v) for k, v in meta.items()}
        metadata = SessionMetadata.model_validate(
            {
                "created_at": fields["created_at"],
                "updated_at": fields["updated_at"],
                "properties": {_text(k): json.loads(v) for k, v in props.items()},
            }
        )
        loaded_events = events_from_json_lines(events)
        summary = TokenSummary.from_usages(map(_token_usage, loaded_events))
        return Session.model_construct(
            id=session_id,
            metadata=metadata,
            parent_id=fields.get("parent_id") or None,
            parent_link=ParentLink.parse(fields.get("parent_link")),
            child_ids=_ids(children, f"the children of {session_id[:200]!r}"),
            task_ids=[],
            runs=runs_from_json_lines(runs),
            events=loaded_events,
            state={_text(k): json.loads(v) for k, v in state.items()},
            token_summary=summary,
        )

    def events_since(self, session_id: str, position: EventPosition = START) -> NewEvents:
        if not _is_valid_id(session_id):
            return NewEvents([], START)
        keys = self._keys(session_id)
        anchor = position.last_id
        count = position.events_read if anchor is not None else 0
        with translate_redis_errors("read session events"):
            if count:
                # One snapshot: the anchor still where it was, and what follows it.
                at, raw = run_plan(
                    self._client,
                    _steps(
                        Step(
                            [
                                ("hget", (keys.evidx, anchor), {}),
                                ("lrange", (keys.events, count, -1), {}),
                            ],
                            transaction=True,
                        )
                    ),
                )
                if at is None or int(at) != count - 1:
                    count = 0  # deleted and written again since: read it from the start
            if not count:
                raw = self._client.lrange(keys.events, 0, -1)
        try:
            with gc_paused():
                events = events_from_json_lines(raw)
        except ValueError as exc:
            raise SessionCorruptedError(
                f"the events of session {session_id[:200]!r} in Redis cannot be read: {exc}"
            ) from exc
        if not events:
            return NewEvents([], EventPosition(count, anchor if count else None))
        return NewEvents(events, EventPosition(count + len(events), events[-1].id))

    def exists(self, session_id: str) -> bool:
        if not _is_valid_id(session_id):
            return False
        with translate_redis_errors("check session"):
            return bool(self._client.exists(self._keys(session_id).meta))

    def children(self, session_id: str) -> list[str]:
        if not _is_valid_id(session_id):
            return []
        key = self._keys(session_id).children
        with translate_redis_errors("read children"):
            members = self._client.zrange(key, 0, -1)
        return _ids(members, key)

    # -- listing and queries ----------------------------------------------
    def _migrate_legacy_index(self) -> None:
        """Sessions listed by an earlier version's single index join the
        shards before this store object's first listing or query."""
        if self._legacy_checked:
            return
        with translate_redis_errors("move the index of an earlier version"):
            moved = run_plan(self._client, migrate_plan(self._prefix))
        self._legacy_checked = True
        if moved:
            logger.info("Redis store: indexed %d sessions of an earlier version", moved)

    def list_page(
        self, prefix: str = "", *, limit: int | None = None, cursor: str | None = None
    ) -> Page[str]:
        """Ids in code-point order; ids of expired sessions leave the index."""
        self._migrate_legacy_index()
        with translate_redis_errors("list sessions"):
            page: Page[str] = run_plan(self._client, list_plan(self._prefix, prefix, limit, cursor))
        return page

    def query(
        self,
        query: SessionQuery | None = None,
        *,
        limit: int | None = None,
        cursor: str | None = None,
        **conditions: Any,
    ) -> Page[SessionSummary]:
        plan = query_plan(self._prefix, as_query(query, conditions), limit, cursor)
        self._migrate_legacy_index()
        with translate_redis_errors("query sessions"):
            page: Page[SessionSummary] = run_plan(self._client, plan)
        return page

    def summary(self, session_id: str) -> SessionSummary | None:
        if not _is_valid_id(session_id):
            return None
        with translate_redis_errors("read summary"):
            found: SessionSummary | None = run_plan(
                self._client, summary_plan(self._prefix, session_id)
            )
        return found

    # -- async reads (redis-py's asyncio client when the store made its client)
    def _async_client(self) -> Any:
        loop = asyncio.get_running_loop()
        client = self._async_clients.get(id(loop))
        if client is None:
            assert self._async_factory is not None
            # One client per event loop: asyncio connections belong to the
            # loop that opened them.
            client = self._async_clients[id(loop)] = self._async_factory()
        return client

    async def aget(self, session_id: str) -> Session | None:
        if self._async_factory is None:
            return await super().aget(session_id)
        if not _is_valid_id(session_id):
            return None
        with translate_redis_errors("read session"):
            replies = await arun_plan(self._async_client(), _steps(self._read_step(session_id)))
        return self._session_from(session_id, replies)

    async def aexists(self, session_id: str) -> bool:
        if self._async_factory is None:
            return await super().aexists(session_id)
        if not _is_valid_id(session_id):
            return False
        with translate_redis_errors("check session"):
            return bool(await self._async_client().exists(self._keys(session_id).meta))

    async def achildren(self, session_id: str) -> list[str]:
        if self._async_factory is None:
            return await super().achildren(session_id)
        if not _is_valid_id(session_id):
            return []
        key = self._keys(session_id).children
        with translate_redis_errors("read children"):
            members = await self._async_client().zrange(key, 0, -1)
        return _ids(members, key)

    async def alist_page(
        self, prefix: str = "", *, limit: int | None = None, cursor: str | None = None
    ) -> Page[str]:
        if self._async_factory is None:
            return await super().alist_page(prefix, limit=limit, cursor=cursor)
        if not self._legacy_checked:
            await asyncio.to_thread(self._migrate_legacy_index)
        with translate_redis_errors("list sessions"):
            page: Page[str] = await arun_plan(
                self._async_client(), list_plan(self._prefix, prefix, limit, cursor)
            )
        return page

    async def aquery(
        self,
        query: SessionQuery | None = None,
        *,
        limit: int | None = None,
        cursor: str | None = None,
        **conditions: Any,
    ) -> Page[SessionSummary]:
        if self._async_factory is None:
            return await super().aquery(query, limit=limit, cursor=cursor, **conditions)
        plan = query_plan(self._prefix, as_query(query, conditions), limit, cursor)
        if not self._legacy_checked:
            await asyncio.to_thread(self._migrate_legacy_index)
        with translate_redis_errors("query sessions"):
            page: Page[SessionSummary] = await arun_plan(self._async_client(), plan)
        return page

    def close(self) -> None:
        if self._close_client:
            self._client.close()
        # Async clients are dropped, not closed: closing needs their loop,
        # which may be gone; their connections close when collected.
        self._async_clients.clear()


def _steps(*steps: Step) -> Any:
    """A plan of fixed steps that returns the last step's replies."""
    replies: list[Any] = []
    for step in steps:
        replies = yield step
    return replies


def _event_entry(event: SessionEvent) -> tuple[str, str, str, str, str]:
    """(id, JSON, tokens, cost, error flag): what the script appends and adds up."""
    usage = event.token_usage
    tokens = usage.total_tokens if usage is not None else 0
    cost = (usage.estimated_cost_usd or 0.0) if usage is not None else 0.0
    return (
        event.id,
        to_json(event),
        str(tokens),
        repr(cost) if cost else "0",
        "1" if event_has_error(event) else "0",
    )


def create_redis_session_store(
    host: str = "localhost",
    port: int = 6379,
    db: int = 0,
    password: str | None = None,
    key_prefix: str = "session:",
    expiration_seconds: int | None = None,
    *,
    ssl: bool = False,
    client: Redis[Any] | None = None,
    cluster: bool = False,
    startup_nodes: Sequence[tuple[str, int]] | None = None,
    wait_for_replicas: int = 0,
    **connection_kwargs: Any,
) -> RedisSessionStore:
    """A Redis store: on ``client`` if given (left open by ``close()``),
    otherwise on a new client for ``host:port/db`` that the store owns.
    ``connection_kwargs`` go to ``redis.Redis`` (timeouts, ``retry``, ...);
    ``socket_timeout`` and ``socket_connect_timeout`` default to
    ``DEFAULT_SOCKET_TIMEOUT`` and ``DEFAULT_SOCKET_CONNECT_TIMEOUT`` seconds
    (``None`` too: a store never waits forever).

    ``cluster=True``: a Redis Cluster (redis-py's ``RedisCluster``) reached
    through ``startup_nodes`` (``[(host, port), ...]``; default ``host:port``).
    ``wait_for_replicas=N``: a write returns only once N replicas of the
    session's master acknowledged it (``WAIT``), so a master that dies right
    after loses nothing that was acknowledged; otherwise it raises
    ``StoreUnavailableError`` and the caller writes again (writes are
    idempotent). Without it Redis replicates asynchronously: a killed master
    may lose its last writes (a manual ``CLUSTER FAILOVER`` never does).
    """
    if client is not None:
        return RedisSessionStore(
            client, key_prefix, expiration_seconds, wait_for_replicas=wait_for_replicas
        )
    redis = _import_redis()
    options: dict[str, Any] = dict(password=password, ssl=ssl)
    options.update(_bounded(connection_kwargs))
    if cluster:
        import redis.asyncio.cluster
        import redis.cluster

        nodes = list(startup_nodes or [(host, port)])
        options.pop("retry")  # the cluster client retries by moving to the right node
        own: Any = redis.cluster.RedisCluster(
            startup_nodes=[redis.cluster.ClusterNode(h, p) for h, p in nodes], **options
        )
        twin = _async_twin(
            lambda **kw: redis.asyncio.cluster.RedisCluster(
                startup_nodes=[redis.asyncio.cluster.ClusterNode(h, p) for h, p in nodes], **kw
            ),
            **options,
        )
    else:
        options.update(host=host, port=port, db=db)
        own = redis.Redis(**options)
        twin = _async_twin(redis.asyncio.Redis, **options)
    return RedisSessionStore(
        own,
        key_prefix,
        expiration_seconds,
        close_client=True,
        async_client_factory=twin,
        wait_for_replicas=wait_for_replicas,
    )
