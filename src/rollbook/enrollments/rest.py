from __future__ import annotations

from django.http import HttpRequest
from ninja import Query, Router, Status

from rollbook.audit.data import Actor
from rollbook.enrollments import api
from rollbook.enrollments.data import EnrollmentData
from rollbook.enrollments.schemas import (
    BulkEnrollmentIn,
    EnrollmentFilter,
    EnrollmentIn,
    EnrollmentOut,
    JobAccepted,
)
from rollbook.lib.pagination import PageOut, PageQuery
from rollbook.lib.rest import caller, require_course_staff, require_self_or_staff, require_staff

router = Router(tags=["enrollments"])


# Not under /enrollments/: a user may well be called "bulk".
@router.post("/courses/{course_key}/bulk_enrollments", response={202: JobAccepted})
def bulk_enrollment(
    request: HttpRequest, course_key: str, body: BulkEnrollmentIn
) -> Status[dict[str, str]]:
    """Enroll or unenroll many users as a job (global staff). Answers 202 with the job id;
    per-user refusals are in the job's errors."""
    principal = require_staff(request)
    job = api.start_bulk_enrollment(
        course_key, body.usernames, actor=Actor.of(principal), action=body.action, mode=body.mode
    )
    return Status(202, {"job_id": str(job.uuid)})


@router.put(
    "/courses/{course_key}/enrollments/{username}",
    response={200: EnrollmentOut, 201: EnrollmentOut},
)
def put_enrollment(
    request: HttpRequest, course_key: str, username: str, body: EnrollmentIn
) -> Status[EnrollmentData]:
    """Enroll a user or change the enrollment's mode or activity (global staff)."""
    principal = require_staff(request)
    enrollment, created = api.put_enrollment(
        course_key, username, actor=Actor.of(principal), mode=body.mode, is_active=body.is_active
    )
    return Status(201 if created else 200, enrollment)


@router.get("/courses/{course_key}/enrollments/{username}", response=EnrollmentOut)
def get_enrollment(request: HttpRequest, course_key: str, username: str) -> EnrollmentData:
    """One enrollment (course staff access, or the user themself)."""
    if not caller(request).is_self(username):
        require_course_staff(request, course_key)
    return api.get_enrollment(course_key, username)


@router.get("/courses/{course_key}/enrollments", response=PageOut[EnrollmentOut])
def course_enrollments(
    request: HttpRequest,
    course_key: str,
    filters: Query[EnrollmentFilter],
    paging: Query[PageQuery],
) -> object:
    """The course's enrollments, active and inactive unless filtered (course staff access)."""
    require_course_staff(request, course_key)
    return api.list_course_enrollments(
        course_key, page=paging.request(), mode=filters.mode, is_active=filters.is_active
    )


@router.get("/users/{username}/enrollments", response=PageOut[EnrollmentOut])
def user_enrollments(request: HttpRequest, username: str, paging: Query[PageQuery]) -> object:
    """The user's enrollments (global staff, or the user themself)."""
    require_self_or_staff(request, username)
    return api.list_user_enrollments(username, page=paging.request())
