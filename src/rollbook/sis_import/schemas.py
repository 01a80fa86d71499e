from __future__ import annotations

import datetime as dt
from typing import Literal

from ninja import Field, Schema


class ImportAccepted(Schema):
    job_id: str


class AlreadyImported(Schema):
    code: str
    message: str
    fields: dict[str, str]


class ImportStateOut(Schema):
    job_id: str
    state: str
    message: str


class PendingOut(Schema):
    group_sourcedid: str
    person_sourcedid: str
    roletype: str
    reason: str
    waiting_since: dt.datetime


class CollisionOut(Schema):
    id: int
    sourcedid: str
    name: str
    email: str
    reason: str
    held_since: dt.datetime
    kind: str = Field(description="What collided: username, email or sctid.")
    account_id: int | None = Field(description="The existing account it collides with.")
    account_username: str
    other_sourcedid: str = Field(description="The SIS person that account is linked to.")


class ResolveIn(Schema):
    action: Literal["link_existing", "create_with_username", "ignore"]
    username: str = Field(
        "",
        description="create_with_username: the new account's username (required); "
        "link_existing: another account to link than the one collided with.",
    )


class StatusOut(Schema):
    """The LMB feed's health (sis_import/monitor.py defines each number)."""

    checked_at: dt.datetime
    last_message_at: dt.datetime | None = Field(description="When the last message came.")
    messages_last_hour: int
    pending: int = Field(description="Memberships waiting for a person or a section.")
    failed: int = Field(description="Messages that failed (`rollbook sis retry`).")
    collisions: int = Field(description="SIS persons held by an identity collision.")
    stale: bool = Field(description="No message for longer than the monitor's grace.")
    reason: str = Field(description="Why stale; empty when not.")
    in_business_hours: bool
    inbox_depth: int = Field(description="Messages waiting to be applied (pending, blocked).")
    apply_lag_seconds: float = Field(description="Age of the oldest pending message.")


class DropHoldOut(Schema):
    term: str
    held_at: dt.datetime
    reason: str
    held_drops: int = Field(description="Membership drops waiting for approval.")


class DropReleaseOut(Schema):
    term: str
    action: str
    drops: int


class MessageOut(Schema):
    message_id: str
    state: str = Field(description="pending, applied, failed or blocked (behind a failure).")
    received_at: dt.datetime
    applied_at: dt.datetime | None
    attempts: int
    error: str


class RetryIn(Schema):
    message_ids: list[str] = Field(
        default_factory=list, description="The failed messages to retry; none means all."
    )


class RetryOut(Schema):
    retried: int
