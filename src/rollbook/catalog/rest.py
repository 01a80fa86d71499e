from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Query, Router, Status

from rollbook.audit.data import Actor
from rollbook.catalog import api
from rollbook.catalog.data import CourseData, LibraryData
from rollbook.catalog.schemas import CourseFilter, CourseIn, CourseOut, LibraryIn, LibraryOut
from rollbook.lib.pagination import PageOut, PageQuery
from rollbook.lib.rest import caller, require_staff

router = Router(tags=["catalog"])


@router.put("/courses/{course_key}", response={200: CourseOut, 201: CourseOut})
def put_course(request: HttpRequest, course_key: str, body: CourseIn) -> Status[CourseData]:
    """Create the course (title required) or change the fields sent (global staff)."""
    principal = require_staff(request)
    fields: dict[str, Any] = body.model_dump(exclude_unset=True)
    # Nullable on purpose: start, end, days_early_for_beta. The others: null means unchanged.
    for name in ("title", "sis_id", "modes", "default_mode", "enrollment_open", "passing_grade"):
        if fields.get(name, 0) is None:
            del fields[name]
    course, created = api.put_course(course_key, actor=Actor.of(principal), **fields)
    return Status(201 if created else 200, course)


@router.get("/courses/{course_key}", response=CourseOut)
def get_course(request: HttpRequest, course_key: str) -> CourseData:
    """A course (any authenticated caller: the catalog is not secret)."""
    caller(request)
    return api.get_course(course_key)


@router.get("/courses", response=PageOut[CourseOut])
def list_courses(
    request: HttpRequest, filters: Query[CourseFilter], paging: Query[PageQuery]
) -> object:
    """Courses by key, optionally of one org or with one SIS id."""
    caller(request)
    return api.list_courses(page=paging.request(), org=filters.org, sis_id=filters.sis_id)


@router.put("/libraries/{library_key}", response={200: LibraryOut, 201: LibraryOut})
def put_library(request: HttpRequest, library_key: str, body: LibraryIn) -> Status[LibraryData]:
    """Create or rename a content library (global staff)."""
    principal = require_staff(request)
    library, created = api.put_library(library_key, actor=Actor.of(principal), title=body.title)
    return Status(201 if created else 200, library)


@router.get("/libraries/{library_key}", response=LibraryOut)
def get_library(request: HttpRequest, library_key: str) -> LibraryData:
    caller(request)
    return api.get_library(library_key)
