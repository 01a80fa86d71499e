"""The append-only change log: every state change in rollbook writes one row here."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from rollbook.audit.data import Actor, AuditEventData
from rollbook.audit.models import AuditEvent
from rollbook.lib import clock
from rollbook.lib.pagination import Page, PageRequest, paginate

__all__ = ["Actor", "AuditEventData", "list_events", "record", "record_many"]


def _row(
    event: str,
    subject: str,
    actor: Actor,
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any] | None,
) -> AuditEvent:
    return AuditEvent(
        time=clock.now(),
        event=event,
        subject=subject,
        actor_id=actor.user_id,
        actor_username=actor.username,
        source=actor.source,
        before=dict(before) if before is not None else None,
        after=dict(after) if after is not None else None,
    )


def record(
    event: str,
    subject: str,
    *,
    actor: Actor,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
) -> None:
    """Append one change. Call it inside the transaction that makes the change."""
    _row(event, subject, actor, before, after).save(force_insert=True)


def record_many(
    changes: Iterable[tuple[str, str, Mapping[str, Any] | None, Mapping[str, Any] | None]],
    *,
    actor: Actor,
) -> None:
    """Append many changes in one INSERT: (event, subject, before, after) each."""
    AuditEvent.objects.bulk_create(
        [_row(event, subject, actor, before, after) for event, subject, before, after in changes],
        batch_size=500,
    )


def _data(row: AuditEvent) -> AuditEventData:
    return AuditEventData(
        id=row.id,
        time=row.time,
        event=row.event,
        subject=row.subject,
        actor_username=row.actor_username,
        source=row.source,
        before=row.before,
        after=row.after,
    )


def list_events(
    *, subject: str | None = None, event: str | None = None, page: PageRequest
) -> Page[AuditEventData]:
    """Newest first. `subject` matches exactly, or a prefix when it ends with '*'."""
    rows = AuditEvent.objects.order_by("-id")
    if subject:
        if subject.endswith("*"):
            rows = rows.filter(subject__startswith=subject[:-1])
        else:
            rows = rows.filter(subject=subject)
    if event:
        rows = rows.filter(event=event)
    return paginate(rows, page, _data)
