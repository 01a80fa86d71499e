"""Programs and program enrollments at the boundary: frozen records and the per-record
outcomes of the REST writes (the names Open edX's program_enrollments v1 answers with)."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from enum import StrEnum


class EnrollmentStatus(StrEnum):
    ENROLLED = "enrolled"
    PENDING = "pending"
    SUSPENDED = "suspended"
    CANCELED = "canceled"
    ENDED = "ended"


class CourseStatus(StrEnum):
    ACTIVE = "active"
    INACTIVE = "inactive"


class RecordError(StrEnum):
    """Per-record outcomes that are not a status."""

    DUPLICATED = "duplicated"  # the key twice in one request: every copy dropped
    INVALID_STATUS = "invalid-status"
    CONFLICT = "conflict"
    NOT_IN_PROGRAM = "not-in-program"
    NOT_FOUND = "not-found"
    INVALID_CURRICULUM = "invalid-curriculum"  # a curriculum the program does not have
    INTERNAL_ERROR = "internal-error"


@dataclass(frozen=True, slots=True)
class CurriculumData:
    uuid: uuid.UUID
    courses: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ProgramData:
    uuid: uuid.UUID
    title: str
    org: str
    type: str
    curricula: tuple[CurriculumData, ...]
    created: dt.datetime
    modified: dt.datetime

    @property
    def course_keys(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for curriculum in self.curricula:
            seen.update(dict.fromkeys(curriculum.courses))
        return tuple(seen)


@dataclass(frozen=True, slots=True)
class EnrollmentRequest:
    student_key: str
    status: str
    curriculum_uuid: uuid.UUID | None = None


@dataclass(frozen=True, slots=True)
class CourseEnrollmentRequest:
    student_key: str
    status: str
    course_staff: bool | None = None


@dataclass(frozen=True, slots=True)
class EnrollmentRow:
    """A program enrollment as listed: {student_key, status, account_exists, curriculum_uuid}."""

    id: int
    student_key: str
    status: str
    account_exists: bool
    curriculum_uuid: uuid.UUID


@dataclass(frozen=True, slots=True)
class CursorPage:
    items: list[EnrollmentRow]
    next_cursor: str | None
    previous_cursor: str | None


@dataclass(frozen=True, slots=True)
class LinkResult:
    """What linking did: errors by key (empty when every key linked) and the keys linked."""

    errors: dict[str, str] = field(default_factory=dict)
    linked: list[str] = field(default_factory=list)
