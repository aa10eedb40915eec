"""The demo: a multi-step agent with tools, recorded as it runs.

The agent is ordinary code: the real ``openai`` client, two functions marked
``@asm.tool`` and an entry point marked ``@asm.run``. ``asm.configure``
instruments the client, so every chat call becomes a ``chat`` span and every
tool call an ``execute_tool`` span; the session exporter turns them into a
session in the embedded in-memory store (or the store given with ``--store``).

The model is ``a2a_session_manager.testing.LocalOpenAIServer``: a real HTTP
server on 127.0.0.1 speaking the OpenAI API, scripted to ask for two tool
calls and then answer. No network and no API key are needed.

Then it prints what was recorded (runs, events with their tool calls, tokens
and cost by model), builds the next prompt from the session alone with
``build_prompt_from_session`` and sends it back to the server, which checks
it like the real API does (every tool result answers an assistant tool call).

    python examples/decorated_agent.py                            # embedded memory store
    python examples/decorated_agent.py --store file://./sessions  # kept on disk, then:
    a2a-sessions show demo-weather
"""

from __future__ import annotations

import argparse
import json
from typing import Any

import openai

import a2a_session_manager as asm
from a2a_session_manager.prompts import PromptStrategy, build_prompt_from_session
from a2a_session_manager.reports import render_show, render_usage, usage_report
from a2a_session_manager.testing import LocalOpenAIServer, Reply, ToolCall

MODEL = "gpt-4o-mini"
SESSION_ID = "demo-weather"
MAX_STEPS = 5
SYSTEM = {"role": "system", "content": "You are a concise travel assistant."}

FORECASTS = {
    "Paris": {"forecast": "sunny", "celsius": 21},
    "Tokyo": {"forecast": "light rain", "celsius": 17},
}


@asm.tool
def get_weather(location: str) -> dict[str, Any]:
    """Today's forecast for a city."""
    known = FORECASTS.get(location)
    if known is None:
        raise LookupError(f"no forecast for {location!r}")
    return {"location": location, **known}


@asm.tool
def celsius_to_fahrenheit(celsius: float) -> float:
    """Convert a temperature."""
    return round(celsius * 9 / 5 + 32, 1)


TOOL_SCHEMAS: list[Any] = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Today's forecast for a city.",
            "parameters": {
                "type": "object",
                "properties": {"location": {"type": "string"}},
                "required": ["location"],
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "celsius_to_fahrenheit",
            "description": "Convert a temperature.",
            "parameters": {
                "type": "object",
                "properties": {"celsius": {"type": "number"}},
                "required": ["celsius"],
            },
        },
    },
]


@asm.run("weather-agent")
def weather_agent(client: openai.OpenAI, question: str) -> str:
    """Ask the model, run the tools it asks for, repeat until it answers."""
    messages: list[Any] = [SYSTEM, {"role": "user", "content": question}]
    for _ in range(MAX_STEPS):
        reply = client.chat.completions.create(model=MODEL, messages=messages, tools=TOOL_SCHEMAS)
        message = reply.choices[0].message
        if not message.tool_calls:
            return message.content or ""
        messages.append(message.model_dump(exclude_none=True))
        for call in message.tool_calls:
            if call.type != "function":
                continue
            registered = asm.get_tool(call.function.name)
            result: Any
            try:
                if registered is None:
                    raise LookupError(f"unknown tool {call.function.name!r}")
                result = registered.function(**json.loads(call.function.arguments))
            except Exception as exc:  # the model sees the error and can recover
                result = {"error": str(exc)}
            messages.append(
                {"role": "tool", "tool_call_id": call.id, "content": json.dumps(result)}
            )
    raise RuntimeError(f"no answer after {MAX_STEPS} steps")


def script_model(server: LocalOpenAIServer) -> None:
    """What the local model answers, in order: two steps of tool calls, then text."""
    server.queue(
        Reply(
            tool_calls=[
                ToolCall("get_weather", {"location": "Paris"}),
                ToolCall("get_weather", {"location": "Tokyo"}),
            ]
        ),
        Reply(tool_calls=[ToolCall("celsius_to_fahrenheit", {"celsius": 21})]),
        Reply("Paris is sunny at 21 °C (69.8 °F); Tokyo has light rain at 17 °C."),
        Reply("Tomorrow looks similar: pack sunglasses for Paris and an umbrella for Tokyo."),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--store",
        help="store URL (file://DIR, redis://HOST:PORT/DB); default: the embedded memory store",
    )
    args = parser.parse_args()

    store = asm.create_store(args.store) if args.store else None
    asm.configure(store=store, instrument=("openai",))
    store = asm.SessionStoreProvider.get_store()

    with LocalOpenAIServer() as server:
        script_model(server)
        client = openai.OpenAI(base_url=server.base_url, api_key="local", max_retries=0)

        question = "What's the weather in Paris and Tokyo? Give Paris in Fahrenheit too."
        print(f"user> {question}")
        with asm.session(SESSION_ID, properties={"user": "demo-user"}):
            answer = weather_agent(client, question)
        print(f"agent> {answer}")

        # Everything recorded inside the session block is in the store now.
        session = store.get(SESSION_ID)
        assert session is not None
        print("\n=== What was recorded " + "=" * 50)
        print(render_show(session))
        print()
        print(render_usage(usage_report(session)))

        follow_up = "And tomorrow?"
        # The session holds what happened, the instructions included.
        prompt = build_prompt_from_session(
            session,
            PromptStrategy.CONVERSATION,
            max_tokens=4000,
            model=MODEL,
            current_query=follow_up,
        )
        print(f"\n=== Next prompt, built from the session ({len(prompt)} messages) " + "=" * 20)
        print(json.dumps(prompt, indent=2, ensure_ascii=False))

        # The local server validates requests as the real API does: a prompt
        # with a dangling tool call or a stray tool result would get a 400.
        with asm.session(SESSION_ID), asm.run("follow-up"):
            reply = client.chat.completions.create(model=MODEL, messages=prompt)
        print(f"\nuser> {follow_up}")
        print(f"agent> {reply.choices[0].message.content}")
        print("(the server accepted the rebuilt prompt: a valid chat request)")

    session = store.get(SESSION_ID)
    assert session is not None
    print(
        f"\nsession {session.id}: {len(session.runs)} runs, {len(session.events)} events, "
        f"{session.total_tokens} tokens, ${session.total_cost:.6f}"
    )


if __name__ == "__main__":
    main()
