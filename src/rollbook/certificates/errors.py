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


class CredentialCheckCode(StrEnum):
    """Why a credential failed a check (besides `vc.CredentialErrorCode`, the proof's)."""

    MALFORMED_CREDENTIAL = "malformed_credential"  # the same code as vc's
    ISSUER_MISMATCH = "issuer_mismatch"
    MALFORMED_STATUS = "malformed_status"
    STATUS_UNAVAILABLE = "status_unavailable"
    UNKNOWN_STATUS_INDEX = "unknown_status_index"
    REVOKED = "revoked"
    NOT_YET_VALID = "not_yet_valid"
    EXPIRED = "expired"


class CredentialRequestCode(StrEnum):
    """POST /api/v1/credentials/verify refusing its body."""

    INVALID_JSON = "invalid_json"
    NOT_AN_OBJECT = "not_an_object"


MSG_NOT_AN_OBJECT = "A credential is a JSON object."
MSG_FIELD_MISSING = "The credential has no {field}."
MSG_FIELD_TYPE = "The credential's {field} must be {expected}."
MSG_CONTEXT = (
    "The credential's @context must be a list beginning with {vc_context!r} and holding "
    "{ob_context!r}."
)
MSG_TYPE = "The credential's type must list {required} and one of {kinds}."
MSG_DATE = "The credential's {field} {value!r} is not an XML Schema dateTimeStamp."
MSG_ISSUER_MISMATCH = (
    "The proof's verification method {method!r} does not belong to the issuer {issuer!r}."
)
MSG_STATUS_ENTRY = (
    "A credentialStatus entry must be a BitstringStatusListEntry with a statusPurpose, a "
    "statusListIndex of digits and a statusListCredential URL."
)
MSG_STATUS_PURPOSE = (
    "The entry's statusPurpose is {purpose!r}; this service's list is {expected!r}."
)
MSG_STATUS_UNAVAILABLE = (
    "The status list {url!r} is not this service's; status lists are never fetched."
)
MSG_UNKNOWN_STATUS_INDEX = "No credential was issued with status list index {index}."
MSG_REVOKED = "The credential has been revoked: its certificate is no longer valid."
MSG_SUPERSEDED = (
    "The credential has been revoked: a newer credential replaced it (the certificate's "
    "name, mode or issue date changed)."
)
MSG_NOT_YET_VALID = "The credential is not valid before {value}."
MSG_EXPIRED = "The credential expired at {value}."
MSG_BODY_NOT_JSON = "The body is not valid JSON: send the credential as a JSON object."
MSG_BODY_NOT_OBJECT = "The body must be a JSON object: the credential."
