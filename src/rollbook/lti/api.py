"""LTI Advantage Names and Role Provisioning Services 2.0 (ADR 0017): a course's membership
container, paged in user_id order, and its differences since an outbox position."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.db.models import Q, QuerySet
from django.db.models.functions import Substr

from rollbook.audit import api as audit
from rollbook.catalog import api as catalog
from rollbook.catalog.data import CourseData
from rollbook.enrollments import api as enrollments
from rollbook.lib.errors import BadRequest, Invalid, NotFound
from rollbook.lib.keys import CourseKey
from rollbook.lib.names import split_full_name
from rollbook.lti.data import LEARNER, Context, Member, MembershipPage, Status
from rollbook.lti.errors import LtiErrorCode
from rollbook.lti.roles import MEMBER_ROLES, granting, member_roles, parse_role
from rollbook.people import api as people
from rollbook.roles import api as roles

__all__ = [
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "Context",
    "Member",
    "MembershipPage",
    "Status",
    "differences",
    "memberships",
    "parse_role",
]

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000

MSG_COURSE_NOT_FOUND = "There is no course {key!r}."
MSG_STALE_SINCE = (
    "since={since} is past the newest change rollbook has numbered ({last}): the link is not "
    "from this service's outbox. Read the membership container again."
)
MSG_BAD_POSITION = "at={at} is not an outbox position this service has given (0 to {last})."
MSG_BAD_WINDOW = "until={until} must lie between since={since} and {last}."

_PERSON_COLUMNS = ("id", "username", "name", "email", "is_active", "profile_sis_sourcedid")
_USER_PREFIX = "user:"
# Membership events (ADR 0017): what adds, removes or changes a member of a course.
_ENROLLMENT_CHANGES = (
    Q(event="enrollment.created")
    | Q(event="enrollment.updated", before__is_active=True, after__is_active=False)
    | Q(event="enrollment.updated", before__is_active=False, after__is_active=True)
)
_GRANT_EVENTS = ("role.granted", "role.revoked")
_USER_EVENTS = ("user.updated",)


def _course(course_key: str) -> CourseData:
    try:
        return catalog.get_course(course_key)
    except (Invalid, NotFound):
        raise NotFound(
            LtiErrorCode.COURSE_NOT_FOUND,
            MSG_COURSE_NOT_FOUND.format(key=course_key),
            fields={"course_key": course_key},
        ) from None


def _context(course: CourseData) -> Context:
    return Context(id=course.key, label=CourseKey.parse(course.key).number, title=course.title)


def _members_q(course_key: str, role: str | None) -> Q:
    """Users (people.person_rows) who are members of the course, holding `role` if given."""
    enrolled = enrollments.enrollment_rows().filter(course_key=course_key)
    granted = roles.course_role_rows(MEMBER_ROLES).filter(course_key=course_key)
    if role is None:
        return Q(id__in=enrolled.values("user_id")) | Q(id__in=granted.values("user_id"))
    if role == LEARNER:
        # Active learners; and those whose only tie is an inactive enrollment (shown Inactive).
        return Q(id__in=enrolled.filter(is_active=True).values("user_id")) | (
            Q(id__in=enrolled.filter(is_active=False).values("user_id"))
            & ~Q(id__in=granted.values("user_id"))
        )
    holders = granting(role)
    if not holders:
        return Q(pk__in=[])
    return Q(id__in=granted.filter(role__in=holders).values("user_id"))


def _render(
    course_key: str, persons: list[dict[str, Any]], role: str | None
) -> dict[str, Member | None]:
    """Each person's member entry by username (None: not a member, holding `role` if given).
    Two queries whatever the number of persons."""
    ids = [person["id"] for person in persons]
    enrolled = dict(
        enrollments.enrollment_rows()
        .filter(course_key=course_key, user_id__in=ids)
        .values_list("user_id", "is_active")
    )
    grants: dict[int, list[str]] = defaultdict(list)
    for user_id, grant in (
        roles.course_role_rows(MEMBER_ROLES)
        .filter(course_key=course_key, user_id__in=ids)
        .values_list("user_id", "role")
    ):
        grants[user_id].append(grant)
    entries: dict[str, Member | None] = {}
    for person in persons:
        learning = enrolled.get(person["id"])
        held = member_roles(grants[person["id"]], learning=bool(learning))
        status = Status.ACTIVE if person["is_active"] else Status.INACTIVE
        if not held and learning is False:
            held, status = (LEARNER,), Status.INACTIVE  # unenrolled: an inactive learner
        if not held or (role is not None and role not in held):
            entries[person["username"]] = None
            continue
        given_name, family_name = split_full_name(person["name"] or "")
        entries[person["username"]] = Member(
            user_id=person["username"],
            status=status,
            roles=held,
            name=person["name"] or "",
            given_name=given_name,
            family_name=family_name,
            email=person["email"] or "",
            lis_person_sourcedid=person["profile_sis_sourcedid"] or "",
        )
    return entries


def _limit(limit: int) -> int:
    return min(max(limit, 1), MAX_LIMIT)


def memberships(
    course_key: str,
    *,
    role: str | None = None,
    limit: int = DEFAULT_LIMIT,
    after: str | None = None,
    at: int | None = None,
) -> MembershipPage:
    """A page of the course's members in user_id order (after `after`), holding `role` (a full
    LIS URI) if given. The first page (`at` None) numbers the committed changes and takes the
    outbox position before it reads, so that every change it does not show comes later in
    the differences; the next pages carry that position in `at`. A constant number of
    queries a page. NotFound for an unknown course; BadRequest for an `at` never given."""
    course = _course(course_key)
    if at is None:
        audit.sequence_events()
        at = audit.last_seq()
    else:
        last = audit.last_seq()
        if not 0 <= at <= last:
            raise BadRequest(LtiErrorCode.INVALID_CURSOR, MSG_BAD_POSITION.format(at=at, last=last))
    limit = _limit(limit)
    rows = people.person_rows().filter(_members_q(course.key, role))
    if after is not None:
        rows = rows.filter(username__gt=after)
    persons = list(rows.order_by("username").values(*_PERSON_COLUMNS)[: limit + 1])
    more = len(persons) > limit
    persons = persons[:limit]
    entries = _render(course.key, persons, role)
    members = [entry for entry in entries.values() if entry is not None]
    return MembershipPage(_context(course), members, persons[-1]["username"] if more else None, at)


def _changed(
    course_key: str, since: int, until: int, role: str | None, after: str | None
) -> QuerySet[Any]:
    """The usernames (column `uname`, after `after`) whose membership of the course, holding
    `role` if given, changed in the outbox window (since, until]: enrolled, unenrolled or
    re-enrolled; granted or revoked a member role; and the user changes (name, email,
    deactivation) of its members. One query (a UNION)."""
    window = audit.event_rows(since, until).order_by()
    user_name = Substr("subject", len(_USER_PREFIX) + 1)
    parts: list[QuerySet[Any]] = []
    if role is None or role == LEARNER:
        prefix = f"enrollment:{course_key}:"
        parts.append(
            window.filter(_ENROLLMENT_CHANGES, subject__startswith=prefix)
            .annotate(
                head=Substr("subject", 1, len(prefix)),
                uname=Substr("subject", len(prefix) + 1),
            )
            .filter(head=prefix)  # startswith ignores case on SQLite; course keys do not
        )
    holders = MEMBER_ROLES if role is None else granting(role)
    if holders:
        parts.append(
            window.filter(event__in=_GRANT_EVENTS, subject__startswith=_USER_PREFIX)
            .filter(
                Q(after__course_key=course_key, after__role__in=holders)
                | Q(before__course_key=course_key, before__role__in=holders)
            )
            .annotate(uname=user_name)
        )
    members = people.person_rows().filter(_members_q(course_key, role)).values("username")
    parts.append(
        window.filter(event__in=_USER_EVENTS, subject__startswith=_USER_PREFIX)
        .annotate(uname=user_name)
        .filter(uname__in=members)
    )
    if after is not None:
        parts = [part.filter(uname__gt=after) for part in parts]
    names = [part.values("uname") for part in parts]
    return names[0].union(*names[1:]) if len(names) > 1 else names[0]


def differences(
    course_key: str,
    *,
    since: int,
    until: int | None = None,
    role: str | None = None,
    limit: int = DEFAULT_LIMIT,
    after: str | None = None,
) -> MembershipPage:
    """The members whose membership changed after outbox position `since`, in user_id order:
    each as the container shows it now, or `Deleted` when it is no member any more (holding
    `role`, if given). The first page (`until` None) numbers the committed changes and fixes
    the window's end at the newest number; the next pages carry it in `until`. The page's
    `position` is that end: the next differences start there.

    BadRequest stale_since for a `since` past the newest number (not from this outbox);
    invalid_cursor for an `until` outside [since, newest]."""
    course = _course(course_key)
    if until is None:
        audit.sequence_events()
        until = last = audit.last_seq()
        if since > last:
            raise BadRequest(
                LtiErrorCode.STALE_SINCE,
                MSG_STALE_SINCE.format(since=since, last=last),
                fields={"since": since},
            )
    else:
        last = audit.last_seq()
        if not since <= until <= last:
            raise BadRequest(
                LtiErrorCode.INVALID_CURSOR,
                MSG_BAD_WINDOW.format(until=until, since=since, last=last),
            )
    limit = _limit(limit)
    changed = _changed(course.key, since, until, role, after)
    names = [row["uname"] for row in changed.order_by("uname")[: limit + 1]]
    more = len(names) > limit
    names = names[:limit]
    persons = list(people.person_rows().filter(username__in=names).values(*_PERSON_COLUMNS))
    entries = _render(course.key, persons, role)
    members = [
        entries.get(name) or Member(user_id=name, status=Status.DELETED, roles=()) for name in names
    ]
    return MembershipPage(
        _context(course), members, names[-1] if more else None, until, since=since
    )
