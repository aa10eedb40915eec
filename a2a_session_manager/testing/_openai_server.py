"""A local OpenAI-compatible HTTP server for tests, demos and examples.

The real ``openai`` client talks to it over real HTTP on 127.0.0.1, so what is
tested or demonstrated is the client's own request building, SSE decoding,
retries and errors, with no network and no API key::

    import openai
    from a2a_session_manager.testing import LocalOpenAIServer, Reply, ToolCall

    with LocalOpenAIServer() as server:
        # script an agent loop: first a tool call, then the final answer
        server.queue(
            Reply(tool_calls=[ToolCall("get_weather", {"location": "Paris"})]),
            Reply("It is sunny in Paris."),
        )
        client = openai.OpenAI(base_url=server.base_url, api_key="test", max_retries=0)
        first = client.chat.completions.create(model="gpt-4o-mini", messages=[...])
        ...
        server.requests[-1].body  # every request received, parsed from JSON

From a shell: ``python -m a2a_session_manager.testing [--port N]`` prints the
base_url and serves until Ctrl-C.

What it speaks, with bodies shaped like recorded OpenAI responses:

- ``POST /v1/chat/completions``: a ``chat.completion`` object, or with
  ``"stream": true`` an SSE stream of ``chat.completion.chunk`` objects
  (``data: {...}`` lines, ``data: [DONE]`` last; tool-call arguments arrive in
  small deltas; a final usage chunk when ``stream_options.include_usage``).
- ``POST /v1/responses``: a ``response`` object, or the Responses SSE events
  (``response.created`` ... ``response.output_text.delta`` ...
  ``response.completed``).
- Azure's paths (``.../deployments/{name}/chat/completions``) are answered alike.

Replies come from a queue (``queue(Reply(...), ErrorReply(429), ...)``), one per
request in order; with the queue empty the answer is ``Reply("This is a
test.")``. A ``Reply`` carries text and/or tool calls (arguments given as a
value are sent as JSON; given as a ``str`` they are sent verbatim, malformed or
not), and can ``delay`` its answer, ``stall_after`` N stream events for
``stall`` seconds (a read timeout mid-stream), or ``cut_after`` N stream events (the
socket is closed mid-body, as a broken connection would). A chat request with
``n`` > 1 gets that many choices (JSON only): the reply's, then its
``alternatives``. ``ErrorReply`` answers with an OpenAI error body (404 model
not found, 429 with ``retry-after``, 500, ...). The model
``this-model-does-not-exist`` gets the 404 (chat) or 400 (responses) that the
real API sends.

Incoming requests are validated like the real API does (400
``invalid_request_error``): a model and non-empty messages are required, roles
are checked, a ``tool`` message must answer a ``tool_calls`` id of the
assistant message before it, every such id must be answered, tool-call
arguments must be strings, and ``stream_options`` needs ``stream``.
Token usage is counted exactly with the package's offline tokenizer unless the
reply sets it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import secrets
import socket
import threading
import time
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self

from a2a_session_manager.tokens import count_chat_tokens, count_tokens

logger = logging.getLogger(__name__)

UNKNOWN_MODEL = "this-model-does-not-exist"
DEFAULT_TEXT = "This is a test."
_Event = tuple[str | None, Any]  # (SSE event name, data)
_ROLES = ("system", "developer", "user", "assistant", "tool", "function")


@dataclass(frozen=True)
class ToolCall:
    """One tool call the model asks for. ``arguments`` given as a ``str`` is sent verbatim."""

    name: str
    arguments: Any = field(default_factory=dict)
    id: str | None = None

    def arguments_text(self) -> str:
        if isinstance(self.arguments, str):
            return self.arguments
        return json.dumps(self.arguments, ensure_ascii=False)


@dataclass(frozen=True)
class Reply:
    """A successful answer: text and/or tool calls, shaped for whichever endpoint asked."""

    content: str | None = None
    tool_calls: Sequence[ToolCall] = ()
    finish_reason: str | None = None  # default: "tool_calls" with tool calls, else "stop"
    model: str | None = None  # default: the requested model
    prompt_tokens: int | None = None  # default: counted from the request
    completion_tokens: int | None = None  # default: counted from the reply
    cached_tokens: int = 0
    reasoning_tokens: int = 0
    chunk_chars: int = 4  # characters per streamed text/arguments delta
    cut_after: int | None = None  # close the socket after this many stream events
    alternatives: Sequence[str] = ()  # texts of choices 1.. when a chat request asks n > 1
    stall_after: int | None = None  # pause the stream after this many events ...
    stall: float = 0.0  # ... for this many seconds
    delay: float = 0.0  # seconds to wait before answering


@dataclass(frozen=True)
class ErrorReply:
    """An OpenAI error response; empty fields take the values the real API uses."""

    status: int = 500
    message: str | None = None
    type: str | None = None
    code: str | None = None
    param: str | None = None
    retry_after: float | None = None


@dataclass(frozen=True)
class ReceivedRequest:
    """A request as the server received it: header names lower-cased, ``body`` the
    parsed JSON (None when the body is not JSON)."""

    method: str
    path: str
    headers: Mapping[str, str]
    body: Any
    raw: bytes


_ERROR_DEFAULTS: dict[int, tuple[str, str, str | None]] = {
    400: ("Bad request.", "invalid_request_error", None),
    401: ("Incorrect API key provided.", "invalid_request_error", "invalid_api_key"),
    404: (
        f"The model `{UNKNOWN_MODEL}` does not exist or you do not have access to it.",
        "invalid_request_error",
        "model_not_found",
    ),
    429: (
        "Rate limit reached for gpt-4o-mini on requests per min (RPM): Limit 3, Used 3, "
        "Requested 1. Please try again in 20s.",
        "requests",
        "rate_limit_exceeded",
    ),
    500: (
        "The server had an error while processing your request. Sorry about that!",
        "server_error",
        None,
    ),
    503: ("The engine is currently overloaded, please try again later.", "server_error", None),
}


def _error_body(reply: ErrorReply) -> dict[str, Any]:
    message, kind, code = _ERROR_DEFAULTS.get(reply.status, ("Error.", "server_error", None))
    return {
        "error": {
            "message": reply.message if reply.message is not None else message,
            "type": reply.type if reply.type is not None else kind,
            "param": reply.param,
            "code": reply.code if reply.code is not None else code,
        }
    }


class _InvalidRequest(Exception):
    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param


def _new_id(prefix: str) -> str:
    return prefix + secrets.token_hex(12)


def _pieces(text: str, size: int) -> Iterator[str]:
    size = max(1, size)
    for start in range(0, len(text), size):
        yield text[start : start + size]


# -- request validation (what the real API rejects with 400) -------------------


def _validate_chat(body: Mapping[str, Any]) -> None:
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise _InvalidRequest("you must provide a model parameter", "model")
    messages = body.get("messages")
    if not isinstance(messages, list):
        raise _InvalidRequest("Missing required parameter: 'messages'.", "messages")
    if not messages:
        raise _InvalidRequest("[] is too short - 'messages'", "messages")
    if body.get("stream_options") is not None and body.get("stream") is not True:
        raise _InvalidRequest(
            "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
            "stream_options",
        )
    pending: dict[str, int] = {}  # tool_call id -> index of the assistant message
    for i, message in enumerate(messages):
        if not isinstance(message, Mapping):
            raise _InvalidRequest(f"Invalid type for 'messages[{i}]': expected an object.")
        role = message.get("role")
        if role not in _ROLES:
            raise _InvalidRequest(
                f"Invalid value: {role!r}. Supported values are: 'system', 'assistant', "
                "'user', 'function', 'tool', and 'developer'.",
                f"messages[{i}].role",
            )
        if role != "tool" and pending:
            raise _InvalidRequest(
                "An assistant message with 'tool_calls' must be followed by tool messages "
                "responding to each 'tool_call_id'. The following tool_call_ids did not have "
                f"response messages: {', '.join(pending)}",
                f"messages.[{min(pending.values())}].role",
            )
        content = message.get("content")
        if role in ("system", "developer", "user"):
            if content is None:
                raise _InvalidRequest(f"Missing required parameter: 'messages[{i}].content'.")
            if not isinstance(content, str | list):
                raise _InvalidRequest(
                    f"Invalid type for 'messages[{i}].content': expected one of a string or "
                    "array of objects."
                )
        elif role == "assistant":
            calls = message.get("tool_calls")
            if content is None and not calls and message.get("function_call") is None:
                raise _InvalidRequest(
                    f"Missing required parameter: 'messages[{i}].content'.",
                    f"messages.[{i}].content",
                )
            for j, call in enumerate(calls or ()):
                where = f"messages[{i}].tool_calls[{j}]"
                if not isinstance(call, Mapping) or not isinstance(call.get("id"), str):
                    raise _InvalidRequest(f"Missing required parameter: '{where}.id'.")
                function = call.get("function")
                if not isinstance(function, Mapping) or not isinstance(function.get("name"), str):
                    raise _InvalidRequest(f"Missing required parameter: '{where}.function.name'.")
                if not isinstance(function.get("arguments"), str):
                    raise _InvalidRequest(
                        f"Invalid type for '{where}.function.arguments': expected a string, "
                        "but got an object instead."
                    )
                pending[call["id"]] = i
        elif role == "tool":
            call_id = message.get("tool_call_id")
            if not isinstance(call_id, str):
                raise _InvalidRequest(f"Missing required parameter: 'messages[{i}].tool_call_id'.")
            if call_id not in pending:
                raise _InvalidRequest(
                    "Invalid parameter: messages with role 'tool' must be a response to a "
                    "preceeding message with 'tool_calls'.",
                    f"messages.[{i}].role",
                )
            del pending[call_id]
    if pending:
        raise _InvalidRequest(
            "An assistant message with 'tool_calls' must be followed by tool messages "
            "responding to each 'tool_call_id'. The following tool_call_ids did not have "
            f"response messages: {', '.join(pending)}",
            f"messages.[{min(pending.values())}].role",
        )
    for j, tool in enumerate(body.get("tools") or ()):
        function = tool.get("function") if isinstance(tool, Mapping) else None
        if not isinstance(function, Mapping) or not isinstance(function.get("name"), str):
            raise _InvalidRequest(f"Missing required parameter: 'tools[{j}].function'.")


def _validate_responses(body: Mapping[str, Any]) -> None:
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise _InvalidRequest("Missing required parameter: 'model'.", "model")
    items = body.get("input")
    if items is None or isinstance(items, str):
        return
    if not isinstance(items, list):
        raise _InvalidRequest("Invalid type for 'input': expected a string or an array.", "input")
    calls: set[str] = set()
    for item in items:
        if not isinstance(item, Mapping):
            raise _InvalidRequest("Invalid type for 'input' item: expected an object.", "input")
        kind = item.get("type")
        if kind == "function_call":
            calls.add(str(item.get("call_id")))
        elif (
            kind == "function_call_output"
            and body.get("previous_response_id") is None
            and item.get("call_id") not in calls
        ):
            raise _InvalidRequest(
                f"No tool call found for function call output with call_id {item.get('call_id')}.",
                "input",
            )


# -- token counting ----------------------------------------------------------


def _responses_as_chat(body: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The Responses input as chat messages, only to count its tokens."""
    messages: list[dict[str, Any]] = []
    if isinstance(body.get("instructions"), str):
        messages.append({"role": "system", "content": body["instructions"]})
    items = body.get("input")
    if isinstance(items, str):
        return [*messages, {"role": "user", "content": items}]
    for item in items or ():
        kind = item.get("type", "message")
        if kind == "message":
            content = item.get("content")
            if isinstance(content, list):
                content = [{"text": p.get("text")} for p in content if isinstance(p, Mapping)]
            messages.append({"role": item.get("role", "user"), "content": content})
        elif kind == "function_call":
            function = {"name": item.get("name", ""), "arguments": item.get("arguments", "")}
            messages.append({"role": "assistant", "tool_calls": [{"function": function}]})
        elif kind == "function_call_output":
            output = item.get("output")
            messages.append(
                {"role": "tool", "content": output, "tool_call_id": item.get("call_id")}
            )
    return messages


def _safe_count(count: Any, *args: Any) -> int:
    try:
        return int(count(*args))
    except Exception:  # a demo server must answer even when it cannot count
        logger.debug("token counting failed", exc_info=True)
        return 0


# -- the server ---------------------------------------------------------------


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    owner: LocalOpenAIServer

    def __init__(self, address: tuple[str, int], owner: LocalOpenAIServer) -> None:
        self.owner = owner
        self.open_sockets: set[socket.socket] = set()
        self.sockets_lock = threading.Lock()
        super().__init__(address, _Handler)

    def get_request(self) -> tuple[socket.socket, Any]:
        conn, address = super().get_request()
        with self.sockets_lock:
            self.open_sockets.add(conn)
        return conn, address

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hangs up mid-request (a test's timeout, stop()) is routine here.
        logger.debug("local openai server: request from %s failed", client_address, exc_info=True)

    def shutdown_request(self, request: Any) -> None:
        with self.sockets_lock:
            self.open_sockets.discard(request)
        super().shutdown_request(request)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; with Nagle's algorithm the
    # second waits for the client's delayed ACK (about 40 ms per response).
    disable_nagle_algorithm = True
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("local openai server: " + format, *args)

    def do_POST(self) -> None:
        self.server.owner._handle(self)

    def do_GET(self) -> None:
        self.server.owner._handle(self)


class LocalOpenAIServer:
    """An OpenAI-compatible HTTP server on 127.0.0.1, in a background thread."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, validate: bool = True) -> None:
        self.host = host
        self.port = port
        self.validate = validate
        self.unknown_models: set[str] = {UNKNOWN_MODEL}
        self._replies: deque[Reply | ErrorReply] = deque()
        self._requests: list[ReceivedRequest] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle --
    def start(self) -> Self:
        if self._httpd is not None:
            return self
        self._stopping.clear()
        self._httpd = _HTTPServer((self.host, self.port), self)
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"local-openai-server:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close every open connection (idempotent)."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        self._stopping.set()
        httpd.shutdown()
        with httpd.sockets_lock:
            sockets = list(httpd.open_sockets)
        for conn in sockets:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """The ``base_url`` to give the ``openai`` client (ends in ``/v1``)."""
        return f"http://{self.host}:{self.port}/v1"

    # -- scripting --
    def queue(self, *replies: Reply | ErrorReply) -> None:
        """Answer the next requests with ``replies``, in order."""
        with self._lock:
            self._replies.extend(replies)

    @property
    def pending(self) -> int:
        """Queued replies not used yet."""
        with self._lock:
            return len(self._replies)

    @property
    def requests(self) -> list[ReceivedRequest]:
        """Every request received so far, oldest first (a copy)."""
        with self._lock:
            return list(self._requests)

    def clear(self) -> None:
        """Forget queued replies and received requests."""
        with self._lock:
            self._replies.clear()
            self._requests.clear()

    # -- request handling (runs in the server's threads) --
    def _handle(self, handler: _Handler) -> None:
        try:
            self._answer(handler)
        except OSError:  # the client went away; nothing to answer
            handler.close_connection = True

    def _receive(self, handler: _Handler) -> tuple[str, Any]:
        """Read and keep the request; its path (no query) and its JSON body (None if not JSON)."""
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        path = handler.path.split("?", 1)[0].rstrip("/")
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = None
        headers = {name.lower(): value for name, value in handler.headers.items()}
        with self._lock:
            self._requests.append(ReceivedRequest(handler.command, path, headers, body, raw))
        return path, body

    def _next_reply(self, handler: _Handler) -> Reply | None:
        """The next queued reply; None when it was an error (sent) or a delay cut short."""
        with self._lock:
            reply = self._replies.popleft() if self._replies else Reply(DEFAULT_TEXT)
        if isinstance(reply, ErrorReply):
            self._send_error(handler, reply)
            return None
        if reply.delay and self._stopping.wait(reply.delay):
            handler.close_connection = True
            return None
        return reply

    def _answer(self, handler: _Handler) -> None:
        path, body = self._receive(handler)
        # Azure puts the deployment in the path: /openai/deployments/{name}/chat/completions
        chat = path.endswith("/chat/completions")
        if handler.command != "POST" or not (chat or path.endswith("/responses")):
            message = f"Invalid URL ({handler.command} {path})"
            self._send_error(handler, ErrorReply(404, message, "invalid_request_error", ""))
            return
        if not isinstance(body, dict):
            message = (
                "We could not parse the JSON body of your request. (HINT: This likely means "
                "you aren't using your HTTP library correctly. The OpenAI API expects a JSON "
                "payload, but what was sent was not valid JSON.)"
            )
            self._send_error(handler, ErrorReply(400, message, "invalid_request_error"))
            return
        if self.validate:
            try:
                (_validate_chat if chat else _validate_responses)(body)
            except _InvalidRequest as invalid:
                rejection = ErrorReply(400, invalid.message, param=invalid.param)
                self._send_error(handler, rejection)
                return
        if body.get("model") in self.unknown_models:
            self._send_error(handler, self._unknown_model(body["model"], chat))
            return
        reply = self._next_reply(handler)
        if reply is None:
            return
        stream = body.get("stream") is True
        if chat and stream:
            events = self._chat_chunks(body, reply)
            self._send_events(handler, events, reply.cut_after, reply.stall_after, reply.stall)
        elif chat:
            self._send_json(handler, 200, self._chat_completion(body, reply), reply.cut_after)
        elif stream:
            events = self._responses_events(body, reply)
            self._send_events(handler, events, reply.cut_after, reply.stall_after, reply.stall)
        else:
            self._send_json(handler, 200, self._response(body, reply, "completed"), reply.cut_after)

    @staticmethod
    def _unknown_model(model: str, chat: bool) -> ErrorReply:
        if chat:
            message = f"The model `{model}` does not exist or you do not have access to it."
            return ErrorReply(404, message, "invalid_request_error", "model_not_found")
        message = f"The requested model '{model}' does not exist."
        return ErrorReply(400, message, "invalid_request_error", "model_not_found", "model")

    # -- wire formats --
    def _send_json(
        self,
        handler: _Handler,
        status: int,
        body: Any,
        cut_after: int | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.send_header("x-request-id", _new_id("req_"))
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.end_headers()
        if cut_after is not None:  # a non-stream body cut: half of it, then the socket closes
            handler.wfile.write(data[: len(data) // 2])
            self._abort(handler)
            return
        handler.wfile.write(data)

    def _send_error(self, handler: _Handler, reply: ErrorReply) -> None:
        headers = {}
        if reply.retry_after is not None:
            headers["retry-after"] = f"{reply.retry_after:g}"
        self._send_json(handler, reply.status, _error_body(reply), headers=headers)

    def _send_events(
        self,
        handler: _Handler,
        events: list[tuple[str | None, Any]],
        cut_after: int | None,
        stall_after: int | None = None,
        stall: float = 0.0,
    ) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "text/event-stream; charset=utf-8")
        handler.send_header("Transfer-Encoding", "chunked")
        handler.send_header("Cache-Control", "no-cache")
        handler.send_header("x-request-id", _new_id("req_"))
        handler.end_headers()
        for sent, (name, data) in enumerate(events):
            if sent == stall_after and self._stopping.wait(stall):
                self._abort(handler)  # stopped while stalled
                return
            if cut_after is not None and sent >= cut_after:
                self._abort(handler)
                return
            text = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
            block = (f"event: {name}\n" if name else "") + f"data: {text}\n\n"
            payload = block.encode("utf-8")
            handler.wfile.write(b"%x\r\n%s\r\n" % (len(payload), payload))
            handler.wfile.flush()
        handler.wfile.write(b"0\r\n\r\n")

    @staticmethod
    def _abort(handler: _Handler) -> None:
        """Close the connection mid-body: the client sees an incomplete response."""
        handler.wfile.flush()
        handler.close_connection = True
        with contextlib.suppress(OSError):
            handler.connection.shutdown(socket.SHUT_RDWR)

    # -- chat completions --
    @staticmethod
    def _calls(reply: Reply) -> list[tuple[str, ToolCall]]:
        return [(call.id or _new_id("call_"), call) for call in reply.tool_calls]

    @staticmethod
    def _finish_reason(reply: Reply) -> str:
        if reply.finish_reason is not None:
            return reply.finish_reason
        return "tool_calls" if reply.tool_calls else "stop"

    @staticmethod
    def _completion_tokens(reply: Reply, model: str) -> int:
        if reply.completion_tokens is not None:
            return reply.completion_tokens
        total = _safe_count(count_tokens, reply.content or "", model)
        for call in reply.tool_calls:
            total += _safe_count(count_tokens, call.name, model)
            total += _safe_count(count_tokens, call.arguments_text(), model)
        return total

    def _chat_usage(self, body: Mapping[str, Any], reply: Reply) -> dict[str, Any]:
        model = body["model"]
        prompt = reply.prompt_tokens
        if prompt is None:
            prompt = _safe_count(count_chat_tokens, body["messages"], model)
        completion = self._completion_tokens(reply, model)
        if reply.completion_tokens is None:
            for text in self._alternatives(body, reply):
                completion += _safe_count(count_tokens, text, model)
        return {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
            "prompt_tokens_details": {"cached_tokens": reply.cached_tokens, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": reply.reasoning_tokens,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        }

    def _chat_completion(self, body: Mapping[str, Any], reply: Reply) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": reply.content, "refusal": None}
        if reply.tool_calls:
            message["tool_calls"] = [
                {
                    "id": call_id,
                    "type": "function",
                    "function": {"name": call.name, "arguments": call.arguments_text()},
                }
                for call_id, call in self._calls(reply)
            ]
        choices = [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": self._finish_reason(reply),
            }
        ]
        for index, text in enumerate(self._alternatives(body, reply), start=1):
            other = {"role": "assistant", "content": text, "refusal": None}
            choices.append(
                {"index": index, "message": other, "logprobs": None, "finish_reason": "stop"}
            )
        return {
            "id": _new_id("chatcmpl-"),
            "object": "chat.completion",
            "created": int(time.time()),
            "model": reply.model or body["model"],
            "choices": choices,
            "usage": self._chat_usage(body, reply),
            "system_fingerprint": "fp_local",
        }

    @staticmethod
    def _alternatives(body: Mapping[str, Any], reply: Reply) -> list[str]:
        """The texts of choices 1.. (``n`` asked; each the reply's text unless given)."""
        n = body.get("n")
        count = n - 1 if isinstance(n, int) and n > 1 else 0
        given = list(reply.alternatives)[:count]
        return given + [reply.content or ""] * (count - len(given))

    def _chat_chunks(self, body: Mapping[str, Any], reply: Reply) -> list[tuple[str | None, Any]]:
        options = body.get("stream_options") or {}
        include_usage = bool(options.get("include_usage"))
        base = {
            "id": _new_id("chatcmpl-"),
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": reply.model or body["model"],
            "system_fingerprint": "fp_local",
        }

        def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> _Event:
            choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
            extra = {"usage": None} if include_usage else {}
            return None, {**base, "choices": [choice], **extra}

        first_content = "" if reply.content is not None else None
        events: list[tuple[str | None, Any]] = [
            chunk({"role": "assistant", "content": first_content, "refusal": None})
        ]
        for piece in _pieces(reply.content or "", reply.chunk_chars):
            events.append(chunk({"content": piece}))
        for index, (call_id, call) in enumerate(self._calls(reply)):
            function = {"name": call.name, "arguments": ""}
            opening = {"index": index, "id": call_id, "type": "function", "function": function}
            events.append(chunk({"tool_calls": [opening]}))
            for piece in _pieces(call.arguments_text(), reply.chunk_chars):
                delta = {"index": index, "function": {"arguments": piece}}
                events.append(chunk({"tool_calls": [delta]}))
        events.append(chunk({}, self._finish_reason(reply)))
        if include_usage:
            events.append((None, {**base, "choices": [], "usage": self._chat_usage(body, reply)}))
        events.append((None, "[DONE]"))
        return events

    # -- responses --
    def _output_items(self, reply: Reply) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        if reply.content is not None:
            text = {"type": "output_text", "annotations": [], "logprobs": [], "text": reply.content}
            items.append(
                {
                    "id": _new_id("msg_"),
                    "type": "message",
                    "status": "completed",
                    "content": [text],
                    "role": "assistant",
                }
            )
        for call_id, call in self._calls(reply):
            items.append(
                {
                    "id": _new_id("fc_"),
                    "type": "function_call",
                    "status": "completed",
                    "arguments": call.arguments_text(),
                    "call_id": call_id,
                    "name": call.name,
                }
            )
        return items

    def _response(
        self,
        body: Mapping[str, Any],
        reply: Reply,
        status: str,
        output: list[dict[str, Any]] | None = None,
        response_id: str | None = None,
    ) -> dict[str, Any]:
        model = body["model"]
        usage = None
        incomplete = None
        if status != "in_progress":
            prompt = reply.prompt_tokens
            if prompt is None:
                prompt = _safe_count(count_chat_tokens, _responses_as_chat(body), model)
            completion = self._completion_tokens(reply, model)
            usage = {
                "input_tokens": prompt,
                "input_tokens_details": {"cached_tokens": reply.cached_tokens},
                "output_tokens": completion,
                "output_tokens_details": {"reasoning_tokens": reply.reasoning_tokens},
                "total_tokens": prompt + completion,
            }
            if reply.finish_reason == "length":
                status, incomplete = "incomplete", {"reason": "max_output_tokens"}
        now = int(time.time())
        return {
            "id": response_id or _new_id("resp_"),
            "object": "response",
            "created_at": now,
            "status": status,
            "background": False,
            "completed_at": now if status == "completed" else None,
            "error": None,
            "incomplete_details": incomplete,
            "instructions": body.get("instructions"),
            "max_output_tokens": body.get("max_output_tokens"),
            "model": reply.model or model,
            "output": self._output_items(reply) if output is None else output,
            "parallel_tool_calls": True,
            "previous_response_id": body.get("previous_response_id"),
            "reasoning": {"effort": None, "summary": None},
            "service_tier": "default",
            "store": True,
            "temperature": body.get("temperature", 1.0),
            "text": {"format": {"type": "text"}, "verbosity": "medium"},
            "tool_choice": body.get("tool_choice", "auto"),
            "tools": body.get("tools") or [],
            "top_p": body.get("top_p", 1.0),
            "truncation": "disabled",
            "usage": usage,
            "user": None,
            "metadata": {},
        }

    def _responses_events(
        self, body: Mapping[str, Any], reply: Reply
    ) -> list[tuple[str | None, Any]]:
        response_id = _new_id("resp_")
        events: list[tuple[str | None, Any]] = []

        def emit(kind: str, **fields: Any) -> None:
            events.append((kind, {"type": kind, **fields, "sequence_number": len(events)}))

        started = self._response(body, reply, "in_progress", [], response_id)
        emit("response.created", response=started)
        emit("response.in_progress", response=started)
        items = self._output_items(reply)
        for index, item in enumerate(items):
            if item["type"] == "message":
                text = item["content"][0]["text"]
                empty = {**item, "status": "in_progress", "content": []}
                emit("response.output_item.added", item=empty, output_index=index)
                part = {"type": "output_text", "annotations": [], "logprobs": [], "text": ""}
                where = {"item_id": item["id"], "output_index": index, "content_index": 0}
                emit("response.content_part.added", **where, part=part)
                for piece in _pieces(text, reply.chunk_chars):
                    emit("response.output_text.delta", **where, delta=piece, logprobs=[])
                emit("response.output_text.done", **where, text=text, logprobs=[])
                emit("response.content_part.done", **where, part={**part, "text": text})
            else:
                empty = {**item, "status": "in_progress", "arguments": ""}
                emit("response.output_item.added", item=empty, output_index=index)
                where = {"item_id": item["id"], "output_index": index}
                for piece in _pieces(item["arguments"], reply.chunk_chars):
                    emit("response.function_call_arguments.delta", **where, delta=piece)
                emit("response.function_call_arguments.done", **where, arguments=item["arguments"])
            emit("response.output_item.done", item=item, output_index=index)
        final = self._response(body, reply, "completed", items, response_id)
        kind = "response.completed" if final["status"] == "completed" else "response.incomplete"
        emit(kind, response=final)
        return events
