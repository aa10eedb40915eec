"""Child process for the file store tests: appends events to one session.

    python tests/support/file_store_writer.py DIR SESSION_ID TAG COUNT

Appends COUNT events (ids ``TAG-0``, ``TAG-1``, ...) one ``apply`` each and
prints the number of events written after each one, so the parent knows
what is on disk. COUNT 0 means: until killed. Waits for a line on stdin
before starting, so two writers can be released together.
"""

from __future__ import annotations

import itertools
import sys

from a2a_session_manager.models.session_event import SessionEvent
from a2a_session_manager.storage.changes import SessionChanges
from a2a_session_manager.storage.file import FileSessionStore


def main() -> None:
    directory, session_id, tag, count_text = sys.argv[1:5]
    count = int(count_text)
    store = FileSessionStore(directory)
    sys.stdin.readline()
    numbers = range(count) if count else itertools.count()
    for n in numbers:
        event = SessionEvent(id=f"{tag}-{n}", message={"n": n, "text": "x" * (n % 300)})
        store.apply(SessionChanges(session_id, events=[event]))
        print(n + 1, flush=True)


if __name__ == "__main__":
    main()
