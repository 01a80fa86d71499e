from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from ninja import Schema

ERRORS_SHOWN = 25


class JobOut(Schema):
    job_id: uuid.UUID
    kind: str
    state: str
    progress: int
    counts: dict[str, int]
    errors: list[dict[str, Any]]
    result: dict[str, Any]
    message: str
    actor: str
    source: str
    created: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None

    @staticmethod
    def resolve_errors(obj: Any) -> list[dict[str, Any]]:
        # The first 25; the counts say how many there were, and a job may link a full CSV.
        return list(obj.errors[:ERRORS_SHOWN])

    @staticmethod
    def resolve_job_id(obj: Any) -> uuid.UUID:
        return obj.uuid

    @staticmethod
    def resolve_actor(obj: Any) -> str:
        return obj.actor_username


class JobFilter(Schema):
    state: str | None = None
    kind: str | None = None
