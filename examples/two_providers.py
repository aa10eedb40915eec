"""One agent, two providers: OpenAI plans, Anthropic books, one session records both.

``asm.configure(instrument=("openai", "anthropic"))`` instruments both real
clients. They talk to ``LocalOpenAIServer`` and ``LocalAnthropicServer``
(real HTTP servers on 127.0.0.1, scripted here), so no network and no API
key are needed. The session holds one ordered record: the user's messages,
each LLM call with its exact tokens (Anthropic's cache writes and reads
included), each tool call linked to the reply that asked for it, and the
cost by model. Then the next prompt is rebuilt from the session in both
formats and sent to both servers, which check it like the real APIs do.

    python examples/two_providers.py
    python examples/two_providers.py --store file://./sessions   # then: a2a-sessions show trip
"""

from __future__ import annotations

import argparse
import json
from typing import Any

import anthropic
import openai

import a2a_session_manager as asm
from a2a_session_manager.prompts import (
    build_anthropic_prompt_from_session,
    build_prompt_from_session,
)
from a2a_session_manager.storage import create_store
from a2a_session_manager.testing import (
    AnthropicReply,
    LocalAnthropicServer,
    LocalOpenAIServer,
    Reply,
    ToolCall,
)

GPT = "gpt-4o-mini"
CLAUDE = "claude-sonnet-4-5"
SESSION_ID = "trip"
SYSTEM = "You plan short trips."
WEATHER_TOOL: Any = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}
HOTEL_TOOL: Any = {
    "name": "book_hotel",
    "description": "Book a hotel room.",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
}


@asm.tool
def get_weather(city: str) -> str:
    return "24C and sunny" if city == "Rome" else "unknown"


@asm.tool
def book_hotel(city: str) -> str:
    return f"Hotel Centrale, {city}, 2 nights"


def script(openai_server: LocalOpenAIServer, anthropic_server: LocalAnthropicServer) -> None:
    openai_server.queue(
        Reply(tool_calls=[ToolCall("get_weather", {"city": "Rome"}, id="call_weather")]),
        Reply("Rome is sunny this weekend: go."),
    )
    anthropic_server.queue(
        AnthropicReply(
            "I'll book it.",
            thinking="The user agreed to Rome; book a hotel there.",
            tool_calls=[ToolCall("book_hotel", {"city": "Rome"}, id="toolu_hotel")],
            prompt_tokens=120,  # the uncached part; the system prompt and tools are cached
            completion_tokens=40,
            cache_creation_tokens=1024,
        ),
        AnthropicReply(
            "Booked: Hotel Centrale, 2 nights.",
            prompt_tokens=180,
            completion_tokens=12,
            cached_tokens=1024,
        ),
        AnthropicReply("Enjoy Rome!"),
    )


@asm.run("planner")
def plan(client: openai.OpenAI) -> str:
    chat: Any = [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": "Should I go to Rome this weekend?"},
    ]
    first = client.chat.completions.create(model=GPT, messages=chat, tools=[WEATHER_TOOL])
    message = first.choices[0].message
    chat.append(message.model_dump(exclude_none=True))
    for call in message.tool_calls or ():
        city = openai_arguments(call)
        chat.append({"role": "tool", "tool_call_id": call.id, "content": get_weather(city)})
    answer = client.chat.completions.create(model=GPT, messages=chat, tools=[WEATHER_TOOL])
    return answer.choices[0].message.content or ""


def openai_arguments(call: Any) -> str:
    return str(json.loads(call.function.arguments)["city"])


@asm.run("booker")
def book(client: anthropic.Anthropic) -> str:
    messages: Any = [{"role": "user", "content": "Book me a hotel in Rome."}]
    kwargs: Any = {"model": CLAUDE, "max_tokens": 512, "system": SYSTEM, "tools": [HOTEL_TOOL]}
    reply = client.messages.create(messages=messages, **kwargs)
    messages.append({"role": "assistant", "content": reply.content})
    results = [
        {"type": "tool_result", "tool_use_id": block.id, "content": book_hotel(**block.input)}
        for block in reply.content
        if block.type == "tool_use"
    ]
    messages.append({"role": "user", "content": results})
    final = client.messages.create(messages=messages, **kwargs)
    return "".join(block.text for block in final.content if block.type == "text")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--store", default="memory://", help="memory://, file://DIR, redis://...")
    args = parser.parse_args()
    store = create_store(args.store)
    handle = asm.configure(store=store, instrument=("openai", "anthropic"))
    with LocalOpenAIServer() as openai_server, LocalAnthropicServer() as anthropic_server:
        script(openai_server, anthropic_server)
        gpt = openai.OpenAI(base_url=openai_server.base_url, api_key="local", max_retries=0)
        claude = anthropic.Anthropic(
            base_url=anthropic_server.base_url, api_key="local", max_retries=0
        )
        with asm.session(SESSION_ID):
            print("planner:", plan(gpt))
            print("booker:", book(claude))

        session = store.get(SESSION_ID)
        assert session is not None
        print(f"\nsession {session.id}: {len(session.events)} events")
        for event in session.events:
            usage = event.token_usage
            provider = event.metadata.get("provider", "")
            tokens = f"  [{usage.model}: {usage.prompt_tokens} in" if usage else ""
            if usage:
                tokens += f" ({usage.cached_input_tokens} cache read,"
                tokens += f" {usage.cache_write_input_tokens} cache write),"
                tokens += f" {usage.completion_tokens} out]"
            print(
                f"  {event.type:<12} {event.source:<6} {provider:<9} {event.message!s:.60}{tokens}"
            )
        print("cost by model:")
        for model, usage in sorted(session.token_summary.usage_by_model.items()):
            print(f"  {model:<18} {usage.total_tokens:>5} tokens  ${usage.estimated_cost_usd:.6f}")
        print(f"  total              ${session.total_cost:.6f}")

        query = "Anything else I need?"
        chat = build_prompt_from_session(session, current_query=query)
        reply = gpt.chat.completions.create(model=GPT, messages=chat)
        accepted = reply.choices[0].message.content
        print(f"\nOpenAI prompt rebuilt: {len(chat)} messages, accepted: {accepted}")
        prompt = build_anthropic_prompt_from_session(session, current_query=query)
        answer = claude.messages.create(model=CLAUDE, max_tokens=256, **prompt)
        text = "".join(b.text for b in answer.content if b.type == "text")
        print(f"Anthropic prompt rebuilt: {len(prompt['messages'])} messages, accepted: {text}")
    handle.shutdown()


if __name__ == "__main__":
    main()
