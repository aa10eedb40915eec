"""Token usage monitoring: exact offline counts, cost, and totals per model.

Counts of OpenAI models are exact (tiktoken with the encodings shipped in the
package, no download); other providers report their own numbers, which
replace counted ones. Costs come from one dated price table; a model without a known
price gets no cost (never an invented one) until you give it a price.

    python examples/token_tracking_example.py
    python examples/token_tracking_example.py --store file://./sessions
"""

from __future__ import annotations

import argparse

from a2a_session_manager.models.event_source import EventSource
from a2a_session_manager.models.session import Session
from a2a_session_manager.models.session_event import SessionEvent
from a2a_session_manager.storage import SessionStoreProvider, create_store
from a2a_session_manager.tokens import PRICES_AS_OF, count_chat_tokens, set_model_price

EXCHANGES = [
    # (model, prompt, completion)
    ("gpt-4o-mini", "What is the capital of France?", "The capital of France is Paris."),
    (
        "gpt-4-turbo",
        "Summarise the plot of Hamlet in one sentence.",
        "A Danish prince feigns madness to avenge his father's murder, and nearly everyone dies.",
    ),
    ("gpt-4.1", "Translate 'good morning' into Portuguese.", "Bom dia."),
    ("my-local-model", "Say hello.", "Hello!"),
]


def usd(value: float | None) -> str:
    return "unknown price" if value is None else f"${value:.6f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", default="memory://", help="store URL (default: memory://)")
    args = parser.parse_args()
    store = create_store(args.store)
    SessionStoreProvider.set_store(store)

    print(f"prices as of {PRICES_AS_OF}")
    session = Session()
    for model, prompt, completion in EXCHANGES:
        session.add_event(SessionEvent(message=prompt, source=EventSource.USER))
        event = SessionEvent.create_with_tokens(
            message=completion,
            prompt=prompt,
            completion=completion,
            model=model,
            source=EventSource.LLM,
        )
        session.add_event(event)
        usage = event.token_usage
        assert usage is not None
        print(
            f"{model:<18} prompt {usage.prompt_tokens:>3}  completion "
            f"{usage.completion_tokens:>3}  total {usage.total_tokens:>3}  "
            f"{usd(usage.estimated_cost_usd)}"
        )

    # Numbers reported by a provider (including cached tokens) are kept as given.
    reported = SessionEvent(message="(a long answer)", source=EventSource.LLM)
    reported.update_token_usage(
        prompt_tokens=1200,
        completion_tokens=300,
        cached_input_tokens=1024,
        model="claude-sonnet-4-5",
    )
    session.add_event(reported)
    assert reported.token_usage is not None
    print(
        f"{'claude (reported)':<18} prompt {reported.token_usage.prompt_tokens}  "
        f"(cached {reported.token_usage.cached_input_tokens})  completion "
        f"{reported.token_usage.completion_tokens}  "
        f"{usd(reported.token_usage.estimated_cost_usd)}"
    )

    store.save(session)
    loaded = store.get(session.id)
    assert loaded is not None
    summary = loaded.token_summary
    print(f"\nsession {loaded.id}")
    print(
        f"  total: {summary.total_prompt_tokens} prompt + {summary.total_completion_tokens} "
        f"completion = {summary.total_tokens} tokens, ${summary.total_estimated_cost_usd:.6f}"
    )
    print("  by model:")
    for model, usage in sorted(summary.usage_by_model.items()):
        print(f"    {model:<18} {usage.total_tokens:>5} tokens  {usd(usage.estimated_cost_usd)}")
    print("  by source:")
    for source, by_source in loaded.usage_by_source().items():
        print(f"    {source:<18} {by_source.total_tokens:>5} tokens")

    # A model with no known price: give it one, and later calls are priced.
    set_model_price("my-local-model", input=0.10, output=0.20)  # USD per million tokens
    priced = SessionEvent.create_with_tokens(
        message="Hello again!",
        prompt="Say hello again.",
        completion="Hello again!",
        model="my-local-model",
    )
    assert priced.token_usage is not None
    print(f"\nmy-local-model after set_model_price: {usd(priced.token_usage.estimated_cost_usd)}")

    # The size of a chat request before sending it, with the API's per-message overhead.
    messages = [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "What is the capital of France?"},
    ]
    print(
        f"\na 2-message chat request costs {count_chat_tokens(messages, 'gpt-4o-mini')} "
        "prompt tokens on gpt-4o-mini"
    )


if __name__ == "__main__":
    main()
