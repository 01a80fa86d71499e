"""Catalog: orgs, courses (with their enrollment modes) and content libraries."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F, Q, QuerySet

from rollbook.audit import api as audit
from rollbook.audit.data import Actor
from rollbook.catalog.data import (
    CERTIFICATE_ELIGIBLE_MODES,
    DEFAULT_MODES,
    KNOWN_MODES,
    CourseData,
    LibraryData,
    Mode,
)
from rollbook.catalog.errors import (
    MSG_COURSE_NOT_FOUND,
    MSG_DEFAULT_MODE,
    MSG_INVALID_DATES,
    MSG_INVALID_MODE,
    MSG_INVALID_PASSING_GRADE,
    MSG_LIBRARY_NOT_FOUND,
    MSG_NO_MODES,
    MSG_ORG_NOT_FOUND,
    MSG_TITLE_REQUIRED,
    CatalogErrorCode,
)
from rollbook.catalog.models import Course, Library, Org
from rollbook.lib import clock
from rollbook.lib.errors import Invalid, NotFound
from rollbook.lib.keys import CourseKey, LibraryKey, validate_org
from rollbook.lib.pagination import Page, PageRequest, paginate
from rollbook.lib.unset import UNSET, Unset

__all__ = [
    "CERTIFICATE_ELIGIBLE_MODES",
    "KNOWN_MODES",
    "CourseData",
    "LibraryData",
    "Mode",
    "context_exists",
    "course_rows",
    "courses_by_key",
    "delete_course",
    "delete_library",
    "delete_org",
    "ensure_org",
    "get_course",
    "get_library",
    "list_courses",
    "list_libraries",
    "org_rows",
    "put_course",
    "put_library",
    "rename_org",
]


def ensure_org(short_name: str, *, actor: Actor) -> None:
    """Create the org when it does not exist yet (an org comes with the first thing naming it)."""
    validate_org(short_name)
    if Org.objects.filter(short_name=short_name).exists():
        return
    try:
        with transaction.atomic():
            now = clock.now()
            Org.objects.create(short_name=short_name, created=now, modified=now)
            audit.record("org.created", f"org:{short_name}", actor=actor, after={"org": short_name})
    except IntegrityError:
        pass  # created concurrently


def rename_org(short_name: str, *, name: str, actor: Actor) -> bool:
    """Set the org's display name (the admin's edit); returns whether it changed. An unknown
    org is a 404."""
    with transaction.atomic():
        row = Org.objects.select_for_update().filter(short_name=short_name).first()
        if row is None:
            raise NotFound(
                CatalogErrorCode.ORG_NOT_FOUND,
                MSG_ORG_NOT_FOUND.format(org=short_name),
                fields={"org": short_name},
            )
        if row.name == name:
            return False
        before = {"org": row.short_name, "name": row.name}
        row.name = name
        row.modified = clock.now()
        row.save(update_fields=["name", "modified"])
        audit.record(
            "org.updated",
            f"org:{short_name}",
            actor=actor,
            before=before,
            after={"org": row.short_name, "name": name},
        )
    return True


def _course_data(row: Course) -> CourseData:
    return CourseData(
        id=row.id,
        key=row.key,
        org=row.org_id,
        title=row.title,
        start=row.start,
        end=row.end,
        modes=tuple(row.modes),
        default_mode=row.default_mode,
        sis_id=row.sis_id,
        enrollment_open=row.enrollment_open,
        days_early_for_beta=row.days_early_for_beta,
        passing_grade=row.passing_grade,
    )


def _instant(value: dt.datetime | None) -> str | None:
    """In UTC, so that the same instant given in another zone is no change."""
    return value.astimezone(dt.UTC).isoformat() if value else None


def _course_snapshot(row: Course) -> dict[str, Any]:
    return {
        "title": row.title,
        "start": _instant(row.start),
        "end": _instant(row.end),
        "modes": list(row.modes),
        "default_mode": row.default_mode,
        "sis_id": row.sis_id,
        "enrollment_open": row.enrollment_open,
        "days_early_for_beta": row.days_early_for_beta,
        "passing_grade": row.passing_grade,
    }


def _validate_modes(modes: Iterable[str]) -> list[str]:
    result: list[str] = []
    for mode in modes:
        if mode not in result:
            result.append(mode)
    unknown = [mode for mode in result if mode not in KNOWN_MODES]
    if unknown:
        raise Invalid(
            CatalogErrorCode.INVALID_MODE,
            MSG_INVALID_MODE.format(modes=unknown, known=list(KNOWN_MODES)),
            fields={"modes": unknown},
        )
    if not result:
        raise Invalid(CatalogErrorCode.INVALID_MODE, MSG_NO_MODES, fields={"modes": []})
    return result


def _title_required(title: object) -> Invalid:
    """A course or library always has a title: required to create, never blanked."""
    return Invalid(CatalogErrorCode.TITLE_REQUIRED, MSG_TITLE_REQUIRED, fields={"title": title})


def _course_not_found(key: str) -> NotFound:
    return NotFound(
        CatalogErrorCode.COURSE_NOT_FOUND,
        MSG_COURSE_NOT_FOUND.format(key=key),
        fields={"course_key": key},
    )


def put_course(
    key: str,
    *,
    actor: Actor,
    title: str | Unset = UNSET,
    start: dt.datetime | Unset | None = UNSET,
    end: dt.datetime | Unset | None = UNSET,
    sis_id: str | Unset = UNSET,
    modes: Iterable[str] | Unset = UNSET,
    default_mode: str | Unset = UNSET,
    enrollment_open: bool | Unset = UNSET,
    days_early_for_beta: int | Unset | None = UNSET,
    passing_grade: float | Unset = UNSET,
) -> tuple[CourseData, bool]:
    """Create the course or change the fields given. Returns the course and whether it is new."""
    course_key = CourseKey.parse(key)
    with transaction.atomic():
        ensure_org(course_key.org, actor=actor)  # inside: a refused course leaves no org behind
        row = Course.objects.select_for_update().filter(key=key).first()
        created = row is None
        now = clock.now()
        if row is None:
            if title is UNSET:
                raise _title_required(title)
            row = Course(
                key=key,
                org_id=course_key.org,
                modes=list(DEFAULT_MODES),
                default_mode=DEFAULT_MODES[0],
                created=now,
            )
        before = None if created else _course_snapshot(row)
        if title is not UNSET:
            if not title.strip():
                raise _title_required(title)
            row.title = title
        if start is not UNSET:
            row.start = start
        if end is not UNSET:
            row.end = end
        if sis_id is not UNSET:
            row.sis_id = sis_id
        if enrollment_open is not UNSET:
            row.enrollment_open = enrollment_open
        if days_early_for_beta is not UNSET:
            row.days_early_for_beta = days_early_for_beta
        if passing_grade is not UNSET:
            if not 0 <= passing_grade <= 1:
                raise Invalid(
                    CatalogErrorCode.INVALID_PASSING_GRADE,
                    MSG_INVALID_PASSING_GRADE.format(value=passing_grade),
                    fields={"passing_grade": passing_grade},
                )
            row.passing_grade = passing_grade
        if modes is not UNSET:
            row.modes = _validate_modes(modes)
        if default_mode is not UNSET:
            if default_mode not in row.modes:
                raise Invalid(
                    CatalogErrorCode.INVALID_MODE,
                    MSG_DEFAULT_MODE.format(mode=default_mode, modes=row.modes),
                    fields={"default_mode": default_mode},
                )
            row.default_mode = default_mode
        elif row.default_mode not in row.modes or (created and modes is not UNSET):
            row.default_mode = row.modes[0]  # a new course's default is its first mode
        if row.start and row.end and row.end < row.start:
            raise Invalid(
                CatalogErrorCode.INVALID_DATES,
                MSG_INVALID_DATES.format(start=row.start.isoformat(), end=row.end.isoformat()),
                fields={"start": row.start.isoformat(), "end": row.end.isoformat()},
            )
        after = _course_snapshot(row)
        if created or after != before:
            row.modified = now
            row.save()
            audit.record(
                "course.created" if created else "course.updated",
                f"course:{key}",
                actor=actor,
                before=before,
                after=after,
            )
    return _course_data(row), created


def get_course(key: str) -> CourseData:
    CourseKey.parse(key)
    row = Course.objects.filter(key=key).first()
    if row is None:
        raise _course_not_found(key)
    return _course_data(row)


def courses_by_key(keys: Iterable[str]) -> dict[str, CourseData]:
    """The existing courses among `keys`, in one query."""
    return {row.key: _course_data(row) for row in Course.objects.filter(key__in=list(keys))}


def list_courses(
    *, page: PageRequest, org: str | None = None, sis_id: str | None = None
) -> Page[CourseData]:
    rows = Course.objects.order_by("key")
    if org:
        rows = rows.filter(org_id=org)
    if sis_id:
        rows = rows.filter(sis_id=sis_id)
    return paginate(rows, page, _course_data)


def _library_data(row: Library) -> LibraryData:
    return LibraryData(id=row.id, key=row.key, org=row.org_id, title=row.title)


def put_library(key: str, *, actor: Actor, title: str | Unset = UNSET) -> tuple[LibraryData, bool]:
    library_key = LibraryKey.parse(key)
    with transaction.atomic():
        ensure_org(library_key.org, actor=actor)  # inside: a refused library leaves no org
        row = Library.objects.select_for_update().filter(key=key).first()
        created = row is None
        now = clock.now()
        if row is None:
            if title is UNSET:
                raise _title_required(title)
            row = Library(key=key, org_id=library_key.org, created=now)
        before = None if created else {"title": row.title}
        if title is not UNSET:
            if not title.strip():
                raise _title_required(title)
            row.title = title
        after = {"title": row.title}
        if created or after != before:
            row.modified = now
            row.save()
            audit.record(
                "library.created" if created else "library.updated",
                f"library:{key}",
                actor=actor,
                before=before,
                after=after,
            )
    return _library_data(row), created


def delete_course(key: str, *, actor: Actor) -> None:
    """Delete a course (the admin's delete); its enrollments protect it."""
    with transaction.atomic():
        row = Course.objects.select_for_update().filter(key=key).first()
        if row is not None:
            before = _course_snapshot(row)
            audit.record("course.deleted", f"course:{key}", actor=actor, before=before)
            row.delete()


def delete_library(key: str, *, actor: Actor) -> None:
    """Delete a content library (the admin's delete)."""
    with transaction.atomic():
        row = Library.objects.select_for_update().filter(key=key).first()
        if row is not None:
            before = {"title": row.title}
            audit.record("library.deleted", f"library:{key}", actor=actor, before=before)
            row.delete()


def delete_org(short_name: str, *, actor: Actor) -> None:
    """Delete an org (the admin's delete); its courses and libraries protect it."""
    with transaction.atomic():
        row = Org.objects.select_for_update().filter(short_name=short_name).first()
        if row is not None:
            before = {"org": row.short_name, "name": row.name}
            audit.record("org.deleted", f"org:{short_name}", actor=actor, before=before)
            row.delete()


def get_library(key: str) -> LibraryData:
    LibraryKey.parse(key)
    row = Library.objects.filter(key=key).first()
    if row is None:
        raise NotFound(
            CatalogErrorCode.LIBRARY_NOT_FOUND,
            MSG_LIBRARY_NOT_FOUND.format(key=key),
            fields={"library_key": key},
        )
    return _library_data(row)


def context_exists(key: str) -> bool:
    """Whether a course or library with this exact key exists."""
    model: type[Course] | type[Library] = Library if key.startswith("lib:") else Course
    return model.objects.filter(key=key).exists()


def list_libraries(
    *,
    page: PageRequest,
    keys_in: QuerySet[Any] | Iterable[str] | None = None,
    orgs_in: QuerySet[Any] | Iterable[str] | None = None,
) -> Page[LibraryData]:
    """Libraries by key. With `keys_in`/`orgs_in` (values or a one-column subquery), only those
    whose key is in `keys_in` or whose org is in `orgs_in`; without either, all of them.

    One WHERE with OR over two subqueries (a UNION of two selects measured slower on both
    databases for users with thousands of grants: bench/RESULTS.md)."""
    rows = Library.objects.order_by("key").only("id", "key", "org", "title")
    if keys_in is not None or orgs_in is not None:
        condition = Q(pk__in=[])
        if keys_in is not None:
            condition |= Q(key__in=keys_in)
        if orgs_in is not None:
            condition |= Q(org_id__in=orgs_in)
        rows = rows.filter(condition)
    return paginate(rows, page, _library_data)


def org_rows() -> QuerySet[Any]:
    """Read contract for projections (the OneRoster provider, ADR 0015): every org, with the
    columns `short_name`, `name`, `created` and `modified` (the last change to its name).
    Callers filter, sort and slice; they name no other column."""
    return Org.objects.all()


def course_rows() -> QuerySet[Any]:
    """Read contract for projections (ADR 0015): every course run, with the columns `key`,
    `title`, `start`, `end`, `sis_id`, `created`, `modified` and `org_short_name`."""
    return Course.objects.annotate(org_short_name=F("org__short_name"))
