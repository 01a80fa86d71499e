from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Query, Router, Status

from rollbook.audit.data import Actor
from rollbook.lib.errors import forbidden
from rollbook.lib.pagination import PageOut, PageQuery
from rollbook.lib.rest import caller, require_course_staff, require_self_or_staff, require_staff
from rollbook.people import api as people
from rollbook.roles import api
from rollbook.roles.schemas import (
    CheckOut,
    CheckQuery,
    GrantIn,
    GrantOut,
    GrantResult,
    LibraryOut,
    RevokeResult,
)

router = Router(tags=["roles"])


@router.post("/roles/grants", response={200: GrantResult, 201: GrantResult})
def grant(request: HttpRequest, body: GrantIn) -> Status[dict[str, Any]]:
    """Grant a role (global staff). Granting twice is idempotent: 200 with created false."""
    principal = require_staff(request)
    result, created = api.grant_role(
        body.username,
        body.role,
        actor=Actor.of(principal),
        course_key=body.course_key,
        org=body.org,
    )
    return Status(201 if created else 200, {"grant": result, "created": created})


@router.post("/roles/revokes", response=RevokeResult)
def revoke(request: HttpRequest, body: GrantIn) -> dict[str, Any]:
    """Remove a grant (global staff). Revoking what is not granted answers revoked false."""
    principal = require_staff(request)
    result, revoked = api.revoke_role(
        body.username,
        body.role,
        actor=Actor.of(principal),
        course_key=body.course_key,
        org=body.org,
    )
    return {"grant": result, "revoked": revoked}


@router.get("/roles/check", response=CheckOut)
def check(request: HttpRequest, query: Query[CheckQuery]) -> dict[str, bool]:
    """Whether the user holds the role. Global staff may ask about anyone; course staff about
    their course; anyone about themself."""
    principal = caller(request)
    if not (
        principal.is_staff
        or principal.is_self(query.username)
        or (query.course_key and principal.has_course_staff_access(query.course_key))
    ):
        raise forbidden()
    user = people.get_user_ref(query.username)
    allowed = api.check_role(
        user, query.role, course_key=query.course_key, org=query.org, strict=query.strict
    )
    return {"allowed": allowed}


@router.get("/users/{username}/roles", response=PageOut[GrantOut])
def user_roles(request: HttpRequest, username: str, paging: Query[PageQuery]) -> object:
    """The user's grants (global staff, or the user themself)."""
    require_self_or_staff(request, username)
    return api.list_user_grants(username, page=paging.request())


@router.get("/courses/{course_key}/roles", response=PageOut[GrantOut])
def course_roles(request: HttpRequest, course_key: str, paging: Query[PageQuery]) -> object:
    """The grants on a course or library key (course staff access)."""
    require_course_staff(request, course_key)
    return api.list_context_grants(course_key, page=paging.request())


@router.get("/users/{username}/libraries", response=PageOut[LibraryOut])
def user_libraries(request: HttpRequest, username: str, paging: Query[PageQuery]) -> object:
    """The libraries the user may see, with the total (global staff, or the user themself)."""
    require_self_or_staff(request, username)
    user = people.get_user_ref(username)
    return api.visible_libraries(user, page=paging.request())
