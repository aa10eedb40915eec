"""Cost rolled up over a session tree: a parent's total includes what its
descendants spent, in the API, in ``a2a-sessions usage`` / ``tree`` and in the
HTML report. A call at unknown price adds no cost and is counted as such."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from a2a_session_manager.models import EventSource, Session, SessionEvent
from a2a_session_manager.reports import render_report
from a2a_session_manager.storage import SessionStore, create_store
from a2a_session_manager.tokens import estimate_cost
from tests.test_cli import run_cli

# session id -> (parent id, [(model, prompt tokens, completion tokens)])
TREE = {
    "root": (None, [("gpt-4o-mini", 1_000, 100)]),
    "child-a": ("root", [("gpt-4o", 2_000, 200), ("gpt-4o-mini", 10, 5)]),
    "grandchild": ("child-a", [("claude-3-5-haiku-20241022", 3_000, 300)]),
    "child-b": ("root", [("acme-unpriced", 50, 50)]),
}


def _cost(session_id: str) -> float:
    return sum(
        estimate_cost(model, input_tokens=p, output_tokens=c) or 0.0
        for model, p, c in TREE[session_id][1]
    )


def _fill(store: SessionStore) -> None:
    for session_id, (parent, calls) in TREE.items():
        session = Session(id=session_id, parent_id=parent)
        for model, prompt, completion in calls:
            event = SessionEvent(message="reply", source=EventSource.LLM)
            event.update_token_usage(
                prompt_tokens=prompt, completion_tokens=completion, model=model
            )
            session.add_event(event)
        store.save(session)


@pytest.fixture
def store_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "sessions"
    store = create_store(f"file://{directory}")
    _fill(store)
    store.close()
    return directory


def test_tree_cost_includes_every_descendant(store_dir: Path) -> None:
    store = create_store(f"file://{store_dir}")
    root = store.get("root")
    child = store.get("child-a")
    assert root is not None and child is not None
    everything = sum(_cost(s) for s in TREE)
    assert root.total_cost == pytest.approx(_cost("root"))
    assert root.tree_cost(store) == pytest.approx(everything)
    assert child.tree_cost(store) == pytest.approx(_cost("child-a") + _cost("grandchild"))
    tokens = sum(p + c for _, calls in TREE.values() for _, p, c in calls)
    assert root.tree_usage(store).total_tokens == tokens


def test_cli_usage_and_tree_roll_cost_up(store_dir: Path) -> None:
    base = ("--store", f"file://{store_dir}")
    usage = run_cli(*base, "usage", "root", "--json", cwd=store_dir.parent)
    assert usage.returncode == 0, usage.stderr
    document = json.loads(usage.stdout)
    assert document["total"]["cost_usd"] == pytest.approx(_cost("root"))
    tree_total = document["tree_total"]
    assert tree_total["descendants"] == 3
    assert tree_total["cost_usd"] == pytest.approx(sum(_cost(s) for s in TREE))
    assert tree_total["unpriced_calls"] == 1  # child-b's unknown model

    text = run_cli(*base, "usage", "child-a", cwd=store_dir.parent)
    assert text.returncode == 0, text.stderr
    assert "with its 1 descendant session(s)" in text.stdout

    tree = run_cli(*base, "tree", "grandchild", "--json", cwd=store_dir.parent)
    assert tree.returncode == 0, tree.stderr
    root = json.loads(tree.stdout)["root"]
    assert root["id"] == "root"
    assert root["tree_cost_usd"] == pytest.approx(sum(_cost(s) for s in TREE))
    child_a = next(c for c in root["children"] if c["id"] == "child-a")
    assert child_a["tree_cost_usd"] == pytest.approx(_cost("child-a") + _cost("grandchild"))
    child_b = next(c for c in root["children"] if c["id"] == "child-b")
    assert child_b["tree_cost_usd"] is None and child_b["tree_unpriced_calls"] == 1

    rendered = run_cli(*base, "tree", "root", cwd=store_dir.parent)
    assert rendered.returncode == 0, rendered.stderr
    first = rendered.stdout.splitlines()[0]
    assert first.startswith("root ") and "with descendants" in first


def test_report_shows_the_rolled_up_cost(store_dir: Path) -> None:
    store = create_store(f"file://{store_dir}")
    root = store.get("root")
    assert root is not None
    html = render_report(root, store)
    assert "with descendants" in html
