from __future__ import annotations

from django.http import HttpRequest
from ninja import Query, Router, Status

from rollbook.audit.data import Actor
from rollbook.lib.pagination import PageOut, PageQuery
from rollbook.lib.rest import require_self_or_staff, require_staff
from rollbook.people import api
from rollbook.people.data import UserData
from rollbook.people.schemas import UserIn, UserOut, UserSearchQuery

router = Router(tags=["people"])


@router.put("/users/{username}", response={200: UserOut, 201: UserOut})
def put_user(request: HttpRequest, username: str, body: UserIn) -> Status[UserData]:
    """Create the user or update the fields sent (global staff)."""
    principal = require_staff(request)
    user, created = api.put_user(
        username, actor=Actor.of(principal), **body.model_dump(exclude_unset=True)
    )
    return Status(201 if created else 200, user)


@router.get("/users/{username}", response=UserOut)
def get_user(request: HttpRequest, username: str) -> UserData:
    """A user (global staff, or the user themself)."""
    require_self_or_staff(request, username)
    return api.get_user(username)


@router.get("/users", response=PageOut[UserOut])
def search_users(
    request: HttpRequest, filters: Query[UserSearchQuery], paging: Query[PageQuery]
) -> object:
    """Users by username, with an optional search (global staff)."""
    require_staff(request)
    return api.search_users(filters.search, page=paging.request())
