from __future__ import annotations

from enum import StrEnum


class CertificateErrorCode(StrEnum):
    ILLEGAL_TRANSITION = "illegal_transition"
    INVALIDATED = "certificate_invalidated"
    NOT_ELIGIBLE = "not_eligible"
    NO_CERTIFICATE = "no_certificate"
    NOT_ALLOWLISTED = "not_allowlisted"
    NOT_INVALIDATED = "not_invalidated"
    INVALID_GRADE = "invalid_grade"


MSG_ILLEGAL_TRANSITION = "A certificate may not go from {before} to {after}."
MSG_INVALIDATED = "The certificate of {username} in {course_key} is invalidated: lift it first."
MSG_NO_CERTIFICATE = "{username} has no certificate in {course_key}."
MSG_NOT_ALLOWLISTED = "{username} is not on the allowlist of {course_key}."
MSG_NOT_INVALIDATED = "{username} has no active invalidation in {course_key}."
MSG_INVALID_GRADE = "A grade's percent is between 0 and 1; got {percent}."
