from __future__ import annotations

import datetime as dt

from ninja import Field, Schema

from rollbook.enrollments.data import BulkAction


class EnrollmentIn(Schema):
    mode: str | None = Field(None, max_length=32, description="Default: the course's default mode")
    is_active: bool | None = None


class EnrollmentOut(Schema):
    course_key: str
    username: str
    mode: str
    is_active: bool
    created: dt.datetime
    modified: dt.datetime


class EnrollmentFilter(Schema):
    mode: str | None = None
    is_active: bool | None = None


class BulkEnrollmentIn(Schema):
    usernames: list[str] = Field(..., min_length=1, max_length=100_000)
    action: BulkAction = BulkAction.ENROLL
    mode: str | None = None


class JobAccepted(Schema):
    job_id: str
