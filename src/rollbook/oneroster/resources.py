"""The OneRoster resources: how each is read from rollbook's apps and written as JSON.

Every SQL-backed resource is one or more `values()` querysets whose columns are named after
the OneRoster fields (`sourcedId`, `status`, `dateLastModified`, ...), so that a filter or a
sort is a lookup on a column of that name; `render` turns a page of rows into objects, with
at most one more query per page (never per row). Courses and academic sessions are small,
derived groupings and are read whole, then filtered and sorted in Python (ADR 0015).

What rollbook deleted outright is served from the tombstones (`models.Tombstone`, derived
from the audit log by `tombstones.sync`, ADR 0018) as `tobedeleted`: each SQL-backed resource
that can lose rows has a `tombstones` projection with the same columns, unioned with the live
ones, so filters, sorts, paging and counts treat both alike.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from django.conf import settings
from django.db.models import (
    CharField,
    DateTimeField,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.expressions import Case, When
from django.db.models.fields.json import KT
from django.db.models.functions import Cast, Concat, Greatest

from rollbook.catalog import api as catalog
from rollbook.enrollments import api as enrollments
from rollbook.lib import clock
from rollbook.lib.keys import CourseKey
from rollbook.lib.names import split_full_name
from rollbook.oneroster.filters import (
    And,
    Comparison,
    Expression,
    FilterError,
    Or,
    Predicate,
    QueryErrorCode,
)
from rollbook.oneroster.models import Tombstone
from rollbook.people import api as people
from rollbook.roles import api as roles
from rollbook.sis_import import api as sis_import

ACTIVE = "active"
TO_BE_DELETED = "tobedeleted"
STATUSES = (ACTIVE, TO_BE_DELETED)
# The course roles that teach, and each one's role in a user's `roles[]` (OneRoster 1.2's
# organisation roles, where `aide` is a role of its own). Other course roles (beta_testers,
# ccx_coach, data_researcher, ...) are not part of a class roster.
TEACHING_ROLES: dict[str, str] = {"instructor": "teacher", "staff": "aide", "limited_staff": "aide"}
# ... and as an enrollment's `role`: 1.2's enrollment roles are administrator, proctor, student
# and teacher (1.1's `aide` is gone), so staff and limited staff are teachers whose `primary`
# is false; only the instructor is primary.
ENROLLMENT_ROLE_OF: dict[str, str] = dict.fromkeys(TEACHING_ROLES, "teacher")
ENROLLMENT_ROLES = ("administrator", "proctor", "student", "teacher")

MSG_UNKNOWN_FILTER_FIELD = "{resource} cannot be filtered on {field!r}."
MSG_UNKNOWN_SORT_FIELD = "{resource} cannot be sorted on {field!r}."
MSG_UNKNOWN_SELECTION_FIELD = "{resource} have no field {field!r}."
MSG_BAD_DATETIME = "{field!r} takes an ISO 8601 date-time, not {value!r}."
MSG_BAD_ENUM = "{field!r} is one of {choices}, not {value!r}."
MSG_NO_CONTAINS = "'~' compares text; {field!r} is not text."


class Kind(StrEnum):
    STRING = "string"
    DATETIME = "datetime"
    ENUM = "enum"


@dataclass(frozen=True, slots=True)
class Column:
    """A filterable, sortable OneRoster field: the projection column that holds it."""

    column: str
    kind: Kind = Kind.STRING
    choices: tuple[str, ...] = ()


def iso(value: dt.datetime | None) -> str | None:
    """ISO 8601 in UTC with milliseconds and `Z`, as OneRoster writes date-times."""
    if value is None:
        return None
    return (
        value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.")
        + f"{value.microsecond // 1000:03d}Z"
    )


def _date(value: dt.datetime | None) -> str | None:
    return value.astimezone(dt.UTC).date().isoformat() if value else None


def ref(base: str, path: str, sourced_id: str, kind: str) -> dict[str, str]:
    """A OneRoster GUIDRef."""
    return {"href": f"{base}/{path}/{sourced_id}", "sourcedId": sourced_id, "type": kind}


def course_id(course_key: str) -> str:
    """The OneRoster course of a course run: `ORG+NUMBER`."""
    try:
        key = CourseKey.parse(course_key)
    except Exception:
        return course_key
    return f"{key.org}+{key.number}"


def enrollment_id(course_key: str, username: str, role: str) -> str:
    """An enrollment's sourcedId: `enr:<course key>:<username>:<student or rollbook role>`."""
    return f"enr:{course_key}:{username}:{role}"


def retention() -> dt.timedelta:
    """How long a deleted object is served as `tobedeleted` (ADR 0018)."""
    return dt.timedelta(days=settings.ONEROSTER["TOMBSTONE_RETENTION_DAYS"])


def kept_tombstones(resource: str) -> QuerySet[Tombstone]:
    """The resource's tombstones still within the retention (older ones are pruned later)."""
    return Tombstone.objects.filter(resource=resource, deleted__gte=clock.now() - retention())


def _last_known(name: str) -> Cast:
    """A tombstone's last known field, as text (a Cast, so that lookups on it are the text
    lookups of the live columns, not JSON ones)."""
    return Cast(KT(f"fields__{name}"), output_field=CharField())


def teaching_rows() -> QuerySet[Any]:
    """The teaching role grants on course runs that exist, with `run_created`, the creation
    of their run. A course run's deletion leaves its grants behind in roles (keyed by the
    course key): they are tombstones, not teachers, until a run of that key is created again,
    which brings them back (changed then, for a delta client)."""
    run = catalog.course_rows().filter(key=OuterRef("course_key")).values("created")[:1]
    return (
        roles.course_role_rows(TEACHING_ROLES)
        .annotate(run_created=Subquery(run))
        .filter(run_created__isnull=False)
    )


@dataclass(frozen=True)
class Resource:
    """One OneRoster collection."""

    name: str  # "orgs": the collection and its JSON key
    single: str  # "org": the JSON key of one object
    label: str  # "Orgs", for messages
    fields: tuple[str, ...]  # the top-level fields of an object, for `fields`
    columns: Mapping[str, Column]
    render: Callable[[Sequence[dict[str, Any]], str], list[dict[str, Any]]]
    parts: Callable[[], list[QuerySet[Any]]] | None = None  # SQL-backed
    # SQL-backed: the deleted objects, with the same columns as `parts` (ADR 0018).
    tombstones: Callable[[], QuerySet[Any]] | None = None
    rows: Callable[[], list[dict[str, Any]]] | None = None  # read whole (small groupings)
    default_sort: tuple[str, ...] = field(default=("sourcedId",))


def _common(**extra: Column) -> dict[str, Column]:
    return {
        "sourcedId": Column("sourcedId"),
        "status": Column("status", Kind.ENUM, STATUSES),
        "dateLastModified": Column("dateLastModified", Kind.DATETIME),
        **extra,
    }


def _status_of(active_column: str) -> Case:
    return Case(
        When(**{active_column: True}, then=Value(ACTIVE)),
        default=Value(TO_BE_DELETED),
        output_field=CharField(),
    )


# -- orgs -----------------------------------------------------------------------------------


def _org_parts() -> list[QuerySet[Any]]:
    return [
        catalog.org_rows().values(
            sourcedId=F("short_name"),
            status=Value(ACTIVE, output_field=CharField()),
            dateLastModified=F("modified"),
            org_name=F("name"),
            identifier=F("short_name"),
        )
    ]


def _org_tombstones() -> QuerySet[Any]:
    return kept_tombstones("orgs").values(
        sourcedId=F("sourced_id"),
        status=Value(TO_BE_DELETED, output_field=CharField()),
        dateLastModified=F("deleted"),
        org_name=_last_known("org_name"),
        identifier=F("sourced_id"),
    )


def _render_org(rows: Sequence[dict[str, Any]], base: str) -> list[dict[str, Any]]:
    return [
        {
            "sourcedId": row["sourcedId"],
            "status": row["status"],
            "dateLastModified": iso(row["dateLastModified"]),
            "name": row["org_name"] or row["sourcedId"],
            "type": "school",
            "identifier": row["identifier"],
            "parent": None,
            "children": [],
        }
        for row in rows
    ]


ORGS = Resource(
    name="orgs",
    single="org",
    label="Orgs",
    fields=(
        "sourcedId",
        "status",
        "dateLastModified",
        "name",
        "type",
        "identifier",
        "parent",
        "children",
    ),
    columns=_common(name=Column("org_name"), identifier=Column("identifier")),
    parts=_org_parts,
    tombstones=_org_tombstones,
    render=_render_org,
)


# -- academicSessions -----------------------------------------------------------------------


def _term_rows() -> list[dict[str, Any]]:
    """A term's title and dates are those of its own `Term` group when the feed sent one
    (IMS Enterprise and OneRoster CSV both do), else its sections' span; its school year is
    the year it ends (OneRoster: the year of the school year's end)."""
    rows = []
    for row in sis_import.term_rows():
        ends = row["ends"] or row["begins"]
        rows.append(
            {
                "sourcedId": row["term"],
                "status": ACTIVE,
                "dateLastModified": row["last_changed"],
                "title": row["title"] or row["term"],
                "startDate": row["begins"],
                "endDate": row["ends"],
                "schoolYear": ends[:4] if ends else None,
            }
        )
    return rows


def _render_term(rows: Sequence[dict[str, Any]], base: str) -> list[dict[str, Any]]:
    return [
        {
            "sourcedId": row["sourcedId"],
            "status": row["status"],
            "dateLastModified": iso(row["dateLastModified"]),
            "title": row["title"],
            "type": "term",
            "startDate": row["startDate"],
            "endDate": row["endDate"],
            "parent": None,
            "children": [],
            "schoolYear": row["schoolYear"],
        }
        for row in rows
    ]


ACADEMIC_SESSIONS = Resource(
    name="academicSessions",
    single="academicSession",
    label="Academic sessions",
    fields=(
        "sourcedId",
        "status",
        "dateLastModified",
        "title",
        "type",
        "startDate",
        "endDate",
        "parent",
        "children",
        "schoolYear",
    ),
    columns=_common(title=Column("title")),
    rows=_term_rows,
    render=_render_term,
)


# -- courses --------------------------------------------------------------------------------


def _course_rows() -> list[dict[str, Any]]:
    grouped: dict[str, dict[str, Any]] = {}
    runs = catalog.course_rows().values_list("key", "title", "org_short_name", "modified")
    for key, title, org, modified in runs.order_by("key"):
        sourced_id = course_id(key)
        row = grouped.get(sourced_id)
        if row is None or modified > row["dateLastModified"]:
            grouped[sourced_id] = {
                "sourcedId": sourced_id,
                "status": ACTIVE,
                "dateLastModified": modified,
                "title": title,
                "courseCode": sourced_id.partition("+")[2],
                "org.sourcedId": org,
            }
    # A run's deletion changes its course (one run fewer, maybe another title); the course
    # of a course's last run deleted is itself a tombstone.
    gone = kept_tombstones("classes").values_list("resource", "sourced_id", "deleted", "fields")
    ended = kept_tombstones("courses").values_list("resource", "sourced_id", "deleted", "fields")
    for resource, sourced_id, deleted, fields in gone.union(ended, all=True):
        if resource == "classes":
            row = grouped.get(course_id(sourced_id))
            if row is not None and deleted > row["dateLastModified"]:
                row["dateLastModified"] = deleted
        elif sourced_id not in grouped:
            grouped[sourced_id] = {
                "sourcedId": sourced_id,
                "status": TO_BE_DELETED,
                "dateLastModified": deleted,
                "title": fields.get("title", ""),
                "courseCode": sourced_id.partition("+")[2],
                "org.sourcedId": sourced_id.partition("+")[0],
            }
    return list(grouped.values())


def _render_course(rows: Sequence[dict[str, Any]], base: str) -> list[dict[str, Any]]:
    return [
        {
            "sourcedId": row["sourcedId"],
            "status": row["status"],
            "dateLastModified": iso(row["dateLastModified"]),
            "title": row["title"],
            "courseCode": row["courseCode"],
            "org": ref(base, "orgs", row["org.sourcedId"], "org"),
            "schoolYear": None,
            "grades": [],
            "subjects": [],
        }
        for row in rows
    ]


COURSES = Resource(
    name="courses",
    single="course",
    label="Courses",
    fields=(
        "sourcedId",
        "status",
        "dateLastModified",
        "title",
        "courseCode",
        "org",
        "schoolYear",
        "grades",
        "subjects",
    ),
    columns=_common(
        title=Column("title"),
        courseCode=Column("courseCode"),
        **{"org.sourcedId": Column("org.sourcedId")},
    ),
    rows=_course_rows,
    render=_render_course,
)


# -- classes --------------------------------------------------------------------------------


def _class_parts() -> list[QuerySet[Any]]:
    return [
        catalog.course_rows().values(
            sourcedId=F("key"),
            status=Value(ACTIVE, output_field=CharField()),
            dateLastModified=F("modified"),
            class_title=F("title"),
            classCode=F("sis_id"),
            school=F("org_short_name"),
            begins=F("start"),
            ends=F("end"),
        )
    ]


def _class_tombstones() -> QuerySet[Any]:
    return kept_tombstones("classes").values(
        sourcedId=F("sourced_id"),
        status=Value(TO_BE_DELETED, output_field=CharField()),
        dateLastModified=F("deleted"),
        class_title=_last_known("class_title"),
        classCode=_last_known("classCode"),
        school=_last_known("school"),
        begins=Value(None, output_field=DateTimeField()),
        ends=Value(None, output_field=DateTimeField()),
    )


def _render_class(rows: Sequence[dict[str, Any]], base: str) -> list[dict[str, Any]]:
    terms = sis_import.course_terms(row["sourcedId"] for row in rows) if rows else {}
    return [class_object(row, base, terms.get(row["sourcedId"], [])) for row in rows]


def class_object(row: dict[str, Any], base: str, terms: Sequence[str]) -> dict[str, Any]:
    """One class from its projection row and the SIS terms of its course run."""
    return {
        "sourcedId": row["sourcedId"],
        "status": row["status"],
        "dateLastModified": iso(row["dateLastModified"]),
        "title": row["class_title"],
        "classCode": row["classCode"] or row["sourcedId"],
        "classType": "scheduled",
        "course": ref(base, "courses", course_id(row["sourcedId"]), "course"),
        "school": ref(base, "orgs", row["school"], "org"),
        "terms": [ref(base, "academicSessions", term, "academicSession") for term in terms],
        "metadata": {"startDate": iso(row["begins"]), "endDate": iso(row["ends"])},
    }


CLASSES = Resource(
    name="classes",
    single="class",
    label="Classes",
    fields=(
        "sourcedId",
        "status",
        "dateLastModified",
        "title",
        "classCode",
        "classType",
        "course",
        "school",
        "terms",
        "metadata",
    ),
    columns=_common(
        title=Column("class_title"),
        classCode=Column("classCode"),
        **{"school.sourcedId": Column("school")},
    ),
    parts=_class_parts,
    tombstones=_class_tombstones,
    render=_render_class,
)


# -- users ----------------------------------------------------------------------------------


def _user_parts() -> list[QuerySet[Any]]:
    return [
        people.person_rows().values(
            sourcedId=F("username"),
            status=_status_of("is_active"),
            dateLastModified=F("modified"),
            login=F("username"),
            mail=F("email"),
            identifier=F("profile_idnumber"),
            sis=F("profile_sis_sourcedid"),
            fullname=F("name"),
            rid=F("id"),
        )
    ]


def _user_tombstones() -> QuerySet[Any]:
    return kept_tombstones("users").values(
        sourcedId=F("sourced_id"),
        status=Value(TO_BE_DELETED, output_field=CharField()),
        dateLastModified=F("deleted"),
        login=F("sourced_id"),
        mail=_last_known("mail"),
        identifier=_last_known("identifier"),
        sis=_last_known("sis"),
        fullname=_last_known("fullname"),
        rid=Value(None, output_field=IntegerField()),
    )


def _org_roles(user_ids: list[int]) -> dict[int, list[tuple[str, str]]]:
    """(role, org) pairs of each user: student where enrolled, teacher/aide where teaching."""
    found: dict[int, dict[tuple[str, str], None]] = {}
    learners = (
        enrollments.enrollment_rows()
        .filter(user_id__in=user_ids, is_active=True)
        .values_list("user_id", "org")
        .distinct()
    )
    for user_id, org in learners:
        found.setdefault(user_id, {})[("student", org)] = None
    teachers = (
        teaching_rows()
        .filter(user_id__in=user_ids)
        .values_list("user_id", "org", "role")
        .distinct()
    )
    for user_id, org, role in teachers:
        found.setdefault(user_id, {})[(TEACHING_ROLES[role], org)] = None
    return {user_id: sorted(pairs) for user_id, pairs in found.items()}


def _render_user(rows: Sequence[dict[str, Any]], base: str) -> list[dict[str, Any]]:
    user_ids = [row["rid"] for row in rows if row["rid"] is not None]  # tombstones have none
    org_roles = _org_roles(user_ids) if user_ids else {}
    return [user_object(row, base, org_roles.get(row["rid"], [])) for row in rows]


def user_object(row: dict[str, Any], base: str, pairs: Sequence[tuple[str, str]]) -> dict[str, Any]:
    """One user from its projection row and its (role, org) pairs."""
    given, family = split_full_name(row["fullname"] or "")
    user_ids = []
    if row["sis"]:
        user_ids.append({"type": "SIS", "identifier": row["sis"]})
    if row["identifier"]:
        user_ids.append({"type": "idnumber", "identifier": row["identifier"]})
    return {
        "sourcedId": row["sourcedId"],
        "status": row["status"],
        "dateLastModified": iso(row["dateLastModified"]),
        "username": row["login"],
        "userIds": user_ids,
        "enabledUser": "true" if row["status"] == ACTIVE else "false",
        "givenName": given,
        "familyName": family,
        "roles": [
            {
                "roleType": "primary" if index == 0 else "secondary",
                "role": role,
                "org": ref(base, "orgs", org, "org"),
            }
            for index, (role, org) in enumerate(pairs)
        ],
        "identifier": row["identifier"] or None,
        "email": row["mail"] or None,
    }


USERS = Resource(
    name="users",
    single="user",
    label="Users",
    fields=(
        "sourcedId",
        "status",
        "dateLastModified",
        "username",
        "userIds",
        "enabledUser",
        "givenName",
        "familyName",
        "roles",
        "identifier",
        "email",
    ),
    columns=_common(
        username=Column("login"),
        email=Column("mail"),
        identifier=Column("identifier"),
    ),
    parts=_user_parts,
    tombstones=_user_tombstones,
    render=_render_user,
)


# -- enrollments ----------------------------------------------------------------------------

_TEXT = CharField()


def _enrollment_parts() -> list[QuerySet[Any]]:
    learners = enrollments.enrollment_rows().values(
        sourcedId=Concat(
            Value("enr:"),
            F("course_key"),
            Value(":"),
            F("username"),
            Value(":student"),
            output_field=_TEXT,
        ),
        status=_status_of("is_active"),
        dateLastModified=F("modified"),
        enrollment_role=Value("student", output_field=_TEXT),
        user_ref=F("username"),
        class_id=F("course_key"),
        school=F("org"),
        began=F("created"),
    )
    teaching = teaching_rows().values(
        sourcedId=Concat(
            Value("enr:"),
            F("course_key"),
            Value(":"),
            F("username"),
            Value(":"),
            F("role"),
            output_field=_TEXT,
        ),
        status=Value(ACTIVE, output_field=_TEXT),
        dateLastModified=Greatest("created", "run_created"),
        enrollment_role=Case(
            *(When(role=name, then=Value(kind)) for name, kind in ENROLLMENT_ROLE_OF.items()),
            output_field=_TEXT,
        ),
        user_ref=F("username"),
        class_id=F("course_key"),
        school=F("org"),
        began=F("created"),
    )
    return [learners, teaching]


def _enrollment_tombstones() -> QuerySet[Any]:
    return kept_tombstones("enrollments").values(
        sourcedId=F("sourced_id"),
        status=Value(TO_BE_DELETED, output_field=_TEXT),
        dateLastModified=F("deleted"),
        enrollment_role=_last_known("enrollment_role"),
        user_ref=_last_known("user_ref"),
        class_id=_last_known("class_id"),
        school=_last_known("school"),
        began=Value(None, output_field=DateTimeField()),
    )


def _render_enrollment(rows: Sequence[dict[str, Any]], base: str) -> list[dict[str, Any]]:
    return [
        {
            "sourcedId": row["sourcedId"],
            "status": row["status"],
            "dateLastModified": iso(row["dateLastModified"]),
            "role": row["enrollment_role"],
            "primary": "true" if row["sourcedId"].endswith(":instructor") else "false",
            "user": ref(base, "users", row["user_ref"], "user"),
            "class": ref(base, "classes", row["class_id"], "class"),
            "school": ref(base, "orgs", row["school"], "org"),
            "beginDate": _date(row["began"]),
            "endDate": None,
        }
        for row in rows
    ]


ENROLLMENTS = Resource(
    name="enrollments",
    single="enrollment",
    label="Enrollments",
    fields=(
        "sourcedId",
        "status",
        "dateLastModified",
        "role",
        "primary",
        "user",
        "class",
        "school",
        "beginDate",
        "endDate",
    ),
    columns=_common(
        role=Column("enrollment_role", Kind.ENUM, ENROLLMENT_ROLES),
        **{
            "user.sourcedId": Column("user_ref"),
            "class.sourcedId": Column("class_id"),
            "school.sourcedId": Column("school"),
        },
    ),
    parts=_enrollment_parts,
    tombstones=_enrollment_tombstones,
    render=_render_enrollment,
)

RESOURCES: dict[str, Resource] = {
    resource.name: resource
    for resource in (ORGS, ACADEMIC_SESSIONS, COURSES, CLASSES, USERS, ENROLLMENTS)
}


# -- filters ----------------------------------------------------------------------------------


def _column(resource: Resource, name: str) -> Column:
    column = resource.columns.get(name)
    if column is None:
        raise FilterError(
            QueryErrorCode.INVALID_FILTER_FIELD,
            MSG_UNKNOWN_FILTER_FIELD.format(resource=resource.label, field=name),
        )
    return column


def parse_datetime(text: str) -> dt.datetime | None:
    """An ISO 8601 date-time (naive: UTC) or date (its midnight UTC); None if not one."""
    try:
        value = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _convert(name: str, column: Column, predicate: Predicate) -> Any:
    if column.kind is Kind.DATETIME:
        if predicate.comparison is Comparison.CONTAINS:
            raise FilterError(
                QueryErrorCode.INVALID_FILTER_FIELD, MSG_NO_CONTAINS.format(field=name)
            )
        value = parse_datetime(predicate.value)
        if value is None:
            raise FilterError(
                QueryErrorCode.INVALID_FILTER_FIELD,
                MSG_BAD_DATETIME.format(field=name, value=predicate.value),
            )
        return value
    if (
        column.kind is Kind.ENUM
        and predicate.comparison is not Comparison.CONTAINS
        and predicate.value not in column.choices
    ):
        raise FilterError(
            QueryErrorCode.INVALID_FILTER_FIELD,
            MSG_BAD_ENUM.format(
                field=name, value=predicate.value, choices=", ".join(column.choices)
            ),
        )
    return predicate.value


_LOOKUPS = {
    Comparison.EQ: "exact",
    Comparison.NE: "exact",
    Comparison.GT: "gt",
    Comparison.GE: "gte",
    Comparison.LT: "lt",
    Comparison.LE: "lte",
    Comparison.CONTAINS: "icontains",
}


MILLISECOND = dt.timedelta(milliseconds=1)


def _instant_q(name: str, comparison: Comparison, value: dt.datetime) -> Q:
    """Date-times are written to the millisecond, so a compared value means its whole
    millisecond: `>` what a client last saw never answers that object again."""
    start = value.replace(microsecond=value.microsecond // 1000 * 1000)
    end = start + MILLISECOND
    match comparison:
        case Comparison.GT:
            return Q(**{f"{name}__gte": end})
        case Comparison.GE:
            return Q(**{f"{name}__gte": start})
        case Comparison.LT:
            return Q(**{f"{name}__lt": start})
        case Comparison.LE:
            return Q(**{f"{name}__lt": end})
        case Comparison.NE:
            return ~Q(**{f"{name}__gte": start, f"{name}__lt": end})
    return Q(**{f"{name}__gte": start, f"{name}__lt": end})


def to_q(expression: Expression, resource: Resource) -> Q:
    """The filter as a Q over the resource's projection columns."""
    if isinstance(expression, Predicate):
        column = _column(resource, expression.field)
        value = _convert(expression.field, column, expression)
        if column.kind is Kind.DATETIME:
            return _instant_q(column.column, expression.comparison, value)
        q = Q(**{f"{column.column}__{_LOOKUPS[expression.comparison]}": value})
        return ~q if expression.comparison is Comparison.NE else q
    parts = [to_q(part, resource) for part in expression.parts]
    combined = parts[0]
    for part in parts[1:]:
        combined = combined & part if isinstance(expression, And) else combined | part
    return combined


def _to_ms(value: dt.datetime | None) -> dt.datetime | None:
    return value.replace(microsecond=value.microsecond // 1000 * 1000) if value else None


def _compare(actual: Any, comparison: Comparison, wanted: Any) -> bool:
    if comparison is Comparison.EQ:
        return bool(actual == wanted)
    if comparison is Comparison.NE:
        return bool(actual != wanted)
    if actual is None:
        return False
    if comparison is Comparison.CONTAINS:
        return str(wanted).casefold() in str(actual).casefold()
    if comparison is Comparison.GT:
        return bool(actual > wanted)
    if comparison is Comparison.GE:
        return bool(actual >= wanted)
    if comparison is Comparison.LT:
        return bool(actual < wanted)
    return bool(actual <= wanted)


def to_predicate(expression: Expression, resource: Resource) -> Callable[[dict[str, Any]], bool]:
    """The filter as a test of a row (for the resources read whole)."""
    if isinstance(expression, Predicate):
        column = _column(resource, expression.field)
        wanted = _convert(expression.field, column, expression)
        comparison = expression.comparison
        if column.kind is Kind.DATETIME:
            wanted = wanted.replace(microsecond=wanted.microsecond // 1000 * 1000)
            return lambda row: _compare(_to_ms(row.get(column.column)), comparison, wanted)
        return lambda row: _compare(row.get(column.column), comparison, wanted)
    tests = [to_predicate(part, resource) for part in expression.parts]
    if isinstance(expression, Or):
        return lambda row: any(test(row) for test in tests)
    return lambda row: all(test(row) for test in tests)


def sort_column(resource: Resource, name: str) -> str:
    column = resource.columns.get(name)
    if column is None:
        raise FilterError(
            QueryErrorCode.INVALID_SORT_FIELD,
            MSG_UNKNOWN_SORT_FIELD.format(resource=resource.label, field=name),
        )
    return column.column


def check_selection(resource: Resource, names: Iterable[str]) -> None:
    for name in names:
        if name not in resource.fields:
            raise FilterError(
                QueryErrorCode.INVALID_SELECTION_FIELD,
                MSG_UNKNOWN_SELECTION_FIELD.format(resource=resource.label, field=name),
            )
