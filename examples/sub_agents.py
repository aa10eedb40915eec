"""A parent agent delegating to child agents: a session hierarchy.

- ``coordinator`` (this process) opens the top session and a run.
- ``researcher`` runs in the same process, in a nested ``asm.session``: its
  session becomes a child of the coordinator's, and the ``fact-checker`` it
  calls a grandchild.
- ``translator`` runs in another process (started here with ``subprocess``)
  behind a small HTTP API on 127.0.0.1. The coordinator sends its context
  with ``asm.inject(headers)``; the translator opens its session with
  ``asm.session(context=asm.extract(headers))``, so its session records the
  coordinator's as its parent even though another process recorded it. A
  caller's session id is only a claim: the translator never writes into the
  coordinator's session, and reads it as a parent only because it trusts its
  one caller (``configure(remote_sessions="allow")``). The coordinator links
  the child on its own side (``add_child``) with the id the translator
  answered.

Every agent uses the instrumented OpenAI client against a local
OpenAI-compatible server (no network). Both processes record into the same
file store (several writers are safe: each session is an append-only log
under a file lock), and the hierarchy is printed as a tree at the end:

    python examples/sub_agents.py                          # records into ./sessions
    python examples/sub_agents.py --store file:///tmp/agents
    a2a-sessions --store file://./sessions tree <session id printed above>
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import urllib.request
import uuid
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import openai

import a2a_session_manager as asm
from a2a_session_manager.models.event_source import EventSource
from a2a_session_manager.reports import render_tree, session_tree
from a2a_session_manager.testing import LocalOpenAIServer, Reply

MODEL = "gpt-4o-mini"


def ask(client: openai.OpenAI, prompt: str) -> str:
    reply = client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": prompt}]
    )
    return reply.choices[0].message.content or ""


# -- the translator: another process, reached over HTTP ----------------------


def serve_translator() -> None:
    """Answer ``POST /translate``; print the port first. Stops on SIGTERM or
    when stdin closes, so it never outlives a coordinator that was killed."""
    with LocalOpenAIServer() as llm:
        client = openai.OpenAI(base_url=llm.base_url, api_key="local", max_retries=0)

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                headers = {key.lower(): value for key, value in self.headers.items()}
                # The caller's trace context and session id, sent as W3C headers.
                caller = asm.extract(headers)
                with (
                    asm.session(
                        f"translator-{uuid.uuid4().hex[:8]}",
                        context=caller,
                        properties={"agent": "translator", "pid": os.getpid()},
                    ) as s,
                    asm.run("translator"),
                ):
                    llm.queue(Reply(f"(fr) {body['text']}"))
                    text = ask(client, f"Translate into French: {body['text']}")
                # The session block has returned: it is in the store now.
                answer = json.dumps(
                    {"session_id": s.id, "parent_id": s.parent_id, "pid": os.getpid(), "text": text}
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)

        def stop(*_: object) -> None:
            threading.Thread(target=server.shutdown).start()

        def stop_at_eof() -> None:
            sys.stdin.read()  # returns when the coordinator closes the pipe or dies
            stop()

        signal.signal(signal.SIGTERM, stop)
        threading.Thread(target=stop_at_eof, daemon=True).start()
        print(server.server_address[1], flush=True)
        try:
            server.serve_forever()
        finally:
            server.server_close()


def call_translator(port: int, text: str) -> Mapping[str, Any]:
    headers = asm.inject({"Content-Type": "application/json"})
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/translate",
        data=json.dumps({"text": text}).encode(),
        headers=dict(headers),
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        answer: Mapping[str, Any] = json.loads(response.read())
    return answer


# -- the coordinator and its in-process children -----------------------------


def fact_checker(client: openai.OpenAI, claim: str) -> str:
    session_id = f"fact-checker-{uuid.uuid4().hex[:8]}"
    with asm.session(session_id, properties={"agent": "fact-checker"}), asm.run("fact-checker"):
        return ask(client, f"Is this accurate? {claim}")


def researcher(client: openai.OpenAI, topic: str) -> tuple[str, str]:
    session_id = f"researcher-{uuid.uuid4().hex[:8]}"
    with asm.session(session_id, properties={"agent": "researcher"}), asm.run("researcher"):
        notes = ask(client, f"Research: {topic}")
        verdict = fact_checker(client, notes)
        return notes, verdict


def coordinator(translator_port: int) -> str:
    session_id = f"trip-{uuid.uuid4().hex[:12]}"
    with LocalOpenAIServer() as llm:
        llm.queue(
            Reply("Lisbon: mild in spring; trams 28 and 15 reach the sights."),
            Reply("Accurate: both tram lines run through the historic centre."),
            Reply("Plan: Alfama on day 1, Belém on day 2."),
        )
        client = openai.OpenAI(base_url=llm.base_url, api_key="local", max_retries=0)
        with (
            asm.session(session_id, properties={"agent": "coordinator"}) as session,
            asm.run("coordinator"),
        ):
            asm.record_event("Plan two days in Lisbon, in French.", source=EventSource.USER)
            notes, verdict = researcher(client, "Lisbon in spring")
            print(f"researcher  > {notes}")
            print(f"fact-checker> {verdict}")
            plan = ask(client, f"Make a two-day plan from: {notes}")
            print(f"coordinator > {plan}")
            translated = call_translator(translator_port, plan)
            print(
                f"translator  > {translated['text']}  (process {translated['pid']}, "
                f"session {translated['session_id']}, child of {translated['parent_id']})"
            )
            asm.record_event(translated["text"], source=EventSource.LLM)
            session.add_child(translated["session_id"])  # the link on our side
    return session_id


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", default="file://./sessions", help="file:// or redis:// URL")
    parser.add_argument("--serve-translator", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    # The translator serves only the coordinator that started it, so it trusts
    # the session its caller names; a public service would pass a policy hook
    # that authenticates the caller, or keep the default ("deny").
    asm.configure(
        store=asm.create_store(args.store),
        instrument=("openai",),
        remote_sessions="allow" if args.serve_translator else "deny",
    )

    if args.serve_translator:
        serve_translator()
        return

    child = subprocess.Popen(
        [sys.executable, __file__, "--serve-translator", "--store", args.store],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        if not line.strip().isdigit():
            raise RuntimeError(f"the translator agent did not start (exit code {child.poll()})")
        port = int(line)
        print(f"translator agent: pid {child.pid}, http://127.0.0.1:{port}")
        session_id = coordinator(port)
    finally:
        assert child.stdin is not None
        child.stdin.close()  # the translator stops
        try:
            child.wait(timeout=30)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()

    store = asm.SessionStoreProvider.get_store()
    session = store.get(session_id)
    assert session is not None
    print(f"\nSession hierarchy in {args.store}:")
    print(render_tree(session_tree(session, store)))
    for member in [session, *session.descendants(store)]:
        agent = member.metadata.properties.get("agent")
        runs = ", ".join(f"{r.name} {r.status.value}" for r in member.runs)
        print(f"  {member.id}: agent={agent} runs=[{runs}] parent={member.parent_id}")


if __name__ == "__main__":
    main()
