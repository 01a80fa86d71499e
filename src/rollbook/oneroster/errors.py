"""Error codes of the OneRoster provider: OneRoster codeMinor values and RFC 6749 errors."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["CodeMinor", "OAuthError", "OAuthErrorCode", "OneRosterError"]


class CodeMinor(StrEnum):
    """OneRoster 1.2 `imsx_codeMinorFieldValue` values rollbook answers with."""

    INVALID_FILTER_FIELD = "invalid_filter_field"
    INVALID_SORT_FIELD = "invalid_sort_field"
    INVALID_SELECTION_FIELD = "invalid_selection_field"
    INVALID_BLANK_SELECTION_FIELD = "invalid_blank_selection_field"
    INVALID_DATA = "invaliddata"
    UNAUTHORISED_REQUEST = "unauthorisedrequest"
    FORBIDDEN = "forbidden"
    UNKNOWN_OBJECT = "unknownobject"
    SERVER_BUSY = "server_busy"
    INTERNAL_SERVER_ERROR = "internal_server_error"


class OAuthErrorCode(StrEnum):
    """RFC 6749 section 5.2 error codes of the token endpoint."""

    INVALID_REQUEST = "invalid_request"
    INVALID_CLIENT = "invalid_client"
    INVALID_SCOPE = "invalid_scope"
    UNSUPPORTED_GRANT_TYPE = "unsupported_grant_type"


class OneRosterError(Exception):
    """A request the provider answers with an `imsx_StatusInfo` body."""

    def __init__(self, status: int, code: CodeMinor, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


class OAuthError(Exception):
    """A token request refused per RFC 6749 (`status` 400 or 401)."""

    def __init__(self, status: int, code: OAuthErrorCode, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
