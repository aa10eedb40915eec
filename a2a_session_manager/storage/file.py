"""The file store: a directory with one append-only JSON-lines log per session.

Appending an event writes one line and never rewrites the session; each
``apply`` is one ``write()`` under an exclusive ``flock``, so threads and
processes sharing the directory lose nothing; a crash loses at most the write
in flight (see ``_file_log``); ids are encoded into file names that cannot
leave the directory (see ``_file_names``); the record format is in
``_file_records``.

A log's name holding anything but a regular file with one link (a FIFO, a
symlink, a hard link to a file elsewhere ...) is refused without blocking:
that session raises ``SessionCorruptedError`` (so do logs this process may not
read); the store and its other sessions go on working.
"""

from __future__ import annotations

import logging
import os
import threading
import zlib
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from a2a_session_manager.models.hierarchy import ParentLink
from a2a_session_manager.models.session import Session
from a2a_session_manager.models.session_metadata import SessionMetadata
from a2a_session_manager.storage import _file_records as records
from a2a_session_manager.storage._after_fork import renew_locks_after_fork
from a2a_session_manager.storage._event_ledger import EventLedger
from a2a_session_manager.storage._file_index import FileIndex, delete_line, update_line
from a2a_session_manager.storage._file_log import (
    FileKey,
    UnsafeLogError,
    file_key_and_size,
    locked_append,
    read_first_line,
    read_log,
    read_log_from,
    remove_locked,
)
from a2a_session_manager.storage._file_names import (
    id_from_log_name,
    is_hashed_log_name,
    log_name,
)
from a2a_session_manager.storage._summary_index import SummaryUpdate
from a2a_session_manager.storage.base import BaseSessionStore, as_query
from a2a_session_manager.storage.changes import SessionChanges
from a2a_session_manager.storage.errors import (
    InvalidSessionIdError,
    SessionCorruptedError,
    StoreUnavailableError,
    validate_session_id,
)
from a2a_session_manager.storage.positions import (
    START,
    EventPosition,
    LogPlace,
    NewEvents,
)
from a2a_session_manager.storage.query import (
    EventTotals,
    Page,
    SessionQuery,
    SessionSummary,
    run_failed,
    summary_of,
)
from a2a_session_manager.storage.serialization import gc_paused

logger = logging.getLogger(__name__)

_MEMO_SIZE = 4096
_P = ParamSpec("_P")
_T = TypeVar("_T")
_Build = Callable[[int, FileKey], bytes]


@dataclass
class _Written:
    """What this store object wrote to one log file, so that a write that
    repeats the same times, parent or children (every save and exporter batch
    carries times; batches repeat parents) appends only what changed.

    Creation and update times merge by earliest and latest, so times inside
    those already written change nothing whoever wrote since. Parent and
    children hold only while the file is exactly as this object left it (same
    size): once anyone else appended, they are written again, so a repeated
    value is never skipped over another writer's newer one."""

    key: FileKey
    end: int = -1
    created: datetime | None = None
    updated: datetime | None = None
    parent_id: str | None = None
    children: set[str] = field(default_factory=set)
    parent_link: ParentLink = ParentLink.LOCAL

    def covers(self, metadata: SessionMetadata) -> bool:
        """Whether a line of ``metadata`` would change nothing that this
        object's own lines have not already set."""
        return (
            not metadata.properties
            and self.created is not None
            and self.updated is not None
            and self.created <= metadata.created_at
            and metadata.updated_at <= self.updated
        )


class FileSessionStore(BaseSessionStore):
    """Sessions as append-only logs in ``directory`` (created if missing).

    ``fsync=True`` makes every write durable against power loss before
    ``apply`` returns; without it a crash of the process (not the machine)
    still loses nothing that ``apply`` returned for.
    """

    def __init__(self, directory: str | Path = "./sessions", *, fsync: bool = False) -> None:
        self.directory = Path(directory)
        self.fsync = fsync
        self._dir = os.fspath(self.directory)
        self._memo: OrderedDict[str, _Written] = OrderedDict()
        self._hashed_ids: dict[str, str] = {}
        self._lock = threading.Lock()
        renew_locks_after_fork(self)
        self._ensure_directory()
        self._index = FileIndex(self._dir, self._summaries_from_logs)
        self._ledger = EventLedger()

    def after_fork_in_child(self) -> None:
        # Another thread of the parent may have held the lock at the fork.
        self._lock = threading.Lock()

    # -- writes ---------------------------------------------------------
    def apply(self, changes: SessionChanges) -> None:
        session_id = validate_session_id(changes.session_id)
        parent_id = changes.parent_id if changes.parent_id != session_id else None
        if parent_id:
            validate_session_id(parent_id)
        incoming = changes.metadata
        metadata = records.metadata_line(incoming) if incoming else b""
        # State and property changes are never skipped: each is a change
        # of this writer's (see storage.changes), and the last line wins.
        state = records.state_line(changes.state) if changes.state else b""
        if changes.removed_state:
            state += records.unset_state_line(changes.removed_state)
        if changes.removed_properties:
            state += records.unset_properties_line(changes.removed_properties)
        payload = records.event_lines(changes.events) + records.run_lines(changes.runs)
        link = changes.parent_link
        child_ids = list(dict.fromkeys(changes.child_ids))
        pending: list[_Written] = []
        created_with: list[SessionMetadata] = []
        at: list[tuple[FileKey, int]] = []
        counted: list[EventTotals] = []

        def build(size: int, key: FileKey) -> bytes:
            at.append((key, size))
            written = self._written(session_id, key, size)
            done = _Written(
                key,
                -1,
                written.created,
                written.updated,
                written.parent_id,
                parent_link=written.parent_link,
            )
            parts: list[bytes] = []
            if size == 0:
                parts.append(records.id_line(session_id))
                if not metadata:
                    created_with.append(SessionMetadata())
                    parts.append(records.metadata_line(created_with[-1]))
            if incoming is not None and not written.covers(incoming):
                parts.append(metadata)
                done.created = min(incoming.created_at, written.created or incoming.created_at)
                done.updated = max(incoming.updated_at, written.updated or incoming.updated_at)
            if parent_id and (parent_id != written.parent_id or link != written.parent_link):
                parts.append(records.parent_line(parent_id, link))
                done.parent_id, done.parent_link = parent_id, link
            new_children = [c for c in child_ids if c not in written.children]
            if new_children:
                parts.append(records.children_line(new_children))
            done.children = written.children | set(new_children)
            parts.append(state)
            parts.append(payload)
            pending.append(done)
            return b"".join(parts)

        def on_written(end: int) -> None:
            self._remember(session_id, pending, end)
            key, start = at[-1]
            counted.append(self._ledger.count(session_id, key, start, end, changes.events))

        self._append(session_id, build, create=True, on_written=on_written)
        times = incoming or (created_with[-1] if created_with else None)
        totals = counted[-1] if counted else EventTotals.of(changes.events)
        self._record_index(
            SummaryUpdate(
                session_id,
                times.created_at if times else None,
                times.updated_at if times else None,
                parent_id=parent_id,
                properties=incoming.properties if incoming else {},
                removed_properties=changes.removed_properties,
                events=totals.events,
                tokens=totals.tokens,
                cost=totals.cost,
                errors=totals.errors or any(run_failed(run) for run in changes.runs),
            )
        )
        if parent_id and link == ParentLink.LOCAL:
            try:
                self._link_child(parent_id, session_id)
            except SessionCorruptedError as exc:
                # This session is written (and records its parent); only the
                # parent's unusable log misses the link, and reading it says so.
                logger.warning("file store: cannot link %r to its parent: %s", session_id, exc)

    def _record_index(self, update: SummaryUpdate) -> None:
        self._io(self._index.append, update_line(update))

    def _link_child(self, parent_id: str, child_id: str) -> None:
        path = self._path(parent_id)
        with self._lock:
            written = self._memo.get(parent_id)
        if (
            written
            and child_id in written.children
            and self._io(file_key_and_size, path) == (written.key, written.end)
        ):
            return
        pending: list[_Written] = []
        created_with: list[SessionMetadata] = []

        def build(size: int, key: FileKey) -> bytes:
            known = self._written(parent_id, key, size)
            parts = []
            if size == 0:
                created_with.append(SessionMetadata())
                parts += [records.id_line(parent_id), records.metadata_line(created_with[-1])]
            if child_id not in known.children:
                parts.append(records.children_line([child_id]))
            pending.append(
                _Written(
                    key,
                    -1,
                    known.created,
                    known.updated,
                    known.parent_id,
                    known.children | {child_id},
                    known.parent_link,
                )
            )
            return b"".join(parts)

        self._append(
            parent_id,
            build,
            create=True,
            on_written=lambda end: self._remember(parent_id, pending, end),
        )
        if created_with:
            times = created_with[-1]
            self._record_index(SummaryUpdate(parent_id, times.created_at, times.updated_at))

    def delete(self, session_id: str) -> None:
        path = self._path_or_none(session_id)
        if path is None:
            return
        parents: list[str | None] = []
        removed = self._io(
            remove_locked, path, lambda data: parents.append(records.parent_from_log(data))
        )
        with self._lock:
            self._memo.pop(session_id, None)
        self._ledger.forget(session_id)
        if removed:
            self._io(self._index.append, delete_line(session_id))
        parent_id = parents[0] if parents else None
        if removed and parent_id:
            # Like the memory store: the parent (if it still exists) forgets the child.
            with self._lock:
                written = self._memo.get(parent_id)
                if written:
                    written.children.discard(session_id)
            try:
                self._append(
                    parent_id,
                    lambda _size, _key: records.children_line([session_id], removed=True),
                    create=False,
                )
            except SessionCorruptedError as exc:  # deleted; the parent's log is unusable
                logger.warning("file store: cannot unlink %r from its parent: %s", session_id, exc)

    # -- reads ----------------------------------------------------------
    def get(self, session_id: str) -> Session | None:
        path = self._path_or_none(session_id)
        if path is None:
            return None
        data = self._read(read_log, path)
        if data is None:
            return None
        with gc_paused():
            return records.session_from_log(data, session_id, path)

    def events_since(self, session_id: str, position: EventPosition = START) -> NewEvents:
        """Reads the log from where ``position`` stopped: the last line read
        before, to check it is still the same log, then what follows it."""
        path = self._path_or_none(session_id)
        if path is None:
            return NewEvents([], START)
        place = position.log
        if place is not None:
            found = self._read(read_log_from, path, place.anchor_start)
            if found is None:
                return NewEvents([], START)
            key, data = found
            start, anchor = place.anchor_start, place.offset - place.anchor_start
            if (
                key == (place.device, place.inode)
                and len(data) >= anchor
                and data[anchor - 1 : anchor] == b"\n"
                and zlib.crc32(data[:anchor]) == place.anchor_crc
            ):
                return self._events_in(session_id, path, key, data, start, anchor, position)
        # First read, or the log was deleted and written again: all of it.
        found = self._read(read_log_from, path, 0)
        if found is None:
            return NewEvents([], START)
        key, data = found
        return self._events_in(session_id, path, key, data, 0, 0, START)

    def _events_in(
        self,
        session_id: str,
        path: str,
        key: FileKey,
        data: bytes,
        start: int,
        skip: int,
        position: EventPosition,
    ) -> NewEvents:
        """The events in ``data`` (the log from byte ``start`` on) after its
        first ``skip`` bytes, and where the next read starts."""
        end = data.rfind(b"\n") + 1  # an unfinished last line is not there yet
        if end <= skip:
            return NewEvents([], position)
        lines = data[skip : end - 1].split(b"\n")
        if start == skip == 0 and records.id_from_first_line(lines[0]) != session_id:
            raise SessionCorruptedError(
                f"{path}: first line does not record session {session_id!r}"
            )
        with gc_paused():
            events = records.events_from_lines(lines, f"{path} from byte {start + skip}")
        last = end - len(lines[-1]) - 1  # where the last line read starts: the next anchor
        place = LogPlace(key[0], key[1], start + last, start + end, zlib.crc32(data[last:end]))
        return NewEvents(
            events,
            EventPosition(
                position.events_read + len(events),
                events[-1].id if events else position.last_id,
                place,
            ),
        )

    def exists(self, session_id: str) -> bool:
        path = self._path_or_none(session_id)
        if path is None:
            return False
        first = self._read(read_first_line, path)
        return first is not None and records.id_from_first_line(first) == session_id

    def children(self, session_id: str) -> list[str]:
        path = self._path_or_none(session_id)
        if path is None:
            return []
        data = self._read(read_log, path)
        return records.children_from_log(data, path) if data else []

    # -- listing and queries (from the index file) ----------------------
    def list_page(
        self, prefix: str = "", *, limit: int | None = None, cursor: str | None = None
    ) -> Page[str]:
        if limit is None and cursor is None:
            # Everything: the directory itself is the truth (also logs that
            # other tools or older versions wrote).
            return Page(self._ids_in_directory(prefix))
        with self._index.lock:
            return self._io(self._index.read).list_page(prefix, limit, cursor)

    def query(
        self,
        query: SessionQuery | None = None,
        *,
        limit: int | None = None,
        cursor: str | None = None,
        **conditions: Any,
    ) -> Page[SessionSummary]:
        built = as_query(query, conditions)
        with self._index.lock:
            return self._io(self._index.read).query(built, limit, cursor)

    def summary(self, session_id: str) -> SessionSummary | None:
        with self._index.lock:
            return self._io(self._index.read).get(session_id)

    def _summaries_from_logs(self) -> list[SessionSummary]:
        found: list[SessionSummary] = []
        for session_id in self._ids_in_directory(""):
            try:
                session = self.get(session_id)
            except (SessionCorruptedError, StoreUnavailableError) as exc:
                logger.warning("file store: not indexing %r: %s", session_id, exc)
                continue
            if session is not None:
                found.append(summary_of(session))
        return found

    def _ids_in_directory(self, prefix: str) -> list[str]:
        try:
            with os.scandir(self._dir) as entries:
                names = [entry.name for entry in entries]
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise StoreUnavailableError(f"cannot list {self._dir}: {exc}") from exc
        found: list[str] = []
        for name in names:
            session_id = id_from_log_name(name)
            if session_id is None and is_hashed_log_name(name):
                session_id = self._hashed_id(name)
            if session_id is not None and session_id.startswith(prefix):
                found.append(session_id)
        return sorted(found)

    def _hashed_id(self, name: str) -> str | None:
        # A hashed name always stands for the same id, so it is read once.
        session_id = self._hashed_ids.get(name)
        if session_id is None:
            try:
                first = self._read(read_first_line, os.path.join(self._dir, name))
            except SessionCorruptedError as exc:
                logger.warning("file store: skipping %s while listing: %s", name, exc)
                return None
            session_id = records.id_from_first_line(first) if first else None
            if session_id is not None and log_name(session_id) == name:
                if len(self._hashed_ids) >= _MEMO_SIZE:
                    self._hashed_ids.clear()
                self._hashed_ids[name] = session_id
            else:
                return None
        return session_id

    def close(self) -> None:
        with self._lock:
            self._memo.clear()
            self._hashed_ids.clear()

    # -- helpers --------------------------------------------------------
    def _path(self, session_id: str) -> str:
        return os.path.join(self._dir, log_name(session_id))

    def _path_or_none(self, session_id: str) -> str | None:
        try:
            return self._path(validate_session_id(session_id))
        except InvalidSessionIdError:
            return None  # no store can hold such an id, so it is not here

    def _append(
        self,
        session_id: str,
        build: _Build,
        *,
        create: bool,
        on_written: Callable[[int], None] | None = None,
    ) -> None:
        path = self._path(session_id)
        try:
            try:
                locked_append(path, build, create=create, fsync=self.fsync, on_written=on_written)
            except FileNotFoundError:
                if not create:
                    raise
                self._ensure_directory()  # the directory was removed: make it again
                locked_append(path, build, create=create, fsync=self.fsync, on_written=on_written)
        except UnsafeLogError as exc:
            # One session's log is unusable; the store is not down (an
            # exporter would otherwise hold every session's writes back).
            raise SessionCorruptedError(f"cannot write session log {path}: {exc}") from exc
        except OSError as exc:
            raise StoreUnavailableError(f"cannot write session log {path}: {exc}") from exc

    def _io(self, func: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs) -> _T:
        try:
            return func(*args, **kwargs)
        except UnsafeLogError as exc:
            raise SessionCorruptedError(f"file store {self._dir}: {exc}") from exc
        except OSError as exc:
            raise StoreUnavailableError(f"file store {self._dir}: {exc}") from exc

    def _read(self, func: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs) -> _T:
        """``_io`` for reading one log: a log this process may not read is that
        session's problem, not the store's (its other sessions still read)."""
        try:
            return self._io(func, *args, **kwargs)
        except StoreUnavailableError as exc:
            if isinstance(exc.__cause__, PermissionError):
                raise SessionCorruptedError(str(exc)) from exc.__cause__
            raise

    def _ensure_directory(self) -> None:
        try:
            os.makedirs(self._dir, exist_ok=True)
        except OSError as exc:
            raise StoreUnavailableError(
                f"cannot create store directory {self._dir}: {exc}"
            ) from exc

    def _written(self, session_id: str, key: FileKey, size: int) -> _Written:
        with self._lock:
            written = self._memo.get(session_id)
        if written is None or written.key != key:
            return _Written(key)
        if written.end != size:  # someone else appended: only the times still hold
            return _Written(key, -1, written.created, written.updated)
        return written

    def _remember(self, session_id: str, pending: list[_Written], end: int) -> None:
        # ``pending`` holds what the last ``build`` decided to write.
        pending[-1].end = end
        with self._lock:
            self._memo[session_id] = pending[-1]
            self._memo.move_to_end(session_id)
            while len(self._memo) > _MEMO_SIZE:
                self._memo.popitem(last=False)


def create_file_session_store(
    directory: str | Path = "./sessions", *, fsync: bool = False
) -> FileSessionStore:
    """A file store in ``directory`` (created if missing)."""
    return FileSessionStore(directory, fsync=fsync)
