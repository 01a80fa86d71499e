from __future__ import annotations

from enum import StrEnum


class CatalogErrorCode(StrEnum):
    COURSE_NOT_FOUND = "course_not_found"
    LIBRARY_NOT_FOUND = "library_not_found"
    ORG_NOT_FOUND = "org_not_found"
    INVALID_MODE = "invalid_mode"
    INVALID_DATES = "invalid_dates"
    INVALID_PASSING_GRADE = "invalid_passing_grade"
    TITLE_REQUIRED = "title_required"


MSG_COURSE_NOT_FOUND = "No course '{key}'."
MSG_LIBRARY_NOT_FOUND = "No library '{key}'."
MSG_ORG_NOT_FOUND = "No org '{org}'."
MSG_INVALID_MODE = "Unknown enrollment mode(s) {modes}; known: {known}."
MSG_DEFAULT_MODE = "The default mode '{mode}' is not one of the course's modes {modes}."
MSG_NO_MODES = "A course needs at least one enrollment mode."
MSG_INVALID_DATES = "The course ends ({end}) before it starts ({start})."
MSG_INVALID_PASSING_GRADE = "passing_grade must be between 0 and 1, not {value}."
MSG_TITLE_REQUIRED = "A course or library needs a title (not blank)."
