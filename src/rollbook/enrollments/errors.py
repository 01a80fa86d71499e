from __future__ import annotations

from enum import StrEnum


class EnrollmentErrorCode(StrEnum):
    INVALID_MODE = "invalid_mode"
    ENROLLMENT_NOT_FOUND = "enrollment_not_found"
    USER_NOT_FOUND = "user_not_found"
    INVALID_ACTION = "invalid_action"


MSG_INVALID_MODE = "The course '{course_key}' has no mode '{mode}'; its modes are {modes}."
MSG_ENROLLMENT_NOT_FOUND = "'{username}' is not enrolled in '{course_key}'."
MSG_USER_NOT_FOUND = "No user '{username}'."
