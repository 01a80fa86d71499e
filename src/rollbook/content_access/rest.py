from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import Query, Router, Status

from rollbook.audit.data import Actor
from rollbook.content_access import api
from rollbook.content_access.data import CohortData, StructureVersion
from rollbook.content_access.schemas import (
    AccessOut,
    BlocksOut,
    CohortIn,
    CohortOut,
    MemberOut,
    StructureIn,
    StructureOut,
)
from rollbook.lib.pagination import PageOut, PageQuery
from rollbook.lib.rest import caller, require_course_staff, require_staff

router = Router(tags=["content access"])


@router.put("/courses/{course_key}/structure", response={200: StructureOut, 201: StructureOut})
def put_structure(
    request: HttpRequest, course_key: str, body: StructureIn
) -> Status[StructureVersion]:
    """Publish the course's block DAG as a new version (global staff): validated (422 names
    the offending ids) and collected once; it takes effect at once for every learner. 201
    for the first version, 200 after."""
    principal = require_staff(request)
    structure = body.model_dump(mode="json", exclude_none=True)
    version = api.put_structure(course_key, structure, actor=Actor.of(principal))
    return Status(201 if version.version == 1 else 200, version)


@router.get("/courses/{course_key}/structure", response=StructureOut)
def get_structure(request: HttpRequest, course_key: str) -> StructureVersion:
    """The current version of the course's structure (course staff access)."""
    require_course_staff(request, course_key)
    return api.structure_version(course_key)


def _for_whom(request: HttpRequest, course_key: str, username: str | None) -> str:
    principal = caller(request)
    target = username or principal.username
    if not principal.is_self(target):
        require_course_staff(request, course_key)
    return target


@router.get("/courses/{course_key}/blocks", response=BlocksOut)
def course_blocks(request: HttpRequest, course_key: str, username: str | None = None) -> Any:
    """The course as `username` sees it (default: the caller). Learners may ask for
    themselves; asking for another user needs course staff access."""
    target = _for_whom(request, course_key, username)
    # Encoded by the api from pre-encoded pieces: 10,000 blocks answer in milliseconds.
    body = api.course_blocks_json(course_key, target)
    return HttpResponse(body, content_type="application/json")


@router.get("/courses/{course_key}/blocks/{block_id}/access", response=AccessOut)
def block_access(
    request: HttpRequest, course_key: str, block_id: str, username: str | None = None
) -> dict[str, Any]:
    """Why `username` sees the block or not: partitions (their group, the allowed groups),
    the parent path that grants access, staff-only, the start date."""
    target = _for_whom(request, course_key, username)
    return api.explain_access(course_key, block_id, target)


@router.get("/courses/{course_key}/cohorts", response=PageOut[CohortOut])
def cohorts(request: HttpRequest, course_key: str, paging: Query[PageQuery]) -> object:
    """The course's cohorts with their groups and member counts (course staff access)."""
    require_course_staff(request, course_key)
    return api.list_cohorts(course_key, page=paging.request())


@router.put("/courses/{course_key}/cohorts/{name}", response={200: CohortOut, 201: CohortOut})
def put_cohort(
    request: HttpRequest, course_key: str, name: str, body: CohortIn
) -> Status[CohortData]:
    """Create a cohort or change its group (course staff access)."""
    principal = require_course_staff(request, course_key)
    cohort, created = api.put_cohort(
        course_key,
        name,
        partition_id=body.partition_id,
        group_id=body.group_id,
        is_default=body.is_default,
        actor=Actor.of(principal),
    )
    return Status(201 if created else 200, cohort)


@router.put("/courses/{course_key}/cohorts/{name}/members/{username}", response=MemberOut)
def add_member(request: HttpRequest, course_key: str, name: str, username: str) -> dict[str, Any]:
    """Put the user in the cohort, out of any other cohort of the course (course staff
    access). The body may be empty or `{}`."""
    principal = require_course_staff(request, course_key)
    changed = api.add_cohort_member(course_key, name, username, actor=Actor.of(principal))
    return {"course_key": course_key, "cohort": name, "username": username, "changed": changed}


@router.delete("/courses/{course_key}/cohorts/{name}/members/{username}", response=MemberOut)
def remove_member(
    request: HttpRequest, course_key: str, name: str, username: str
) -> dict[str, Any]:
    """Take the user out of the cohort (course staff access)."""
    principal = require_course_staff(request, course_key)
    changed = api.remove_cohort_member(course_key, name, username, actor=Actor.of(principal))
    return {"course_key": course_key, "cohort": name, "username": username, "changed": changed}
