from __future__ import annotations

import datetime as dt
from typing import Any

from ninja import Field, Schema
from pydantic import field_validator

from rollbook.audit.api import MAX_EVENTS


class AuditEventOut(Schema):
    id: int
    time: dt.datetime
    event: str
    subject: str
    actor: str
    source: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None

    @staticmethod
    def resolve_actor(obj: Any) -> str:
        return obj.actor_username


class AuditFilter(Schema):
    subject: str | None = Field(
        None, description="Exact subject (user:mary, course:KEY, ...), or a prefix ending in *."
    )
    event: str | None = None


_TYPE_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789._-")


class EventFilter(Schema):
    after: int = Field(0, ge=0, description="Events numbered after this seq (0: from the start).")
    types: str | None = Field(
        None,
        description=(
            "Comma-separated event names (enrollment.created, role.granted, ...); "
            "a name ending in * is a prefix (enrollment.*). Empty: every type."
        ),
    )
    limit: int = Field(100, ge=1, le=MAX_EVENTS, description="Events per page (1 to 1000).")

    @field_validator("types")
    @classmethod
    def _valid_types(cls, value: str | None) -> str | None:
        for name in (part.strip() for part in (value or "").split(",")):
            stem = name.removesuffix("*")
            if name and not set(stem) <= _TYPE_CHARS:
                raise ValueError(f"{name!r} is not an event name or a prefix ending in *")
        return value

    def type_list(self) -> list[str]:
        return [part.strip() for part in (self.types or "").split(",") if part.strip()]


class EventOut(Schema):
    seq: int = Field(description="Gapless and increasing: the order in which changes committed.")
    type: str = Field(description="The event name, e.g. enrollment.created.")
    subject: str
    time: dt.datetime
    actor: str = Field(description="The username behind the change ('' for the system).")
    source: str = Field(description="api, cli, admin, job:<uuid>, sis:<message id>, ...")
    before: dict[str, Any] | None
    after: dict[str, Any] | None

    @staticmethod
    def resolve_type(obj: Any) -> str:
        return obj.event

    @staticmethod
    def resolve_actor(obj: Any) -> str:
        return obj.actor_username


class EventsOut(Schema):
    events: list[EventOut]
    next_after: int = Field(description="Pass as `after` for the next page.")
    last_seq: int = Field(description="The highest seq given so far: caught up when reached.")
