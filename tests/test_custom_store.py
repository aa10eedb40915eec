"""The README's custom store: a class implementing the protocol works with the
rest of the library (provider, hierarchy, prompt builder, SDK exporter)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider

from a2a_session_manager.models import EventSource, Session, SessionEvent
from a2a_session_manager.prompts import PromptStrategy, build_prompt_from_session
from a2a_session_manager.storage import SessionStore, SessionStoreProvider

README = Path(__file__).resolve().parents[1] / "README.md"


def _custom_store_class() -> Any:
    text = README.read_text(encoding="utf-8")
    section = text.split("### A custom store", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S)
    assert code is not None
    namespace: dict[str, Any] = {}
    exec(compile(code.group(1), "README.md:custom-store", "exec"), namespace)
    return namespace["AuditedStore"]


def test_readme_custom_store_works_with_provider_hierarchy_and_prompts() -> None:
    store = _custom_store_class()()
    assert isinstance(store, SessionStore)
    SessionStoreProvider.set_store(store)

    parent = Session(id="parent")
    parent.add_event(SessionEvent(message="Plan a trip to Paris", source=EventSource.USER))
    store.save(parent)
    child = Session(id="child", parent_id="parent")
    child.add_event(SessionEvent(message="Find flights", source=EventSource.USER))
    child.add_event(SessionEvent(message="Found 3 flights.", source=EventSource.LLM))
    store.save(child)

    assert [s.id for s in child.ancestors()] == ["parent"]
    assert [s.id for s in parent.descendants()] == ["child"]
    prompt = build_prompt_from_session(
        store.get("child"), PromptStrategy.HIERARCHICAL, include_parent_context=True
    )
    assert "Plan a trip to Paris" in prompt[0]["content"]
    assert prompt[-1] == {"role": "assistant", "content": "Found 3 flights."}
    assert store.audit == ["parent: +1 events", "child: +2 events"]

    loaded = store.get("child")
    loaded.add_event(SessionEvent(message="Book the cheapest", source=EventSource.USER))
    store.save(loaded)
    assert store.audit[-1] == "child: +1 events"  # only what is new is written


@pytest.mark.usefixtures("clean_otel")
def test_custom_store_receives_what_the_sdk_records() -> None:
    import a2a_session_manager as asm

    store = _custom_store_class()()
    handle = asm.configure(store=store, tracer_provider=TracerProvider())
    try:
        with asm.session("recorded"), asm.run("agent"):
            asm.record_event("hello", source=EventSource.USER)
        session = store.get("recorded")
        assert session is not None
        assert [e.message for e in session.events] == ["hello"]
        assert session.runs[0].name == "agent"
        assert any(line.startswith("recorded:") for line in store.audit)
    finally:
        handle.shutdown()
