from __future__ import annotations

import uuid

from django.http import HttpRequest
from ninja import Query, Router

from rollbook.audit.data import Actor
from rollbook.jobs import api
from rollbook.jobs.data import JobData
from rollbook.jobs.schemas import JobFilter, JobOut
from rollbook.lib.errors import forbidden
from rollbook.lib.pagination import PageOut, PageQuery
from rollbook.lib.rest import caller, require_staff

router = Router(tags=["jobs"])


@router.get("/jobs/{job_id}", response=JobOut)
def get_job(request: HttpRequest, job_id: uuid.UUID) -> JobData:
    """A job's state, progress, counts and errors (global staff, or who started it)."""
    principal = caller(request)
    job = api.get_job(job_id)
    if not (principal.is_staff or (job.actor_username and principal.is_self(job.actor_username))):
        raise forbidden()
    return job


@router.get("/jobs", response=PageOut[JobOut])
def list_jobs(request: HttpRequest, filters: Query[JobFilter], paging: Query[PageQuery]) -> object:
    """Jobs, newest first (global staff)."""
    require_staff(request)
    return api.list_jobs(page=paging.request(), state=filters.state, kind=filters.kind)


@router.post("/jobs/{job_id}/approve", response=JobOut)
def approve_job(request: HttpRequest, job_id: uuid.UUID) -> JobData:
    """Let a held job go on (global staff)."""
    principal = require_staff(request)
    return api.approve_job(job_id, actor=Actor.of(principal))


@router.post("/jobs/{job_id}/cancel", response=JobOut)
def cancel_job(request: HttpRequest, job_id: uuid.UUID) -> JobData:
    """Cancel a queued or held job (global staff)."""
    principal = require_staff(request)
    return api.cancel_job(job_id, actor=Actor.of(principal))
