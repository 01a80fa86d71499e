from __future__ import annotations

import datetime as dt
from typing import Any

from ninja import Field, Schema


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
