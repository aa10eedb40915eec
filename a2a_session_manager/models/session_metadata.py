"""Creation time, last update and free-form properties of a session."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, Field


def utc_now() -> datetime:
    return datetime.now(UTC)


def _assume_utc(value: datetime) -> datetime:
    # A naive time (user code, old JSON) is taken as UTC: mixing naive and
    # aware times makes every later comparison raise TypeError.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


UtcDateTime = Annotated[datetime, AfterValidator(_assume_utc)]


class SessionMetadata(BaseModel):
    created_at: UtcDateTime = Field(default_factory=utc_now)
    updated_at: UtcDateTime = Field(default_factory=utc_now)
    properties: dict[str, Any] = Field(default_factory=dict)

    def set_property(self, key: str, value: Any) -> None:
        self.properties[key] = value
        self.touch()

    def get_property(self, key: str, default: Any = None) -> Any:
        return self.properties.get(key, default)

    def touch(self) -> None:
        self.updated_at = utc_now()
