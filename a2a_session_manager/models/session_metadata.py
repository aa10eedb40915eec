"""Creation time, last update and free-form properties of a session."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field


def utc_now() -> datetime:
    return datetime.now(UTC)


class SessionMetadata(BaseModel):
    created_at: datetime = Field(default_factory=utc_now)
    updated_at: datetime = Field(default_factory=utc_now)
    properties: dict[str, Any] = Field(default_factory=dict)

    def set_property(self, key: str, value: Any) -> None:
        self.properties[key] = value
        self.touch()

    def get_property(self, key: str, default: Any = None) -> Any:
        return self.properties.get(key, default)

    def touch(self) -> None:
        self.updated_at = utc_now()
