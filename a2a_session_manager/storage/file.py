"""PLACEHOLDER: the file store is being written (see helper brief)."""

from __future__ import annotations

from pathlib import Path

from a2a_session_manager.storage.memory import InMemorySessionStore


class FileSessionStore(InMemorySessionStore):
    def __init__(self, directory: str | Path) -> None:
        super().__init__()
        self.directory = Path(directory)


def create_file_session_store(directory: str | Path = "./sessions") -> FileSessionStore:
    return FileSessionStore(directory)
