from __future__ import annotations

from enum import StrEnum


class PeopleErrorCode(StrEnum):
    USER_NOT_FOUND = "user_not_found"
    INVALID_USERNAME = "invalid_username"
    INVALID_EMAIL = "invalid_email"
    TOKEN_NOT_FOUND = "token_not_found"  # noqa: S105


MSG_USER_NOT_FOUND = "No user '{username}'."
MSG_INVALID_USERNAME = (
    "'{username}' is not a valid username: 1 to 150 of letters, digits, _ . @ + -."
)
MSG_INVALID_EMAIL = "'{email}' is not a valid email address."
MSG_TOKEN_NOT_FOUND = "No API token {token_id}."  # noqa: S105
MSG_DUPLICATE_IN_BATCH = "The username '{username}' appears twice in one batch."
