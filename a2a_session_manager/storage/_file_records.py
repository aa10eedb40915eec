"""The lines of a session log, and how a log reads back as a ``Session``.

Every line is a JSON object with one single-letter key naming the record:

    {"i":"<session id>"}          first line: the true id (file names may be hashed)
    {"m":{...SessionMetadata}}     merged in order with merge_metadata's rules
    {"y":["<key>",...]}            metadata properties removed
    {"p":"<parent id>"}            the latest one wins (a local link)
    {"l":"remote"}                 follows a "p" line whose parent a remote caller
                                   claimed ("remote" / "remote-trusted", see ParentLink)
    {"c":["<child id>",...]}       children added, {"x":[...]} children removed
    {"s":{...}}                    state, merged by key
    {"u":["<key>",...]}            state keys removed
    {"e":{...SessionEvent}}        an event; a later line with the same id replaces it in place
    {"r":{...SessionRun}}          a run, upserted by id

Records apply in the order of the lines, so for one key the last line wins.
The fixed frame ``{"k":`` ... ``}`` lets a reader slice each payload out
without parsing the line, so all events of a log are parsed in one pydantic
pass.
"""

from __future__ import annotations

import json
import operator
from collections.abc import Iterable
from typing import Any

from pydantic import RootModel, TypeAdapter, ValidationError

from a2a_session_manager.models.hierarchy import ParentLink
from a2a_session_manager.models.session import Session
from a2a_session_manager.models.session_event import SessionEvent
from a2a_session_manager.models.session_metadata import SessionMetadata
from a2a_session_manager.models.session_run import SessionRun
from a2a_session_manager.models.token_usage import TokenSummary
from a2a_session_manager.storage.changes import mark_persisted
from a2a_session_manager.storage.errors import SessionCorruptedError
from a2a_session_manager.storage.serialization import (
    events_from_json_lines,
    runs_from_json_lines,
    to_json,
)

_ID, _META, _PARENT, _LINK, _CHILDREN, _UNCHILD, _STATE, _EVENT, _RUN = b"implcxser"
_UNSET_STATE, _UNSET_PROPERTIES = b"uy"


_metadata_adapter = TypeAdapter(list[SessionMetadata])
_event_id = operator.attrgetter("id")
_token_usage = operator.attrgetter("token_usage")


class _State(RootModel[dict[str, Any]]):
    pass


def _line(kind: int, payload: str | bytes) -> bytes:
    body = payload.encode("utf-8") if isinstance(payload, str) else payload
    return b'{"' + bytes((kind,)) + b'":' + body + b"}\n"


def _json_str(value: Any) -> str:
    # ASCII escapes keep even ids with lone surrogates encodable (they round-trip).
    return json.dumps(value, separators=(",", ":"))


def id_line(session_id: str) -> bytes:
    return _line(_ID, _json_str(session_id))


def metadata_line(metadata: SessionMetadata) -> bytes:
    return _line(_META, to_json(metadata))


def parent_line(parent_id: str, link: ParentLink = ParentLink.LOCAL) -> bytes:
    line = _line(_PARENT, _json_str(parent_id))
    if link != ParentLink.LOCAL:
        line += _line(_LINK, _json_str(link.value))
    return line


def children_line(child_ids: list[str], *, removed: bool = False) -> bytes:
    return _line(_UNCHILD if removed else _CHILDREN, _json_str(child_ids))


def state_line(state: dict[str, Any]) -> bytes:
    return _line(_STATE, to_json(_State(state)))


def unset_state_line(keys: list[str]) -> bytes:
    return _line(_UNSET_STATE, _json_str(keys))


def unset_properties_line(keys: list[str]) -> bytes:
    return _line(_UNSET_PROPERTIES, _json_str(keys))


def event_lines(events: Iterable[SessionEvent]) -> bytes:
    return b"".join(_line(_EVENT, to_json(event)) for event in events)


def run_lines(runs: Iterable[SessionRun]) -> bytes:
    return b"".join(_line(_RUN, to_json(run)) for run in runs)


def id_from_first_line(line: bytes) -> str | None:
    """The id a log's first line records, or ``None`` if it is not an id record."""
    if not (line.startswith(b'{"i":') and line.endswith(b"}")):
        return None
    try:
        value = json.loads(line[5:-1])
    except ValueError:
        return None
    return value if isinstance(value, str) else None


def _split_complete_lines(data: bytes) -> list[bytes]:
    # An unterminated last line is a write that never finished: not part of the log.
    end = data.rfind(b"\n")
    return data[:end].split(b"\n") if end >= 0 else []


def _check_frame(line: bytes, lineno: int, where: str) -> None:
    if len(line) < 6 or line[:2] != b'{"' or line[3:5] != b'":' or line[-1:] != b"}":
        raise SessionCorruptedError(f"{where}: line {lineno} is not a log record")


def _json_payload(line: bytes, lineno: int, where: str) -> Any:
    try:
        return json.loads(line[5:-1])
    except ValueError as exc:
        raise SessionCorruptedError(f"{where}: line {lineno} is not valid JSON") from exc


def _str_list(value: Any, lineno: int, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise SessionCorruptedError(f"{where}: line {lineno} is not a list of ids")
    return value


def children_from_log(data: bytes, where: str) -> list[str]:
    """The children a log records, without parsing its events."""
    children: dict[str, None] = {}
    for lineno, line in enumerate(_split_complete_lines(data), 1):
        kind = line[2] if len(line) > 2 else -1
        if kind in (_CHILDREN, _UNCHILD):
            _check_frame(line, lineno, where)
            ids = _str_list(_json_payload(line, lineno, where), lineno, where)
            for child_id in ids:
                if kind == _CHILDREN:
                    children.setdefault(child_id, None)
                else:
                    children.pop(child_id, None)
    return list(children)


def parent_from_log(data: bytes) -> str | None:
    """The latest parent a log records when it is a local link (best effort:
    used when deleting, to unlink the child from its parent)."""
    start = len(data)
    while (start := data.rfind(b'\n{"p":', 0, start)) >= 0:
        end = data.find(b"\n", start + 1)
        if end >= 0:
            if data.startswith(b'{"l":', end + 1):
                return None  # claimed by a remote caller: the parent never knew the child
            try:
                value = json.loads(data[start + 6 : end - 1])
            except ValueError:
                return None
            return value if isinstance(value, str) else None
    return None


def session_from_log(data: bytes, session_id: str, where: str) -> Session | None:
    """The session a log holds, or ``None`` if it holds no complete record.

    Raises ``SessionCorruptedError`` for any complete line that cannot be read.
    """
    lines = _split_complete_lines(data)
    if not lines:
        return None
    if id_from_first_line(lines[0]) != session_id:
        raise SessionCorruptedError(f"{where}: first line does not record session {session_id!r}")

    event_payloads: list[bytes] = []
    run_payloads: list[bytes] = []
    run_linenos: list[int] = []
    meta_payloads: list[bytes] = []
    meta_linenos: list[int] = []
    # Property removals, each after how many metadata lines it came.
    unset_properties: list[tuple[int, list[str]]] = []
    parent_id: str | None = None
    parent_link = ParentLink.LOCAL
    children: dict[str, None] = {}
    state: dict[str, Any] = {}

    lineno = 1
    for line in lines[1:]:
        lineno += 1
        # Events are nearly every line: take them with the fewest checks
        # (a payload sliced from a damaged frame fails event validation).
        if line.startswith(b'{"e":'):
            event_payloads.append(line[5:-1])
            continue
        _check_frame(line, lineno, where)
        kind = line[2]
        if kind == _RUN:
            run_payloads.append(line[5:-1])
            run_linenos.append(lineno)
        elif kind == _META:
            meta_payloads.append(line[5:-1])
            meta_linenos.append(lineno)
        elif kind == _STATE:
            value = _json_payload(line, lineno, where)
            if not isinstance(value, dict):
                raise SessionCorruptedError(f"{where}: line {lineno} is not a state object")
            state.update(value)
        elif kind == _UNSET_STATE:
            for key in _str_list(_json_payload(line, lineno, where), lineno, where):
                state.pop(key, None)
        elif kind == _UNSET_PROPERTIES:
            keys = _str_list(_json_payload(line, lineno, where), lineno, where)
            unset_properties.append((len(meta_payloads), keys))
        elif kind == _PARENT:
            value = _json_payload(line, lineno, where)
            if not isinstance(value, str):
                raise SessionCorruptedError(f"{where}: line {lineno} is not a parent id")
            parent_id = value
            parent_link = ParentLink.LOCAL
        elif kind == _LINK:
            parent_link = ParentLink.parse(_json_payload(line, lineno, where))
        elif kind in (_CHILDREN, _UNCHILD):
            ids = _str_list(_json_payload(line, lineno, where), lineno, where)
            for child_id in ids:
                if kind == _CHILDREN:
                    children.setdefault(child_id, None)
                else:
                    children.pop(child_id, None)
        else:
            # A well-formed record of a kind this version does not know
            # (written by a newer version): skip it rather than fail.
            _json_payload(line, lineno, where)

    events, event_ids = _parse_events(event_payloads, lines, where)
    runs = _parse_runs(run_payloads, run_linenos, where)
    metadata = _fold_metadata(meta_payloads, meta_linenos, unset_properties, where)

    session = Session.model_construct(
        id=session_id,
        metadata=metadata,
        parent_id=parent_id,
        parent_link=parent_link,
        child_ids=list(children),
        task_ids=[],
        runs=runs,
        events=events,
        state=state,
        token_summary=TokenSummary.from_usages(map(_token_usage, events)),
    )
    mark_persisted(session, event_ids)
    return session


def events_from_lines(lines: list[bytes], where: str) -> list[SessionEvent]:
    """The events among complete lines of a log (its tail, for
    ``events_since``), each once where it first appears, with its last value.

    Raises ``SessionCorruptedError`` for a line that is not a record.
    """
    payloads: list[bytes] = []
    for lineno, line in enumerate(lines, 1):
        if line.startswith(b'{"e":'):
            payloads.append(line[5:-1])
        else:
            _check_frame(line, lineno, where)
    return _parse_events(payloads, lines, where)[0] if payloads else []


def _first_bad(payloads: list[bytes], linenos: list[int], model: type[Any]) -> int:
    for payload, lineno in zip(payloads, linenos, strict=True):
        try:
            model.model_validate_json(payload)
        except ValidationError:
            return lineno
    return linenos[0]


def _parse_events(
    payloads: list[bytes], lines: list[bytes], where: str
) -> tuple[list[SessionEvent], list[str]]:
    """The events of a log and their ids (taken once: also what was persisted)."""
    try:
        parsed = events_from_json_lines(payloads)
    except ValidationError as exc:
        # Line numbers are only needed now: not collected on the way.
        linenos = [n for n, line in enumerate(lines, 1) if line.startswith(b'{"e":')]
        lineno = _first_bad(payloads, linenos, SessionEvent)
        raise SessionCorruptedError(f"{where}: line {lineno} is not a valid event") from exc
    ids = list(map(_event_id, parsed))
    if len(set(ids)) == len(ids):
        return parsed, ids  # the usual log: every event written once
    events: list[SessionEvent] = []
    index: dict[str, int] = {}
    for event in parsed:
        position = index.get(event.id)
        if position is None:
            index[event.id] = len(events)
            events.append(event)
        else:
            events[position] = event
    return events, list(index)


def _parse_runs(payloads: list[bytes], linenos: list[int], where: str) -> list[SessionRun]:
    try:
        parsed = runs_from_json_lines(payloads)
    except ValidationError as exc:
        lineno = _first_bad(payloads, linenos, SessionRun)
        raise SessionCorruptedError(f"{where}: line {lineno} is not a valid run") from exc
    return list({run.id: run for run in parsed}.values())


def _fold_metadata(
    payloads: list[bytes],
    linenos: list[int],
    unset: list[tuple[int, list[str]]],
    where: str,
) -> SessionMetadata:
    # The same result as applying merge_metadata line by line, without
    # building one model per line.
    if not payloads:
        return SessionMetadata()
    try:
        records = _metadata_adapter.validate_json(b"[" + b",".join(payloads) + b"]")
    except ValidationError as exc:
        lineno = _first_bad(payloads, linenos, SessionMetadata)
        raise SessionCorruptedError(f"{where}: line {lineno} is not valid metadata") from exc
    properties: dict[str, Any] = {}
    removals = iter(unset)
    removal = next(removals, None)
    for done, record in enumerate(records):
        while removal is not None and removal[0] <= done:
            for key in removal[1]:
                properties.pop(key, None)
            removal = next(removals, None)
        properties.update(record.properties)
    while removal is not None:
        for key in removal[1]:
            properties.pop(key, None)
        removal = next(removals, None)
    return SessionMetadata(
        created_at=min(r.created_at for r in records),
        updated_at=max(r.updated_at for r in records),
        properties=properties,
    )
