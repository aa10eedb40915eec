"""A remote agent in its own process, for the agent-to-agent tests.

    python tests/support/remote_agent.py STORE_URL [POLICY]

Configures the SDK to record into ``STORE_URL`` (``file://DIR`` or
``redis://...``) with ``configure(remote_sessions=...)`` set by ``POLICY``:
``deny`` (the default), ``allow``, or ``token:SECRET`` (a hook that accepts
a claim only from a caller whose ``Authorization`` header is ``Bearer
SECRET``, as a service that authenticates its callers would). Serves HTTP on
127.0.0.1 on a free port and prints that port on stdout.

``POST /agent`` with a JSON body ``{"session_id": str, "task": str}``
continues the caller's context from the request headers (``asm.extract``):
it opens ``asm.session(session_id, context=...)`` and a run that calls a tool
and records an event, and answers JSON: the session's id, parent id and
parent link as the SDK saw them, the ids of its ancestors and the
HIERARCHICAL prompt built for it (what this agent would send to its model),
and every span the request produced (name, trace id, span id, parent span
id) so the caller can check the trace was continued.

``POST /attached`` attaches the extracted context instead and records a run,
a tool call and an event with no session of its own; it answers the session
they were recorded in (``asm.current_session_id()``).

Everything is in the store before it answers. Exits on stdin EOF or SIGTERM.
"""

from __future__ import annotations

import contextvars
import json
import sys
import threading
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import a2a_session_manager as asm
from a2a_session_manager.prompts import PromptStrategy, build_prompt_from_session

_spans = InMemorySpanExporter()
# The request being served, for the token policy (a real service would keep
# its authenticated principal the same way).
_request_headers: contextvars.ContextVar[Mapping[str, str] | None] = contextvars.ContextVar(
    "request_headers", default=None
)


def _policy(spec: str) -> Any:
    if not spec.startswith("token:"):
        return spec  # "deny" or "allow"
    expected = "Bearer " + spec.removeprefix("token:")

    def accept_authenticated(session_id: str, context: Context) -> bool:
        headers = _request_headers.get()
        return headers is not None and headers.get("authorization") == expected

    return accept_authenticated


@asm.tool
def lookup(topic: str) -> str:
    return f"notes on {topic}"


def _span_record(span: ReadableSpan) -> dict[str, Any]:
    context = span.context
    assert context is not None
    return {
        "name": span.name,
        "trace_id": format(context.trace_id, "032x"),
        "span_id": format(context.span_id, "016x"),
        "parent_span_id": format(span.parent.span_id, "016x") if span.parent else None,
        "session_id": (span.attributes or {}).get("session.id"),
    }


def handle(headers: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
    _spans.clear()
    caller = asm.extract(headers)
    with (
        asm.session(str(body["session_id"]), context=caller) as session,
        asm.run("remote-agent") as run,
    ):
        answer = lookup(str(body.get("task", "")))
        asm.record_event({"answer": answer})
    stored = asm.SessionStoreProvider.get_store().get(session.id)
    assert stored is not None
    prompt = build_prompt_from_session(
        stored, PromptStrategy.HIERARCHICAL, include_parent_context=True
    )
    return {
        "session_id": session.id,
        "parent_id": session.parent_id,
        "parent_link": session.parent_link.value,
        "ancestors": [a.id for a in stored.ancestors()],
        "prompt": prompt,
        "run_id": run.id,
        "answer": answer,
        "spans": [_span_record(s) for s in _spans.get_finished_spans()],
    }


def handle_attached(headers: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
    _spans.clear()
    token = otel_context.attach(asm.extract(headers))
    try:
        with asm.run("attached-agent") as run:
            session_id = asm.current_session_id()
            answer = lookup(str(body.get("task", "")))
            asm.record_event({"answer": answer})
    finally:
        otel_context.detach(token)
    return {
        "session_id": session_id,
        "run_id": run.id,
        "spans": [_span_record(s) for s in _spans.get_finished_spans()],
    }


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        try:
            length = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(length))
            headers = {k.lower(): v for k, v in self.headers.items()}
            _request_headers.set(headers)
            handler = handle_attached if self.path == "/attached" else handle
            status, reply = 200, handler(headers, body)
        except Exception as exc:  # report to the test instead of dying
            status, reply = 500, {"error": f"{type(exc).__name__}: {exc}"}
        data = json.dumps(reply).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: the test reads stdout for the port only


def main() -> None:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(_spans))
    asm.configure(
        store=asm.create_store(sys.argv[1]),
        tracer_provider=provider,
        remote_sessions=_policy(sys.argv[2] if len(sys.argv) > 2 else "deny"),
    )
    server = HTTPServer(("127.0.0.1", 0), _Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(server.server_address[1], flush=True)
    sys.stdin.read()  # the parent closes stdin (or dies): stop
    server.shutdown()


if __name__ == "__main__":
    main()
