"""Basic session management with the models and stores, no LLM needed.

Builds a session by hand (events, a run, a child session), saves it in a
store, reads it back and walks the hierarchy through the store. The same
code works with every store; choose one by URL:

    python examples/session_example.py                          # memory://
    python examples/session_example.py --store file://./sessions
    python examples/session_example.py --store redis://127.0.0.1:6379/0
"""

from __future__ import annotations

import argparse

from a2a_session_manager.models.event_source import EventSource
from a2a_session_manager.models.event_type import EventType
from a2a_session_manager.models.session import Session
from a2a_session_manager.models.session_event import SessionEvent
from a2a_session_manager.models.session_run import SessionRun
from a2a_session_manager.storage import SessionStoreProvider, create_store


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", default="memory://", help="store URL (default: memory://)")
    args = parser.parse_args()

    store = create_store(args.store)
    SessionStoreProvider.set_store(store)  # hierarchy lookups read through it
    print(f"store: {args.store} ({type(store).__name__})")

    # A conversation: the user asks, a run of the agent answers.
    session = Session()
    session.metadata.set_property("user", "alice")
    session.metadata.set_property("channel", "example")
    session.add_event(
        SessionEvent(message="Plan a two-day trip to Lisbon.", source=EventSource.USER)
    )

    run = SessionRun(name="trip-planner")
    session.runs.append(run)
    run.mark_running()
    session.add_event(
        SessionEvent(
            message="Day 1: Alfama and the castle. Day 2: Belém and the LX Factory.",
            source=EventSource.LLM,
            task_id=run.id,
        )
    )
    session.add_event(
        SessionEvent(
            message="User asked for a short itinerary; answered with two days.",
            source=EventSource.SYSTEM,
            type=EventType.SUMMARY,
            task_id=run.id,
        )
    )
    run.mark_completed()
    store.save(session)

    # A sub-task in a session of its own, child of the first.
    child = Session(parent_id=session.id)
    child.add_event(
        SessionEvent(message="Find a restaurant near Alfama.", source=EventSource.SYSTEM)
    )
    child.add_event(
        SessionEvent(message="Try 'Taberna da Rua das Flores'.", source=EventSource.LLM)
    )
    store.save(child)

    # Later (or in another process): read it back.
    loaded = store.get(session.id)
    assert loaded is not None
    print(f"\nsession {loaded.id}")
    print(f"  properties: {loaded.metadata.properties}")
    print(f"  runs: {[(r.name, r.status.value) for r in loaded.runs]}")
    for event in loaded.events:
        print(f"  [{event.source.value:<6} {event.type!s:<7}] {event.message}")
    print(f"  events in run {run.name}: {len(loaded.events_for_run(run.id))}")

    # Append to the loaded object and save again: only the new event is written.
    loaded.add_event(SessionEvent(message="Thanks!", source=EventSource.USER))
    store.save(loaded)
    again = store.get(session.id)
    assert again is not None
    print(f"  after a follow-up: {len(again.events)} events")

    descendants = loaded.descendants()
    loaded_child = store.get(child.id)
    assert loaded_child is not None
    print(f"\nchildren of {session.id}: {[s.id for s in descendants]}")
    print(f"ancestors of {child.id}: {[s.id for s in loaded_child.ancestors()]}")
    print(f"sessions in the store: {len(store.list_sessions())}")


if __name__ == "__main__":
    main()
