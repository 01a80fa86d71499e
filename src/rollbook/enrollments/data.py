from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum


@dataclass(frozen=True, slots=True)
class EnrollmentData:
    course_key: str
    username: str
    mode: str
    is_active: bool
    sources: tuple[str, ...]
    created: dt.datetime
    modified: dt.datetime


@dataclass(frozen=True, slots=True)
class EnrollmentState:
    """An enrollment as read for a change in the same transaction (`lock_enrollments`)."""

    id: int
    user_id: int
    course_key: str
    mode: str
    is_active: bool
    sources: tuple[str, ...]
    created: dt.datetime


class BulkAction(StrEnum):
    ENROLL = "enroll"
    UNENROLL = "unenroll"


class BulkOutcome(StrEnum):
    ENROLLED = "enrolled"
    UNENROLLED = "unenrolled"
    UNCHANGED = "unchanged"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class BulkResult:
    outcome: BulkOutcome
    code: str = ""
    message: str = ""
