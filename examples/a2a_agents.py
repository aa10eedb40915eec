"""Two agents over the A2A protocol, each its own process, one session tree.

- ``specialist`` (started here with ``subprocess``) is an a2a-sdk server on
  127.0.0.1. For each task it asks an LLM (the instrumented OpenAI client
  against a local OpenAI-compatible server), runs the ``get_weather`` tool
  the LLM asks for, asks again, and answers with an artifact.
- ``coordinator`` (this process) asks the specialist over A2A with the
  a2a-sdk client, streaming, inside its own session and run.

``configure(instrument=("a2a",))`` in both: every A2A call becomes the
conventions' ``SendStreamingMessage`` span on each side, the trace context
and the coordinator's session travel in the request headers, and the
specialist's work is recorded in the session of the A2A conversation
(``a2a-{contextId}``), a child of the coordinator's: the task is its run,
with its states, messages and artifacts as events. Both record into one
store; the tree printed at the end (the same as ``a2a-sessions tree``)
spans both agents, with time and cost per agent:

    python examples/a2a_agents.py                          # records into ./sessions
    python examples/a2a_agents.py --store redis://127.0.0.1:6379/0
    a2a-sessions --store file://./sessions tree <session id printed above>
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import threading
import uuid
from typing import Any

import httpx
import openai
import uvicorn
from a2a.client import ClientConfig, create_client
from a2a.helpers.proto_helpers import (
    get_artifact_text,
    new_task_from_user_message,
    new_text_message,
    new_text_part,
)
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
    Role,
    SendMessageRequest,
    StreamResponse,
    TaskState,
)
from starlette.applications import Starlette

import a2a_session_manager as asm
from a2a_session_manager.models.event_source import EventSource
from a2a_session_manager.reports import render_tree, session_tree
from a2a_session_manager.testing import LocalOpenAIServer, Reply, ToolCall

MODEL = "gpt-4o-mini"
WEATHER_TOOL: Any = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Today's weather in a city",
        "parameters": {
            "type": "object",
            "properties": {"location": {"type": "string"}},
            "required": ["location"],
        },
    },
}


# -- the specialist: another process, reached over A2A ------------------------


@asm.tool
def get_weather(location: str) -> dict[str, object]:
    return {"location": location, "forecast": "sunny", "celsius": 22}


class WeatherSpecialist(AgentExecutor):
    def __init__(self, llm: LocalOpenAIServer) -> None:
        self.llm = llm
        self.client = openai.AsyncOpenAI(base_url=llm.base_url, api_key="local", max_retries=0)

    async def execute(self, context: RequestContext, event_queue: EventQueue) -> None:
        assert context.message is not None and context.task_id and context.context_id
        await event_queue.enqueue_event(new_task_from_user_message(context.message))
        updater = TaskUpdater(event_queue, context.task_id, context.context_id)
        await updater.start_work()
        # The local server's script for this task: a tool call, then the answer.
        self.llm.queue(
            Reply(tool_calls=[ToolCall("get_weather", {"location": "Lisbon"})]),
            Reply("Lisbon today: sunny, 22 °C. Pack light, bring sunglasses."),
        )
        messages: list[Any] = [
            {"role": "system", "content": "You are a weather specialist."},
            {"role": "user", "content": context.get_user_input()},
        ]
        first = await self.client.chat.completions.create(
            model=MODEL,
            messages=messages,
            tools=[WEATHER_TOOL],
        )
        call = (first.choices[0].message.tool_calls or [])[0]
        forecast = get_weather(location="Lisbon")
        messages.append(first.choices[0].message.model_dump(exclude_none=True))
        messages.append({"role": "tool", "tool_call_id": call.id, "content": str(forecast)})
        second = await self.client.chat.completions.create(model=MODEL, messages=messages)
        answer = second.choices[0].message.content or ""
        await updater.add_artifact([new_text_part(answer)], name="forecast")
        await updater.complete()

    async def cancel(self, context: RequestContext, event_queue: EventQueue) -> None:
        assert context.task_id and context.context_id
        await TaskUpdater(event_queue, context.task_id, context.context_id).cancel()


def serve_specialist() -> None:
    """Serve A2A on a free 127.0.0.1 port, print the port, stop when stdin closes."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = int(sock.getsockname()[1])
    card = AgentCard(
        name="weather-specialist",
        description="Knows today's weather",
        version="1.0.0",
        supported_interfaces=[
            AgentInterface(
                protocol_binding="JSONRPC", url=f"http://127.0.0.1:{port}/", protocol_version="1.0"
            )
        ],
        capabilities=AgentCapabilities(streaming=True),
        default_input_modes=["text/plain"],
        default_output_modes=["text/plain"],
        skills=[
            AgentSkill(id="weather", name="weather", description="forecasts", tags=["weather"])
        ],
    )
    with LocalOpenAIServer() as llm:
        handler = DefaultRequestHandler(WeatherSpecialist(llm), InMemoryTaskStore(), card)
        app = Starlette(
            routes=[*create_agent_card_routes(card), *create_jsonrpc_routes(handler, "/")]
        )
        server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]})
        thread.start()
        while not server.started and thread.is_alive():
            threading.Event().wait(0.02)
        print(port, flush=True)
        sys.stdin.read()  # returns when the coordinator closes the pipe or dies
        server.should_exit = True
        thread.join()


# -- the coordinator ------------------------------------------------------------


async def coordinator(url: str) -> str:
    session_id = f"trip-{uuid.uuid4().hex[:12]}"
    async with httpx.AsyncClient(timeout=60) as http:
        client = await create_client(url, ClientConfig(streaming=True, httpx_client=http))
        with (
            asm.session(session_id, properties={"agent": "coordinator"}),
            asm.run("coordinator"),
        ):
            question = "What is the weather in Lisbon today?"
            asm.record_event(question, source=EventSource.USER)
            request = SendMessageRequest(message=new_text_message(question, role=Role.ROLE_USER))
            async for event in client.send_message(request):
                kind = event.WhichOneof("payload")
                if kind == "status_update":
                    print(f"specialist  > {_state(event)}")
                elif kind == "artifact_update":
                    answer = get_artifact_text(event.artifact_update.artifact)
                    print(f"specialist  > {answer}")
            asm.record_event(f"Forecast from the specialist: {answer}", source=EventSource.LLM)
    return session_id


def _state(event: StreamResponse) -> str:
    return str(TaskState.Name(event.status_update.status.state))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", default="file://./sessions", help="file:// or redis:// URL")
    parser.add_argument("--serve-specialist", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    # The specialist serves only the coordinator that started it, so it trusts
    # the session its caller names; a public agent would pass a policy hook
    # that authenticates the caller, or keep the default ("deny").
    handle = asm.configure(
        store=asm.create_store(args.store),
        instrument=("openai", "a2a"),
        remote_sessions="allow" if args.serve_specialist else "deny",
    )
    if args.serve_specialist:
        serve_specialist()
        handle.shutdown()  # what the specialist recorded is in the store now
        return

    child = subprocess.Popen(
        [sys.executable, __file__, "--serve-specialist", "--store", args.store],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        if not line.strip().isdigit():
            raise RuntimeError(f"the specialist did not start (exit code {child.poll()})")
        url = f"http://127.0.0.1:{int(line)}/"
        print(f"specialist agent: pid {child.pid}, {url} (coordinator pid {os.getpid()})")
        session_id = asyncio.run(coordinator(url))
    finally:
        assert child.stdin is not None
        child.stdin.close()  # the specialist stops, after storing what it recorded
        try:
            child.wait(timeout=30)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()

    store = asm.SessionStoreProvider.get_store()
    session = store.get(session_id)
    assert session is not None
    print(f"\nSession tree in {args.store}:")
    print(render_tree(session_tree(session, store)))
    for member in [session, *session.descendants(store)]:
        runs = ", ".join(
            f"{r.name} {r.status.value} {r.duration_seconds or 0:.2f}s" for r in member.runs
        )
        kinds = sorted({str(e.type) for e in member.events})
        print(f"  {member.id}: runs=[{runs}] parent={member.parent_id} events={kinds}")


if __name__ == "__main__":
    main()
