from __future__ import annotations

from enum import StrEnum


class PeopleErrorCode(StrEnum):
    USER_NOT_FOUND = "user_not_found"
    INVALID_USERNAME = "invalid_username"
    INVALID_EMAIL = "invalid_email"
    TOKEN_NOT_FOUND = "token_not_found"  # noqa: S105
    EXTERNAL_ID_TAKEN = "external_id_taken"
    INVALID_EXTERNAL_ID = "invalid_external_id"


MSG_USER_NOT_FOUND = "No user '{username}'."
MSG_INVALID_USERNAME = (
    "'{username}' is not a valid username: 1 to 150 of letters, digits, _ . @ + -."
)
MSG_INVALID_EMAIL = "'{email}' is not a valid email address."
MSG_TOKEN_NOT_FOUND = "No API token {token_id}."  # noqa: S105
MSG_DUPLICATE_IN_BATCH = "The username '{username}' appears twice in one batch."
MSG_EXTERNAL_ID_TAKEN = "The key '{key}' of org {org} belongs to another user."
MSG_INVALID_EXTERNAL_ID = "An external id needs an org and a key of 1 to 255 characters."
