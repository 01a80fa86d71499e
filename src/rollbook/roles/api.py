"""Course access roles: grants, O(1) checks through the role cache, and library visibility."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F, QuerySet

from rollbook.audit import api as audit
from rollbook.audit.data import Actor
from rollbook.catalog import api as catalog
from rollbook.catalog.data import LibraryData
from rollbook.lib import clock, sources
from rollbook.lib.errors import Conflict, Invalid
from rollbook.lib.keys import LibraryKey, parse_context_key, validate_org
from rollbook.lib.pagination import Page, PageRequest
from rollbook.people import api as people
from rollbook.people.data import UserRef
from rollbook.roles.cache import RoleCache
from rollbook.roles.data import (
    ALL_ROLES,
    COURSE_LEVEL_ROLES,
    COURSE_STAFF_ROLES,
    GLOBAL_ROLES,
    ORG_LEVEL_ROLES,
    ORG_LIBRARY_ROLES,
    ORG_STAFF_ROLES,
    Grant,
    Scope,
)
from rollbook.roles.errors import (
    MSG_INVALID_ROLE_SCOPE,
    MSG_ORG_MISMATCH,
    MSG_UNKNOWN_ROLE,
    MSG_USER_INACTIVE,
    RolesErrorCode,
)
from rollbook.roles.models import RoleGrant

__all__ = [
    "Grant",
    "RoleCache",
    "Scope",
    "check_role",
    "course_role_rows",
    "grant_role",
    "has_course_staff_access",
    "list_context_grants",
    "list_user_grants",
    "revoke_role",
    "revoke_source",
    "role_cache",
    "role_caches",
    "validate_grant",
    "visible_libraries",
]

_IN_CHUNK = 900


def _validate_role(role: str) -> None:
    if role not in ALL_ROLES:
        raise Invalid(
            RolesErrorCode.UNKNOWN_ROLE,
            MSG_UNKNOWN_ROLE.format(role=role, known=sorted(ALL_ROLES)),
            fields={"role": role},
        )


def _resolve(role: str, course_key: str | None, org: str | None) -> tuple[Scope, str, str]:
    """Validate a (role, course_key, org) triple; answer its scope, org and course key."""
    _validate_role(role)
    if course_key:
        key = parse_context_key(course_key)
        if org and org != key.org:
            raise Invalid(
                RolesErrorCode.ORG_MISMATCH,
                MSG_ORG_MISMATCH.format(org=org, course_key=course_key, key_org=key.org),
                fields={"org": org, "course_key": course_key},
            )
        scope = Scope.LIBRARY if isinstance(key, LibraryKey) else Scope.COURSE
        return scope, key.org, course_key
    if org:
        return Scope.ORG, validate_org(org), ""
    return Scope.GLOBAL, "", ""


def _scopes_of(role: str) -> frozenset[Scope]:
    scopes = set(COURSE_LEVEL_ROLES.get(role, frozenset()))
    if role in ORG_LEVEL_ROLES:
        scopes.add(Scope.ORG)
    if role in GLOBAL_ROLES:
        scopes.add(Scope.GLOBAL)
    return frozenset(scopes)


# Where each role may be granted, computed once: checks look it up on every call.
_ALLOWED_SCOPES: dict[str, frozenset[Scope]] = {role: _scopes_of(role) for role in ALL_ROLES}


def _allowed_scopes(role: str) -> frozenset[Scope]:
    return _ALLOWED_SCOPES.get(role, frozenset())


def _check_scope(role: str, scope: Scope) -> None:
    allowed = _allowed_scopes(role)
    if scope not in allowed:
        raise Invalid(
            RolesErrorCode.INVALID_ROLE_SCOPE,
            MSG_INVALID_ROLE_SCOPE.format(
                role=role, scope=f"a {scope.value}", allowed=sorted(s.value for s in allowed)
            ),
            fields={"role": role, "scope": scope.value},
        )


# ---------------------------------------------------------------- cache and checks


def role_cache(user: UserRef) -> RoleCache:
    """The user's role cache: one query; empty for an inactive user (they hold no roles)."""
    if not user.is_active:
        return RoleCache()
    return RoleCache(
        RoleGrant.objects.filter(user_id=user.id).values_list("role", "org", "course_key")
    )


def role_caches(users: Iterable[UserRef]) -> dict[int, RoleCache]:
    """Role caches of many users in one query per 900 users."""
    users = list(users)  # iterated twice below; a generator would leave the caches empty
    active = sorted({user.id for user in users if user.is_active})
    grouped: dict[int, list[tuple[str, str, str]]] = {}
    for start in range(0, len(active), _IN_CHUNK):
        rows = RoleGrant.objects.filter(user_id__in=active[start : start + _IN_CHUNK]).values_list(
            "user_id", "role", "org", "course_key"
        )
        for user_id, role, org, course_key in rows:
            grouped.setdefault(user_id, []).append((role, org, course_key))
    caches = {user.id: RoleCache() for user in users}
    for user_id, grants in grouped.items():
        caches[user_id] = RoleCache(grants)
    return caches


def check_role(
    user: UserRef,
    role: str,
    *,
    course_key: str | None = None,
    org: str | None = None,
    strict: bool = False,
    cache: RoleCache | None = None,
) -> bool:
    """Whether the user holds `role` on the course (or library), in the org, or globally.

    Inheritance applies unless `strict`. Course and org roles are independent. The course
    need not exist: an unknown key answers False. Pass `cache` to check without a query.
    Invalid (422) as for a grant: an unknown role, a malformed key or org, an org that is not
    the key's, a role asked about at a scope it is never granted at.
    """
    scope, org, course_key = _resolve(role, course_key, org)
    _check_scope(role, scope)
    if not user.is_active:
        return False
    if cache is None:
        cache = role_cache(user)
    return cache.has_role(role, course_key or "", org or "", strict=strict)


def has_course_staff_access(user: UserRef, course_key: str, cache: RoleCache) -> bool:
    """Global staff; `staff` or `instructor` on the course (so limited_staff counts); or the
    org-level `staff` or `instructor` role in the course's org."""
    if not user.is_active:
        return False
    if user.is_staff:
        return True
    org = parse_context_key(course_key).org
    return cache.has_any(COURSE_STAFF_ROLES, course_key, org) or cache.has_any(
        ORG_STAFF_ROLES, "", org
    )


# ---------------------------------------------------------------- grants


def _grant_data(username: str, row: tuple[str, str, str]) -> Grant:
    role, org, course_key = row
    return Grant(username=username, role=role, org=org, course_key=course_key)


def _subject(username: str) -> str:
    return f"user:{username}"


def _check_grantable(user: UserRef, scope: Scope, context: str) -> None:
    """An inactive user (409) or an unknown course or library (404) cannot be granted a role."""
    if not user.is_active:
        raise Conflict(
            RolesErrorCode.USER_INACTIVE,
            MSG_USER_INACTIVE.format(username=user.username),
            fields={"username": user.username},
        )
    if scope is Scope.COURSE:
        catalog.get_course(context)
    elif scope is Scope.LIBRARY:
        catalog.get_library(context)


def _grant_snapshot(row: RoleGrant) -> dict[str, Any]:
    return {
        "role": row.role,
        "org": row.org,
        "course_key": row.course_key,
        "sources": list(row.sources),
    }


def _set_sources(row: RoleGrant, new: list[str], user: UserRef, actor: Actor) -> None:
    before = _grant_snapshot(row)
    row.sources = new
    row.save(update_fields=["sources"])
    audit.record(
        "role.sources_changed",
        _subject(user.username),
        actor=actor,
        before=before,
        after=_grant_snapshot(row),
    )


def grant_role(
    username: str,
    role: str,
    *,
    actor: Actor,
    course_key: str | None = None,
    org: str | None = None,
    source: str = sources.MANUAL,
) -> tuple[Grant, bool]:
    """Grant a role; granting twice is idempotent. Returns the grant and whether it is new.

    The grant remembers `source` ("manual" unless an SIS feed or a program grants it), so that
    a source taking it back (`revoke_source`) leaves what others asserted.
    Refused: an unknown role or one not grantable at that scope (422), an unknown user, course
    or library (404), an inactive user (409, nothing written).
    """
    scope, org_name, context = _resolve(role, course_key, org)
    _check_scope(role, scope)
    with transaction.atomic():
        user = people.get_user_ref(username, lock=True)
        _check_grantable(user, scope, context)
        if scope is Scope.ORG:
            catalog.ensure_org(org_name, actor=actor)
        grant = Grant(user.username, role, org_name, context)
        row = (
            RoleGrant.objects.select_for_update()
            .filter(user_id=user.id, role=role, org=org_name, course_key=context)
            .first()
        )
        if row is not None:
            if source not in row.sources:
                _set_sources(row, sources.added(list(row.sources), source), user, actor)
            return grant, False
        try:
            with transaction.atomic():
                row = RoleGrant.objects.create(
                    user_id=user.id,
                    role=role,
                    org=org_name,
                    course_key=context,
                    sources=[source],
                    created=clock.now(),
                )
        except IntegrityError:
            return grant, False  # granted concurrently
        audit.record(
            "role.granted", _subject(user.username), actor=actor, after=_grant_snapshot(row)
        )
    return grant, True


def revoke_role(
    username: str,
    role: str,
    *,
    actor: Actor,
    course_key: str | None = None,
    org: str | None = None,
) -> tuple[Grant, bool]:
    """Remove the grant, whatever asserts it (a person's revoke ends it). Returns it and
    whether there was one; revoking nothing is no error."""
    return _take_back(username, role, actor=actor, course_key=course_key, org=org, source=None)


def revoke_source(
    username: str,
    role: str,
    *,
    source: str,
    actor: Actor,
    course_key: str | None = None,
    org: str | None = None,
) -> tuple[Grant, bool]:
    """`source` no longer asserts the grant: remove it, and revoke the grant only when no
    source remains. Returns the grant and whether it was revoked."""
    return _take_back(username, role, actor=actor, course_key=course_key, org=org, source=source)


def _take_back(
    username: str,
    role: str,
    *,
    actor: Actor,
    course_key: str | None,
    org: str | None,
    source: str | None,
) -> tuple[Grant, bool]:
    _scope, org_name, context = _resolve(role, course_key, org)
    with transaction.atomic():
        user = people.get_user_ref(username, lock=True)
        grant = Grant(user.username, role, org_name, context)
        row = (
            RoleGrant.objects.select_for_update()
            .filter(user_id=user.id, role=role, org=org_name, course_key=context)
            .first()
        )
        if row is None:
            return grant, False
        before = _grant_snapshot(row)
        remaining = [] if source is None else sources.removed(list(row.sources), source)
        if remaining:
            if remaining != row.sources:
                _set_sources(row, remaining, user, actor)
            return grant, False
        row.delete()
        audit.record("role.revoked", _subject(user.username), actor=actor, before=before)
    return grant, True


def list_user_grants(username: str, *, page: PageRequest) -> Page[Grant]:
    user = people.get_user_ref(username)
    rows = RoleGrant.objects.filter(user_id=user.id).order_by("course_key", "org", "role")
    count = rows.count()
    values = rows.values_list("role", "org", "course_key")[
        page.offset : page.offset + page.page_size
    ]
    return Page(
        [_grant_data(user.username, row) for row in values], count, page.page, page.page_size
    )


def list_context_grants(course_key: str, *, page: PageRequest) -> Page[Grant]:
    """The grants on one course or library key (exact, case-sensitive)."""
    parse_context_key(course_key)
    rows = RoleGrant.objects.filter(course_key=course_key).order_by("role", "user__username")
    count = rows.count()
    values = rows.values_list("user__username", "role", "org", "course_key")[
        page.offset : page.offset + page.page_size
    ]
    return Page(
        [Grant(username, role, org, key) for username, role, org, key in values],
        count,
        page.page,
        page.page_size,
    )


# ---------------------------------------------------------------- libraries


def visible_libraries(user: UserRef, *, page: PageRequest) -> Page[LibraryData]:
    """The libraries the user may see, by key. Global staff see all. Others: those they hold any
    role on, and every library of an org where they hold org-level staff, instructor or
    library_user. Two indexed subqueries in the database; never a scan of the grants per library.
    """
    if not user.is_active:
        return Page([], 0, page.page, page.page_size)
    if user.is_staff:
        return catalog.list_libraries(page=page)
    grants = RoleGrant.objects.filter(user_id=user.id)
    library_keys = grants.filter(course_key__startswith="lib:").values("course_key")
    orgs = grants.filter(course_key="", role__in=ORG_LIBRARY_ROLES).exclude(org="").values("org")
    return catalog.list_libraries(page=page, keys_in=library_keys, orgs_in=orgs)


def validate_grant(
    username: str, role: str, *, course_key: str | None = None, org: str | None = None
) -> Grant:
    """What `grant_role` would refuse, raised without writing anything (for forms)."""
    scope, org_name, context = _resolve(role, course_key, org)
    _check_scope(role, scope)
    user = people.get_user_ref(username)
    _check_grantable(user, scope, context)
    return Grant(user.username, role, org_name, context)


def course_role_rows(roles: Iterable[str]) -> QuerySet[Any]:
    """Read contract for projections (ADR 0015): the course-run grants (not library, org or
    global ones) of the roles given, with the columns `id`, `user_id`, `username`, `role`,
    `org`, `course_key` and `created`."""
    return RoleGrant.objects.filter(
        role__in=list(roles), course_key__startswith="course-v1:"
    ).annotate(username=F("user__username"))
