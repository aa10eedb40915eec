"""Events in run order: each run's events together, nested runs inside their
parent, two runs that were in flight at once never interleaved.

Stores keep events in the order they were recorded, so runs running
concurrently in one session come back mixed (``A1 B1 A2 B2``). Every reader
that shows or rebuilds a conversation (``show``, the report, the prompt
builder) orders them through here. An event belongs to the run named by its
``task_id``; a run sits inside the run named by its ``parent_run_id``. Each
run keeps the place of its first event (or of its first nested run's), and
events keep their recorded order within their run, so a session with one
run at a time reads exactly as recorded.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from a2a_session_manager.models.session_event import SessionEvent
from a2a_session_manager.models.session_run import SessionRun


@dataclass
class _Block:
    items: list[SessionEvent | _Block] = field(default_factory=list)
    placed: set[str] = field(default_factory=set)  # child run ids already in ``items``


def _chains(runs: Iterable[SessionRun]) -> dict[str, list[str]]:
    """For each run id, its ancestry from the outermost run down to itself.
    A missing parent ends the chain; a run whose ancestry loops (bad data)
    is taken as outermost."""
    parents = {run.id: run.parent_run_id for run in runs}
    chains: dict[str, list[str]] = {}
    for run_id in parents:
        chain = [run_id]
        parent = parents.get(run_id)
        while parent is not None and parent in parents:
            if parent in chain:
                chain = [run_id]
                break
            chain.append(parent)
            parent = parents.get(parent)
        chains[run_id] = chain[::-1]
    return chains


def _flatten(root: _Block) -> list[SessionEvent]:
    out: list[SessionEvent] = []
    stack: list[Iterator[SessionEvent | _Block]] = [iter(root.items)]
    while stack:
        item = next(stack[-1], None)
        if item is None:
            stack.pop()
        elif isinstance(item, _Block):
            stack.append(iter(item.items))
        else:
            out.append(item)
    return out


def events_in_run_order(
    events: Sequence[SessionEvent], runs: Iterable[SessionRun] = ()
) -> list[SessionEvent]:
    """``events`` with each run's events kept together (see the module doc)."""
    if not any(event.task_id for event in events):
        return list(events)
    chains = _chains(runs)
    root = _Block()
    blocks: dict[str, _Block] = {}
    for event in events:
        run_id = event.task_id
        if not run_id:
            root.items.append(event)
            continue
        parent = root
        for member in chains.get(run_id, [run_id]):
            block = blocks.get(member)
            if block is None:
                block = blocks[member] = _Block()
            if member not in parent.placed:
                parent.placed.add(member)
                parent.items.append(block)
            parent = block
        parent.items.append(event)
    return _flatten(root)


def run_and_descendants(runs: Iterable[SessionRun], run_id: str) -> set[str]:
    """``run_id`` and every run nested in it, however deep."""
    chains = _chains(runs)
    return {run_id} | {rid for rid, chain in chains.items() if run_id in chain}


def events_of_run(
    events: Sequence[SessionEvent], runs: Iterable[SessionRun], run_id: str
) -> list[SessionEvent]:
    """The events of one run and of the runs nested in it, in run order."""
    runs = list(runs)
    members = run_and_descendants(runs, run_id)
    return events_in_run_order([e for e in events if e.task_id in members], runs)
