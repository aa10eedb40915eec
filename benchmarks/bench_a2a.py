"""The A2A instrumentation (issue 13): what recording an a2a-sdk client call
adds, next to a raw OpenTelemetry span around the same call (the floor) in
the same process, and what it adds per streamed event.

Run: python -m benchmarks.bench_a2a   (Markdown on stdout)

The a2a-sdk's own ``BaseClient`` runs over an in-process transport that
answers at once with a completed task (a message, a status, an artifact),
so network noise does not hide the instrumentation's cost. Variants are
interleaved in blocks; the added cost is the median variant minus the
median bare call. Spans go through the configured session processor into a
memory store, inside a session and run, as in an application.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from a2a.client import ClientConfig
from a2a.client.base_client import BaseClient
from a2a.client.transports.base import ClientTransport
from a2a.helpers.proto_helpers import new_text_message, new_text_part
from a2a.types.a2a_pb2 import (
    AgentCapabilities,
    AgentCard,
    AgentInterface,
    Artifact,
    Message,
    Role,
    SendMessageRequest,
    SendMessageResponse,
    StreamResponse,
    Task,
    TaskState,
    TaskStatus,
    TaskStatusUpdateEvent,
)
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import SpanKind

import a2a_session_manager as asm
from a2a_session_manager.instrumentation.a2a import A2AInstrumentor
from a2a_session_manager.storage import InMemorySessionStore
from benchmarks._timing import interleaved

CONTEXT_ID = "ctx-bench"
TASK = Task(
    id="task-bench",
    context_id=CONTEXT_ID,
    status=TaskStatus(
        state=TaskState.TASK_STATE_COMPLETED,
        message=new_text_message("done", role=Role.ROLE_AGENT, context_id=CONTEXT_ID),
    ),
    artifacts=[Artifact(artifact_id="a-1", name="answer", parts=[new_text_part("42")])],
)
STATUS = StreamResponse(
    status_update=TaskStatusUpdateEvent(
        task_id="task-bench",
        context_id=CONTEXT_ID,
        status=TaskStatus(state=TaskState.TASK_STATE_WORKING),
    )
)


def _transport(events: int) -> ClientTransport:
    """A transport answering at once: a task, or ``events`` status updates then the task."""

    async def send_message(self: Any, request: Any, *, context: Any = None) -> Any:
        return SendMessageResponse(task=TASK)

    async def send_message_streaming(
        self: Any, request: Any, *, context: Any = None
    ) -> AsyncIterator[StreamResponse]:
        for _ in range(events):
            yield STATUS
        yield StreamResponse(task=TASK)

    async def unused(self: Any, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError

    methods: dict[str, Any] = dict.fromkeys(ClientTransport.__abstractmethods__, unused)
    methods.update(send_message=send_message, send_message_streaming=send_message_streaming)
    cls = type("InstantTransport", (ClientTransport,), methods)
    return cls()  # type: ignore[no-any-return]


def _client(streaming: bool, events: int = 0) -> BaseClient:
    card = AgentCard(
        name="bench-agent",
        version="1.0.0",
        supported_interfaces=[AgentInterface(protocol_binding="JSONRPC", url="http://x:1/")],
        capabilities=AgentCapabilities(streaming=streaming),
    )
    return BaseClient(card, ClientConfig(streaming=streaming), _transport(events), [])


def _request() -> SendMessageRequest:
    # Built by hand: ``new_text_message`` draws a uuid4, slow here and the same in every variant.
    message = Message(message_id="m-1", role=Role.ROLE_USER, parts=[new_text_part("the answer?")])
    return SendMessageRequest(message=message)


def _variants(
    loop: asyncio.AbstractEventLoop, client: BaseClient, tracer: trace.Tracer
) -> dict[str, Callable[[], object]]:
    send = BaseClient.send_message
    bare = getattr(send, "__wrapped__", send)  # the a2a-sdk's own method, unwrapped

    async def drain(iterator: AsyncIterator[Any]) -> None:
        async for _ in iterator:
            pass

    async def raw() -> None:
        with tracer.start_as_current_span("SendMessage", kind=SpanKind.CLIENT):
            await drain(bare(client, _request()))

    return {
        "bare": lambda: loop.run_until_complete(drain(bare(client, _request()))),
        "raw": lambda: loop.run_until_complete(raw()),
        "ours": lambda: loop.run_until_complete(drain(client.send_message(_request()))),
    }


def main() -> str:
    store = InMemorySessionStore()
    provider = TracerProvider()
    handle = asm.configure(store=store, tracer_provider=provider)
    A2AInstrumentor().instrument(tracer_provider=provider)
    tracer = provider.get_tracer("bench")
    loop = asyncio.new_event_loop()
    rows = []
    try:
        with asm.session("bench-a2a"), asm.run("caller"):
            blocking = interleaved(
                _variants(loop, _client(streaming=False), tracer), calls=300, repeats=15
            )
            blocking_cpu = interleaved(  # the goal's measure: more repeats, steadier median
                _variants(loop, _client(streaming=False), tracer),
                calls=300,
                repeats=31,
                clock=time.thread_time_ns,
            )
            streams = {
                n: interleaved(
                    _variants(loop, _client(streaming=True, events=n), tracer),
                    calls=100,
                    repeats=11,
                    clock=time.thread_time_ns,
                )
                for n in (1, 101)
            }
    finally:
        loop.close()
        A2AInstrumentor().uninstrument()
        handle.shutdown()
    rows.append("| what | wall µs per call | caller's thread CPU µs |")
    rows.append("|---|---|---|")
    rows.append(
        f"| bare `send_message` (in-process transport) | {blocking['bare']:.1f} "
        f"| {blocking_cpu['bare']:.1f} |"
    )
    cells = []
    for measured in (blocking, blocking_cpu):
        raw_added = measured["raw"] - measured["bare"]
        ours_added = measured["ours"] - measured["bare"]
        cells.append((raw_added, ours_added, ours_added / raw_added))
    rows.append(
        f"| + a raw OTel span around it (the floor) | +{cells[0][0]:.1f} | +{cells[1][0]:.1f} |"
    )
    rows.append(
        "| + our instrumentation (`SendMessage` span, trace headers, what it carried) "
        f"| +{cells[0][1]:.1f} = **{cells[0][2]:.2f}×** the raw span "
        f"| +{cells[1][1]:.1f} = **{cells[1][2]:.2f}×** the raw span |"
    )
    per_event = (
        (streams[101]["ours"] - streams[101]["bare"]) - (streams[1]["ours"] - streams[1]["bare"])
    ) / 100
    rows.append(f"| streaming, added per streamed event | | +{per_event:.2f} |")
    rows.append("")
    rows.append(
        "Wall time includes the session exporter turning each span into events on its "
        "worker thread (on 2 shared cores it competes with the caller); the caller's "
        "thread CPU time is what the instrumentation itself costs the call."
    )
    return "\n".join(rows)


if __name__ == "__main__":
    print(main())
