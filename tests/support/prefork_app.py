"""A WSGI app for a pre-fork server test (``gunicorn --preload``).

Imported once in the master, before it forks its workers: the master
configures recording into the store named by ``A2A_TEST_STORE`` and records
``MASTER_EVENTS`` events in a session it keeps open, so they are still
queued (not written) when the workers are forked. Each request records one
event in a session of its own, named by the request path.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from os import environ
from typing import Any

from opentelemetry.sdk.trace import TracerProvider

import a2a_session_manager as asm

MASTER_EVENTS = [f"master event {i}" for i in range(5)]

asm.configure(
    store=asm.create_store(environ["A2A_TEST_STORE"]),
    tracer_provider=TracerProvider(),
    schedule_delay=60,  # nothing is written in the background before the fork
)
asm.session("master").__enter__()  # open until the master exits
for _message in MASTER_EVENTS:
    asm.record_event(_message)


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    request = environ["PATH_INFO"].strip("/")
    with asm.session(request), asm.run("handle"):
        asm.record_event(f"handled {request}")
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]
