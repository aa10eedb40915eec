"""An A2A agent in its own process: the real a2a-sdk server (Starlette,
JSON-RPC) on 127.0.0.1, instrumented by ``configure(instrument=("a2a",))``.

    python tests/support/a2a_agent.py STORE_URL SPANS_FILE [POLICY]

Records into ``STORE_URL`` and appends every finished span to ``SPANS_FILE``
(JSON lines: name, kind, attributes, trace/span/parent ids, status) so the
test can check them against the conventions. Prints its port on stdout and
exits on stdin EOF. What it does depends on the first word of the message:

``echo TEXT``   working, an artifact ``TEXT``, completed with a reply
``ask``         asks for input (input-required); the follow-up message on the
                same task completes it with an artifact of the answer
``fail``        working, then failed with a reason
``wait``        working, then waits to be canceled
``drop FLAG``   working, then, once the file FLAG exists, the process dies
                (the client's stream is cut mid-way)
``tool TEXT``   calls a recorded tool and completes
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import uvicorn
from a2a.helpers.proto_helpers import new_task_from_user_message, new_text_part
from a2a.server.agent_execution import AgentExecutor, RequestContext
from a2a.server.events import EventQueue
from a2a.server.request_handlers import DefaultRequestHandler
from a2a.server.routes import create_agent_card_routes, create_jsonrpc_routes
from a2a.server.tasks import InMemoryTaskStore, TaskUpdater
from a2a.types.a2a_pb2 import (
    AgentCapabilities,
    AgentCard,
    AgentInterface,
    AgentSkill,
    TaskState,
)
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from starlette.applications import Starlette

import a2a_session_manager as asm


class JsonLinesExporter(SpanExporter):
    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock = threading.Lock()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        with self.lock, self.path.open("a") as out:
            for span in spans:
                assert span.context is not None
                out.write(json.dumps(span_record(span)) + "\n")
        return SpanExportResult.SUCCESS


def span_record(span: ReadableSpan) -> dict[str, Any]:
    assert span.context is not None
    return {
        "name": span.name,
        "kind": span.kind.name,
        "attributes": {
            k: list(v) if isinstance(v, tuple) else v for k, v in (span.attributes or {}).items()
        },
        "trace_id": format(span.context.trace_id, "032x"),
        "span_id": format(span.context.span_id, "016x"),
        "parent_span_id": format(span.parent.span_id, "016x") if span.parent else None,
        "status": span.status.status_code.name,
    }


@asm.tool
def shout(text: str) -> str:
    return text.upper()


class ScriptedAgent(AgentExecutor):
    async def execute(self, context: RequestContext, event_queue: EventQueue) -> None:
        assert context.task_id is not None and context.context_id is not None
        updater = TaskUpdater(event_queue, context.task_id, context.context_id)
        text = context.get_user_input()
        word, _, rest = text.partition(" ")
        task = context.current_task
        if task is not None and task.status.state == TaskState.TASK_STATE_INPUT_REQUIRED:
            await updater.start_work()
            await updater.add_artifact([new_text_part(f"weather in {text}: sunny")], name="answer")
            await updater.complete()
            return
        if task is None:
            assert context.message is not None
            await event_queue.enqueue_event(new_task_from_user_message(context.message))
        await updater.start_work()
        if word == "echo":
            await updater.add_artifact([new_text_part(rest)], name="echo")
            await updater.complete(self._reply(updater, f"echoed {rest}"))
        elif word == "ask":
            await updater.requires_input(self._reply(updater, "which city?"))
        elif word == "fail":
            await updater.failed(self._reply(updater, "cannot do that"))
        elif word == "wait":
            await asyncio.sleep(120)
        elif word == "drop":
            while not Path(rest).exists():
                await asyncio.sleep(0.02)
            os._exit(3)
        elif word == "tool":
            await updater.add_artifact([new_text_part(shout(rest))], name="shout")
            await updater.complete()
        else:
            await updater.failed(self._reply(updater, f"unknown command {word!r}"))

    @staticmethod
    def _reply(updater: TaskUpdater, text: str) -> Any:
        return updater.new_agent_message([new_text_part(text)])

    async def cancel(self, context: RequestContext, event_queue: EventQueue) -> None:
        assert context.task_id is not None and context.context_id is not None
        await TaskUpdater(event_queue, context.task_id, context.context_id).cancel()


def app(port: int) -> Starlette:
    card = AgentCard(
        name="scripted-agent",
        description="Does what the test says",
        version="1.0.0",
        supported_interfaces=[
            AgentInterface(
                protocol_binding="JSONRPC", url=f"http://127.0.0.1:{port}/", protocol_version="1.0"
            )
        ],
        capabilities=AgentCapabilities(streaming=True),
        default_input_modes=["text/plain"],
        default_output_modes=["text/plain"],
        skills=[AgentSkill(id="script", name="script", description="scripted", tags=["test"])],
    )
    handler = DefaultRequestHandler(ScriptedAgent(), InMemoryTaskStore(), card)
    routes = [*create_agent_card_routes(card), *create_jsonrpc_routes(handler, "/")]
    return Starlette(routes=routes)


def main() -> None:
    store_url, spans_file = sys.argv[1], Path(sys.argv[2])
    policy = sys.argv[3] if len(sys.argv) > 3 else "deny"
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(JsonLinesExporter(spans_file)))
    asm.configure(
        store=asm.create_store(store_url),
        tracer_provider=provider,
        instrument=("a2a",),
        remote_sessions=policy,  # type: ignore[arg-type]
    )
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = int(sock.getsockname()[1])
    server = uvicorn.Server(uvicorn.Config(app(port), log_level="warning", lifespan="off"))
    threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True).start()
    while not server.started:
        threading.Event().wait(0.02)
    print(port, flush=True)
    sys.stdin.read()
    server.should_exit = True


if __name__ == "__main__":
    main()
