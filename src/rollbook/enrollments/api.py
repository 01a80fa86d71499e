"""Course enrollments: one row per (user, course) with its mode and whether it is active."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import F, QuerySet

from rollbook.audit import api as audit
from rollbook.audit.data import Actor
from rollbook.catalog import api as catalog
from rollbook.catalog.data import CourseData
from rollbook.enrollments.data import (
    BulkAction,
    BulkOutcome,
    BulkResult,
    EnrollmentData,
    EnrollmentState,
)
from rollbook.enrollments.errors import (
    MSG_ENROLLMENT_NOT_FOUND,
    MSG_INVALID_MODE,
    MSG_USER_NOT_FOUND,
    EnrollmentErrorCode,
)
from rollbook.enrollments.models import CourseEnrollment
from rollbook.jobs import api as jobs
from rollbook.jobs.data import JobData
from rollbook.lib import clock, sources
from rollbook.lib.errors import Invalid, NotFound
from rollbook.lib.pagination import Page, PageRequest, paginate
from rollbook.people import api as people
from rollbook.people.data import UserRef

__all__ = [
    "BULK_JOB_KIND",
    "BulkAction",
    "BulkOutcome",
    "BulkResult",
    "EnrollmentData",
    "EnrollmentState",
    "EnrollmentWrite",
    "SourceChange",
    "apply_sources",
    "apply_sources_many",
    "bulk_enroll",
    "drop_source",
    "enroll_from_source",
    "enrollment_modes",
    "enrollment_rows",
    "get_enrollment",
    "list_course_enrollments",
    "list_user_enrollments",
    "lock_enrollments",
    "lock_enrollments_many",
    "put_enrollment",
    "start_bulk_enrollment",
    "write_enrollment",
    "write_enrollments_many",
]

BULK_JOB_KIND = "enrollments.bulk"
_IN_CHUNK = 900


def _data(row: CourseEnrollment, course_key: str, username: str) -> EnrollmentData:
    return EnrollmentData(
        course_key=course_key,
        username=username,
        mode=row.mode,
        is_active=row.is_active,
        sources=tuple(row.sources),
        created=row.created,
        modified=row.modified,
    )


def _row_data(row: CourseEnrollment) -> EnrollmentData:
    return _data(row, row.course.key, row.user.username)


def _subject(course_key: str, username: str) -> str:
    return f"enrollment:{course_key}:{username}"


def _locked(course: CourseData, user: UserRef) -> CourseEnrollment | None:
    """The user's enrollment in the course, locked until the transaction ends (or None)."""
    return (
        CourseEnrollment.objects.select_for_update()
        .filter(user_id=user.id, course_id=course.id)
        .first()
    )


def _check_mode(course: CourseData, mode: str) -> None:
    if mode not in course.modes:
        raise Invalid(
            EnrollmentErrorCode.INVALID_MODE,
            MSG_INVALID_MODE.format(course_key=course.key, mode=mode, modes=list(course.modes)),
            fields={"mode": mode},
        )


def _snapshot(mode: str, is_active: bool, sources: list[str]) -> dict[str, Any]:
    return {"mode": mode, "is_active": is_active, "sources": list(sources)}


def _apply(
    course: CourseData,
    user: UserRef,
    existing: CourseEnrollment | None,
    *,
    mode: str | None,
    is_active: bool | None,
    actor: Actor,
    change_sources: Callable[[list[str]], list[str]] | None = None,
) -> tuple[CourseEnrollment, bool, bool]:
    """Create or change one enrollment inside the caller's transaction.

    `change_sources` maps the enrollment's current sources to its new ones (None: unchanged).
    Returns the row, whether it was created, and whether anything changed.
    """
    now = clock.now()
    if existing is None:
        new_mode = mode or course.default_mode
        _check_mode(course, new_mode)
        row = CourseEnrollment(
            user_id=user.id,
            course_id=course.id,
            mode=new_mode,
            is_active=True if is_active is None else is_active,
            sources=change_sources([]) if change_sources else [],
            created=now,
            modified=now,
        )
        row.save(force_insert=True)
        audit.record(
            "enrollment.created",
            _subject(course.key, user.username),
            actor=actor,
            after=_snapshot(row.mode, row.is_active, row.sources),
        )
        return row, True, True
    if mode is not None and mode != existing.mode:
        _check_mode(course, mode)
    new_mode = existing.mode if mode is None else mode
    new_active = existing.is_active if is_active is None else is_active
    new_sources = (
        change_sources(list(existing.sources)) if change_sources else list(existing.sources)
    )
    before = _snapshot(existing.mode, existing.is_active, existing.sources)
    after = _snapshot(new_mode, new_active, new_sources)
    if after == before:
        return existing, False, False
    existing.mode = new_mode
    existing.is_active = new_active
    existing.sources = new_sources
    existing.modified = now
    existing.save(update_fields=["mode", "is_active", "sources", "modified"])
    audit.record(
        "enrollment.updated",
        _subject(course.key, user.username),
        actor=actor,
        before=before,
        after=after,
    )
    return existing, False, True


def _manual_sources(is_active: bool | None, creating: bool) -> Callable[[list[str]], list[str]]:
    """A person's enroll adds the manual source; a person's unenroll ends every source."""

    def change(current: list[str]) -> list[str]:
        if is_active is False:
            return []
        if is_active is True or creating:
            return sources.added(current, sources.MANUAL)
        return current

    return change


def put_enrollment(
    course_key: str,
    username: str,
    *,
    actor: Actor,
    mode: str | None = None,
    is_active: bool | None = None,
) -> tuple[EnrollmentData, bool]:
    """Enroll the user, or change the mode or activity given. A new enrollment takes the
    course's default mode and is active unless told otherwise. A mode the course lacks: 422."""
    course = catalog.get_course(course_key)
    user = people.get_user_ref(username)
    for _attempt in range(2):
        try:
            with transaction.atomic():
                existing = _locked(course, user)
                row, created, _changed = _apply(
                    course,
                    user,
                    existing,
                    mode=mode,
                    is_active=is_active,
                    actor=actor,
                    change_sources=_manual_sources(is_active, existing is None),
                )
                return _data(row, course.key, user.username), created
        except IntegrityError:
            continue  # enrolled concurrently: the second pass updates that row
    raise RuntimeError("enrollment kept conflicting")  # pragma: no cover


def enroll_from_source(
    course_key: str,
    username: str,
    *,
    source: str,
    actor: Actor,
    mode: str | None = None,
) -> tuple[EnrollmentData, bool]:
    """A source (an SIS membership, a program) asserts this enrollment: record the source and
    make the enrollment active. A new enrollment takes `mode` or the course's default; an
    existing one keeps its mode unless it was inactive and `mode` is given. Returns the
    enrollment and whether anything changed."""
    course = catalog.get_course(course_key)
    user = people.get_user_ref(username)
    with transaction.atomic():
        existing = _locked(course, user)
        keep_mode = existing is not None and existing.is_active
        row, _created, changed = _apply(
            course,
            user,
            existing,
            mode=None if keep_mode else mode,
            is_active=True,
            actor=actor,
            change_sources=lambda current: sources.added(current, source),
        )
        return _data(row, course.key, user.username), changed


def drop_source(
    course_key: str, username: str, *, source: str, actor: Actor
) -> EnrollmentData | None:
    """A source no longer asserts this enrollment: remove it, and deactivate the enrollment
    when no source remains. Other sources (a manual enrollment) keep it active. None when
    there is no such enrollment."""
    course = catalog.get_course(course_key)
    user = people.get_user_ref(username)
    with transaction.atomic():
        existing = _locked(course, user)
        if existing is None:
            return None
        remaining = sources.removed(list(existing.sources), source)
        row, _created, _changed = _apply(
            course,
            user,
            existing,
            mode=None,
            is_active=existing.is_active and bool(remaining),
            actor=actor,
            change_sources=lambda _current: remaining,
        )
        return _data(row, course.key, user.username)


@dataclass(frozen=True, slots=True)
class SourceChange:
    """One source asserting (`active`) or no longer asserting an enrollment of a user."""

    user: UserRef
    source: str
    active: bool


def apply_sources(
    course_key: str, changes: Iterable[SourceChange], *, actor: Actor
) -> dict[tuple[int, str], bool]:
    """`enroll_from_source` and `drop_source` for many users of one course, batched: one read
    of the course, one of the existing enrollments, one INSERT, one UPDATE and one audit
    INSERT, whatever the number of users. Same rules as one at a time. Returns, for each
    (user id, source), whether the enrollment changed. Runs in the caller's transaction (or
    its own): all or nothing.
    """
    return apply_sources_many({course_key: list(changes)}, actor=actor)[course_key]


def apply_sources_many(
    changes: Mapping[str, Sequence[SourceChange]], *, actor: Actor
) -> dict[str, dict[tuple[int, str], bool]]:
    """`apply_sources` for several courses at once, with the same statements: one read of the
    courses, one locking read of their enrollments (in primary-key order), one INSERT, one
    UPDATE, one audit INSERT. A live SIS feed at term start touches a different course with
    nearly every message; per course, those statements would be repeated for every message.
    Returns, per course key, what `apply_sources` returns. All or nothing: an unknown course
    refuses the whole call (404), as `apply_sources` does.
    """
    keys = sorted(changes)
    courses = catalog.courses_by_key(keys)
    for key in keys:
        if key not in courses:
            catalog.get_course(key)  # raises the catalog's own 404
    by_id = {courses[key].id: courses[key] for key in keys}
    ids = sorted({change.user.id for key in keys for change in changes[key]})
    now = clock.now()
    existing: dict[tuple[int, int], CourseEnrollment] = {}
    with transaction.atomic():
        # Users x courses: a superset of the pairs at hand, locked in primary-key order; the
        # pairs not at hand are left as they are.
        for start in range(0, len(ids), _IN_CHUNK):
            rows = (
                CourseEnrollment.objects.select_for_update()
                .filter(course_id__in=list(by_id), user_id__in=ids[start : start + _IN_CHUNK])
                .order_by("pk")
            )
            existing.update(((row.course_id, row.user_id), row) for row in rows)
        before = {
            pair: _snapshot(row.mode, row.is_active, row.sources) for pair, row in existing.items()
        }
        created: dict[tuple[int, int], CourseEnrollment] = {}
        names: dict[int, str] = {}
        results: dict[str, dict[tuple[int, str], bool]] = {}
        for key in keys:
            course = courses[key]
            mine = results.setdefault(key, {})
            for change in changes[key]:
                user_id = change.user.id
                names[user_id] = change.user.username
                pair = (course.id, user_id)
                row = existing.get(pair) or created.get(pair)
                if row is None:
                    if not change.active:
                        mine[(user_id, change.source)] = False
                        continue
                    created[pair] = CourseEnrollment(
                        user_id=user_id,
                        course_id=course.id,
                        mode=course.default_mode,
                        is_active=True,
                        sources=[change.source],
                        created=now,
                        modified=now,
                    )
                    mine[(user_id, change.source)] = True
                    continue
                old = (row.is_active, list(row.sources))
                if change.active:
                    row.sources = sources.added(list(row.sources), change.source)
                    row.is_active = True
                else:
                    row.sources = sources.removed(list(row.sources), change.source)
                    row.is_active = row.is_active and bool(row.sources)
                mine[(user_id, change.source)] = (row.is_active, list(row.sources)) != old
        changed = [
            row
            for pair, row in existing.items()
            if _snapshot(row.mode, row.is_active, row.sources) != before[pair]
        ]
        for row in changed:
            row.modified = now
        if created:
            CourseEnrollment.objects.bulk_create(list(created.values()), batch_size=500)
        if changed:
            CourseEnrollment.objects.bulk_update(
                changed, ["is_active", "sources", "modified"], batch_size=500
            )
        audit.record_many(
            [
                (
                    "enrollment.created",
                    _subject(by_id[row.course_id].key, names[row.user_id]),
                    None,
                    _snapshot(row.mode, row.is_active, row.sources),
                )
                for row in created.values()
            ]
            + [
                (
                    "enrollment.updated",
                    _subject(by_id[row.course_id].key, names[row.user_id]),
                    before[(row.course_id, row.user_id)],
                    _snapshot(row.mode, row.is_active, row.sources),
                )
                for row in changed
            ],
            actor=actor,
        )
    return results


def get_enrollment(course_key: str, username: str) -> EnrollmentData:
    course = catalog.get_course(course_key)
    user = people.get_user_ref(username)
    row = CourseEnrollment.objects.filter(user_id=user.id, course_id=course.id).first()
    if row is None:
        raise NotFound(
            EnrollmentErrorCode.ENROLLMENT_NOT_FOUND,
            MSG_ENROLLMENT_NOT_FOUND.format(username=user.username, course_key=course.key),
        )
    return _data(row, course.key, user.username)


def _listing() -> Any:
    return CourseEnrollment.objects.select_related("course", "user").only(
        "mode", "is_active", "sources", "created", "modified", "course__key", "user__username"
    )


def list_course_enrollments(
    course_key: str,
    *,
    page: PageRequest,
    mode: str | None = None,
    is_active: bool | None = None,
) -> Page[EnrollmentData]:
    course = catalog.get_course(course_key)
    rows = _listing().filter(course_id=course.id).order_by("user__username", "id")
    if mode:
        rows = rows.filter(mode=mode)
    if is_active is not None:
        rows = rows.filter(is_active=is_active)
    return paginate(rows, page, _row_data)


def list_user_enrollments(username: str, *, page: PageRequest) -> Page[EnrollmentData]:
    user = people.get_user_ref(username)
    rows = _listing().filter(user_id=user.id).order_by("course__key", "id")
    return paginate(rows, page, _row_data)


def bulk_enroll(
    course_key: str,
    usernames: Iterable[str],
    *,
    actor: Actor,
    action: BulkAction = BulkAction.ENROLL,
    mode: str | None = None,
) -> dict[str, BulkResult]:
    """Enroll or unenroll many users: a savepoint per user, a result per username.

    Reads are batched (the course, every user, every existing enrollment: a constant number
    of queries); each change is its own savepoint, so one refused user fails alone.
    """
    course = catalog.get_course(course_key)
    if mode is not None:
        _check_mode(course, mode)
    names = list(dict.fromkeys(usernames))
    users = people.user_refs(names)
    ids = sorted(ref.id for ref in users.values())
    existing: dict[int, CourseEnrollment] = {}
    for start in range(0, len(ids), _IN_CHUNK):
        rows = CourseEnrollment.objects.filter(
            course_id=course.id, user_id__in=ids[start : start + _IN_CHUNK]
        )
        existing.update((row.user_id, row) for row in rows)
    results: dict[str, BulkResult] = {}
    for name in names:
        user = users.get(name.lower())
        if user is None:
            results[name] = BulkResult(
                BulkOutcome.ERROR,
                EnrollmentErrorCode.USER_NOT_FOUND,
                MSG_USER_NOT_FOUND.format(username=name),
            )
            continue
        row = existing.get(user.id)
        try:
            with transaction.atomic():
                if action is BulkAction.ENROLL:
                    row, _created, changed = _apply(
                        course,
                        user,
                        row,
                        mode=mode,
                        is_active=True,
                        actor=actor,
                        change_sources=_manual_sources(True, row is None),
                    )
                    outcome = BulkOutcome.ENROLLED if changed else BulkOutcome.UNCHANGED
                elif row is None or not row.is_active:
                    outcome = BulkOutcome.UNCHANGED
                else:
                    row, _created, _changed = _apply(
                        course,
                        user,
                        row,
                        mode=None,
                        is_active=False,
                        actor=actor,
                        change_sources=_manual_sources(False, False),
                    )
                    outcome = BulkOutcome.UNENROLLED
            if row is not None:
                existing[user.id] = row
            results[name] = BulkResult(outcome)
        except (Invalid, IntegrityError) as exc:
            code = getattr(exc, "code", "conflict")
            results[name] = BulkResult(BulkOutcome.ERROR, str(code), str(exc))
    return results


def start_bulk_enrollment(
    course_key: str,
    usernames: list[str],
    *,
    actor: Actor,
    action: BulkAction = BulkAction.ENROLL,
    mode: str | None = None,
) -> JobData:
    """Validate what can be validated now, then run `bulk_enroll` as a job."""
    course = catalog.get_course(course_key)
    if mode is not None:
        _check_mode(course, mode)
    return jobs.start_job(
        BULK_JOB_KIND,
        {"course_key": course.key, "usernames": usernames, "action": action.value, "mode": mode},
        actor=actor,
    )


def lock_enrollments(user: UserRef, courses: Iterable[CourseData]) -> dict[str, EnrollmentState]:
    """The user's enrollments in these courses, locked until the caller's transaction ends
    (one query), by course key: read them, then change them with `write_enrollment`."""
    by_id = {course.id: course.key for course in courses}
    if not by_id:
        return {}
    rows = (
        CourseEnrollment.objects.select_for_update()
        .filter(user_id=user.id, course_id__in=sorted(by_id))
        .order_by("id")
    )
    return {by_id[row.course_id]: _state(row, by_id[row.course_id]) for row in rows}


def _state(row: CourseEnrollment, course_key: str) -> EnrollmentState:
    return EnrollmentState(
        row.id, row.user_id, course_key, row.mode, row.is_active, tuple(row.sources), row.created
    )


def write_enrollment(
    course: CourseData,
    user: UserRef,
    existing: EnrollmentState | None,
    *,
    actor: Actor,
    mode: str | None = None,
    is_active: bool | None = None,
    add_source: str | None = None,
    remove_source: str | None = None,
) -> tuple[EnrollmentState, bool]:
    """Create or change one enrollment read by `lock_enrollments`, in the caller's transaction
    (which must be open): the same validation (the course's modes) and audit as every write.
    Returns the enrollment and whether anything changed."""

    def change(current: list[str]) -> list[str]:
        if add_source:
            current = sources.added(current, add_source)
        if remove_source:
            current = sources.removed(current, remove_source)
        return current

    row = None
    if existing is not None:
        row = CourseEnrollment(
            id=existing.id,
            user_id=user.id,
            course_id=course.id,
            mode=existing.mode,
            is_active=existing.is_active,
            sources=list(existing.sources),
            created=existing.created,
        )
    saved, _created, changed = _apply(
        course, user, row, mode=mode, is_active=is_active, actor=actor, change_sources=change
    )
    return _state(saved, course.key), changed


def enrollment_modes(
    course_key: str,
    *,
    user_ids: Iterable[int] | None = None,
    after_user_id: int = 0,
    limit: int = 1000,
) -> list[tuple[int, str, bool]]:
    """(user id, mode, is active) of a course's enrollments: those of `user_ids`, or the next
    `limit` after `after_user_id` in user id order (one query)."""
    course = catalog.get_course(course_key)
    rows = CourseEnrollment.objects.filter(course_id=course.id)
    if user_ids is not None:
        rows = rows.filter(user_id__in=sorted(set(user_ids)))
    else:
        rows = rows.filter(user_id__gt=after_user_id)
    rows = rows.order_by("user_id")
    if user_ids is None:
        rows = rows[:limit]
    return list(rows.values_list("user_id", "mode", "is_active"))


def lock_enrollments_many(
    pairs: Iterable[tuple[UserRef, CourseData]],
) -> dict[tuple[int, str], EnrollmentState]:
    """The enrollments of many (user, course) pairs, locked until the caller's transaction
    ends, by (user id, course key): one query per 500 users."""
    pairs = list(pairs)
    wanted = {(user.id, course.id) for user, course in pairs}
    keys = {course.id: course.key for _user, course in pairs}
    users = sorted({user.id for user, _course in pairs})
    found: dict[tuple[int, str], EnrollmentState] = {}
    for start in range(0, len(users), 500):
        rows = (
            CourseEnrollment.objects.select_for_update()
            .filter(user_id__in=users[start : start + 500], course_id__in=sorted(keys))
            .order_by("id")
        )
        for row in rows:
            if (row.user_id, row.course_id) in wanted:
                found[(row.user_id, keys[row.course_id])] = _state(row, keys[row.course_id])
    return found


@dataclass(frozen=True, slots=True)
class EnrollmentWrite:
    """One enrollment to create or change (`existing` as read by `lock_enrollments_many`)."""

    course: CourseData
    user: UserRef
    existing: EnrollmentState | None
    mode: str | None = None
    is_active: bool | None = None
    add_source: str | None = None
    remove_source: str | None = None


def write_enrollments_many(
    writes: list[EnrollmentWrite], *, actor: Actor
) -> dict[tuple[int, str], EnrollmentState]:
    """`write_enrollment` for many (user, course) pairs, each pair once, in the caller's
    transaction: one INSERT of the new ones, one UPDATE statement (executemany) for the
    changed ones, one audit INSERT. A mode a course lacks: 422, nothing written."""
    now = clock.now()
    creates: list[tuple[EnrollmentWrite, CourseEnrollment]] = []
    changes: list[tuple[EnrollmentWrite, EnrollmentState, dict[str, Any]]] = []
    events: list[tuple[str, str, dict[str, Any] | None, dict[str, Any] | None]] = []
    result: dict[tuple[int, str], EnrollmentState] = {}
    for write in writes:
        course, user, existing = write.course, write.user, write.existing
        current = list(existing.sources) if existing else []
        if write.add_source:
            current = sources.added(current, write.add_source)
        if write.remove_source:
            current = sources.removed(current, write.remove_source)
        if existing is None:
            mode = write.mode or course.default_mode
            _check_mode(course, mode)
            row = CourseEnrollment(
                user_id=user.id,
                course_id=course.id,
                mode=mode,
                is_active=True if write.is_active is None else write.is_active,
                sources=current,
                created=now,
                modified=now,
            )
            creates.append((write, row))
            continue
        mode = existing.mode if write.mode is None else write.mode
        if mode != existing.mode:
            _check_mode(course, mode)
        active = existing.is_active if write.is_active is None else write.is_active
        before = _snapshot(existing.mode, existing.is_active, list(existing.sources))
        after = _snapshot(mode, active, current)
        if before == after:
            result[(user.id, course.key)] = existing
            continue
        changes.append((write, existing, after))
        events.append(("enrollment.updated", _subject(course.key, user.username), before, after))
    if creates:
        CourseEnrollment.objects.bulk_create([row for _write, row in creates], batch_size=500)
        for write, row in creates:
            result[(write.user.id, write.course.key)] = _state(row, write.course.key)
            events.append(
                (
                    "enrollment.created",
                    _subject(write.course.key, write.user.username),
                    None,
                    _snapshot(row.mode, row.is_active, row.sources),
                )
            )
    if changes:
        table = connection.ops.quote_name(CourseEnrollment._meta.db_table)
        encoded = CourseEnrollment._meta.get_field("sources")
        params = [
            (
                after["mode"],
                after["is_active"],
                encoded.get_db_prep_save(after["sources"], connection=connection),
                now,
                existing.id,
            )
            for _write, existing, after in changes
        ]
        # The table name comes from the model; every value is a parameter.
        sql = f"UPDATE {table} SET mode = %s, is_active = %s, sources = %s, modified = %s WHERE id = %s"  # noqa: S608, E501
        with connection.cursor() as cursor:
            cursor.executemany(sql, params)
        for write, existing, after in changes:
            result[(write.user.id, write.course.key)] = EnrollmentState(
                existing.id,
                existing.user_id,
                write.course.key,
                after["mode"],
                after["is_active"],
                tuple(after["sources"]),
                existing.created,
            )
    audit.record_many(events, actor=actor)
    return result


def enrollment_rows() -> QuerySet[Any]:
    """Read contract for projections (ADR 0015): every course enrollment, with the columns
    `id`, `user_id`, `username`, `course_key`, `org`, `mode`, `is_active`, `created` and
    `modified`."""
    return CourseEnrollment.objects.annotate(
        username=F("user__username"),
        course_key=F("course__key"),
        org=F("course__org__short_name"),
    )
