"""A session id that arrives from another process is a claim.

A caller (this test process) sends W3C headers whose baggage names
``alice-private``, a session it does not own, to remote agents in their own
processes (tests/support/remote_agent.py) that share the file or Redis
store. Whatever the agent's policy, Alice's stored session stays
byte-identical; her content reaches the agent's HIERARCHICAL prompt only
when ``configure(remote_sessions=...)`` accepts the claim.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from opentelemetry import context as otel_context

import a2a_session_manager as asm
from a2a_session_manager.models import EventSource, EventType, ParentLink
from a2a_session_manager.prompts import PromptStrategy, build_prompt_from_session
from a2a_session_manager.storage import InMemorySessionStore, SessionChanges, SessionStore
from a2a_session_manager.storage._file_names import log_name
from a2a_session_manager.storage._redis_keys import session_keys, shard_keys
from tests.support.otel import Recorder, clean_otel, recorder
from tests.support.remote_agents import RemoteAgent, store, store_url

__all__ = ["clean_otel", "recorder", "store", "store_url"]

ALICE = "alice-private"
SECRET = "ALICE-SECRET: diagnosis is confidential"
TOKEN = "s3cret-token"


@pytest.fixture(scope="module")
def denying_agent(store_url: str) -> Iterator[RemoteAgent]:
    """An agent with the default policy (deny)."""
    agent = RemoteAgent(store_url)
    yield agent
    agent.stop()


@pytest.fixture(scope="module")
def authenticating_agent(store_url: str) -> Iterator[RemoteAgent]:
    """An agent whose policy hook accepts only callers with ``Bearer TOKEN``."""
    agent = RemoteAgent(store_url, f"token:{TOKEN}")
    yield agent
    agent.stop()


def snapshot(store_url: str, session_id: str) -> Any:
    """Everything the store holds for ``session_id``, as raw bytes."""
    if store_url.startswith("file://"):
        path = Path(store_url.removeprefix("file://")) / log_name(session_id)
        return path.read_bytes()
    client = redis.Redis.from_url(store_url)
    try:
        keys = session_keys("session:", session_id)
        return (
            [client.dump(key) for key in keys],
            client.zscore(shard_keys("session:", session_id).updated, session_id),
        )
    finally:
        client.close()


def record_alice(store: SessionStore, suffix: str) -> str:
    """Alice's session, recorded by its owner: a summary that must stay hers."""
    session_id = f"{ALICE}-{suffix}"
    with asm.session(session_id, properties={"user": "alice"}), asm.run("alice-agent"):
        asm.record_event("What did the lab say?", source=EventSource.USER)
        asm.record_event(SECRET, type=EventType.SUMMARY)
    assert store.get(session_id) is not None
    return session_id


def spoofed_headers(alice_id: str, **extra: str) -> dict[str, str]:
    """The attacker's own trace, with baggage naming Alice's session."""
    trace_id, span_id = secrets.token_hex(16), secrets.token_hex(8)
    return {
        "traceparent": f"00-{trace_id}-{span_id}-01",
        "baggage": f"session.id={alice_id}",
        **extra,
    }


def test_a_spoofed_parent_is_never_written_nor_read(
    store: SessionStore, store_url: str, denying_agent: RemoteAgent
) -> None:
    alice = record_alice(store, "deny")
    before = snapshot(store_url, alice)

    reply = denying_agent.call(spoofed_headers(alice), "bob-deny", "x")
    attached = denying_agent.call(spoofed_headers(alice), "", "y", path="/attached")

    # the agent's own session keeps the claim on its side, and reads nothing of it
    assert reply["parent_id"] == alice and reply["parent_link"] == "remote"
    assert reply["ancestors"] == []
    assert SECRET not in json.dumps(reply["prompt"])
    # what ran under the attached context landed in a local session, not Alice's
    landing = attached["session_id"]
    assert landing.startswith("remote-") and landing != alice
    assert {s["session_id"] for s in attached["spans"]} == {landing}

    assert snapshot(store_url, alice) == before
    assert store.children(alice) == []
    bob = store.get("bob-deny")
    assert bob is not None
    assert bob.parent_id == alice and bob.parent_link == ParentLink.REMOTE
    assert bob.ancestors(store) == []
    # even in a process that would trust claims, the recorded decision holds
    asm.configure(store=store, remote_sessions="allow")
    prompt = build_prompt_from_session(
        bob, PromptStrategy.HIERARCHICAL, include_parent_context=True, store=store
    )
    assert SECRET not in json.dumps(prompt)
    landed = store.get(landing)
    assert landed is not None
    assert [r.name for r in landed.runs] == ["attached-agent"]
    assert {"answer": "notes on y"} in [e.message for e in landed.events]
    assert landed.parent_id == alice and landed.parent_link == ParentLink.REMOTE
    assert landed.ancestors(store) == []


def test_an_authenticated_caller_gets_the_hierarchy_and_still_writes_nothing(
    store: SessionStore, store_url: str, authenticating_agent: RemoteAgent
) -> None:
    alice = record_alice(store, "token")
    before = snapshot(store_url, alice)
    good = {"Authorization": f"Bearer {TOKEN}"}

    reply = authenticating_agent.call(spoofed_headers(alice, **good), "bob-token", "x")
    attached = authenticating_agent.call(spoofed_headers(alice, **good), "", "y", path="/attached")

    assert reply["parent_id"] == alice and reply["parent_link"] == "remote-trusted"
    assert reply["ancestors"] == [alice]
    assert SECRET in json.dumps(reply["prompt"])
    assert snapshot(store_url, alice) == before
    assert store.children(alice) == []
    landed = store.get(attached["session_id"])
    assert landed is not None and landed.parent_link == ParentLink.REMOTE_TRUSTED
    assert [s.id for s in landed.ancestors(store)] == [alice]


BAD_AUTHORIZATION = {"none": None, "wrong": "Bearer wrong", "basic": f"Basic {TOKEN}"}


@pytest.mark.parametrize("case", sorted(BAD_AUTHORIZATION))
def test_an_unauthenticated_caller_is_denied(
    case: str,
    store: SessionStore,
    store_url: str,
    authenticating_agent: RemoteAgent,
) -> None:
    alice = record_alice(store, f"bad-{case}")
    before = snapshot(store_url, alice)
    authorization = BAD_AUTHORIZATION[case]
    extra = {"Authorization": authorization} if authorization else {}
    child = f"mallory-{case}"

    reply = authenticating_agent.call(spoofed_headers(alice, **extra), child, "x")

    assert reply["parent_id"] == alice and reply["parent_link"] == "remote"
    assert reply["ancestors"] == []
    assert SECRET not in json.dumps(reply["prompt"])
    assert snapshot(store_url, alice) == before


# -- in one process: the same rules, and the policy's edges ------------------


def test_a_claim_in_this_process_creates_nothing(recorder: Recorder) -> None:
    caller = asm.extract({"baggage": "session.id=nobody-here"})
    with asm.session("mine", context=caller) as mine:
        asm.record_event("hello")
    assert mine.parent_id == "nobody-here" and mine.parent_link == ParentLink.REMOTE
    assert not recorder.store.exists("nobody-here")
    assert recorder.store.list_sessions() == ["mine"]


def test_the_landing_session_is_one_per_calling_span(recorder: Recorder) -> None:
    first = asm.extract(spoofed_headers(ALICE))
    second = asm.extract(spoofed_headers(ALICE))
    ids = []
    for ctx in (first, first, second):
        token = otel_context.attach(ctx)
        try:
            with asm.run("r"):
                ids.append(asm.current_session_id())
        finally:
            otel_context.detach(token)
    assert ids[0] == ids[1] != ids[2]
    assert all(i is not None and i.startswith("remote-") for i in ids)
    assert not recorder.store.exists(ALICE)


def test_a_failing_policy_denies(recorder: Recorder, caplog: pytest.LogCaptureFixture) -> None:
    def broken(session_id: str, context: object) -> bool:
        raise RuntimeError("auth backend down")

    asm.configure(store=recorder.store, remote_sessions=broken)
    caller = asm.extract({"baggage": "session.id=p"})
    with (
        caplog.at_level(logging.ERROR, logger="a2a_session_manager"),
        asm.session("s", context=caller) as s,
    ):
        pass
    assert s.parent_link == ParentLink.REMOTE
    assert "remote_sessions policy failed" in caplog.text


@pytest.mark.parametrize("value", ["yes", True, None])
def test_an_unknown_policy_is_refused(value: Any, recorder: Recorder) -> None:
    with pytest.raises(ValueError, match="remote_sessions"):
        asm.configure(store=recorder.store, remote_sessions=value)


def test_memory_store_keeps_the_link_on_our_side() -> None:
    store = InMemorySessionStore()
    store.apply(SessionChanges("child", parent_id="p", parent_link=ParentLink.REMOTE))
    assert not store.exists("p")
    child = store.get("child")
    assert child is not None and child.parent_link == ParentLink.REMOTE
    store.delete("child")
    assert not store.exists("p")
