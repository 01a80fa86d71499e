"""Helpers for views: the caller, and the usual authorization checks."""

from __future__ import annotations

from typing import cast

from django.http import HttpRequest

from rollbook.lib.errors import forbidden
from rollbook.lib.principal import Principal


def caller(request: HttpRequest) -> Principal:
    """The authenticated caller (every /api/v1 endpoint has one unless declared public)."""
    return cast(Principal, request.auth)  # type: ignore[attr-defined]


def require_staff(request: HttpRequest) -> Principal:
    """Global staff only."""
    principal = caller(request)
    if not principal.is_staff:
        raise forbidden()
    return principal


def require_course_staff(request: HttpRequest, course_key: str) -> Principal:
    """Course staff access: global staff, course staff/instructor, org staff/instructor."""
    principal = caller(request)
    if not principal.has_course_staff_access(course_key):
        raise forbidden()
    return principal


def require_self_or_staff(request: HttpRequest, username: str) -> Principal:
    principal = caller(request)
    if not (principal.is_staff or principal.is_self(username)):
        raise forbidden()
    return principal
