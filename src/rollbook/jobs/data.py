from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    HELD = "held"  # waits for an operator's approval
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


FINISHED_STATES = frozenset({JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED})


@dataclass(frozen=True, slots=True)
class JobData:
    uuid: uuid.UUID
    kind: str
    state: str
    progress: int
    counts: dict[str, int]
    errors: list[dict[str, Any]]
    result: dict[str, Any]
    message: str
    actor_username: str
    source: str
    created: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    params: dict[str, Any] = field(default_factory=dict)
