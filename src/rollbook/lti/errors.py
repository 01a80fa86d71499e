"""Error codes of the LTI services (bodies are lib.errors' `{"code", "message", "fields"}`)."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["LtiErrorCode"]


class LtiErrorCode(StrEnum):
    NOT_AUTHENTICATED = "not_authenticated"  # no bearer token (RFC 6750 section 3)
    INVALID_TOKEN = "invalid_token"  # noqa: S105 (an error code: unknown or expired token)
    INSUFFICIENT_SCOPE = "insufficient_scope"  # the token lacks contextmembership.readonly
    COURSE_NOT_FOUND = "course_not_found"
    INVALID_LIMIT = "invalid_limit"
    INVALID_ROLE = "invalid_role"
    INVALID_SINCE = "invalid_since"  # not a whole number >= 0
    STALE_SINCE = "stale_since"  # a position the outbox has not reached (another database?)
    INVALID_CURSOR = "invalid_cursor"  # a next link's after/at/until that cannot be right
    METHOD_NOT_ALLOWED = "method_not_allowed"
