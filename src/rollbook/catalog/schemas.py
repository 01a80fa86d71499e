from __future__ import annotations

import datetime as dt

from ninja import Field, Schema


class CourseIn(Schema):
    title: str | None = Field(None, max_length=255, description="Required for a new course.")
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    sis_id: str | None = Field(None, max_length=255)
    modes: list[str] | None = Field(
        None,
        description="audit, honor, verified, professional, no-id-professional, masters",
        max_length=6,
    )
    default_mode: str | None = None
    enrollment_open: bool | None = None
    days_early_for_beta: int | None = Field(None, ge=0)
    passing_grade: float | None = Field(None, ge=0, le=1)


class CourseOut(Schema):
    key: str
    org: str
    title: str
    start: dt.datetime | None
    end: dt.datetime | None
    modes: list[str]
    default_mode: str
    sis_id: str
    enrollment_open: bool
    days_early_for_beta: int | None
    passing_grade: float


class CourseFilter(Schema):
    org: str | None = None
    sis_id: str | None = None


class LibraryIn(Schema):
    title: str = Field(..., min_length=1, max_length=255)


class LibraryOut(Schema):
    key: str
    org: str
    title: str
