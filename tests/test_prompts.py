"""The prompt builder: strategies, OpenAI message validity, exact-token truncation."""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from a2a_session_manager.models import EventSource, EventType, Session, SessionEvent
from a2a_session_manager.prompts import (
    NO_RESULT,
    TRUNCATION_MARKER,
    PromptStrategy,
    build_prompt_from_session,
    truncate_prompt_to_token_limit,
)
from a2a_session_manager.prompts.strategies import TASK_NOTE
from a2a_session_manager.storage import (
    InMemorySessionStore,
    SessionStore,
    SessionStoreProvider,
    create_file_session_store,
)
from a2a_session_manager.tokens import count_chat_tokens

# -- the API's rules, as a checker --------------------------------------------

ROLE_KEYS = {
    "system": {"role", "content", "name"},
    "user": {"role", "content", "name"},
    "assistant": {"role", "content", "name", "tool_calls"},
    "tool": {"role", "content", "tool_call_id"},
}


def assert_valid_chat(messages: Sequence[Mapping[str, Any]]) -> None:
    """The pairing and typing rules the chat completions API enforces."""
    json.dumps(messages)  # the request body must serialise
    i = 0
    while i < len(messages):
        message = messages[i]
        role = message.get("role")
        assert role in ROLE_KEYS, f"message {i}: bad role {role!r}"
        assert set(message) <= ROLE_KEYS[role], f"message {i}: unexpected keys {set(message)}"
        assert role != "tool", f"message {i}: tool message without its assistant call"
        calls = message.get("tool_calls")
        if role == "assistant" and calls is not None:
            assert isinstance(calls, list) and calls, f"message {i}: empty tool_calls"
            assert message.get("content") is None or isinstance(message["content"], str)
            ids = []
            for call in calls:
                assert set(call) == {"id", "type", "function"}, call
                assert isinstance(call["id"], str) and call["id"], call
                assert call["type"] == "function"
                assert set(call["function"]) == {"name", "arguments"}
                assert isinstance(call["function"]["name"], str) and call["function"]["name"]
                assert isinstance(call["function"]["arguments"], str)
                ids.append(call["id"])
            assert len(set(ids)) == len(ids), f"message {i}: duplicate call ids {ids}"
            answers = messages[i + 1 : i + 1 + len(ids)]
            assert [m.get("role") for m in answers] == ["tool"] * len(ids), (
                f"message {i}: calls {ids} not followed by one tool message each"
            )
            assert sorted(m["tool_call_id"] for m in answers) == sorted(ids)
            for answer in answers:
                assert set(answer) == {"role", "tool_call_id", "content"}
                assert isinstance(answer["content"], str)
            i += 1 + len(ids)
            continue
        assert isinstance(message.get("content"), str), f"message {i}: content not a string"
        i += 1
    for message in messages:
        for key, value in message.items():
            if value is None:
                assert key == "content" and message.get("tool_calls"), message


def event(
    message: Any,
    source: EventSource = EventSource.LLM,
    type: EventType | str = EventType.MESSAGE,
    parent: str | None = None,
    id: str | None = None,
) -> SessionEvent:
    fields: dict[str, Any] = {"message": message, "source": source, "type": type}
    if parent is not None:
        fields["metadata"] = {"parent_event_id": parent}
    if id is not None:
        fields["id"] = id
    return SessionEvent(**fields)


def user(text: Any) -> SessionEvent:
    return event(text, EventSource.USER)


def session_of(*events: SessionEvent, **fields: Any) -> Session:
    session = Session(**fields)
    for e in events:
        session.add_event(e)
    return session


@pytest.fixture
def weather_session() -> Session:
    """An exporter-shaped session (DESIGN §4): two user turns, a tool round trip."""
    ask = event(
        {"content": None, "tool_calls": [{"id": "c1", "name": "weather", "arguments": {"q": "P"}}]},
        id="llm1",
    )
    return session_of(
        event("You are terse.", EventSource.SYSTEM),
        user("Weather in Paris?"),
        ask,
        event(
            {"tool_name": "weather", "call_id": "c1", "arguments": {"q": "P"}, "result": {"t": 20}},
            EventSource.TOOL,
            EventType.TOOL_CALL,
            parent="llm1",
        ),
        event("20C in Paris.", id="llm2"),
        user("And London?"),
        event("15C in London.", id="llm3"),
    )


WEATHER_CALL = {
    "role": "assistant",
    "content": None,
    "tool_calls": [
        {"id": "c1", "type": "function", "function": {"name": "weather", "arguments": '{"q": "P"}'}}
    ],
}
WEATHER_RESULT = {"role": "tool", "tool_call_id": "c1", "content": '{"t": 20}'}
SYSTEM = {"role": "system", "content": "You are terse."}
TASK = {"role": "user", "content": "Weather in Paris?"}


# -- strategies on hand-built sessions ------------------------------------------


def test_conversation_is_the_whole_conversation_in_order(weather_session: Session) -> None:
    assert build_prompt_from_session(weather_session) == [
        SYSTEM,
        TASK,
        WEATHER_CALL,
        WEATHER_RESULT,
        {"role": "assistant", "content": "20C in Paris."},
        {"role": "user", "content": "And London?"},
        {"role": "assistant", "content": "15C in London."},
    ]


def test_minimal_is_task_and_latest_reply_plus_current_query(weather_session: Session) -> None:
    prompt = build_prompt_from_session(
        weather_session, PromptStrategy.MINIMAL, current_query="And Rome?"
    )
    assert prompt == [
        SYSTEM,
        TASK,
        {"role": "assistant", "content": "15C in London."},
        {"role": "user", "content": "And Rome?"},
    ]


def test_minimal_keeps_the_tool_results_of_the_latest_reply() -> None:
    session = session_of(
        user("Plan a trip"),
        event("thinking"),
        event(
            {"content": "Looking up", "tool_calls": [{"id": "a", "name": "f", "arguments": "{}"}]},
            id="x",
        ),
        event({"call_id": "a", "tool_name": "f", "result": "sunny"}, type=EventType.TOOL_CALL),
    )
    assert build_prompt_from_session(session, PromptStrategy.MINIMAL) == [
        {"role": "user", "content": "Plan a trip"},
        {
            "role": "assistant",
            "content": "Looking up",
            "tool_calls": [
                {"id": "a", "type": "function", "function": {"name": "f", "arguments": "{}"}}
            ],
        },
        {"role": "tool", "tool_call_id": "a", "content": "sunny"},
    ]


def test_minimal_adds_the_retry_note_recorded_for_the_latest_reply() -> None:
    session = session_of(
        user("task"),
        event("bad tool call text", id="r"),
        event({"note": "Retry with valid JSON"}, EventSource.SYSTEM, EventType.SUMMARY, parent="r"),
    )
    assert build_prompt_from_session(session, "minimal") == [
        {"role": "user", "content": "task"},
        {"role": "assistant", "content": "bad tool call text"},
        {"role": "system", "content": "Retry with valid JSON"},
    ]


def test_task_focused_is_task_note_and_latest_exchange(weather_session: Session) -> None:
    assert build_prompt_from_session(weather_session, PromptStrategy.TASK_FOCUSED) == [
        SYSTEM,
        TASK,
        {"role": "system", "content": TASK_NOTE},
        {"role": "user", "content": "And London?"},
        {"role": "assistant", "content": "15C in London."},
    ]


def test_tool_focused_is_task_every_tool_pair_and_latest_reply(weather_session: Session) -> None:
    assert build_prompt_from_session(weather_session, PromptStrategy.TOOL_FOCUSED) == [
        SYSTEM,
        TASK,
        WEATHER_CALL,
        WEATHER_RESULT,
        {"role": "assistant", "content": "15C in London."},
    ]


def test_tool_focused_is_compact_but_keeps_the_latest_reply_text() -> None:
    calls = [{"id": "a", "name": "f", "arguments": "{}"}]
    session = session_of(
        user("t"),
        event({"content": "I'll call f", "tool_calls": calls}),
        event({"call_id": "a", "result": 1}, type=EventType.TOOL_CALL),
        event({"content": "once more", "tool_calls": [{**calls[0], "id": "b"}]}),
        event({"call_id": "b", "result": 2}, type=EventType.TOOL_CALL),
    )
    prompt = build_prompt_from_session(session, PromptStrategy.TOOL_FOCUSED)
    assert [m.get("content") for m in prompt] == ["t", None, "1", "once more", "2"]


def test_unknown_strategy_is_an_error(weather_session: Session) -> None:
    with pytest.raises(ValueError, match="unknown prompt strategy"):
        build_prompt_from_session(weather_session, "clever")


def test_empty_session_gives_empty_prompt_or_just_the_query() -> None:
    for strategy in PromptStrategy:
        assert build_prompt_from_session(Session(), strategy) == []
        assert build_prompt_from_session(Session(), strategy, current_query="hi") == [
            {"role": "user", "content": "hi"}
        ]


def test_current_query_already_last_is_not_repeated(weather_session: Session) -> None:
    prompt = build_prompt_from_session(weather_session, current_query="15C in London.")
    assert prompt[-1] == {"role": "user", "content": "15C in London."}
    weather_session.add_event(user("again?"))
    prompt = build_prompt_from_session(weather_session, current_query="again?")
    assert [m["content"] for m in prompt[-2:]] == ["15C in London.", "again?"]


# -- event → message mapping ------------------------------------------------------


def test_seed_tool_events_without_call_ids_get_a_synthesized_call() -> None:
    session = session_of(
        user("go"),
        event(
            {"tool": "search", "arguments": {"q": "x"}, "result": ["r1"]},
            type=EventType.TOOL_CALL,
            id="e1",
        ),
        event(
            {"tool": "fetch", "arguments": "not json", "result": None},
            type=EventType.TOOL_CALL,
            id="e2",
        ),
    )
    prompt = build_prompt_from_session(session)
    assert_valid_chat(prompt)
    assert prompt[1]["tool_calls"] == [
        {
            "id": "call_e1",
            "type": "function",
            "function": {"name": "search", "arguments": '{"q": "x"}'},
        },
        {
            "id": "call_e2",
            "type": "function",
            "function": {"name": "fetch", "arguments": "not json"},
        },
    ]
    assert prompt[2:] == [
        {"role": "tool", "tool_call_id": "call_e1", "content": '["r1"]'},
        {"role": "tool", "tool_call_id": "call_e2", "content": ""},
    ]


def test_seed_processor_shape_links_children_by_parent_and_name() -> None:
    # The seed tool processor logged the raw LLM response (OpenAI-shaped calls
    # without ids) and then one child event per call, without call ids.
    response = {
        "tool_calls": [
            {"type": "function", "function": {"name": "get_weather", "arguments": '{"l": "NY"}'}},
            {"type": "function", "function": {"name": "get_weather", "arguments": '{"l": "LA"}'}},
        ]
    }
    session = session_of(
        user("weather NY and LA"),
        event(response, id="resp"),
        event(
            {"tool": "get_weather", "arguments": {"l": "LA"}, "result": "warm"},
            type=EventType.TOOL_CALL,
            parent="resp",
        ),
        event(
            {"tool": "get_weather", "arguments": {"l": "NY"}, "result": "cold"},
            type=EventType.TOOL_CALL,
            parent="resp",
        ),
    )
    prompt = build_prompt_from_session(session)
    assert_valid_chat(prompt)
    assistant = prompt[1]
    by_id = {m["tool_call_id"]: m["content"] for m in prompt[2:]}
    args_by_id = {c["id"]: c["function"]["arguments"] for c in assistant["tool_calls"]}
    assert {args_by_id[i]: by_id[i] for i in by_id} == {
        '{"l": "NY"}': "cold",
        '{"l": "LA"}': "warm",
    }


def test_result_recorded_after_later_messages_still_follows_its_call() -> None:
    session = session_of(
        user("a"),
        event({"content": "", "tool_calls": [{"id": "k", "name": "slow", "arguments": "{}"}]}),
        user("are you there?"),
        event({"call_id": "k", "result": "done"}, EventSource.TOOL, EventType.TOOL_CALL),
    )
    prompt = build_prompt_from_session(session)
    assert_valid_chat(prompt)
    assert [m["role"] for m in prompt] == ["user", "assistant", "tool", "user"]
    assert prompt[2]["content"] == "done"


def test_unanswered_call_gets_a_placeholder_result_and_duplicates_are_ignored() -> None:
    session = session_of(
        user("a"),
        event({"tool_calls": [{"id": "x", "name": "f"}, {"id": "x", "name": "g"}]}),
        event({"call_id": "x", "result": "first"}, type=EventType.TOOL_CALL),
        event({"call_id": "x", "result": "second"}, type=EventType.TOOL_CALL),
    )
    prompt = build_prompt_from_session(session)
    assert_valid_chat(prompt)
    contents = sorted(m["content"] for m in prompt if m["role"] == "tool")
    assert contents == sorted([NO_RESULT, "first"])


def test_tool_errors_and_non_json_payloads_become_text() -> None:
    class Opaque:
        def __str__(self) -> str:
            return "<opaque>"

    loop: dict[str, Any] = {}
    loop["self"] = loop
    session = session_of(
        user({"content": [{"type": "text", "text": "part one"}, {"type": "text", "text": "two"}]}),
        user({"question": "é", "n": 1}),
        user(["a", 1]),
        event({"tool": "t", "result": None, "error": "ValueError: boom"}, type=EventType.TOOL_CALL),
        event({"tool": "t", "result": {"o": Opaque()}}, type=EventType.TOOL_CALL),
        event(loop),
        event({"content": {"structured": True}}),
        event("custom kinds are not chat messages", type="my.custom"),
    )
    prompt = build_prompt_from_session(session)
    assert_valid_chat(prompt)
    contents = [m["content"] for m in prompt]
    assert contents[:3] == ["part one\ntwo", '{"question": "é", "n": 1}', '["a", 1]']
    assert [c["function"]["name"] for c in prompt[3]["tool_calls"]] == ["t", "t"]
    assert json.loads(prompt[4]["content"]) == {"error": "ValueError: boom"}
    assert prompt[5]["content"] == '{"o": "<opaque>"}'
    assert isinstance(contents[6], str) and "self" in contents[6]
    assert contents[7] == '{"structured": true}'
    assert len(prompt) == 8


def test_hostile_event_ids_give_short_safe_call_ids() -> None:
    session = session_of(
        user("a"),
        event({"tool": "t", "result": 1}, type=EventType.TOOL_CALL, id="../" * 3000 + "\x00"),
    )
    prompt = build_prompt_from_session(session)
    assert_valid_chat(prompt)
    call_id = prompt[1]["tool_calls"][0]["id"]
    assert call_id.startswith("call_") and len(call_id) <= 40 and call_id.isascii()


def test_hostile_recorded_call_ids_are_hashed_and_still_pair() -> None:
    hostile = "id\x00/../" + "x" * 10_000
    session = session_of(
        user("a"),
        event({"tool_calls": [{"id": hostile, "name": "f", "arguments": "{}"}]}),
        event({"call_id": hostile, "result": "matched"}, EventSource.TOOL, EventType.TOOL_CALL),
    )
    prompt = build_prompt_from_session(session)
    assert_valid_chat(prompt)
    call_id = prompt[1]["tool_calls"][0]["id"]
    assert len(call_id) <= 40 and "\x00" not in call_id
    assert prompt[2] == {"role": "tool", "tool_call_id": call_id, "content": "matched"}


def test_summary_events_are_system_messages_in_the_conversation() -> None:
    session = session_of(
        user("a"), event({"summary": "so far: a"}, EventSource.SYSTEM, EventType.SUMMARY)
    )
    assert build_prompt_from_session(session)[-1] == {"role": "system", "content": "so far: a"}


# -- many random sessions: every strategy is always valid -----------------------

TOOL_NAMES = ["search", "fetch", "calc"]


def _random_payload(rng: random.Random) -> Any:
    return rng.choice(
        [
            "plain text",
            "",
            "ünïcødé ✓ 🌍",
            "<|endoftext|> looks special",
            {"content": "dict text"},
            {"k": [1, 2, {"n": None}]},
            [1, "two"],
            None,
            3.5,
            "word " * rng.randint(1, 300),
        ]
    )


def random_session(rng: random.Random, n: int) -> Session:
    session = Session()
    call_ids: list[str] = []
    llm_ids: list[str] = []
    for i in range(n):
        kind = rng.random()
        if kind < 0.25:
            session.add_event(user(_random_payload(rng)))
        elif kind < 0.5:
            calls = []
            for j in range(rng.choice([0, 0, 1, 2, 3])):
                call_id = rng.choice([f"c{i}_{j}", f"c{i}_{j}", None, "dup"])
                args = rng.choice(['{"a": 1}', {"a": 1}, None, "not json {"])
                if rng.random() < 0.5:
                    calls.append({"id": call_id, "name": rng.choice(TOOL_NAMES), "arguments": args})
                else:
                    calls.append(
                        {
                            "id": call_id,
                            "type": "function",
                            "function": {"name": rng.choice(TOOL_NAMES), "arguments": args},
                        }
                    )
                if call_id:
                    call_ids.append(call_id)
            message = (
                {"content": rng.choice([None, "", "text"]), "tool_calls": calls}
                if calls or rng.random() < 0.3
                else _random_payload(rng)
            )
            e = event(message, id=f"llm{i}")
            llm_ids.append(e.id)
            session.add_event(e)
        elif kind < 0.8:
            record: dict[str, Any] = {
                rng.choice(["tool_name", "tool"]): rng.choice(TOOL_NAMES),
                "arguments": rng.choice([{"a": 1}, None, "x"]),
                "result": _random_payload(rng),
            }
            if rng.random() < 0.2:
                record["error"] = "boom"
            if call_ids and rng.random() < 0.6:
                record["call_id"] = rng.choice([*call_ids, "nowhere"])
            parent = rng.choice([*llm_ids, "missing", None]) if llm_ids else None
            session.add_event(
                event(record, rng.choice(list(EventSource)), EventType.TOOL_CALL, parent=parent)
            )
        elif kind < 0.85:
            session.add_event(event(_random_payload(rng), EventSource.TOOL))
        elif kind < 0.92:
            session.add_event(event(_random_payload(rng), EventSource.SYSTEM))
        elif kind < 0.97:
            parent = rng.choice(llm_ids) if llm_ids else None
            session.add_event(
                event({"note": "retry"}, EventSource.SYSTEM, EventType.SUMMARY, parent=parent)
            )
        else:
            session.add_event(event("x", type=rng.choice([EventType.REFERENCE, "custom"])))
    return session


@pytest.mark.parametrize("seed", range(60))
def test_random_sessions_always_give_valid_messages(seed: int) -> None:
    rng = random.Random(seed)
    session = random_session(rng, rng.randint(0, 60))
    for strategy in PromptStrategy:
        query = rng.choice([None, "next?"])
        prompt = build_prompt_from_session(session, strategy, current_query=query)
        assert_valid_chat(prompt)
        full = count_chat_tokens(prompt)
        limit = rng.randint(60, max(61, full + 10))
        try:
            cut = build_prompt_from_session(
                session, strategy, max_tokens=limit, current_query=query
            )
        except ValueError as exc:
            # Too small for the essentials: the error names a minimum that works.
            least = int(re.search(r"at least (\d+)", str(exc)).group(1))  # type: ignore[union-attr]
            assert least > limit
            limit = least
            cut = truncate_prompt_to_token_limit(prompt, limit)
        assert_valid_chat(cut)
        assert count_chat_tokens(cut) <= limit


def test_conversation_keeps_every_recorded_message_once() -> None:
    rng = random.Random(7)
    session = random_session(rng, 400)
    prompt = build_prompt_from_session(session)
    users = [
        e for e in session.events if e.source == EventSource.USER and e.type == EventType.MESSAGE
    ]
    assert sum(m["role"] == "user" for m in prompt) == len(users)
    answered = [m for m in prompt if m["role"] == "tool" and m["content"] != NO_RESULT]
    assert len(answered) <= sum(e.type == EventType.TOOL_CALL for e in session.events)


# -- truncation -------------------------------------------------------------------


def long_chat(turns: int = 30) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": "You are a careful assistant."},
        {"role": "user", "content": "TASK: summarise the history of Rome."},
    ]
    for i in range(turns):
        messages.append(
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": f"t{i}",
                        "type": "function",
                        "function": {"name": "lookup", "arguments": json.dumps({"i": i})},
                    }
                ],
            }
        )
        messages.append({"role": "tool", "tool_call_id": f"t{i}", "content": f"fact {i} " * 20})
        messages.append({"role": "assistant", "content": f"Step {i} done. " * 5})
        messages.append({"role": "user", "content": f"continue {i}"})
    messages.append({"role": "assistant", "content": "FINAL ANSWER"})
    return messages


def _units_intact(prompt: list[dict[str, Any]], original: list[dict[str, Any]]) -> None:
    """Every kept call has all its results and every kept result its call."""
    assert_valid_chat(prompt)
    kept_calls = {c["id"] for m in prompt for c in m.get("tool_calls") or []}
    kept_results = {m["tool_call_id"] for m in prompt if m["role"] == "tool"}
    assert kept_calls == kept_results
    assert len(kept_calls) <= sum(len(m.get("tool_calls") or []) for m in original)


def test_truncation_fits_every_limit_and_keeps_essentials() -> None:
    original = long_chat()
    full = count_chat_tokens(original)
    for limit in range(40, full + 50, 37):
        cut = truncate_prompt_to_token_limit(original, limit)
        assert count_chat_tokens(cut) <= limit, limit
        _units_intact(cut, original)
        assert cut[0]["role"] == "system"
        assert cut[1]["content"].startswith("TASK") or TRUNCATION_MARKER in cut[1]["content"]
        assert cut[-1]["content"].startswith("FINAL") or TRUNCATION_MARKER in cut[-1]["content"]
        assert (
            cut[-2]["content"].startswith("continue 29") or TRUNCATION_MARKER in cut[-2]["content"]
        )
        if limit >= full:
            assert cut == original


def test_truncation_drops_oldest_middle_first() -> None:
    original = long_chat()
    cut = truncate_prompt_to_token_limit(original, count_chat_tokens(original) // 2)
    kept_steps = [m["content"] for m in cut if m["role"] == "assistant" and m.get("content")]
    numbers = [int(c.split()[1].rstrip(".")) for c in kept_steps if c.startswith("Step")]
    assert numbers and numbers == list(range(numbers[0], 30))
    assert TRUNCATION_MARKER not in json.dumps(cut, ensure_ascii=False)


def test_truncation_does_not_modify_its_input_and_is_exact_for_other_models() -> None:
    original = long_chat(5)
    snapshot = json.dumps(original)
    for model in ("gpt-4", "gpt-4o", "gpt-3.5-turbo"):
        cut = truncate_prompt_to_token_limit(original, 150, model=model)
        assert count_chat_tokens(cut, model) <= 150
    assert json.dumps(original) == snapshot


def test_truncation_cuts_the_longest_content_when_essentials_do_not_fit() -> None:
    huge = "lorem ipsum dolor sit amet " * 4000
    prompt = [
        {"role": "system", "content": "short system"},
        {"role": "user", "content": huge},
        {"role": "assistant", "content": "ok"},
    ]
    for limit in (30, 100, 1000, 5000):
        cut = truncate_prompt_to_token_limit(prompt, limit)
        assert count_chat_tokens(cut) <= limit
        assert [m["role"] for m in cut] == ["system", "user", "assistant"]
        assert cut[0]["content"] == "short system" and cut[2]["content"] == "ok"
        assert cut[1]["content"].endswith(TRUNCATION_MARKER)
        assert huge.startswith(cut[1]["content"][: -len(TRUNCATION_MARKER)])
    # The cut keeps as much as fits: a few tokens below the limit at most.
    assert count_chat_tokens(truncate_prompt_to_token_limit(prompt, 1000)) >= 990


def test_content_cut_never_splits_a_character() -> None:
    prompt = [{"role": "user", "content": "日本語のテキスト🌍" * 500}]
    for limit in range(20, 200, 7):
        cut = truncate_prompt_to_token_limit(prompt, limit)
        assert count_chat_tokens(cut) <= limit
        text = cut[0]["content"]
        assert "\ufffd" not in text
        assert ("日本語のテキスト🌍" * 500).startswith(text[: -len(TRUNCATION_MARKER)])


def test_truncation_shrinks_several_messages_when_one_is_not_enough() -> None:
    prompt = [
        {"role": "system", "content": "rule " * 300},
        {"role": "user", "content": "task " * 300},
        {"role": "assistant", "content": "answer " * 300},
    ]
    cut = truncate_prompt_to_token_limit(prompt, 60)
    assert count_chat_tokens(cut) <= 60
    assert all(m["content"].endswith(TRUNCATION_MARKER) for m in cut)


def test_truncation_rejects_limits_too_small_for_anything() -> None:
    with pytest.raises(ValueError):
        truncate_prompt_to_token_limit([{"role": "user", "content": "hi"}], 0)
    with pytest.raises(ValueError):
        truncate_prompt_to_token_limit([{"role": "user", "content": "hi"}], 3)
    call = {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "a",
                "type": "function",
                "function": {"name": "f", "arguments": json.dumps({"x": "y" * 400})},
            }
        ],
    }
    with pytest.raises(ValueError, match="at least"):
        truncate_prompt_to_token_limit(
            [
                {"role": "user", "content": "t"},
                call,
                {"role": "tool", "tool_call_id": "a", "content": "r"},
            ],
            50,
        )
    assert truncate_prompt_to_token_limit([], 100) == []


def test_build_with_max_tokens_applies_truncation(weather_session: Session) -> None:
    for _ in range(50):
        weather_session.add_event(user("more " * 50))
        weather_session.add_event(event("reply " * 50))
    prompt = build_prompt_from_session(weather_session, max_tokens=500, current_query="last?")
    assert count_chat_tokens(prompt) <= 500
    assert prompt[0] == SYSTEM and prompt[1] == TASK
    assert prompt[-1] == {"role": "user", "content": "last?"}
    assert_valid_chat(prompt)


def test_five_megabyte_messages_are_cut_to_fit() -> None:
    rng = random.Random(3)
    big = " ".join(rng.choice(["alpha", "été", "🌍", "42", "{", "}"]) for _ in range(1_300_000))
    assert len(big.encode()) > 5_000_000
    session = session_of(
        user("task"),
        user(big),
        event({"tool": "dump", "result": big}, type=EventType.TOOL_CALL),
    )
    prompt = build_prompt_from_session(session, max_tokens=1000)
    assert_valid_chat(prompt)
    assert 990 <= count_chat_tokens(prompt) <= 1000
    assert prompt[0] == {"role": "user", "content": "task"}
    assert all(
        big.startswith(m["content"][: -len(TRUNCATION_MARKER)]) for m in prompt[1:] if m["content"]
    )


def test_a_missing_session_is_a_clear_error() -> None:
    missing = InMemorySessionStore().get("nope")
    with pytest.raises(TypeError, match="needs a Session, got NoneType"):
        build_prompt_from_session(missing)  # type: ignore[arg-type]


# -- hierarchical, through real stores -------------------------------------------


def _family(store: SessionStore) -> tuple[Session, Session, Session]:
    root = session_of(user("Root task"), event("Root answer"))
    store.save(root)
    middle = session_of(
        user("Middle task"),
        event({"note": "Middle found three sources"}, EventSource.SYSTEM, EventType.SUMMARY),
        parent_id=root.id,
    )
    store.save(middle)
    leaf = session_of(user("Leaf task"), event("Leaf answer"), parent_id=middle.id)
    store.save(leaf)
    return root, middle, leaf


def _check_hierarchical(store: SessionStore, *, explicit: bool) -> None:
    root, middle, leaf = _family(store)
    loaded = store.get(leaf.id)
    assert loaded is not None
    prompt = build_prompt_from_session(
        loaded,
        PromptStrategy.HIERARCHICAL,
        include_parent_context=True,
        store=store if explicit else None,
    )
    assert_valid_chat(prompt)
    context = prompt[0]
    assert context["role"] == "system"
    text = context["content"]
    assert text.index(root.id) < text.index(middle.id)  # oldest first
    assert "Task: Root task" in text and "Last response: Root answer" in text
    assert "Middle found three sources" in text and "Middle task" not in text
    assert prompt[1:] == [
        {"role": "user", "content": "Leaf task"},
        {"role": "assistant", "content": "Leaf answer"},
    ]
    without = build_prompt_from_session(loaded, PromptStrategy.HIERARCHICAL, store=store)
    assert without == prompt[1:]


def test_hierarchical_reads_parents_from_a_memory_store() -> None:
    _check_hierarchical(InMemorySessionStore(), explicit=True)


def test_hierarchical_defaults_to_the_application_store() -> None:
    store = InMemorySessionStore()
    SessionStoreProvider.set_store(store)
    _check_hierarchical(store, explicit=False)


def test_hierarchical_reads_parents_from_a_file_store(tmp_path: Path) -> None:
    store = create_file_session_store(tmp_path)
    try:
        _check_hierarchical(store, explicit=True)
    finally:
        store.close()


def test_hierarchical_without_parents_is_minimal(weather_session: Session) -> None:
    assert build_prompt_from_session(
        weather_session, PromptStrategy.HIERARCHICAL, include_parent_context=True
    ) == build_prompt_from_session(weather_session, PromptStrategy.MINIMAL)


# -- the seed README, verbatim ------------------------------------------------------


def _readme_snippet(heading: str) -> str:
    """The first python block under ``heading`` in the seed README, byte for byte."""
    text = (Path(__file__).parent / "data" / "ORIGINAL-README.md").read_text(encoding="utf-8")
    section = text[text.index(f"## {heading}\n") :]
    return section[section.index("```python\n") + 10 : section.index("```\n", 10)]


PROMPT_BUILDER_SNIPPET = _readme_snippet("Prompt Builder")


def test_seed_readme_prompt_builder_snippet() -> None:
    store = InMemorySessionStore()
    SessionStoreProvider.set_store(store)
    parent = session_of(user("Earlier job"), event("Earlier result"))
    store.save(parent)
    seeded = session_of(user("Hello, this is a user message"), parent_id=parent.id)
    seeded.add_event(
        event(
            {"tool": "get_weather", "arguments": {"location": "New York"}, "result": "sunny"},
            EventSource.SYSTEM,
            EventType.TOOL_CALL,
        )
    )
    seeded.add_event(event("Hello! I'm an AI assistant."))
    store.save(seeded)
    session_id = seeded.id

    namespace: dict[str, Any] = {"store": store, "session_id": session_id}
    exec(compile(PROMPT_BUILDER_SNIPPET, "ORIGINAL-README.md", "exec"), namespace)
    minimal_prompt, conversation_prompt, tool_focused_prompt, hierarchical_prompt = (
        namespace[name]
        for name in (
            "minimal_prompt",
            "conversation_prompt",
            "tool_focused_prompt",
            "hierarchical_prompt",
        )
    )
    truncated_prompt = namespace["truncated_prompt"]

    for prompt in (minimal_prompt, conversation_prompt, tool_focused_prompt, hierarchical_prompt):
        assert_valid_chat(prompt)
        assert prompt
    assert truncated_prompt == conversation_prompt
    assert "Earlier job" in hierarchical_prompt[0]["content"]
    assert any(m["role"] == "tool" and m["content"] == "sunny" for m in tool_focused_prompt)


# -- size ----------------------------------------------------------------------------


def test_ten_thousand_event_session_builds() -> None:
    session = Session()
    session.add_event(user("long job"))
    for i in range(2500):
        session.add_event(
            event(
                {
                    "content": None,
                    "tool_calls": [{"id": f"k{i}", "name": "step", "arguments": "{}"}],
                },
                id=f"l{i}",
            )
        )
        session.add_event(
            event(
                {"call_id": f"k{i}", "result": i},
                EventSource.TOOL,
                EventType.TOOL_CALL,
                parent=f"l{i}",
            )
        )
        session.add_event(event(f"did {i}"))
        session.add_event(user(f"next {i}"))
    assert len(session.events) == 10_001
    builders: dict[PromptStrategy, Callable[[], list[dict[str, Any]]]] = {
        s: (lambda s=s: build_prompt_from_session(session, s)) for s in PromptStrategy
    }
    for strategy, build in builders.items():
        prompt = build()
        assert_valid_chat(prompt)
        assert prompt[0] == {"role": "user", "content": "long job"}, strategy
    conversation = builders[PromptStrategy.CONVERSATION]()
    assert len(conversation) == 10_001
    cut = build_prompt_from_session(session, max_tokens=2000)
    assert count_chat_tokens(cut) <= 2000
    assert cut[-1] == {"role": "user", "content": "next 2499"}
