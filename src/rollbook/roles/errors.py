from __future__ import annotations

from enum import StrEnum


class RolesErrorCode(StrEnum):
    UNKNOWN_ROLE = "unknown_role"
    INVALID_ROLE_SCOPE = "invalid_role_scope"
    ORG_MISMATCH = "org_mismatch"
    USER_INACTIVE = "user_inactive"
    GRANT_NOT_FOUND = "grant_not_found"


MSG_UNKNOWN_ROLE = "Unknown role '{role}'. Known roles: {known}."
MSG_INVALID_ROLE_SCOPE = "The role '{role}' cannot be granted on {scope}; it takes: {allowed}."
MSG_ORG_MISMATCH = "The org '{org}' is not the org of '{course_key}' ('{key_org}')."
MSG_USER_INACTIVE = "User '{username}' is inactive: inactive users hold no roles."
MSG_GRANT_NOT_FOUND = "User '{username}' has no role '{role}' on {scope}."
