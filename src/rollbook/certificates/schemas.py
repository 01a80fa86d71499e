"""Certificates over HTTP: grades in, the allowlist, invalidations, status, listing and
batch generation.

The grades body is a JSON array, which the API's object parser does not take: `rest.py`
reads it itself and checks it with `GRADE_RECORDS`, answering 422 `invalid` like any other
schema error.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from ninja import Field, Schema
from pydantic import BaseModel, ConfigDict, StrictBool, StrictFloat, StrictStr, TypeAdapter
from pydantic import Field as PydanticField

from rollbook.certificates.models import CertificateStatus

MAX_USERNAME = 150
MAX_LETTER_GRADE = 32
_PERCENT = "The grade as a fraction, from 0 to 1 (outside: 422 `invalid_grade`)."
_PASSED = "Whether the learner passed; when left out, the course's passing_grade decides."

# ---------------------------------------------------------------- grades


class _GradeFields(BaseModel):
    model_config = ConfigDict(extra="ignore")

    # No bounds here: certificates.api refuses a percent outside 0..1 with its own code.
    percent: StrictFloat = PydanticField(
        description=_PERCENT, json_schema_extra={"minimum": 0, "maximum": 1}
    )
    letter_grade: StrictStr = PydanticField("", max_length=MAX_LETTER_GRADE)
    passed: StrictBool | None = PydanticField(None, description=_PASSED)


class GradeRecordIn(_GradeFields):
    """One learner's grade in PUT .../grades."""

    username: StrictStr = PydanticField(min_length=1, max_length=MAX_USERNAME)


class GradeIn(Schema):
    """PUT .../grades/{username}."""

    percent: StrictFloat = Field(
        ..., description=_PERCENT, json_schema_extra={"minimum": 0, "maximum": 1}
    )
    letter_grade: StrictStr = Field("", max_length=MAX_LETTER_GRADE)
    passed: StrictBool | None = Field(None, description=_PASSED)


GRADE_RECORDS = TypeAdapter(list[GradeRecordIn])


def _grades_schema() -> dict[str, Any]:
    schema = GradeRecordIn.model_json_schema()
    schema.pop("title", None)
    return {"type": "array", "items": schema}


GRADE_RECORDS_SCHEMA = _grades_schema()

# Each username of the request mapped to "ok" or its error ("user_not_found").
GradeResultsOut = dict[str, str]


class GradeOut(Schema):
    username: str
    course_key: str
    percent: float
    letter_grade: str
    passed: bool = Field(description="As given, or by the course's passing_grade.")
    modified: dt.datetime


# ---------------------------------------------------------------- allowlist, invalidation


class NotesIn(Schema):
    notes: str = Field(..., max_length=10_000, description="Why (kept with the record).")


class AllowlistOut(Schema):
    course_key: str
    username: str
    allowlisted: bool
    notes: str = Field("", description="As sent (empty after a removal).")


class InvalidationOut(Schema):
    course_key: str
    username: str
    invalidated: bool = Field(description="Whether an invalidation is now active.")
    notes: str = Field("", description="As sent (empty after lifting).")


# ---------------------------------------------------------------- status and listing


class CertificateStatusOut(Schema):
    status: CertificateStatus
    mode: str
    grade: str | None = Field(None, description="Only when the learner was graded.")
    download_url: str | None = Field(
        None, description="The public verify page; only when the status is downloadable."
    )


class CertificateFilter(Schema):
    status: CertificateStatus | None = Field(None, description="Only certificates in this status.")


class CertificateRowOut(Schema):
    username: str
    status: CertificateStatus
    mode: str
    grade: str
    verify_uuid: str | None = Field(description="Set only while the certificate is downloadable.")
    issued_at: dt.datetime | None


# ---------------------------------------------------------------- generation


class GenerateIn(Schema):
    usernames: list[str] | None = Field(
        None,
        min_length=1,
        description="Only these learners (and a failing one gets `notpassing`); left out: "
        "every enrolled learner.",
    )
    statuses_to_regenerate: list[str] | None = Field(
        None,
        description='Regenerate certificates in these statuses too: "downloadable", "error".',
    )


class GenerationAccepted(Schema):
    job_id: str


class GenerationRunOut(Schema):
    job_id: uuid.UUID
    requested_by: str
    usernames: list[str] = Field(description="Empty: every enrolled learner.")
    statuses_to_regenerate: list[str]
    counts: dict[str, int] = Field(description="Learners per outcome, once finished.")
    created: dt.datetime
    finished: dt.datetime | None


# ---------------------------------------------------------------- checking a credential

CREDENTIAL_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "An Open Badges 3.0 OpenBadgeCredential with an embedded DataIntegrityProof.",
    "required": ["@context", "type", "issuer", "validFrom", "credentialSubject", "proof"],
    "properties": {
        "@context": {"type": "array", "items": {}},
        "id": {"type": "string"},
        "type": {"type": "array", "items": {"type": "string"}},
        "issuer": {"oneOf": [{"type": "string"}, {"type": "object"}]},
        "validFrom": {"type": "string", "format": "date-time"},
        "validUntil": {"type": "string", "format": "date-time"},
        "name": {"type": "string"},
        "credentialSubject": {"type": "object"},
        "credentialStatus": {"type": "object"},
        "proof": {"type": "object"},
    },
    "additionalProperties": True,
}


class CheckFailureOut(Schema):
    code: str = Field(
        description="malformed_credential, a proof failure (invalid_signature, "
        "unknown_verification_method, ...), issuer_mismatch, malformed_status, "
        "status_unavailable, unknown_status_index, revoked, not_yet_valid or expired."
    )
    message: str


class ChecksOut(Schema):
    structure: str = Field(description="ok, failed")
    proof: str = Field(description="ok, failed, skipped")
    status: str = Field(
        description="active, revoked, unavailable (another issuer's list), none (no "
        "credentialStatus), failed, skipped"
    )
    dates: str = Field(description="ok, failed, skipped")


class CredentialCheckOut(Schema):
    valid: bool = Field(description="True only when no check failed.")
    errors: list[CheckFailureOut]
    checks: ChecksOut
