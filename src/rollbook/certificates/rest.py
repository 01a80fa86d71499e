"""Certificates over HTTP: grades in, the allowlist, invalidations, each learner's status,
the course's certificates, and batch generation as a job with its history.

Who may call: course staff access (global staff; staff, limited_staff or instructor on the
course; org staff or instructor), and a learner for their own status. The public verify page
is not here: it is a plain Django view (`verify.py`) at /certificates/{verify_uuid}.

`POST /credentials/verify` checks a credential for any authenticated caller.

Route order matters: `/certificates/generate`, `/certificates/generation-runs` and
`/certificates/allowlist/{username}` are registered before `/certificates/{username}`, which
would otherwise take them.
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from ninja import Query, Router, Status
from pydantic import ValidationError

from rollbook.audit.data import Actor
from rollbook.certificates import api
from rollbook.certificates.errors import (
    MSG_BODY_NOT_JSON,
    MSG_BODY_NOT_OBJECT,
    CredentialRequestCode,
)
from rollbook.certificates.schemas import (
    CREDENTIAL_SCHEMA,
    GRADE_RECORDS,
    GRADE_RECORDS_SCHEMA,
    AllowlistOut,
    CertificateFilter,
    CertificateRowOut,
    CertificateStatusOut,
    CredentialCheckOut,
    GenerateIn,
    GenerationAccepted,
    GenerationRunOut,
    GradeIn,
    GradeOut,
    GradeResultsOut,
    InvalidationOut,
    NotesIn,
)
from rollbook.lib.errors import MSG_INVALID, BadRequest, CommonErrorCode, Invalid, TooLarge
from rollbook.lib.middleware import MSG_TOO_LARGE
from rollbook.lib.pagination import PageOut, PageQuery
from rollbook.lib.rest import caller, require_course_staff

router = Router(tags=["certificates"])

COURSE = "/courses/{course_key}"
VERIFY_CREDENTIAL = "/credentials/verify"
VERIFY_CREDENTIAL_PATH = "/api/v1" + VERIFY_CREDENTIAL  # its own body limit (apps.py)
CERTIFICATES = f"{COURSE}/certificates"

INVALID_JSON = "invalid_json"  # as the API answers any body that is not JSON
MSG_NOT_JSON = "The body is not valid JSON."
MSG_NOT_GRADES = "The body must be a JSON array of {username, percent, letter_grade?, passed?}."
MSG_DUPLICATE_USERNAMES = "Each username may appear once; repeated: {usernames}."


# ---------------------------------------------------------------- grades


def _grade_records(request: HttpRequest) -> list[api.GradeRecord]:
    """The body as grade records: 422 unless a JSON array of well-formed records, each
    username once (compared case-insensitively)."""
    try:
        data = json.loads(request.body)
    except ValueError:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise Invalid(INVALID_JSON, MSG_NOT_JSON) from None
    if not isinstance(data, list):
        raise Invalid(CommonErrorCode.INVALID, MSG_NOT_GRADES, fields={"body": MSG_NOT_GRADES})
    try:
        records = GRADE_RECORDS.validate_python(data)
    except ValidationError as exc:
        fields = {
            ".".join(str(part) for part in error["loc"]): error["msg"] for error in exc.errors()
        }
        problems = "; ".join(f"{name}: {message}" for name, message in fields.items())
        raise Invalid(CommonErrorCode.INVALID, f"{MSG_INVALID} {problems}", fields=fields) from None
    seen: set[str] = set()
    repeated: dict[str, str] = {}  # as first repeated, in order
    for record in records:
        if record.username.lower() in seen:
            repeated.setdefault(record.username.lower(), record.username)
        seen.add(record.username.lower())
    if repeated:
        names = list(repeated.values())
        message = MSG_DUPLICATE_USERNAMES.format(usernames=", ".join(names[:10]))
        raise Invalid(CommonErrorCode.INVALID, message, fields=dict.fromkeys(names, "repeated"))
    return [api.GradeRecord(r.username, r.percent, r.letter_grade, r.passed) for r in records]


@router.put(
    f"{COURSE}/grades",
    response=GradeResultsOut,
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "[{username, percent, letter_grade?, passed?}]",
            "content": {"application/json": {"schema": GRADE_RECORDS_SCHEMA}},
        }
    },
)
def put_grades(request: HttpRequest, course_key: str) -> dict[str, str]:
    """Record the learners' grades (course staff access). Answers each username with "ok"
    or its error (`user_not_found`); an unknown user fails alone. A percent outside 0..1
    refuses the whole request (422 `invalid_grade`, nothing recorded)."""
    principal = require_course_staff(request, course_key)
    records = _grade_records(request)
    return api.put_grades(course_key, records, actor=Actor.of(principal))


@router.put(f"{COURSE}/grades/{{username}}", response=GradeOut)
def put_grade(
    request: HttpRequest, course_key: str, username: str, body: GradeIn
) -> api.GradeData | None:
    """Record one learner's grade (course staff access); answers it, with `passed` as given
    or by the course's passing_grade."""
    principal = require_course_staff(request, course_key)
    record = api.GradeRecord(username, body.percent, body.letter_grade, body.passed)
    api.put_grades(course_key, [record], actor=Actor.of(principal))
    return api.get_grade(course_key, username)  # an unknown user: 404 here


# ---------------------------------------------------------------- the course's certificates


@router.get(CERTIFICATES, response=PageOut[CertificateRowOut])
def list_certificates(
    request: HttpRequest,
    course_key: str,
    filters: Query[CertificateFilter],
    paging: Query[PageQuery],
) -> object:
    """The course's certificates, oldest first, optionally in one status (course staff
    access). `verify_uuid` is set only while a certificate is downloadable."""
    require_course_staff(request, course_key)
    status = filters.status.value if filters.status else None
    return api.list_certificates(course_key, page=paging.request(), status=status)


@router.post(f"{CERTIFICATES}/generate", response={202: GenerationAccepted})
def generate(request: HttpRequest, course_key: str, body: GenerateIn) -> Status[dict[str, str]]:
    """Generate the course's certificates as a job (course staff access): every enrolled
    learner, or the `usernames` given. 202 with the job's id; the counts per outcome are in
    the job (`GET /api/v1/jobs/{job_id}`) and in the history (`.../generation-runs`)."""
    principal = require_course_staff(request, course_key)
    job = api.start_generation(
        course_key,
        usernames=body.usernames,
        statuses_to_regenerate=body.statuses_to_regenerate,
        actor=Actor.of(principal),
    )
    return Status(202, {"job_id": str(job.uuid)})


@router.get(f"{CERTIFICATES}/generation-runs", response=PageOut[GenerationRunOut])
def generation_runs(request: HttpRequest, course_key: str, paging: Query[PageQuery]) -> object:
    """The course's batch generations, newest first: who asked, for whom, and the counts per
    outcome once finished (course staff access)."""
    require_course_staff(request, course_key)
    return api.list_generation_runs(course_key, page=paging.request())


# ---------------------------------------------------------------- allowlist


@router.put(
    f"{CERTIFICATES}/allowlist/{{username}}", response={200: AllowlistOut, 201: AllowlistOut}
)
def add_to_allowlist(
    request: HttpRequest, course_key: str, username: str, body: NotesIn
) -> Status[dict[str, Any]]:
    """Put the learner on the course's allowlist: a certificate whatever the grade, if
    enrolled in a certificate mode and neither restricted nor invalidated (course staff
    access). 201 when added, 200 when already there (the notes replaced)."""
    principal = require_course_staff(request, course_key)
    created = api.add_to_allowlist(
        course_key, username, notes=body.notes, actor=Actor.of(principal)
    )
    answer = {
        "course_key": course_key,
        "username": username,
        "allowlisted": True,
        "notes": body.notes,
    }
    return Status(201 if created else 200, answer)


@router.delete(f"{CERTIFICATES}/allowlist/{{username}}", response=AllowlistOut)
def remove_from_allowlist(request: HttpRequest, course_key: str, username: str) -> dict[str, Any]:
    """Take the learner off the allowlist (course staff access; 404 `not_allowlisted`). A
    certificate already issued stays."""
    principal = require_course_staff(request, course_key)
    api.remove_from_allowlist(course_key, username, actor=Actor.of(principal))
    return {"course_key": course_key, "username": username, "allowlisted": False}


# ---------------------------------------------------------------- invalidation


@router.post(f"{CERTIFICATES}/{{username}}/invalidate", response=InvalidationOut)
def invalidate(
    request: HttpRequest, course_key: str, username: str, body: NotesIn
) -> dict[str, Any]:
    """Invalidate the learner's certificate (course staff access): it becomes unavailable,
    its verify page answers 410, and generation is refused until the invalidation is lifted,
    allowlist or not. 409 while the certificate is being generated or deleted."""
    principal = require_course_staff(request, course_key)
    api.invalidate(course_key, username, notes=body.notes, actor=Actor.of(principal))
    return {
        "course_key": course_key,
        "username": username,
        "invalidated": True,
        "notes": body.notes,
    }


@router.delete(f"{CERTIFICATES}/{{username}}/invalidate", response=InvalidationOut)
def lift_invalidation(request: HttpRequest, course_key: str, username: str) -> dict[str, Any]:
    """Lift the learner's invalidation (course staff access; 404 `not_invalidated`). The
    certificate comes back with the next generation."""
    principal = require_course_staff(request, course_key)
    api.lift_invalidation(course_key, username, actor=Actor.of(principal))
    return {"course_key": course_key, "username": username, "invalidated": False}


# ---------------------------------------------------------------- one learner's status


@router.get(f"{CERTIFICATES}/{{username}}", response=CertificateStatusOut, exclude_none=True)
def certificate_status(request: HttpRequest, course_key: str, username: str) -> dict[str, Any]:
    """The learner's certificate: `{status, mode}`, with `grade` when graded and
    `download_url` (the public verify page) only when downloadable; without a certificate
    `{"status": "unavailable", "mode": "honor"}`. The learner themself, or course staff
    access."""
    if not caller(request).is_self(username):
        require_course_staff(request, course_key)
    return api.certificate_status(course_key, username)


# ---------------------------------------------------------------- checking a credential


def _credential_body(request: HttpRequest) -> dict[str, Any]:
    """The body as a JSON object: 413 past the limit (the middleware refuses it earlier
    when Content-Length says so), 400 when it is not JSON or not an object."""
    limit = int(settings.CERTIFICATES["CREDENTIAL_MAX_BYTES"])
    body = request.body
    if len(body) > limit:
        raise TooLarge(
            CommonErrorCode.BODY_TOO_LARGE,
            MSG_TOO_LARGE.format(size=len(body), limit=limit),
            fields={"limit": limit},
        )
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise BadRequest(CredentialRequestCode.INVALID_JSON, MSG_BODY_NOT_JSON) from None
    if not isinstance(data, dict):
        raise BadRequest(CredentialRequestCode.NOT_AN_OBJECT, MSG_BODY_NOT_OBJECT)
    return data


@router.post(
    VERIFY_CREDENTIAL,
    response=CredentialCheckOut,
    tags=["credentials"],
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "The credential itself, as downloaded from "
            "/certificates/{verify_uuid}/credential.json (not wrapped in another object).",
            "content": {"application/json": {"schema": CREDENTIAL_SCHEMA}},
        },
        "responses": {
            "400": {"description": "`invalid_json` or `not_an_object`: the body is unusable."},
            "413": {"description": "`body_too_large`: past ROLLBOOK_CERT_CREDENTIAL_MAX_BYTES."},
        },
    },
)
def verify_credential(request: HttpRequest) -> dict[str, Any]:
    """Check an Open Badges 3.0 credential (any authenticated caller): its structure, its
    proof (only this service's issuer keys are known), its status (this service's revocation
    list, read from the database; another issuer's list is `status_unavailable`, never
    fetched) and its validity dates. 200 whenever the credential could be checked, valid or
    not: `valid`, each failure as `{code, message}` in `errors`, and the outcome of each
    check."""
    caller(request)
    return api.verify_credential(_credential_body(request)).as_dict()
