from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SubscriptionData:
    uuid: uuid.UUID
    url: str
    description: str
    event_types: list[str]
    orgs: list[str]
    active: bool
    max_attempts: int
    created_by: str
    created: dt.datetime
    updated: dt.datetime
    delivered_seq: int
    # Only right after creation (or when the secret is rotated): never read back later.
    secret: str | None = None


@dataclass(frozen=True, slots=True)
class SubscriptionStatus:
    uuid: uuid.UUID
    active: bool
    last_seq: int
    delivered_seq: int
    lag: int
    pending: int
    failing: int
    dead_letters: int
    last_error: str
    last_success_at: dt.datetime | None
    last_failure_at: dt.datetime | None


@dataclass(frozen=True, slots=True)
class DeadLetterData:
    seq: int
    subject: str
    event_type: str
    attempts: int
    last_status: int | None
    last_error: str
    created: dt.datetime
