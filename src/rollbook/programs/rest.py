"""Programs and program enrollments over HTTP: Open edX's program_enrollments v1 shapes.

Writes take a JSON array of records and answer a map of each key to its new status or its
error: 200 when every record is fine, 207 when some are, 422 when none is, 204 for an empty
array. A body that is not an array of records is 400 `malformed_request`, more records than
PROGRAMS["MAX_RECORDS"] 413. Who may call: global staff, or org-level `staff` in the
program's org (a caller who is neither is not told whether the program exists).
"""

from __future__ import annotations

import csv
import io
import json
import uuid
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from ninja import File, Query, Router, Status
from ninja.files import UploadedFile
from pydantic import TypeAdapter, ValidationError

from rollbook.audit.data import Actor
from rollbook.lib.errors import (
    CommonErrorCode,
    Invalid,
    NotFound,
    RollbookError,
    TooLarge,
    forbidden,
)
from rollbook.lib.keys import validate_org
from rollbook.lib.principal import Principal
from rollbook.lib.rest import caller, require_self_or_staff
from rollbook.people import api as people
from rollbook.people.data import UserRef
from rollbook.programs import api
from rollbook.programs.data import CursorPage, ProgramData, RecordError
from rollbook.programs.errors import MSG_TOO_MANY_RECORDS, ProgramErrorCode
from rollbook.programs.schemas import (
    COURSE_RECORDS,
    COURSE_RECORDS_SCHEMA,
    EXTERNAL_IDS_SCHEMA,
    KEY_MAP,
    LINK_SCHEMA,
    MAX_KEY,
    PROGRAM_PATCH_RECORDS,
    PROGRAM_PATCH_RECORDS_SCHEMA,
    PROGRAM_RECORDS,
    PROGRAM_RECORDS_SCHEMA,
    CursorPageOut,
    CursorQuery,
    ExternalIdsOut,
    ExternalIdsPutOut,
    LinkOut,
    ProgramIn,
    ProgramOut,
    ResultsOut,
    UploadAccepted,
    json_body,
)
from rollbook.roles import api as roles

router = Router(tags=["programs"])

MSG_NOT_JSON = "The body is not valid JSON."
MSG_NOT_RECORDS = "The body must be a JSON array of enrollment records (objects)."
MSG_BAD_RECORDS = "Some records are malformed: {problems}."
MSG_NOT_A_MAP = "The body must be a JSON object mapping {what}."
MSG_BAD_MAP = "Every {what} must be a non-empty string of at most {max} characters: {keys}."
MSG_BAD_IDS = "Each key must be a string of at most {max} characters (empty removes it): {orgs}."
MSG_CSV_ENCODING = "{file}: the file is not UTF-8 text."
MSG_CSV_UNREADABLE = "{file}: not a readable CSV file ({problem})."

STAFF = "staff"
INVALID_JSON = "invalid_json"  # as the API answers any body that is not JSON
_RECORD_ERRORS = frozenset(error.value for error in RecordError)

ENROLLMENTS = "/programs/{program_uuid}/enrollments"
COURSE_ENROLLMENTS = "/programs/{program_uuid}/courses/{course_key}/enrollments"
_WRITE_ANSWERS: dict[int, Any] = {200: ResultsOut, 207: ResultsOut, 422: ResultsOut, 204: None}


# ---------------------------------------------------------------- who may call


def _is_org_staff(principal: Principal, org: str) -> bool:
    """Global staff, or the org-level `staff` role in `org` (from the request's role cache)."""
    if principal.is_staff:
        return True
    ref = UserRef(
        principal.user_id,
        principal.username,
        principal.is_active,
        principal.is_staff,
        principal.is_superuser,
    )
    try:
        return roles.check_role(ref, STAFF, org=org, cache=getattr(principal, "roles", None))
    except Invalid:  # not an org short name: nobody holds a role there
        return False


def require_program_staff(request: HttpRequest, program_uuid: uuid.UUID) -> Principal:
    """Global staff (who are told 404 for an unknown program, by the api), or org staff in the
    program's org. Anyone else is refused 403, whether the program exists or not."""
    principal = caller(request)
    if principal.is_staff:
        return principal
    try:
        org = api.program_org(program_uuid)
    except NotFound:
        raise forbidden() from None
    if not _is_org_staff(principal, org):
        raise forbidden()
    return principal


# ---------------------------------------------------------------- bodies read here


def _malformed(message: str, fields: dict[str, Any] | None = None) -> RollbookError:
    return RollbookError(ProgramErrorCode.MALFORMED_REQUEST, message, fields=fields)  # 400


def _json(request: HttpRequest) -> Any:
    try:
        return json.loads(request.body)
    except ValueError:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise _malformed(MSG_NOT_JSON) from None


def _too_many(count: int, limit: int) -> TooLarge:
    return TooLarge(
        ProgramErrorCode.TOO_MANY_RECORDS,
        MSG_TOO_MANY_RECORDS.format(limit=limit, count=count),
        fields={"limit": limit, "count": count},
    )


def _records(request: HttpRequest, adapter: TypeAdapter[Any]) -> list[Any]:
    """The body as records: 400 unless an array of objects with string student_key and
    status (and what else the verb needs); 413 past the record limit."""
    data = _json(request)
    if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
        raise _malformed(MSG_NOT_RECORDS)
    limit = int(settings.PROGRAMS["MAX_RECORDS"])
    if len(data) > limit:
        raise _too_many(len(data), limit)
    try:
        records: list[Any] = adapter.validate_python(data)
    except ValidationError as exc:
        fields = {
            ".".join(str(part) for part in error["loc"]): error["msg"] for error in exc.errors()
        }
        problems = "; ".join(f"{name}: {message}" for name, message in fields.items())
        raise _malformed(MSG_BAD_RECORDS.format(problems=problems), fields) from None
    return records


def _link_map(data: Any) -> dict[str, str]:
    """{external_user_key: username}: 400 unless every key and value is a non-empty string
    of at most MAX_KEY characters."""
    if not isinstance(data, dict):
        raise _malformed(MSG_NOT_A_MAP.format(what="external_user_key to username"))
    bad = [
        key
        for key, value in data.items()
        if not _short_text(key) or not isinstance(value, str) or not _short_text(value)
    ]
    if bad:
        raise _malformed(
            MSG_BAD_MAP.format(what="key and username", max=MAX_KEY, keys=", ".join(bad[:10])),
            dict.fromkeys(bad, "invalid"),
        )
    return KEY_MAP.validate_python(data)


def _short_text(value: str) -> bool:
    return bool(value.strip()) and len(value) <= MAX_KEY


def _answer(results: dict[str, str]) -> Status[dict[str, str] | None]:
    """Open edX's status for per-record outcomes: all fine 200, some 207, none 422."""
    if not results:
        return Status(204, None)
    fine = [outcome not in _RECORD_ERRORS for outcome in results.values()]
    status = 200 if all(fine) else 207 if any(fine) else 422
    return Status(status, {key: str(outcome) for key, outcome in results.items()})


def _page_url(request: HttpRequest, cursor: str | None) -> str | None:
    if cursor is None:
        return None
    query = request.GET.copy()
    query["cursor"] = cursor
    return request.build_absolute_uri(f"{request.path}?{query.urlencode()}")


def _cursor_answer(request: HttpRequest, page: CursorPage) -> dict[str, Any]:
    return {
        "next": _page_url(request, page.next_cursor),
        "previous": _page_url(request, page.previous_cursor),
        "results": page.items,
    }


# ---------------------------------------------------------------- programs


@router.put("/programs/{program_uuid}", response={200: ProgramOut, 201: ProgramOut})
def put_program(
    request: HttpRequest, program_uuid: uuid.UUID, body: ProgramIn
) -> Status[ProgramData]:
    """Create the program or replace its title, org, type and curricula (global staff, or org
    staff in the body's org and, for an existing program, in its current org too)."""
    principal = caller(request)
    validate_org(body.org)
    if not principal.is_staff:
        try:
            current: str | None = api.program_org(program_uuid)
        except NotFound:
            current = None
        orgs = {body.org} if current is None else {body.org, current}
        if not all(_is_org_staff(principal, org) for org in orgs):
            raise forbidden()
    program, created = api.put_program(
        program_uuid,
        title=body.title,
        org=body.org,
        type=body.type,
        curricula=[api.CurriculumSpec(c.uuid, tuple(c.courses)) for c in body.curricula],
        actor=Actor.of(principal),
    )
    return Status(201 if created else 200, program)


@router.get("/programs/{program_uuid}", response=ProgramOut)
def get_program(request: HttpRequest, program_uuid: uuid.UUID) -> ProgramData:
    """A program with its curricula (global staff, or org staff in its org)."""
    require_program_staff(request, program_uuid)
    return api.get_program(program_uuid)


# ---------------------------------------------------------------- program enrollments


@router.get(ENROLLMENTS, response=CursorPageOut)
def list_program_enrollments(
    request: HttpRequest, program_uuid: uuid.UUID, query: Query[CursorQuery]
) -> dict[str, Any]:
    """The program's enrollments, oldest first, a cursor page at a time: `next` and
    `previous` are the URLs of the pages around this one (null at either end)."""
    require_program_staff(request, program_uuid)
    page = api.list_program_enrollments(
        program_uuid, cursor=query.cursor, page_size=query.page_size
    )
    return _cursor_answer(request, page)


def _write_program(
    request: HttpRequest, program_uuid: uuid.UUID, *, create: bool, update: bool
) -> Status[dict[str, str] | None]:
    principal = require_program_staff(request, program_uuid)
    records = _records(request, PROGRAM_RECORDS if create else PROGRAM_PATCH_RECORDS)
    results = api.write_program_enrollments(
        program_uuid,
        [api.EnrollmentRequest(r.student_key, r.status, r.curriculum_uuid) for r in records],
        create=create,
        update=update,
        actor=Actor.of(principal),
    )
    return _answer(results)


_PROGRAM_BODY = json_body(
    PROGRAM_RECORDS_SCHEMA,
    "[{student_key, status, curriculum_uuid}]; at most ROLLBOOK_PROGRAMS_MAX_RECORDS (25).",
)


@router.post(ENROLLMENTS, response=_WRITE_ANSWERS, openapi_extra=_PROGRAM_BODY)
def create_program_enrollments(
    request: HttpRequest, program_uuid: uuid.UUID
) -> Status[dict[str, str] | None]:
    """Enroll student keys in the program (an enrolled key is a `conflict`)."""
    return _write_program(request, program_uuid, create=True, update=False)


@router.patch(
    ENROLLMENTS,
    response=_WRITE_ANSWERS,
    openapi_extra=json_body(
        PROGRAM_PATCH_RECORDS_SCHEMA,
        "[{student_key, status, curriculum_uuid?}]; at most ROLLBOOK_PROGRAMS_MAX_RECORDS (25).",
    ),
)
def update_program_enrollments(
    request: HttpRequest, program_uuid: uuid.UUID
) -> Status[dict[str, str] | None]:
    """Change enrolled keys' status (a key not enrolled is `not-in-program`)."""
    return _write_program(request, program_uuid, create=False, update=True)


@router.put(ENROLLMENTS, response=_WRITE_ANSWERS, openapi_extra=_PROGRAM_BODY)
def put_program_enrollments(
    request: HttpRequest, program_uuid: uuid.UUID
) -> Status[dict[str, str] | None]:
    """Enroll the keys not enrolled yet and change the others' status."""
    return _write_program(request, program_uuid, create=True, update=True)


# ---------------------------------------------------------------- program course enrollments


@router.get(COURSE_ENROLLMENTS, response=CursorPageOut)
def list_course_enrollments(
    request: HttpRequest, program_uuid: uuid.UUID, course_key: str, query: Query[CursorQuery]
) -> dict[str, Any]:
    """The program's enrollments in one of its courses, a cursor page at a time."""
    require_program_staff(request, program_uuid)
    page = api.list_course_enrollments(
        program_uuid, course_key, cursor=query.cursor, page_size=query.page_size
    )
    return _cursor_answer(request, page)


def _write_course(
    request: HttpRequest, program_uuid: uuid.UUID, course_key: str, *, create: bool, update: bool
) -> Status[dict[str, str] | None]:
    principal = require_program_staff(request, program_uuid)
    records = _records(request, COURSE_RECORDS)
    results = api.write_course_enrollments(
        program_uuid,
        course_key,
        [api.CourseEnrollmentRequest(r.student_key, r.status, r.course_staff) for r in records],
        create=create,
        update=update,
        actor=Actor.of(principal),
    )
    return _answer(results)


_COURSE_BODY = json_body(
    COURSE_RECORDS_SCHEMA,
    "[{student_key, status, course_staff?}]; at most ROLLBOOK_PROGRAMS_MAX_RECORDS (25).",
)


@router.post(COURSE_ENROLLMENTS, response=_WRITE_ANSWERS, openapi_extra=_COURSE_BODY)
def create_course_enrollments(
    request: HttpRequest, program_uuid: uuid.UUID, course_key: str
) -> Status[dict[str, str] | None]:
    """Enroll program learners in a course of the program (`active` or `inactive`). A linked
    learner gets a course enrollment in the masters track; `course_staff` a staff role
    (pending until linked)."""
    return _write_course(request, program_uuid, course_key, create=True, update=False)


@router.patch(COURSE_ENROLLMENTS, response=_WRITE_ANSWERS, openapi_extra=_COURSE_BODY)
def update_course_enrollments(
    request: HttpRequest, program_uuid: uuid.UUID, course_key: str
) -> Status[dict[str, str] | None]:
    """Change program course enrollments (one the learner lacks is `not-found`)."""
    return _write_course(request, program_uuid, course_key, create=False, update=True)


@router.put(COURSE_ENROLLMENTS, response=_WRITE_ANSWERS, openapi_extra=_COURSE_BODY)
def put_course_enrollments(
    request: HttpRequest, program_uuid: uuid.UUID, course_key: str
) -> Status[dict[str, str] | None]:
    """Create or change program course enrollments."""
    return _write_course(request, program_uuid, course_key, create=True, update=True)


# ---------------------------------------------------------------- linking


@router.post(
    "/programs/{program_uuid}/link",
    response=LinkOut,
    openapi_extra=json_body(
        LINK_SCHEMA,
        "{external_user_key: username}; at most ROLLBOOK_PROGRAMS_LINK_MAX_RECORDS (1000).",
    ),
)
def link_program_enrollments(request: HttpRequest, program_uuid: uuid.UUID) -> dict[str, Any]:
    """Link student keys to accounts: their waiting course enrollments become enrollments
    in the masters track and pending staff roles grants. Answers the keys that did not link,
    with Open edX's messages."""
    principal = require_program_staff(request, program_uuid)
    mapping = _link_map(_json(request))
    limit = int(settings.PROGRAMS["LINK_MAX_RECORDS"])
    if len(mapping) > limit:
        raise _too_many(len(mapping), limit)
    result = api.link_program_enrollments(program_uuid, mapping, actor=Actor.of(principal))
    return {"errors": result.errors}


# ---------------------------------------------------------------- CSV uploads (jobs)


def _read_upload(file: UploadedFile, columns: tuple[str, ...]) -> list[dict[str, str]]:
    name = file.name or "upload.csv"
    try:
        text = file.read().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise Invalid(
            ProgramErrorCode.INVALID_CSV, MSG_CSV_ENCODING.format(file=name), fields={"file": name}
        ) from None
    try:
        return api.read_csv(io.StringIO(text, newline=""), name=name, columns=columns)
    except csv.Error as exc:
        raise Invalid(
            ProgramErrorCode.INVALID_CSV,
            MSG_CSV_UNREADABLE.format(file=name, problem=exc),
            fields={"file": name},
        ) from None


@router.post(f"{ENROLLMENTS}/upload", response={202: UploadAccepted})
def upload_enrollments(
    request: HttpRequest, program_uuid: uuid.UUID, file: File[UploadedFile]
) -> Status[dict[str, str]]:
    """Create or update program enrollments from a CSV file (multipart field `file`; columns
    student_key,status,curriculum_uuid) as a job: 202 with its id, per-row outcomes in the
    job (`GET /api/v1/jobs/{job_id}`). A bad file is 422 naming the line; nothing runs."""
    principal = require_program_staff(request, program_uuid)
    rows = _read_upload(file, api.ENROLL_COLUMNS)
    job = api.start_enroll_upload(program_uuid, rows, actor=Actor.of(principal))
    return Status(202, {"job_id": str(job.uuid)})


@router.post("/programs/{program_uuid}/link/upload", response={202: UploadAccepted})
def upload_links(
    request: HttpRequest, program_uuid: uuid.UUID, file: File[UploadedFile]
) -> Status[dict[str, str]]:
    """Link student keys to accounts from a CSV file (multipart field `file`; columns
    external_user_key,username) as a job: 202 with its id."""
    principal = require_program_staff(request, program_uuid)
    rows = _read_upload(file, api.LINK_COLUMNS)
    job = api.start_link_upload(program_uuid, rows, actor=Actor.of(principal))
    return Status(202, {"job_id": str(job.uuid)})


# ---------------------------------------------------------------- external ids


@router.put(
    "/users/{username}/external-ids",
    response=ExternalIdsPutOut,
    openapi_extra=json_body(EXTERNAL_IDS_SCHEMA, "{org: key}; an empty key removes it."),
)
def put_external_ids(request: HttpRequest, username: str) -> dict[str, Any]:
    """Set the user's key in each org of the body (an empty key removes it), then link the
    org's program enrollments waiting for that key (global staff, or org staff in every org
    of the body). Answers all of the user's keys and what did not link."""
    principal = caller(request)
    ids = _external_ids(_json_or_invalid(request))
    if not principal.is_staff and not (ids and all(_is_org_staff(principal, o) for o in ids)):
        raise forbidden()
    actor = Actor.of(principal)
    people.set_external_ids(username, ids, actor=actor)
    wanted = {org: key.strip() for org, key in ids.items() if key.strip()}
    errors = api.link_by_external_ids(username, wanted, actor=actor)
    return {"external_ids": people.external_ids(username), "linked_errors": errors}


@router.get("/users/{username}/external-ids", response=ExternalIdsOut)
def get_external_ids(request: HttpRequest, username: str) -> dict[str, Any]:
    """The user's keys in other organizations' systems, by org (global staff, or the user
    themself)."""
    require_self_or_staff(request, username)
    return {"external_ids": people.external_ids(username)}


def _json_or_invalid(request: HttpRequest) -> Any:
    try:
        return json.loads(request.body)
    except ValueError:
        raise Invalid(INVALID_JSON, MSG_NOT_JSON) from None


def _external_ids(data: Any) -> dict[str, str]:
    """{org: key}; an empty key removes it. 422 `invalid` naming the bad orgs, or
    `invalid_org` for an org that is not an org short name."""
    if not isinstance(data, dict):
        raise Invalid(CommonErrorCode.INVALID, MSG_NOT_A_MAP.format(what="orgs to keys"))
    bad = [org for org, key in data.items() if not isinstance(key, str) or len(key) > MAX_KEY]
    if bad:
        raise Invalid(
            CommonErrorCode.INVALID,
            MSG_BAD_IDS.format(max=MAX_KEY, orgs=", ".join(bad[:10])),
            fields=dict.fromkeys(bad, "invalid"),
        )
    for org in data:
        validate_org(org)
    return dict(data)
