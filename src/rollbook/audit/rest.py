from __future__ import annotations

from django.http import HttpRequest
from ninja import Query, Router

from rollbook.audit import api
from rollbook.audit.schemas import AuditEventOut, AuditFilter
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
