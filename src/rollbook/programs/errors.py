from __future__ import annotations

from enum import StrEnum


class ProgramErrorCode(StrEnum):
    PROGRAM_DOES_NOT_EXIST = "program_does_not_exist"
    COURSE_NOT_IN_PROGRAM = "course_not_in_program"
    INVALID_PROGRAM = "invalid_program"
    TOO_MANY_RECORDS = "too_many_records"
    MALFORMED_REQUEST = "malformed_request"
    INVALID_CSV = "invalid_csv"


MSG_PROGRAM_DOES_NOT_EXIST = "No program with uuid {uuid}."
MSG_COURSE_NOT_IN_PROGRAM = "Course {course_key} is not in program {uuid}."
MSG_TOO_MANY_RECORDS = "At most {limit} records per request; this one has {count}."
MSG_CURRICULUM_ELSEWHERE = "Curriculum {uuid} belongs to another program."
MSG_CSV_COLUMNS = "{file}: the header must name the columns {columns}."
MSG_CSV_ROW = "{file}, line {line}: {problem}."

# Linking (kept exactly as Open edX words them).
MSG_NO_USER = "No user found with username {username}"
MSG_NO_ENROLLMENT = (
    "No program enrollment found for program uuid={program_uuid} and external student key={key}"
)
MSG_ALREADY_LINKED = (
    "Program enrollment with external_student_key={key} is already linked to target account "
    "username={username}"
)


class CourseNotFoundError(Exception):
    """Linking: a course of the program enrollment is not in the catalog."""


class UserAlreadyInProgramError(Exception):
    """Linking: the account already holds another key in the program's curriculum."""
