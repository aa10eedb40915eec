"""The file store's index: ``.index.jsonl`` beside the logs (no log name
starts with a dot), one JSON line per write, folded by readers into a
``SummaryIndex``::

    {"i":id,"c":created,"u":updated,"p":parent,"s":{props},"x":[removed],
     "n":events,"t":tokens,"$":cost,"!":1}     a write (every key but "i" optional;
                                              times in microseconds since the epoch;
                                              n, t, $ are added, ! is sticky)
    {"i":id,"=":1, ...}                       the whole summary (after compaction)
    {"i":id,"d":1}                            the session was deleted

Appends take the same lock and torn-tail repair as the logs (``_file_log``).
A reader keeps what it folded and reads only the lines added since; when the
file holds many more lines than sessions it is compacted (one line per
session, renamed over the old file under its lock). A directory written
before the index existed is indexed from its logs when the index is first
needed.

Writers that never read check the file each time it grows by 8 MiB, so it
stays within a few times one line per session whoever uses the store.

An event written twice (a replayed batch, or replaced in place) counts once,
as its newest value, when the same store object wrote both (``_event_ledger``).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from a2a_session_manager.storage._after_fork import renew_locks_after_fork
from a2a_session_manager.storage._file_log import (
    FileKey,
    locked_append,
    locked_replace,
    read_log_from,
)
from a2a_session_manager.storage._summary_index import SummaryIndex, SummaryUpdate
from a2a_session_manager.storage.query import SessionSummary, time_key

logger = logging.getLogger(__name__)

INDEX_NAME = ".index.jsonl"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_COMPACT_MIN_LINES = 10_000
_CHECK_BYTES = 8 << 20  # writers look at the index each time it grows this much


def _time(key: int) -> datetime:
    return _EPOCH + timedelta(microseconds=key)


def update_line(update: SummaryUpdate) -> bytes:
    doc: dict[str, Any] = {"i": update.session_id}
    if update.created is not None:
        doc["c"] = time_key(update.created)
    if update.updated is not None:
        doc["u"] = time_key(update.updated)
    if update.parent_id is not None:
        doc["p"] = update.parent_id
    if update.properties:
        doc["s"] = dict(update.properties)
    if update.removed_properties:
        doc["x"] = list(update.removed_properties)
    if update.events:
        doc["n"] = update.events
    if update.tokens:
        doc["t"] = update.tokens
    if update.cost:
        doc["$"] = update.cost
    if update.errors:
        doc["!"] = 1
    return _dump(doc)


def delete_line(session_id: str) -> bytes:
    return _dump({"i": session_id, "d": 1})


def summary_line(summary: SessionSummary) -> bytes:
    doc: dict[str, Any] = {
        "i": summary.id,
        "=": 1,
        "c": time_key(summary.created_at),
        "u": time_key(summary.updated_at),
        "s": dict(summary.properties),
        "n": summary.events,
        "t": summary.total_tokens,
        "$": summary.cost_usd,
    }
    if summary.parent_id is not None:
        doc["p"] = summary.parent_id
    if summary.has_errors:
        doc["!"] = 1
    return _dump(doc)


def _dump(doc: dict[str, Any]) -> bytes:
    # Properties were already made JSON-safe by the store's serializer.
    return json.dumps(doc, separators=(",", ":"), default=repr).encode() + b"\n"


def _fold(index: SummaryIndex, line: bytes) -> None:
    doc = json.loads(line)
    session_id = doc["i"]
    if doc.get("d"):
        index.remove(session_id)
        return
    created = _time(doc["c"]) if "c" in doc else None
    updated = _time(doc["u"]) if "u" in doc else None
    if doc.get("="):
        assert created is not None and updated is not None
        index.put(
            SessionSummary(
                id=session_id,
                created_at=created,
                updated_at=updated,
                parent_id=doc.get("p"),
                properties=doc.get("s", {}),
                events=doc.get("n", 0),
                total_tokens=doc.get("t", 0),
                cost_usd=doc.get("$", 0.0),
                has_errors=bool(doc.get("!")),
            )
        )
        return
    index.apply(
        SummaryUpdate(
            session_id,
            created,
            updated,
            parent_id=doc.get("p"),
            properties=doc.get("s", {}),
            removed_properties=doc.get("x", []),
            events=doc.get("n", 0),
            tokens=doc.get("t", 0),
            cost=doc.get("$", 0.0),
            errors=bool(doc.get("!")),
        )
    )


class FileIndex:
    """The index file of one store directory, and what this process folded of it.

    ``rebuild`` gives every session's summary from the logs (used once, for a
    directory that has logs but no index)."""

    def __init__(self, directory: str, rebuild: Callable[[], list[SessionSummary]]) -> None:
        self.path = os.path.join(directory, INDEX_NAME)
        self._rebuild = rebuild
        self._lock = threading.Lock()
        self._index = SummaryIndex()
        self._key: FileKey | None = None
        self._offset = 0
        self._lines = 0
        renew_locks_after_fork(self)

    def after_fork_in_child(self) -> None:
        # Another thread of the parent may have held the lock at the fork.
        self._lock = threading.Lock()

    def append(self, line: bytes) -> None:
        """Record one write (the caller maps ``OSError``)."""

        sizes: list[int] = []

        def build(size: int, _key: FileKey) -> bytes:
            sizes.append(size)
            if size == 0:
                # A new index: first what the logs already hold (this write
                # included: its log line is written before its index line).
                return b"".join(summary_line(s) for s in self._rebuild())
            return line

        locked_append(self.path, build, create=True, fsync=False)
        if line and sizes and (sizes[-1] + len(line)) // _CHECK_BYTES != sizes[-1] // _CHECK_BYTES:
            # A process that only writes never reads the index, so it checks
            # now and then whether the file wants compacting (read() does).
            with self._lock:
                self.read()

    def read(self) -> SummaryIndex:
        """The folded index, brought up to date; call with ``lock`` held."""
        found = read_log_from(self.path, self._offset)
        if found is None:
            try:
                self.append(b"")  # creates it from the logs
            except PermissionError:
                # A reader that may not write here: index the logs in memory.
                index = SummaryIndex()
                for summary in self._rebuild():
                    index.put(summary)
                return index
            found = read_log_from(self.path, 0)
            if found is None:
                return self._index
        key, data = found
        if key != self._key:
            if self._key is not None or self._offset:
                found = read_log_from(self.path, 0)  # replaced (compacted): read it whole
                if found is None:
                    return self._index
                key, data = found
            self._index = SummaryIndex()
            self._key, self._offset, self._lines = key, 0, 0
        end = data.rfind(b"\n") + 1  # an unfinished last line is not there yet
        for line in data[:end].splitlines():
            if not line:
                continue
            try:
                _fold(self._index, line)
            except (ValueError, KeyError, TypeError, AssertionError):
                logger.warning("file store index %s: skipping an unreadable line", self.path)
            self._lines += 1
        self._offset += end
        if self._lines > max(_COMPACT_MIN_LINES, 4 * len(self._index)):
            self._compact()
        return self._index

    @property
    def lock(self) -> threading.Lock:
        return self._lock

    def _compact(self) -> None:
        index = self._index

        def build(content: bytes) -> bytes:
            # Fold what was appended since this process last read, then
            # write one line per session.
            tail = content[self._offset :]
            for line in tail[: tail.rfind(b"\n") + 1].splitlines():
                if line:
                    with contextlib.suppress(ValueError, KeyError, TypeError, AssertionError):
                        _fold(index, line)
            lines = [summary_line(s) for s in map(index.get, list(index.ids())) if s]
            return b"".join(lines)

        try:
            locked_replace(self.path, build)
        except OSError:
            logger.warning("could not compact the file store index %s", self.path, exc_info=True)
            return
        # Read the compacted file whole next time (its key changed).
        self._index = SummaryIndex()
        self._key, self._offset, self._lines = None, 0, 0
        self.read()
