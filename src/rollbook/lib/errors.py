"""Errors every layer raises and the REST layer turns into one JSON shape.

`{"code": "...", "message": "...", "fields": {...}}` with the status of the error's class.
Each app declares its own codes as a StrEnum in its `errors.py` and raises these classes.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class CommonErrorCode(StrEnum):
    INVALID = "invalid"
    NOT_AUTHENTICATED = "not_authenticated"
    FORBIDDEN = "forbidden"
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"
    BODY_TOO_LARGE = "body_too_large"
    INVALID_COURSE_KEY = "invalid_course_key"
    INVALID_LIBRARY_KEY = "invalid_library_key"
    INVALID_CONTEXT_KEY = "invalid_context_key"
    INVALID_ORG = "invalid_org"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    CSRF_FAILED = "csrf_failed"


MSG_NOT_AUTHENTICATED = "Authentication required: send 'Authorization: Bearer <token>'."
MSG_FORBIDDEN = "You are not allowed to do this."
MSG_NOT_FOUND = "Not found."
MSG_INVALID = "The request is not valid."
MSG_CSRF_FAILED = (
    "The admin session needs its CSRF token (X-CSRFToken header) on this method; "
    "integrations use a bearer token instead."
)


class RollbookError(Exception):
    """Base of the errors with a machine-readable code; `status` is the HTTP status."""

    status = 400

    def __init__(self, code: str, message: str, *, fields: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = str(code)
        self.message = message
        self.fields = fields or {}

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "fields": self.fields}


class BadRequest(RollbookError):
    """A body that cannot be read at all (where an endpoint answers 400 rather than 422)."""

    status = 400


class Invalid(RollbookError):
    status = 422


class NotAuthenticated(RollbookError):
    status = 401


class Forbidden(RollbookError):
    status = 403


class NotFound(RollbookError):
    status = 404


class Conflict(RollbookError):
    status = 409


class TooLarge(RollbookError):
    status = 413


def forbidden() -> Forbidden:
    return Forbidden(CommonErrorCode.FORBIDDEN, MSG_FORBIDDEN)
