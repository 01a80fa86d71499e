"""The OneRoster 1.2 rostering provider: read-only collections of rollbook's data (ADR 0015)
and the OAuth 2 client-credentials tokens that guard them."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from rollbook.enrollments import api as enrollments
from rollbook.oneroster import tombstones
from rollbook.oneroster.csvzip import iter_zip, write_zip
from rollbook.oneroster.data import ALL_SCOPES, ClientData, IssuedToken, ResultPage, TokenGrant
from rollbook.oneroster.errors import CodeMinor, OneRosterError
from rollbook.oneroster.filters import FilterError, parse_fields, parse_filter, parse_sort
from rollbook.oneroster.oauth import (
    authenticate,
    create_client,
    issue_token,
    list_clients,
    revoke_client,
)
from rollbook.oneroster.resources import (
    CLASSES,
    RESOURCES,
    USERS,
    Resource,
    check_selection,
    sort_column,
    teaching_rows,
    to_predicate,
    to_q,
)

__all__ = [
    "ALL_SCOPES",
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "RESOURCES",
    "ClientData",
    "IssuedToken",
    "Query",
    "ResultPage",
    "TokenGrant",
    "authenticate",
    "class_students",
    "class_teachers",
    "create_client",
    "get_object",
    "issue_token",
    "iter_zip",
    "list_clients",
    "list_objects",
    "prune_tombstones",
    "revoke_client",
    "sync_tombstones",
    "user_classes",
    "write_zip",
]

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000

MSG_UNKNOWN_OBJECT = "There is no {single} {sourced_id!r}."


class Query:
    """The parsed query parameters of a collection read (raises OneRosterError)."""

    def __init__(
        self,
        *,
        filter: str | None = None,
        sort: str | None = None,
        order_by: str | None = None,
        fields: str | None = None,
        limit: int = DEFAULT_LIMIT,
        offset: int = 0,
    ) -> None:
        try:
            self.filter = parse_filter(filter) if filter is not None else None
            self.sort = parse_sort(sort, order_by)
            self.fields = parse_fields(fields)
        except FilterError as exc:
            raise OneRosterError(400, CodeMinor(exc.code.value), exc.message) from exc
        self.limit = min(max(limit, 1), MAX_LIMIT)
        self.offset = max(offset, 0)


def sync_tombstones() -> int:
    """Derive the tombstones from the audit events numbered since the last run (every read
    does it first; ADR 0018); returns how many events it read."""
    return tombstones.sync()


def prune_tombstones() -> int:
    """Delete the tombstones past the retention (reads do it at most hourly); returns how
    many it deleted."""
    return tombstones.prune()


def _bad(exc: FilterError) -> OneRosterError:
    return OneRosterError(400, CodeMinor(exc.code.value), exc.message)


def _project(objects: list[dict[str, Any]], fields: tuple[str, ...] | None) -> list[dict[str, Any]]:
    if fields is None:
        return objects
    return [{name: obj[name] for name in fields} for obj in objects]


def _run(
    resource: Resource,
    query: Query,
    base: str,
    scope: Q | None = None,
    *,
    deleted: bool = True,
) -> ResultPage:
    try:
        if query.fields is not None:
            check_selection(resource, query.fields)
        ordering = [(key.descending, sort_column(resource, key.field)) for key in query.sort]
        ordering += [(False, sort_column(resource, name)) for name in resource.default_sort]
        if resource.parts is not None:
            condition = to_q(query.filter, resource) if query.filter is not None else Q()
            return _run_sql(resource, query, base, condition & (scope or Q()), ordering, deleted)
        test = to_predicate(query.filter, resource) if query.filter is not None else None
    except FilterError as exc:
        raise _bad(exc) from exc
    rows = [row for row in resource.rows() if test is None or test(row)] if resource.rows else []
    for descending, column in reversed(ordering):
        rows.sort(key=lambda row: (row[column] is not None, row[column]), reverse=descending)
    page = rows[query.offset : query.offset + query.limit]
    return ResultPage(_project(resource.render(page, base), query.fields), len(rows))


def _run_sql(
    resource: Resource,
    query: Query,
    base: str,
    condition: Q,
    ordering: list[tuple[bool, str]],
    deleted: bool,
) -> ResultPage:
    sources = resource.parts() if resource.parts else []
    if deleted and resource.tombstones is not None:
        sources.append(resource.tombstones())
    parts = [part.filter(condition) for part in sources]
    rows: QuerySet[Any] = parts[0] if len(parts) == 1 else parts[0].union(*parts[1:], all=True)
    total = rows.count()
    if total <= query.offset:
        return ResultPage([], total)
    seen: set[str] = set()
    order = []
    for descending, column in ordering:
        if column not in seen:
            seen.add(column)
            order.append(f"-{column}" if descending else column)
    page = list(rows.order_by(*order)[query.offset : query.offset + query.limit])
    return ResultPage(_project(resource.render(page, base), query.fields), total)


def _resource(name: str) -> Resource:
    return RESOURCES[name]


def list_objects(name: str, query: Query, *, base: str) -> ResultPage:
    """A page of a collection (`orgs`, `academicSessions`, `courses`, `classes`, `users`,
    `enrollments`), with the objects deleted within the retention as `tobedeleted`: the
    tombstones brought up to date (`tombstones.sync`), one COUNT and one page query, plus at
    most one per page to render."""
    tombstones.sync()
    return _run(_resource(name), query, base)


def get_object(
    name: str, sourced_id: str, *, base: str, fields: str | None = None
) -> dict[str, Any]:
    """One object by sourcedId (a deleted one within the retention: its tombstone, as
    `tobedeleted`); OneRosterError 404 unknownobject when there is none."""
    tombstones.sync()
    resource = _resource(name)
    query = Query(filter=None, fields=fields, limit=1)
    if resource.parts is not None:
        page = _run(resource, query, base, Q(sourcedId=sourced_id))
    else:
        query = Query(
            filter=f"sourcedId='{sourced_id.replace(chr(39), chr(39) * 2)}'", fields=fields
        )
        page = _run(resource, query, base)
    if not page.objects:
        raise OneRosterError(
            404,
            CodeMinor.UNKNOWN_OBJECT,
            MSG_UNKNOWN_OBJECT.format(single=resource.single, sourced_id=sourced_id),
        )
    return page.objects[0]


def _require(resource: Resource, sourced_id: str) -> None:
    parts = resource.parts() if resource.parts else []
    if not any(part.filter(sourcedId=sourced_id).exists() for part in parts):
        raise OneRosterError(
            404,
            CodeMinor.UNKNOWN_OBJECT,
            MSG_UNKNOWN_OBJECT.format(single=resource.single, sourced_id=sourced_id),
        )


def class_students(class_id: str, query: Query, *, base: str) -> ResultPage:
    """The users with an active student enrollment in the class (live ones: a deleted user
    is in no class)."""
    _require(CLASSES, class_id)
    learners = enrollments.enrollment_rows().filter(course_key=class_id, is_active=True)
    return _run(USERS, query, base, Q(rid__in=learners.values("user_id")), deleted=False)


def class_teachers(class_id: str, query: Query, *, base: str) -> ResultPage:
    """The users who teach the class (instructor, staff or limited_staff on the course run)."""
    _require(CLASSES, class_id)
    teachers = teaching_rows().filter(course_key=class_id)
    return _run(USERS, query, base, Q(rid__in=teachers.values("user_id")), deleted=False)


def user_classes(user_id: str, query: Query, *, base: str) -> ResultPage:
    """The classes the user is actively enrolled in or teaches."""
    _require(USERS, user_id)
    learning = enrollments.enrollment_rows().filter(username=user_id, is_active=True)
    teaching = teaching_rows().filter(username=user_id)
    scope = Q(sourcedId__in=learning.values("course_key")) | Q(
        sourcedId__in=teaching.values("course_key")
    )
    return _run(CLASSES, query, base, scope, deleted=False)
