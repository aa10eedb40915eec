"""Agent to agent across processes: W3C trace context and baggage carry the
caller's session to a remote agent (tests/support/remote_agent.py, a real
HTTP server in its own process), whose session records the caller's as its
parent in the same store and whose spans continue the caller's trace.

The agent here trusts its callers (``remote_sessions="allow"``), so the
hierarchy reads as one tree; the caller links the child on its own side
(``add_child``). What an untrusted caller can and cannot do is in
test_remote_sessions.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import a2a_session_manager as asm
from a2a_session_manager.models import EventType, ParentLink
from a2a_session_manager.storage import SessionStore
from tests.support.otel import clean_otel
from tests.support.remote_agents import RemoteAgent, store, store_url

__all__ = ["clean_otel", "store", "store_url"]


@pytest.fixture(scope="module")
def remote(store_url: str) -> Iterator[RemoteAgent]:
    """The remote agent process, one per store kind (starting one costs seconds)."""
    agent = RemoteAgent(store_url, "allow")
    yield agent
    agent.stop()


def test_remote_session_becomes_child_in_the_same_trace(
    store: SessionStore, remote: RemoteAgent
) -> None:
    with asm.session("parent") as parent_session, asm.run("caller") as caller_run:
        headers = asm.inject({})
        reply = remote.call(headers, "child", "weather")
        asm.record_event({"remote said": reply["answer"]})
        parent_session.add_child(reply["session_id"])  # the link on the caller's side
    assert reply["session_id"] == "child" and reply["parent_id"] == "parent"
    assert reply["parent_link"] == "remote-trusted"
    assert reply["answer"] == "notes on weather"

    # the trace continues: every remote span is in the caller's trace, and the
    # remote session hangs under the caller's run span
    traceparent = headers["traceparent"]
    caller_trace_id = traceparent.split("-")[1]
    spans = {s["name"]: s for s in reply["spans"]}
    assert {"session child", "invoke_agent remote-agent", "execute_tool lookup"} <= set(spans)
    assert {s["trace_id"] for s in reply["spans"]} == {caller_trace_id}
    assert spans["session child"]["parent_span_id"] == caller_run.id
    assert traceparent.split("-")[2] == caller_run.id
    assert {s["session_id"] for s in reply["spans"]} == {"child"}

    child = store.get("child")
    assert child is not None
    assert child.parent_id == "parent" and child.parent_link == ParentLink.REMOTE_TRUSTED
    assert [r.id for r in child.runs] == [spans["invoke_agent remote-agent"]["span_id"]]
    assert [r.name for r in child.runs] == ["remote-agent"]
    tool_calls = [e for e in child.events if e.type == EventType.TOOL_CALL]
    assert [e.message["arguments"] for e in tool_calls] == [{"topic": "weather"}]
    assert {"answer": "notes on weather"} in [e.message for e in child.events]
    assert all(e.task_id == reply["run_id"] for e in child.events)

    assert store.children("parent") == ["child"]
    parent = store.get("parent")
    assert parent is not None and parent.parent_id is None
    assert [r.id for r in parent.runs] == [caller_run.id]
    assert [e.message for e in parent.events] == [{"remote said": "notes on weather"}]
    assert [s.id for s in parent.descendants(store)] == ["child"]
    assert [s.id for s in child.ancestors(store)] == ["parent"]


def test_grandchild_across_two_hops(store: SessionStore, remote: RemoteAgent) -> None:
    asm.configure(store=store, remote_sessions="allow")  # this side trusts hop-1 too
    with asm.session("root") as root_session, asm.run("caller"):
        first = remote.call(asm.inject({}), "hop-1", "a")
        root_session.add_child(first["session_id"])
    # the caller continues from what the remote agent did: a second hop whose
    # baggage names hop-1 as the calling session
    hop_1 = asm.extract({"baggage": "session.id=hop-1"})
    with asm.session("relay", context=hop_1) as relay:
        second = remote.call(asm.inject({}), "hop-2", "b")
        relay.add_child(second["session_id"])
    assert first["parent_id"] == "root" and relay.parent_id == "hop-1"
    assert relay.parent_link == ParentLink.REMOTE_TRUSTED
    assert second["parent_id"] == "relay"
    root = store.get("root")
    assert root is not None
    assert [s.id for s in root.descendants(store)] == ["hop-1"]  # relay linked only itself
    stored_relay = store.get("relay")
    assert stored_relay is not None
    assert [s.id for s in stored_relay.ancestors(store)] == ["hop-1", "root"]
    assert [s.id for s in stored_relay.descendants(store)] == ["hop-2"]
    hop_2 = store.get("hop-2")
    assert hop_2 is not None
    assert [s.id for s in hop_2.ancestors(store)] == ["relay", "hop-1", "root"]


# Each case: the raw baggage header a hostile or broken caller sends, and the
# parent id the remote session must end up with (None: no parent).
HOSTILE_BAGGAGE = {
    "path-traversal": ("session.id=..%2F..%2F..%2Fescaped", "../../../escaped"),
    "absolute-path": ("session.id=%2Ftmp%2Fescaped", "/tmp/escaped"),
    "nul-byte": ("session.id=a%00b", "a\x00b"),
    "invalid-utf8": ("session.id=%FF%FEx", "\ufffd\ufffdx"),
    "json-and-quotes": ("session.id=%22%7D%2C%22x%22%3A1", '"},"x":1'),
    "redis-glob": ("session.id=*%3A%5B%5D%3F", "*:[]?"),
    "own-id": ("session.id={child}", None),  # never its own parent
    "empty": ("session.id=", None),
    "no-equals": ("session.id", None),
    "garbage": (";;;,,,==", None),
    "oversized": ("session.id=" + "x" * 10_000, None),  # over W3C's 8192-byte limit
}


@pytest.mark.parametrize("case", sorted(HOSTILE_BAGGAGE))
def test_hostile_baggage_is_handled_safely(
    case: str, store: SessionStore, remote: RemoteAgent, store_url: str
) -> None:
    header, expected_parent = HOSTILE_BAGGAGE[case]
    child_id, honest_id = f"hostile-child-{case}", f"honest-{case}"
    with asm.session(honest_id), asm.run("caller"):
        headers = asm.inject({})
    headers["baggage"] = header.replace("{child}", child_id)
    reply = remote.call(headers, child_id, "x")
    assert reply["parent_id"] == expected_parent
    assert remote.process.poll() is None  # the agent is still serving

    child = store.get(child_id)
    assert child is not None
    assert child.parent_id == expected_parent
    assert [r.name for r in child.runs] == ["remote-agent"]
    if expected_parent is not None:
        # the claimed parent is never written to, so never created
        assert store.get(expected_parent) is None
        assert store.children(expected_parent) == []
        assert child.ancestors(store) == []
    # nothing was written where a path-like id points, from the store's
    # directory or from the agent's working directory
    if store_url.startswith("file://"):
        directory = Path(store_url.removeprefix("file://"))
        assert not (directory / "../../../escaped").resolve().exists()
        assert [p.name for p in directory.parent.iterdir()] == ["sessions"]
    assert not (Path.cwd() / "../../../escaped").resolve().exists()
    assert not Path("/tmp/escaped").exists()
    # the honest caller's session is untouched
    assert store.children(honest_id) == []
    honest = store.get(honest_id)
    assert honest is not None and honest.parent_id is None


def test_malformed_traceparent_starts_a_new_trace(store: SessionStore, remote: RemoteAgent) -> None:
    reply = remote.call(
        {"traceparent": "00-zz-not-a-trace-id-01", "baggage": "session.id=caller"},
        "fresh",
        "y",
    )
    assert reply["parent_id"] == "caller"  # baggage still names the caller
    trace_ids = {s["trace_id"] for s in reply["spans"]}
    assert len(trace_ids) == 1 and trace_ids != {"0" * 32}
    assert {s["name"]: s["parent_span_id"] for s in reply["spans"]}["session fresh"] is None
    child = store.get("fresh")
    assert child is not None and child.parent_id == "caller"
    assert store.get("caller") is None  # named, never written
