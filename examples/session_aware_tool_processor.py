"""Running the tool calls an LLM asks for, recorded in a session.

``SessionAwareToolProcessor`` takes an LLM reply, runs the tools it asks for
(sync and async, concurrently, each under a timeout) and records the batch
in the session: a run around it, the reply as an LLM event, each tool call
as a child event. A reply with no usable tool call is sent back to the LLM
(``llm_call_fn``) with a retry prompt, up to ``max_llm_retries`` times.

The LLM here is the real ``openai`` client talking to the local
OpenAI-compatible server (no network), scripted for three batches:

1. a reply asking for three tools at once (one of them fails);
2. a reply with no tool call: the processor asks again and gets one;
3. replies with malformed arguments every time: the run ends failed.

    python examples/session_aware_tool_processor.py
    python examples/session_aware_tool_processor.py --store file://./sessions
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

import openai

import a2a_session_manager as asm
from a2a_session_manager.models.event_source import EventSource
from a2a_session_manager.models.session import Session
from a2a_session_manager.models.session_event import SessionEvent
from a2a_session_manager.reports import render_show
from a2a_session_manager.session_aware_tool_processor import SessionAwareToolProcessor
from a2a_session_manager.testing import LocalOpenAIServer, Reply, ToolCall
from a2a_session_manager.tools import ToolProcessingError

MODEL = "gpt-4o-mini"
RATES = {("EUR", "USD"): 1.08, ("USD", "EUR"): 0.93}


@asm.tool
def get_weather(location: str) -> dict[str, Any]:
    return {"location": location, "forecast": "sunny", "celsius": 21}


@asm.tool
async def search_flights(origin: str, destination: str) -> list[str]:
    await asyncio.sleep(0.05)  # an I/O-bound tool; runs alongside the others
    return [f"{origin}->{destination} 08:15", f"{origin}->{destination} 17:40"]


@asm.tool
def convert_currency(amount: float, source: str, target: str) -> float:
    rate = RATES.get((source, target))
    if rate is None:
        raise ValueError(f"no rate for {source}->{target}")
    return round(amount * rate, 2)


def show_results(title: str, results: list[Any]) -> None:
    print(f"\n{title}")
    for r in results:
        outcome = f"error: {r.error}" if r.error else f"-> {r.result}"
        print(f"  {r.tool}({r.arguments}) {outcome}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", default="memory://", help="store URL (default: memory://)")
    args = parser.parse_args()
    store = asm.create_store(args.store)
    asm.configure(store=store)

    # The session the processor records into (seed style: built and saved by hand).
    session = Session()
    session.add_event(
        SessionEvent(message="Plan a day trip from Paris to Lyon.", source=EventSource.USER)
    )
    store.save(session)

    processor = SessionAwareToolProcessor(
        session_id=session.id,
        max_llm_retries=2,
        llm_retry_prompt="Please provide a valid tool call.",
    )

    with LocalOpenAIServer() as server:
        client = openai.AsyncOpenAI(base_url=server.base_url, api_key="local", max_retries=0)

        async def llm_call_fn(retry_prompt: str) -> Any:
            reply = await client.chat.completions.create(
                model=MODEL, messages=[{"role": "user", "content": retry_prompt}]
            )
            return reply.choices[0].message

        # 1. Three tool calls at once; the currency conversion fails.
        llm_response = {
            "role": "assistant",
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"location": "Lyon"}'},
                },
                {
                    "id": "call_2",
                    "type": "function",
                    "function": {
                        "name": "search_flights",
                        "arguments": '{"origin": "CDG", "destination": "LYS"}',
                    },
                },
                {
                    "id": "call_3",
                    "type": "function",
                    "function": {
                        "name": "convert_currency",
                        "arguments": '{"amount": 120, "source": "EUR", "target": "JPY"}',
                    },
                },
            ],
        }
        results = await processor.process_llm_message(llm_response, llm_call_fn)
        show_results("1. three tool calls in one reply:", results)

        # 2. No tool call in the reply: the processor asks the LLM again.
        server.queue(
            Reply(
                tool_calls=[
                    ToolCall("convert_currency", {"amount": 120, "source": "EUR", "target": "USD"})
                ]
            )
        )
        no_tool = {"role": "assistant", "content": "Sure! Let me check the price."}
        results = await processor.process_llm_message(no_tool, llm_call_fn)
        show_results("2. a reply without a tool call, then a retry:", results)

        # 3. Malformed arguments every time: after 2 retries the run fails.
        bad = Reply(tool_calls=[ToolCall("get_weather", '{"location": "Lyon"')])
        server.queue(bad, bad)
        first_bad = {
            "role": "assistant",
            "tool_calls": [
                {
                    "id": "call_9",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": "{not json"},
                }
            ],
        }
        print("\n3. malformed arguments in every reply:")
        try:
            await processor.process_llm_message(first_bad, llm_call_fn)
        except ToolProcessingError as error:
            print(f"  ToolProcessingError after {error.attempts} replies: {error}")
        print(f"  LLM requests made by llm_call_fn: {len(server.requests)}")
    processor.close()

    recorded = store.get(session.id)
    assert recorded is not None
    print("\n=== What was recorded " + "=" * 50)
    print(render_show(recorded))


if __name__ == "__main__":
    asyncio.run(main())
