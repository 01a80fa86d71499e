from __future__ import annotations

from django.http import HttpRequest
from ninja import Query, Router

from rollbook.audit import api
from rollbook.audit.schemas import AuditEventOut, AuditFilter, EventFilter, EventsOut
from rollbook.lib.pagination import PageOut, PageQuery
from rollbook.lib.rest import require_staff

router = Router(tags=["audit"])


@router.get("/audit", response=PageOut[AuditEventOut])
def list_audit(
    request: HttpRequest, filters: Query[AuditFilter], paging: Query[PageQuery]
) -> object:
    """The change log, newest first (global staff)."""
    require_staff(request)
    return api.list_events(subject=filters.subject, event=filters.event, page=paging.request())


@router.get("/events", response=EventsOut)
def list_change_events(request: HttpRequest, filters: Query[EventFilter]) -> object:
    """Committed changes as numbered events, oldest first (global staff): page with
    `after=<next_after>`; a page shorter than `limit` is the end for now."""
    require_staff(request)
    events = api.events_after(filters.after, types=filters.type_list(), limit=filters.limit)
    return {
        "events": events,
        "next_after": events[-1].seq if events else filters.after,
        "last_seq": api.last_seq(),
    }
