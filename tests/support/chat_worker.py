"""A worker process serving chat turns, for the multi-worker recording tests.

    python tests/support/chat_worker.py STORE_URL BASE_URL

Configures the SDK to record into ``STORE_URL`` with the instrumented openai
client pointed at ``BASE_URL`` (the local server). Reads one JSON request
per stdin line, ``{"session_id": str, "messages": [...]}``, sends the
messages in ``asm.session(session_id)`` + a run, and answers one JSON line:
the reply message as the client returned it, or ``{"error": <type>}`` when
the call failed. Everything is in the store before it answers
(read-your-writes). Exits on stdin EOF.
"""

from __future__ import annotations

import json
import sys

import openai
from opentelemetry.sdk.trace import TracerProvider

import a2a_session_manager as asm
from a2a_session_manager.storage import create_store


def main() -> None:
    store_url, base_url = sys.argv[1], sys.argv[2]
    handle = asm.configure(
        store=create_store(store_url), tracer_provider=TracerProvider(), instrument=("openai",)
    )
    client = openai.OpenAI(base_url=base_url, api_key="test", max_retries=0)
    for line in sys.stdin:
        request = json.loads(line)
        try:
            with asm.session(request["session_id"]), asm.run("turn"):
                reply = client.chat.completions.create(
                    model="gpt-4o-mini", messages=request["messages"]
                )
        except openai.APIError as error:
            print(json.dumps({"error": type(error).__name__}), flush=True)
            continue
        message = reply.choices[0].message.model_dump(exclude_none=True, exclude={"parsed"})
        print(json.dumps(message), flush=True)
    handle.shutdown()


if __name__ == "__main__":
    main()
