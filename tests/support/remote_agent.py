"""A remote agent in its own process, for the agent-to-agent tests.

    python tests/support/remote_agent.py STORE_URL

Configures the SDK to record into ``STORE_URL`` (``file://DIR`` or
``redis://...``), serves HTTP on 127.0.0.1 on a free port and prints that
port on stdout. ``POST /agent`` with a JSON body
``{"session_id": str, "task": str}`` continues the caller's context from the
request headers (``asm.extract``): it opens ``asm.session(session_id,
context=...)`` and a run that calls a tool and records an event, and answers
JSON: the session's id and parent id as the SDK saw them, and every span the
request produced (name, trace id, span id, parent span id) so the caller can
check the trace was continued. Everything is in the store before it answers.
Exits on stdin EOF or SIGTERM.
"""

from __future__ import annotations

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import a2a_session_manager as asm

_spans = InMemorySpanExporter()


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
    return {
        "session_id": session.id,
        "parent_id": session.parent_id,
        "run_id": run.id,
        "answer": answer,
        "spans": [_span_record(s) for s in _spans.get_finished_spans()],
    }


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        try:
            length = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(length))
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, reply = 200, handle(headers, body)
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
    asm.configure(store=asm.create_store(sys.argv[1]), tracer_provider=provider)
    server = HTTPServer(("127.0.0.1", 0), _Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(server.server_address[1], flush=True)
    sys.stdin.read()  # the parent closes stdin (or dies): stop
    server.shutdown()


if __name__ == "__main__":
    main()
