"""Authentication for /api/v1 and the principal views ask questions of.

Bearer tokens (hashed, revocable) for integrations; the admin's session for people signed in
to the admin (with CSRF on unsafe methods). Either way the view gets a `RequestPrincipal`,
whose role cache is built on first use: one query per request, whatever it checks.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja.security import APIKeyCookie, HttpBearer

from rollbook.people import api as people
from rollbook.people.data import UserRef
from rollbook.roles import api as roles
from rollbook.roles.cache import RoleCache


class RequestPrincipal:
    __slots__ = ("_cache", "is_active", "is_staff", "is_superuser", "ref", "user_id", "username")

    def __init__(self, ref: UserRef) -> None:
        self.ref = ref
        self.user_id = ref.id
        self.username = ref.username
        self.is_staff = ref.is_staff
        self.is_superuser = ref.is_superuser
        self.is_active = ref.is_active
        self._cache: RoleCache | None = None

    @property
    def roles(self) -> RoleCache:
        if self._cache is None:
            self._cache = roles.role_cache(self.ref)
        return self._cache

    def has_course_staff_access(self, course_key: str) -> bool:
        if self.is_staff:
            return True
        return roles.has_course_staff_access(self.ref, course_key, self.roles)

    def is_self(self, username: str) -> bool:
        return username.lower() == self.username.lower()


class BearerAuth(HttpBearer):
    openapi_scheme = "bearer"

    def authenticate(self, request: HttpRequest, token: str) -> RequestPrincipal | None:
        ref = people.authenticate_token(token.strip())
        return RequestPrincipal(ref) if ref else None


class AdminSessionAuth(APIKeyCookie):
    """The admin's session cookie; CSRF is checked on unsafe methods."""

    param_name = "sessionid"

    def _get_key(self, request: HttpRequest) -> str | None:
        # CSRF guards a session that signs someone in; without one there is nothing to guard,
        # and the caller must hear 401 (not a CSRF 403) like any request without credentials.
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None
        return super()._get_key(request)

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated or not user.is_active:
            return None
        return RequestPrincipal(
            UserRef(user.pk, user.username, user.is_active, user.is_staff, user.is_superuser)
        )
