from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from ninja import Field, Schema

from rollbook.webhooks.models import DEFAULT_MAX_ATTEMPTS


class SubscriptionIn(Schema):
    url: str = Field(description="http:// or https:// (private addresses need an opt-in).")
    secret: str | None = Field(
        None, description="At least 32 characters; generated when left out. Shown once."
    )
    event_types: list[str] = Field(
        default_factory=list,
        description="Event names, or prefixes ending in * (enrollment.*). Empty: every type.",
    )
    orgs: list[str] = Field(default_factory=list, description="Org short names. Empty: all.")
    description: str = Field("", max_length=255)
    active: bool = True
    max_attempts: int = Field(DEFAULT_MAX_ATTEMPTS, ge=1, le=50)


class SubscriptionPatch(Schema):
    url: str | None = None
    event_types: list[str] | None = None
    orgs: list[str] | None = None
    description: str | None = Field(None, max_length=255)
    active: bool | None = None
    max_attempts: int | None = Field(None, ge=1, le=50)
    rotate_secret: bool = Field(False, description="A new secret, shown in this answer only.")


class SubscriptionOut(Schema):
    subscription_id: uuid.UUID
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

    @staticmethod
    def resolve_subscription_id(obj: Any) -> uuid.UUID:
        return obj.uuid


class SubscriptionCreatedOut(SubscriptionOut):
    secret: str | None = Field(description="Signs every request. Shown now and never again.")


class StatusOut(Schema):
    subscription_id: uuid.UUID
    active: bool
    last_seq: int
    delivered_seq: int
    lag: int = Field(description="last_seq - delivered_seq.")
    pending: int = Field(description="Events not delivered yet (failing or waiting behind one).")
    failing: int = Field(description="Pending events that failed at least once.")
    dead_letters: int
    last_error: str
    last_success_at: dt.datetime | None
    last_failure_at: dt.datetime | None

    @staticmethod
    def resolve_subscription_id(obj: Any) -> uuid.UUID:
        return obj.uuid


class DeadLetterOut(Schema):
    seq: int
    subject: str
    type: str
    attempts: int
    last_status: int | None
    last_error: str
    created: dt.datetime

    @staticmethod
    def resolve_type(obj: Any) -> str:
        return obj.event_type


class ReplayIn(Schema):
    from_seq: int = Field(ge=1, description="Deliver again every matching event from this seq.")
