"""``with_streaming_response``: the reply recorded from the body the caller reads.

The client hands the caller an ``APIResponse`` whose body is not read yet;
every helper that reads it (``parse()``, ``read()``, ``json()``, ``text()``,
``iter_bytes()`` / ``iter_text()`` / ``iter_lines()``, and the ``Stream``
that ``parse()`` returns for ``stream=True``) pulls the bytes through the
HTTP response's byte stream. We put a recording byte stream in its place,
so whichever helper the caller uses, the bytes pass through us unchanged.

When the body ends (read to the end, failed, closed or dropped) the bytes
are parsed the way the client parses them: JSON into the same attributes as
a returned object; SSE events through the client's own ``Stream`` into the
same accumulator as a streamed call. A body cut or left half read is marked
interrupted, as a stream is (see ``_stream``). Parsing waits for the end:
while the caller reads, we only keep the bytes.
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, Protocol

from openai import Stream

from a2a_session_manager.instrumentation.openai._stream import (
    Accumulator,
    ChatAccumulator,
    StreamState,
)
from a2a_session_manager.telemetry._deferred_content import ContentProducer
from a2a_session_manager.telemetry._guard import internal_errors

_DONE = b"data: [DONE]"


class BodyCall(Protocol):
    """What ``_wrappers._Call`` offers to us."""

    span: Any
    stream: bool
    client: Any
    model: Any

    @property
    def api(self) -> Any: ...

    def accumulator(self) -> Accumulator: ...

    def request_content(self) -> ContentProducer: ...

    def end(self, response: Any) -> None: ...


class _Body:
    """The bytes read so far, and the one-time end of the call's span."""

    __slots__ = ("call", "chunks", "finished", "first_chunk_ns", "http_response")

    def __init__(self, call: BodyCall, http_response: Any) -> None:
        self.call = call
        self.http_response = http_response
        self.chunks: list[bytes] = []
        self.finished = False
        self.first_chunk_ns: int | None = None

    def add(self, chunk: bytes) -> None:
        if self.first_chunk_ns is None:
            self.first_chunk_ns = time.time_ns()
        self.chunks.append(chunk)

    def finish(self, error: BaseException | None = None, read_to_end: bool = False) -> None:
        if self.finished:
            return
        self.finished = True
        with internal_errors("recording a streamed response body"):
            self._record(error, read_to_end)

    def _record(self, error: BaseException | None, read_to_end: bool) -> None:
        call = self.call
        received = self._received()
        body: bytes = received.content if received is not None else b""
        state = StreamState(call.span, call.accumulator(), None, call.request_content())
        state.first_chunk_at(self.first_chunk_ns)
        if call.stream and received is not None:
            for event in _events(call, received):
                state.add(event)
            if _DONE in body and isinstance(state.accumulator, ChatAccumulator):
                state.accumulator.complete = True
        elif error is None and body:
            try:
                response = json.loads(body)
            except ValueError:
                response = None
            if isinstance(response, dict):
                state.finished = True
                call.end(response)
                return
        if error is not None:
            state.failed(error)
        elif read_to_end:
            state.end_of_stream()
        else:
            state.abandoned()

    def _received(self) -> Any:
        """What was read, as a complete response of the HTTP library with its
        content-encoding undone (None when a cut encoded body cannot be)."""
        raw = b"".join(self.chunks)
        self.chunks = []
        http = self.http_response
        cls = type(http)
        if "content-encoding" in http.headers:
            try:
                raw = cls(http.status_code, headers=http.headers, content=raw).content
            except Exception:  # a cut gzip body
                return None
        headers = [(k, v) for k, v in http.headers.items() if k.lower() != "content-encoding"]
        response = cls(http.status_code, headers=headers, content=raw)
        with contextlib.suppress(RuntimeError):  # a response built by hand has no request
            response.request = http.request
        return response


def _events(call: BodyCall, response: Any) -> Iterator[Any]:
    """The body's SSE events, parsed by the client's own ``Stream``; a
    half-received event at the end is not one."""
    events = Stream(cast_to=call.api.chunk_type, response=response, client=call.client)
    try:
        yield from events
    except Exception:  # an ``error`` event, or bytes that are not SSE: keep what came
        return


class _SyncRecordingStream:
    """Mixed into the HTTP library's ``SyncByteStream`` (see :func:`_stream_type`)."""

    def __init__(self, inner: Any, body: _Body) -> None:
        self._inner = inner
        self._body = body

    def __iter__(self) -> Iterator[bytes]:
        body = self._body
        try:
            for chunk in self._inner:
                body.add(chunk)
                yield chunk
        except GeneratorExit:  # the reader stopped early: ``close()`` decides
            raise
        except BaseException as error:
            body.finish(error)
            raise
        body.finish(read_to_end=True)

    def close(self) -> None:
        try:
            self._inner.close()
        finally:
            self._body.finish()

    def __del__(self) -> None:
        self._body.finish()


class _AsyncRecordingStream:
    """Mixed into the HTTP library's ``AsyncByteStream``."""

    def __init__(self, inner: Any, body: _Body) -> None:
        self._inner = inner
        self._body = body

    async def __aiter__(self) -> AsyncIterator[bytes]:
        body = self._body
        try:
            async for chunk in self._inner:
                body.add(chunk)
                yield chunk
        except GeneratorExit:
            raise
        except BaseException as error:
            body.finish(error)
            raise
        body.finish(read_to_end=True)

    async def aclose(self) -> None:
        try:
            await self._inner.aclose()
        finally:
            self._body.finish()

    def __del__(self) -> None:
        self._body.finish()


# (HTTP library's base class) -> our recording subclass of it. The response's
# ``iter_raw`` checks the stream against the library's own base classes, and
# the client may use httpx or its successor httpx2.
_stream_types: dict[type, type] = {}


def _stream_type(http_response: Any, stream: Any) -> Callable[[Any, _Body], Any] | None:
    library = sys.modules.get(type(http_response).__module__.partition(".")[0])
    for base_name, mixin in (
        ("SyncByteStream", _SyncRecordingStream),
        ("AsyncByteStream", _AsyncRecordingStream),
    ):
        base = getattr(library, base_name, None)
        if isinstance(base, type) and isinstance(stream, base):
            recording = _stream_types.get(base)
            if recording is None:
                recording = _stream_types[base] = type(f"Recording{base_name}", (mixin, base), {})
            return recording
    return None


def record_body(call: BodyCall, response: Any) -> bool:
    """Watch the body of ``response`` (an unread ``APIResponse``); ``False`` when
    it is not one we can watch (the span is then the caller's to end)."""
    http: Any = getattr(response, "http_response", None)
    stream = getattr(http, "stream", None)
    if stream is None or getattr(http, "is_stream_consumed", True) or http.is_closed:
        return False
    recording = _stream_type(http, stream)
    if recording is None:
        return False
    http.stream = recording(stream, _Body(call, http))
    return True
