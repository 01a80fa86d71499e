"""Programs and program enrollments keyed by the partner's student key, and linking keys to
accounts, with Open edX's program_enrollments rules kept exactly (docs/decisions/0008).

Keys are compared case-insensitively everywhere (stored as first sent). A waiting program
enrollment has no user; linking sets it, enrolls the user in each of its courses in the
masters track and turns pending course staff into real grants. Each key is linked in its own
savepoint: any failure rolls back everything done for that key and is reported as
"ExceptionName: message"; other keys go on.
"""

from __future__ import annotations

import base64
import csv
import datetime as dt
import logging
import uuid as uuid_module
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.db.models.functions import Lower

from rollbook.audit import api as audit
from rollbook.audit.data import Actor
from rollbook.catalog import api as catalog
from rollbook.catalog.data import CourseData
from rollbook.enrollments import api as enrollments
from rollbook.jobs import api as jobs
from rollbook.jobs.data import JobData
from rollbook.lib import clock, sources
from rollbook.lib.errors import Invalid, NotFound, RollbookError
from rollbook.lib.keys import CourseKey, parse_uuid
from rollbook.people import api as people
from rollbook.people.data import UserRef
from rollbook.programs.data import (
    CourseEnrollmentRequest,
    CourseStatus,
    CurriculumData,
    CursorPage,
    EnrollmentRequest,
    EnrollmentRow,
    EnrollmentStatus,
    LinkResult,
    ProgramData,
    RecordError,
)
from rollbook.programs.errors import (
    MSG_ALREADY_LINKED,
    MSG_COURSE_NOT_IN_PROGRAM,
    MSG_CSV_COLUMNS,
    MSG_CSV_ROW,
    MSG_CURRICULUM_ELSEWHERE,
    MSG_NO_ENROLLMENT,
    MSG_NO_USER,
    MSG_PROGRAM_DOES_NOT_EXIST,
    CourseNotFoundError,
    ProgramErrorCode,
    UserAlreadyInProgramError,
)
from rollbook.programs.jobs import ENROLL_JOB_KIND, LINK_JOB_KIND
from rollbook.programs.models import (
    Curriculum,
    PendingCourseRole,
    Program,
    ProgramCourse,
    ProgramCourseEnrollment,
    ProgramEnrollment,
)
from rollbook.roles import api as roles

__all__ = [
    "ENROLL_COLUMNS",
    "LINK_COLUMNS",
    "CourseEnrollmentRequest",
    "CurriculumSpec",
    "EnrollmentRequest",
    "LinkResult",
    "ProgramData",
    "RecordError",
    "expire_waiting",
    "get_program",
    "link_by_external_ids",
    "link_program_enrollments",
    "list_course_enrollments",
    "list_program_enrollments",
    "program_org",
    "put_program",
    "read_csv",
    "run_enroll_job",
    "run_link_job",
    "start_enroll_upload",
    "start_link_upload",
    "validate_links",
    "write_course_enrollments",
    "write_program_enrollments",
]

log = logging.getLogger(__name__)

MASTERS = "masters"
AUDIT = "audit"
UPSELL_MODES = ("audit", "honor")  # converted to masters on linking; other paid modes kept
STAFF = "staff"
_IN_CHUNK = 500


@dataclass(frozen=True, slots=True)
class CurriculumSpec:
    uuid: uuid_module.UUID
    courses: tuple[str, ...]


def program_source(program_uuid: uuid_module.UUID | str) -> str:
    return sources.program(str(program_uuid))


# ---------------------------------------------------------------- programs


def _program_row(program_uuid: uuid_module.UUID | str) -> Program:
    key = parse_uuid(program_uuid)
    row = Program.objects.filter(uuid=key).first() if key else None
    if row is None:
        raise NotFound(
            ProgramErrorCode.PROGRAM_DOES_NOT_EXIST,
            MSG_PROGRAM_DOES_NOT_EXIST.format(uuid=program_uuid),
        )
    return row


def _program_data(row: Program) -> ProgramData:
    curricula = tuple(
        CurriculumData(c.uuid, tuple(c.courses))
        for c in Curriculum.objects.filter(program_id=row.id).order_by("id")
    )
    return ProgramData(row.uuid, row.title, row.org, row.type, curricula, row.created, row.modified)


def get_program(program_uuid: uuid_module.UUID | str) -> ProgramData:
    return _program_data(_program_row(program_uuid))


def put_program(
    program_uuid: uuid_module.UUID,
    *,
    title: str,
    org: str,
    type: str,
    curricula: list[CurriculumSpec],
    actor: Actor,
) -> tuple[ProgramData, bool]:
    """Create the program or replace its fields and curricula. A curriculum's courses may name
    course keys the catalog does not have (yet). A curriculum with enrollments stays even when
    left out (it cannot be deleted while learners are in it)."""
    for spec in curricula:
        for key in spec.courses:
            CourseKey.parse(key)  # a malformed key: 422
    with transaction.atomic():
        row = Program.objects.select_for_update().filter(uuid=program_uuid).first()
        before = _snapshot(_program_data(row)) if row else None
        now = clock.now()
        created = row is None
        if row is None:
            row = Program(uuid=program_uuid, created=now)
        row.title, row.org, row.type, row.modified = title, org, type, now
        row.save()
        for spec in curricula:
            existing = Curriculum.objects.filter(uuid=spec.uuid).first()
            if existing is not None and existing.program_id != row.id:
                raise Invalid(
                    ProgramErrorCode.INVALID_PROGRAM,
                    MSG_CURRICULUM_ELSEWHERE.format(uuid=spec.uuid),
                    fields={"curricula": str(spec.uuid)},
                )
            Curriculum.objects.update_or_create(
                uuid=spec.uuid, defaults={"program": row, "courses": list(spec.courses)}
            )
        wanted = {spec.uuid for spec in curricula}
        stale = Curriculum.objects.filter(program_id=row.id).exclude(uuid__in=wanted)
        in_use = set(
            ProgramEnrollment.objects.filter(curriculum__in=stale).values_list(
                "curriculum_id", flat=True
            )
        )
        stale.exclude(id__in=in_use).delete()
        keys = {key for spec in curricula for key in spec.courses}
        keys |= set(
            ProgramCourseEnrollment.objects.filter(
                program_enrollment__program_id=row.id
            ).values_list("course_key", flat=True)
        )
        ProgramCourse.objects.filter(program_id=row.id).exclude(course_key__in=keys).delete()
        known = set(
            ProgramCourse.objects.filter(program_id=row.id).values_list("course_key", flat=True)
        )
        ProgramCourse.objects.bulk_create(
            [ProgramCourse(program_id=row.id, course_key=key) for key in sorted(keys - known)]
        )
        data = _program_data(row)
        audit.record(
            "program.created" if created else "program.updated",
            f"program:{program_uuid}",
            actor=actor,
            before=before,
            after=_snapshot(data),
        )
    return data, created


def _snapshot(data: ProgramData) -> dict[str, Any]:
    return {
        "title": data.title,
        "org": data.org,
        "type": data.type,
        "curricula": {str(c.uuid): list(c.courses) for c in data.curricula},
    }


def _require_course(program: Program, course_key: str) -> None:
    if not ProgramCourse.objects.filter(program_id=program.id, course_key=course_key).exists():
        raise NotFound(
            ProgramErrorCode.COURSE_NOT_IN_PROGRAM,
            MSG_COURSE_NOT_IN_PROGRAM.format(course_key=course_key, uuid=program.uuid),
        )


# ---------------------------------------------------------------- reading


def _cursor(value: int) -> str:
    return base64.urlsafe_b64encode(str(value).encode()).decode()


def _after(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        return int(base64.urlsafe_b64decode(cursor.encode()).decode())
    except (ValueError, UnicodeDecodeError):
        raise Invalid(ProgramErrorCode.MALFORMED_REQUEST, "Invalid cursor.") from None


def _cursor_page(rows: Any, cursor: str | None, page_size: int, row_of: Any) -> CursorPage:
    start = _after(cursor)
    batch = list(rows.filter(id__gt=start).order_by("id")[: page_size + 1])
    more = len(batch) > page_size
    batch = batch[:page_size]
    items = [row_of(row) for row in batch]
    previous = None
    if start:
        before = list(
            rows.filter(id__lte=start).order_by("-id").values_list("id", flat=True)[: page_size + 1]
        )
        previous = _cursor(before[-1]) if len(before) > page_size else _cursor(0)
    return CursorPage(items, _cursor(batch[-1].id) if more else None, previous)


def list_program_enrollments(
    program_uuid: uuid_module.UUID | str, *, cursor: str | None = None, page_size: int = 100
) -> CursorPage:
    program = _program_row(program_uuid)
    rows = ProgramEnrollment.objects.filter(program_id=program.id).select_related("curriculum")
    return _cursor_page(
        rows,
        cursor,
        page_size,
        lambda row: EnrollmentRow(
            row.id, row.external_user_key, row.status, row.user_id is not None, row.curriculum.uuid
        ),
    )


def list_course_enrollments(
    program_uuid: uuid_module.UUID | str,
    course_key: str,
    *,
    cursor: str | None = None,
    page_size: int = 100,
) -> CursorPage:
    program = _program_row(program_uuid)
    _require_course(program, course_key)
    rows = ProgramCourseEnrollment.objects.filter(
        program_enrollment__program_id=program.id, course_key=course_key
    ).select_related("program_enrollment__curriculum")
    return _cursor_page(
        rows,
        cursor,
        page_size,
        lambda row: EnrollmentRow(
            row.id,
            row.program_enrollment.external_user_key,
            row.status,
            row.program_enrollment.user_id is not None,
            row.program_enrollment.curriculum.uuid,
        ),
    )


def program_org(program_uuid: uuid_module.UUID | str) -> str:
    """The org of the program (for permission checks); 404 when there is no such program."""
    return _program_row(program_uuid).org


# ---------------------------------------------------------------- writing program enrollments


def _split_duplicates(keys: Iterable[str]) -> set[str]:
    counts = Counter(key.lower() for key in keys)
    return {key for key, count in counts.items() if count > 1}


def _by_key(rows: Iterable[Any], key_of: Any) -> dict[str, Any]:
    return {key_of(row).lower(): row for row in rows}


def _enrollments_by_key(program: Program, keys: list[str]) -> dict[str, list[ProgramEnrollment]]:
    found: dict[str, list[ProgramEnrollment]] = defaultdict(list)
    lowered = sorted({key.lower() for key in keys})
    for start in range(0, len(lowered), _IN_CHUNK):
        rows = (
            ProgramEnrollment.objects.annotate(key_lower=Lower("external_user_key"))
            .filter(program_id=program.id, key_lower__in=lowered[start : start + _IN_CHUNK])
            .select_related("curriculum", "user")
            .order_by("id")
        )
        for row in rows:
            found[row.external_user_key.lower()].append(row)
    return found


def write_program_enrollments(
    program_uuid: uuid_module.UUID | str,
    records: list[EnrollmentRequest],
    *,
    create: bool,
    update: bool,
    actor: Actor,
) -> dict[str, str]:
    """Create (POST), update (PATCH) or both (PUT) program enrollments; returns each key's new
    status or its error (RecordError). Records are written each in its own savepoint."""
    program = _program_row(program_uuid)
    duplicates = _split_duplicates(record.student_key for record in records)
    results: dict[str, str] = {}
    curricula = {c.uuid: c for c in Curriculum.objects.filter(program_id=program.id)}
    existing = _enrollments_by_key(program, [r.student_key for r in records])
    now = clock.now()
    creates: list[tuple[str, Curriculum, str]] = []
    for record in records:
        key = record.student_key
        if key.lower() in duplicates:
            results[key] = RecordError.DUPLICATED
            continue
        if record.status not in EnrollmentStatus.__members__.values():
            results[key] = RecordError.INVALID_STATUS
            continue
        rows = existing.get(key.lower(), [])
        if record.curriculum_uuid is not None:
            rows = [row for row in rows if row.curriculum.uuid == record.curriculum_uuid]
        if rows and not update:
            results[key] = RecordError.CONFLICT
            continue
        if not rows and not create:
            results[key] = RecordError.NOT_IN_PROGRAM
            continue
        if not rows:
            curriculum = curricula.get(record.curriculum_uuid) if record.curriculum_uuid else None
            if curriculum is None:
                results[key] = RecordError.INVALID_CURRICULUM
            else:
                creates.append((key, curriculum, record.status))
                results[key] = record.status
            continue
        try:
            with transaction.atomic():
                for row in rows:
                    _set_status(row, record.status, now, actor)
        except (IntegrityError, RollbookError):
            log.exception("program enrollment %s in %s", key, program.uuid)
            results[key] = RecordError.INTERNAL_ERROR
            continue
        results[key] = record.status
    _create_enrollments(program, creates, results, now, actor)
    return results


def _create_enrollments(
    program: Program,
    creates: list[tuple[str, Curriculum, str]],
    results: dict[str, str],
    now: dt.datetime,
    actor: Actor,
) -> None:
    """New program enrollments in one INSERT (and one audit INSERT); when the batch is
    refused (a key created meanwhile), one by one, so that only that key fails."""
    if not creates:
        return
    try:
        with transaction.atomic():
            ProgramEnrollment.objects.bulk_create(
                [
                    ProgramEnrollment(
                        program=program,
                        curriculum=curriculum,
                        external_user_key=key,
                        status=status,
                        created=now,
                        modified=now,
                    )
                    for key, curriculum, status in creates
                ],
                batch_size=500,
            )
            audit.record_many(
                [
                    (
                        "program_enrollment.created",
                        f"program:{program.uuid}:{key}",
                        None,
                        {"status": status, "curriculum": str(curriculum.uuid)},
                    )
                    for key, curriculum, status in creates
                ],
                actor=actor,
            )
        return
    except IntegrityError:
        pass
    for key, curriculum, status in creates:
        try:
            with transaction.atomic():
                _create_enrollment(program, curriculum, key, status, now, actor)
        except IntegrityError:
            results[key] = RecordError.CONFLICT  # the same key, created meanwhile


def _create_enrollment(
    program: Program, curriculum: Curriculum, key: str, status: str, now: dt.datetime, actor: Actor
) -> ProgramEnrollment:
    row = ProgramEnrollment.objects.create(
        program=program,
        curriculum=curriculum,
        external_user_key=key,
        status=status,
        created=now,
        modified=now,
    )
    audit.record(
        "program_enrollment.created",
        f"program:{program.uuid}:{key}",
        actor=actor,
        after={"status": status, "curriculum": str(curriculum.uuid)},
    )
    return row


def _set_status(row: ProgramEnrollment, status: str, now: dt.datetime, actor: Actor) -> None:
    if row.status == status:
        return
    before = row.status
    row.status, row.modified = status, now
    row.save(update_fields=["status", "modified"])
    audit.record(
        "program_enrollment.updated",
        f"program:{row.program.uuid}:{row.external_user_key}",
        actor=actor,
        before={"status": before},
        after={"status": status},
    )


# ---------------------------------------------------------------- writing course enrollments


def write_course_enrollments(
    program_uuid: uuid_module.UUID | str,
    course_key: str,
    records: list[CourseEnrollmentRequest],
    *,
    create: bool,
    update: bool,
    actor: Actor,
) -> dict[str, str]:
    """Create, update or both the program course enrollments of one course; each key's new
    status or error. A linked learner's course enrollment (masters track) and staff role
    follow; an unlinked one's staff role waits as pending."""
    program = _program_row(program_uuid)
    _require_course(program, course_key)
    duplicates = _split_duplicates(record.student_key for record in records)
    enrolled = _enrollments_by_key(program, [r.student_key for r in records])
    pce_by_enrollment = {
        row.program_enrollment_id: row
        for row in ProgramCourseEnrollment.objects.filter(
            program_enrollment_id__in=[pe.id for rows in enrolled.values() for pe in rows],
            course_key=course_key,
        )
    }
    activating = [
        r.student_key for r in records if r.status == CourseStatus.ACTIVE and r.student_key
    ]
    conflicts = _active_elsewhere(program, course_key, activating, enrolled)
    course = catalog.courses_by_key([course_key]).get(course_key)
    results: dict[str, str] = {}
    now = clock.now()
    for record in records:
        key = record.student_key
        if key.lower() in duplicates:
            results[key] = RecordError.DUPLICATED
            continue
        if record.status not in CourseStatus.__members__.values():
            results[key] = RecordError.INVALID_STATUS
            continue
        program_enrollments = enrolled.get(key.lower(), [])
        if not program_enrollments:
            results[key] = RecordError.NOT_IN_PROGRAM
            continue
        enrollment = program_enrollments[0]
        pce = pce_by_enrollment.get(enrollment.id)
        if pce is not None and not update:
            results[key] = RecordError.CONFLICT
            continue
        if pce is None and not create:
            results[key] = RecordError.NOT_FOUND
            continue
        if record.status == CourseStatus.ACTIVE and key.lower() in conflicts:
            results[key] = RecordError.CONFLICT
            continue
        try:
            with transaction.atomic():
                _write_course_enrollment(
                    program, enrollment, pce, course_key, course, record, now, actor
                )
        except (IntegrityError, RollbookError, CourseNotFoundError):
            log.exception("program course enrollment %s in %s", key, course_key)
            results[key] = RecordError.INTERNAL_ERROR
            continue
        results[key] = record.status
    return results


def _active_elsewhere(
    program: Program,
    course_key: str,
    keys: list[str],
    enrolled: dict[str, list[ProgramEnrollment]],
) -> set[str]:
    """The keys (lower-cased) that already have an active program course enrollment in this
    course through another program, by the same key or the same linked user."""
    if not keys:
        return set()
    lowered = {key.lower() for key in keys}
    users = {
        pe.user_id: key for key in lowered for pe in enrolled.get(key, []) if pe.user_id is not None
    }
    rows = (
        ProgramCourseEnrollment.objects.filter(course_key=course_key, status=CourseStatus.ACTIVE)
        .exclude(program_enrollment__program_id=program.id)
        .annotate(key_lower=Lower("program_enrollment__external_user_key"))
        .filter(Q(key_lower__in=sorted(lowered)) | Q(program_enrollment__user_id__in=list(users)))
        .values_list("key_lower", "program_enrollment__user_id")
    )
    conflicts: set[str] = set()
    for key_lower, user_id in rows:
        if key_lower in lowered:
            conflicts.add(key_lower)
        if user_id in users:
            conflicts.add(users[user_id])
    return conflicts


def _write_course_enrollment(
    program: Program,
    enrollment: ProgramEnrollment,
    pce: ProgramCourseEnrollment | None,
    course_key: str,
    course: CourseData | None,
    record: CourseEnrollmentRequest,
    now: dt.datetime,
    actor: Actor,
) -> None:
    subject = f"program:{program.uuid}:{enrollment.external_user_key}:{course_key}"
    if pce is None:
        pce = ProgramCourseEnrollment.objects.create(
            program_enrollment=enrollment,
            course_key=course_key,
            status=record.status,
            created=now,
            modified=now,
        )
        audit.record(
            "program_course_enrollment.created",
            subject,
            actor=actor,
            after={"status": record.status},
        )
    elif pce.status != record.status:
        audit.record(
            "program_course_enrollment.updated",
            subject,
            actor=actor,
            before={"status": pce.status},
            after={"status": record.status},
        )
        pce.status, pce.modified = record.status, now
        pce.save(update_fields=["status", "modified"])
    user = enrollment.user
    if user is not None:
        ref = people.get_user_ref_by_id(user.id)
        if course is None:
            raise CourseNotFoundError(f"Course {course_key} does not exist")
        state = _masters(program, course, ref, record.status == CourseStatus.ACTIVE, actor)
        if pce.course_enrollment_id != state.id:
            pce.course_enrollment_id = state.id
            pce.save(update_fields=["course_enrollment"])
        if record.course_staff is True:
            roles.grant_role(ref.username, STAFF, actor=actor, course_key=course_key)
        elif record.course_staff is False and roles.check_role(
            ref, STAFF, course_key=course_key, strict=True
        ):
            roles.revoke_role(ref.username, STAFF, actor=actor, course_key=course_key)
    elif record.course_staff is True:
        PendingCourseRole.objects.get_or_create(program_course_enrollment=pce, role=STAFF)
    elif record.course_staff is False:
        PendingCourseRole.objects.filter(program_course_enrollment=pce).delete()


def _masters(
    program: Program, course: CourseData, user: UserRef, active: bool, actor: Actor
) -> enrollments.EnrollmentState:
    """Rule 3: the user's enrollment in the masters track. audit or honor becomes masters;
    another paid mode is kept (logged); none gives a new masters enrollment; inactive stays
    inactive."""
    existing = enrollments.lock_enrollments(user, [course]).get(course.key)
    mode: str | None = MASTERS
    if existing is not None and existing.mode not in (*UPSELL_MODES, MASTERS):
        log.warning(
            "%s keeps the %s mode in %s: linked to program %s without moving to masters",
            user.username,
            existing.mode,
            course.key,
            program.uuid,
        )
        mode = None
    state, _changed = enrollments.write_enrollment(
        course,
        user,
        existing,
        actor=actor,
        mode=mode,
        is_active=active,
        add_source=program_source(program.uuid),
    )
    return state


# ---------------------------------------------------------------- linking


@dataclass
class _Plan:
    """The read-only pass over a link request: who each key goes to, and the errors."""

    program: Program
    users: dict[str, UserRef]  # by key (lower-cased)
    enrollments: dict[str, list[ProgramEnrollment]]
    errors: dict[str, str]
    keys: dict[str, str]  # lower-cased -> as given


def validate_links(
    program_uuid: uuid_module.UUID | str, keys_to_usernames: dict[str, str]
) -> dict[str, str]:
    """The errors linking would report (rule 1, and a user holding another key), without
    writing anything."""
    return _plan(program_uuid, keys_to_usernames).errors


def _plan(program_uuid: uuid_module.UUID | str, keys_to_usernames: dict[str, str]) -> _Plan:
    program = _program_row(program_uuid)
    refs = people.user_refs(keys_to_usernames.values())
    by_lower = {name.lower(): ref for name, ref in refs.items()}
    found = _enrollments_by_key(program, list(keys_to_usernames))
    holders = _keys_held(program, {ref.id for ref in refs.values()})
    errors: dict[str, str] = {}
    users: dict[str, UserRef] = {}
    keys: dict[str, str] = {}
    claimed: dict[tuple[int, int], str] = {}
    for key, username in keys_to_usernames.items():
        user = by_lower.get(username.lower())
        rows = found.get(key.lower(), [])
        if user is None:
            errors[key] = MSG_NO_USER.format(username=username)
            continue
        if not rows:
            errors[key] = MSG_NO_ENROLLMENT.format(program_uuid=program.uuid, key=key)
            continue
        if all(row.user_id == user.id for row in rows):
            errors[key] = MSG_ALREADY_LINKED.format(key=key, username=user.username)
            continue
        other = None
        for row in rows:
            holder = holders.get((user.id, row.curriculum_id)) or claimed.get(
                (user.id, row.curriculum_id)
            )
            if holder and holder.lower() != key.lower():
                other = holder
                break
        if other:
            errors[key] = (
                f"{UserAlreadyInProgramError.__name__}: user {user.username} already holds the "
                f"key {other} in program {program.uuid}"
            )
            continue
        for row in rows:
            claimed[(user.id, row.curriculum_id)] = key
        users[key.lower()] = user
        keys[key.lower()] = key
    return _Plan(program, users, found, errors, keys)


def _keys_held(program: Program, user_ids: set[int]) -> dict[tuple[int, int], str]:
    held: dict[tuple[int, int], str] = {}
    ids = sorted(user_ids)
    for start in range(0, len(ids), _IN_CHUNK):
        rows = ProgramEnrollment.objects.filter(
            program_id=program.id, user_id__in=ids[start : start + _IN_CHUNK]
        ).values_list("user_id", "curriculum_id", "external_user_key")
        for user_id, curriculum_id, key in rows:
            held[(user_id, curriculum_id)] = key
    return held


@audit.numbering_batched()  # many small commits: number their events together (ADR 0013)
def link_program_enrollments(
    program_uuid: uuid_module.UUID | str,
    keys_to_usernames: dict[str, str],
    *,
    actor: Actor,
    progress: Any = None,
) -> LinkResult:
    """Link each key's waiting (or otherwise linked) program enrollments to the account
    (rules 1 to 7). Returns the errors by key (empty when every key linked)."""
    plan = _plan(program_uuid, keys_to_usernames)
    program = plan.program
    result = LinkResult(errors=dict(plan.errors))
    if not plan.users:
        return result
    courses = _courses_of(plan)
    pces = _course_enrollments_of(plan)
    pending = _pending_roles_of(pces)
    # Waiting keys whose courses all exist with a masters track and that wait for no staff
    # role (nearly all) are linked a chunk at a time; the others key by key.
    simple: list[str] = []
    careful: list[str] = []
    for lowered in plan.users:
        rows = plan.enrollments[lowered]
        their = [pce for row in rows for pce in pces.get(row.id, [])]
        keys = [pce.course_key for pce in their]
        if (
            all(row.user_id is None for row in rows)
            and all(key in courses and MASTERS in courses[key].modes for key in keys)
            and len(set(keys)) == len(keys)
            and not any(pending.get(pce.id) for pce in their)
        ):
            simple.append(lowered)
        else:
            careful.append(lowered)
    done = 0
    for start in range(0, len(simple), _LINK_CHUNK):
        chunk = simple[start : start + _LINK_CHUNK]
        try:
            with transaction.atomic():
                _link_chunk(program, plan, chunk, courses, pces, actor)
        except Exception:  # key by key instead, so that the one at fault fails alone
            log.warning("linking a chunk of %d keys failed; linking them one by one", len(chunk))
            careful.extend(chunk)
            continue
        result.linked.extend(plan.keys[lowered] for lowered in chunk)
        done += len(chunk)
        if progress is not None:
            progress(done)
    for lowered in careful:
        user = plan.users[lowered]
        key = plan.keys[lowered]
        rows = plan.enrollments[lowered]
        try:
            with transaction.atomic():
                for row in rows:
                    _link_one(program, row, user, courses, pces.get(row.id, []), pending, actor)
        except Exception as exc:  # rule 5: the key fails alone, whatever failed
            result.errors[key] = f"{type(exc).__name__}: {exc}"
            for row in rows:  # what the rolled-back savepoint undid, undone here too
                row.refresh_from_db(fields=["user"])
                for pce in pces.get(row.id, []):
                    pce.refresh_from_db(fields=["course_enrollment"])
        else:
            result.linked.append(key)
        done += 1
        if progress is not None:
            progress(done)
    return result


_LINK_CHUNK = 500


def _link_chunk(
    program: Program,
    plan: _Plan,
    chunk: list[str],
    courses: dict[str, CourseData],
    pces: dict[int, list[ProgramCourseEnrollment]],
    actor: Actor,
) -> None:
    """Link waiting keys together, with the same effect as one by one: lock the users'
    enrollments in the courses (one query), write them (rule 3) in one INSERT and one UPDATE,
    then the links and attachments (two statements) and the audit rows (two INSERTs)."""
    pairs = [
        (plan.users[lowered], courses[pce.course_key])
        for lowered in chunk
        for row in plan.enrollments[lowered]
        for pce in pces.get(row.id, [])
    ]
    locked = enrollments.lock_enrollments_many(pairs)
    writes: list[enrollments.EnrollmentWrite] = []
    source = program_source(program.uuid)
    for lowered in chunk:
        user = plan.users[lowered]
        for row in plan.enrollments[lowered]:
            for pce in pces.get(row.id, []):
                course = courses[pce.course_key]
                existing = locked.get((user.id, course.key))
                mode: str | None = MASTERS
                if existing is not None and existing.mode not in (*UPSELL_MODES, MASTERS):
                    log.warning(
                        "%s keeps the %s mode in %s: linked to program %s without moving to "
                        "masters",
                        user.username,
                        existing.mode,
                        course.key,
                        program.uuid,
                    )
                    mode = None
                writes.append(
                    enrollments.EnrollmentWrite(
                        course,
                        user,
                        existing,
                        mode=mode,
                        is_active=pce.status == CourseStatus.ACTIVE,
                        add_source=source,
                    )
                )
    states = enrollments.write_enrollments_many(writes, actor=actor)
    now = clock.now()
    links: list[tuple[Any, ...]] = []
    attachments: list[tuple[Any, ...]] = []
    events: list[tuple[str, str, dict[str, Any] | None, dict[str, Any] | None]] = []
    for lowered in chunk:
        user = plan.users[lowered]
        for row in plan.enrollments[lowered]:
            links.append((user.id, now, row.id))
            events.append(
                (
                    "program_enrollment.linked",
                    f"program:{program.uuid}:{row.external_user_key}",
                    {"username": None},
                    {"username": user.username},
                )
            )
            for pce in pces.get(row.id, []):
                state = states[(user.id, pce.course_key)]
                attachments.append((state.id, now, pce.id))
    _execute_many(ProgramEnrollment, "user_id = %s, modified = %s", links)
    _execute_many(ProgramCourseEnrollment, "course_enrollment_id = %s, modified = %s", attachments)
    audit.record_many(events, actor=actor)
    for lowered in chunk:  # the plan's rows, as now written
        for row in plan.enrollments[lowered]:
            row.user_id = plan.users[lowered].id
            for pce in pces.get(row.id, []):
                pce.course_enrollment_id = states[(row.user_id, pce.course_key)].id


def _execute_many(model: Any, assignments: str, params: list[tuple[Any, ...]]) -> None:
    """One UPDATE ... WHERE id = %s statement for many rows (executemany)."""
    if not params:
        return
    table = connection.ops.quote_name(model._meta.db_table)
    # The table and the assignments are ours, never input; every value is a parameter.
    sql = f"UPDATE {table} SET {assignments} WHERE id = %s"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)


def _courses_of(plan: _Plan) -> dict[str, CourseData]:
    keys = set(
        ProgramCourse.objects.filter(program_id=plan.program.id).values_list(
            "course_key", flat=True
        )
    )
    return catalog.courses_by_key(keys)


def _course_enrollments_of(plan: _Plan) -> dict[int, list[ProgramCourseEnrollment]]:
    ids = sorted(row.id for lowered in plan.users for row in plan.enrollments[lowered])
    found: dict[int, list[ProgramCourseEnrollment]] = defaultdict(list)
    for start in range(0, len(ids), _IN_CHUNK):
        for pce in ProgramCourseEnrollment.objects.filter(
            program_enrollment_id__in=ids[start : start + _IN_CHUNK]
        ).order_by("id"):
            found[pce.program_enrollment_id].append(pce)
    return found


def _pending_roles_of(pces: dict[int, list[ProgramCourseEnrollment]]) -> dict[int, list[str]]:
    ids = sorted(pce.id for rows in pces.values() for pce in rows)
    pending: dict[int, list[str]] = defaultdict(list)
    for start in range(0, len(ids), _IN_CHUNK):
        for pce_id, role in PendingCourseRole.objects.filter(
            program_course_enrollment_id__in=ids[start : start + _IN_CHUNK]
        ).values_list("program_course_enrollment_id", "role"):
            pending[pce_id].append(role)
    return pending


def _link_one(
    program: Program,
    row: ProgramEnrollment,
    user: UserRef,
    courses: dict[str, CourseData],
    pces: list[ProgramCourseEnrollment],
    pending: dict[int, list[str]],
    actor: Actor,
) -> None:
    subject = f"program:{program.uuid}:{row.external_user_key}"
    if row.user_id is not None and row.user_id != user.id:
        _unlink(program, row, courses, pces, actor)
    previous = row.user.username if row.user_id is not None and row.user else None
    row.user_id = user.id
    row.modified = clock.now()
    row.save(update_fields=["user", "modified"])
    for pce in pces:
        course = courses.get(pce.course_key)
        if course is None:
            raise CourseNotFoundError(f"Course {pce.course_key} does not exist")
        state = _masters(program, course, user, pce.status == CourseStatus.ACTIVE, actor)
        pce.course_enrollment_id = state.id
        pce.modified = row.modified
        pce.save(update_fields=["course_enrollment", "modified"])
        for role in pending.get(pce.id, []):
            roles.grant_role(user.username, role, actor=actor, course_key=pce.course_key)
    if any(pending.get(pce.id) for pce in pces):
        PendingCourseRole.objects.filter(program_course_enrollment__in=pces).delete()
    audit.record(
        "program_enrollment.linked",
        subject,
        actor=actor,
        before={"username": previous},
        after={"username": user.username},
    )


def _unlink(
    program: Program,
    row: ProgramEnrollment,
    courses: dict[str, CourseData],
    pces: list[ProgramCourseEnrollment],
    actor: Actor,
) -> None:
    """Rule 2: the old user's course enrollments through the program are deactivated, moved
    to audit when the course has it (the mode is kept otherwise), and detached."""
    old = people.get_user_ref_by_id(row.user_id) if row.user_id else None
    attached = [pce for pce in pces if pce.course_enrollment_id]
    if old is not None and attached:
        by_key = {
            pce.course_key: courses[pce.course_key] for pce in attached if pce.course_key in courses
        }
        locked = enrollments.lock_enrollments(old, by_key.values())
        for pce in attached:
            course = by_key.get(pce.course_key)
            existing = locked.get(pce.course_key)
            if course is not None and existing is not None:
                enrollments.write_enrollment(
                    course,
                    old,
                    existing,
                    actor=actor,
                    mode=AUDIT if AUDIT in course.modes else None,
                    is_active=False,
                    remove_source=program_source(program.uuid),
                )
            pce.course_enrollment_id = None
            pce.save(update_fields=["course_enrollment"])
    audit.record(
        "program_enrollment.unlinked",
        f"program:{program.uuid}:{row.external_user_key}",
        actor=actor,
        before={"username": old.username if old else None},
    )
    row.user_id = None


def link_by_external_ids(username: str, ids: dict[str, str], *, actor: Actor) -> dict[str, str]:
    """Automatic linking: the waiting enrollments of each org's programs with the user's key
    in that org are linked to the user. Returns errors by "program:key"."""
    errors: dict[str, str] = {}
    for org, key in ids.items():
        if not key:
            continue
        programs = (
            ProgramEnrollment.objects.annotate(key_lower=Lower("external_user_key"))
            .filter(program__org=org, key_lower=key.lower(), user__isnull=True)
            .values_list("program__uuid", flat=True)
            .distinct()
        )
        for program_uuid in sorted(set(programs), key=str):
            result = link_program_enrollments(program_uuid, {key: username}, actor=actor)
            for failed, message in result.errors.items():
                errors[f"{program_uuid}:{failed}"] = message
    return errors


def expire_waiting(*, days: int, actor: Actor, now: dt.datetime | None = None) -> int:
    """Remove waiting (never linked) program enrollments older than `days`, with an audit row
    each. Returns how many."""
    cutoff = (now or clock.now()) - dt.timedelta(days=days)
    removed = 0
    while True:
        with transaction.atomic():
            batch = list(
                ProgramEnrollment.objects.select_for_update()
                .filter(user__isnull=True, created__lt=cutoff)
                .select_related("program")
                .order_by("id")[:_IN_CHUNK]
            )
            if not batch:
                return removed
            blocking = set(
                ProgramCourseEnrollment.objects.filter(
                    program_enrollment__in=batch, course_enrollment__isnull=False
                ).values_list("program_enrollment_id", flat=True)
            )
            batch = [row for row in batch if row.id not in blocking]
            audit.record_many(
                [
                    (
                        "program_enrollment.expired",
                        f"program:{row.program.uuid}:{row.external_user_key}",
                        {"status": row.status, "created": row.created.isoformat()},
                        None,
                    )
                    for row in batch
                ],
                actor=actor,
            )
            ProgramEnrollment.objects.filter(id__in=[row.id for row in batch]).delete()
            removed += len(batch)
            if not batch:
                return removed


# ---------------------------------------------------------------- CSV uploads (jobs)

ENROLL_COLUMNS = ("student_key", "status", "curriculum_uuid")
LINK_COLUMNS = ("external_user_key", "username")
_CHUNK = 1000


def read_csv(stream: Iterable[str], *, name: str, columns: tuple[str, ...]) -> list[dict[str, str]]:
    """The rows of an upload, checked before anything runs: the header names the columns
    (others are ignored), and every row has a value in each. A problem is 422 naming the file
    and the line."""
    reader = csv.DictReader(stream)
    header = [column.strip() for column in reader.fieldnames or []]
    if not set(columns) <= set(header):
        raise Invalid(
            ProgramErrorCode.INVALID_CSV,
            MSG_CSV_COLUMNS.format(file=name, columns=",".join(columns)),
            fields={"file": name, "line": "1"},
        )
    reader.fieldnames = header
    rows: list[dict[str, str]] = []
    for row in reader:
        values = {column: (row.get(column) or "").strip() for column in columns}
        missing = [column for column in columns if not values[column]]
        if missing:
            raise Invalid(
                ProgramErrorCode.INVALID_CSV,
                MSG_CSV_ROW.format(file=name, line=reader.line_num, problem=f"no {missing[0]}"),
                fields={"file": name, "line": str(reader.line_num)},
            )
        rows.append(values)
    return rows


def start_enroll_upload(
    program_uuid: uuid_module.UUID | str,
    rows: list[dict[str, str]],
    *,
    actor: Actor,
    dispatch: bool = True,
) -> JobData:
    """Create or update program enrollments from CSV rows (student_key, status,
    curriculum_uuid) as a job; each row's outcome is in the job's counts and errors.
    `dispatch=False` leaves the job queued for the caller to run (the CLI, in the foreground)."""
    program = _program_row(program_uuid)
    for line, row in enumerate(rows, start=2):
        try:
            uuid_module.UUID(row["curriculum_uuid"])
        except ValueError:
            raise Invalid(
                ProgramErrorCode.INVALID_CSV,
                MSG_CSV_ROW.format(
                    file="upload", line=line, problem="curriculum_uuid is not a uuid"
                ),
                fields={"line": str(line)},
            ) from None
    return jobs.start_job(
        ENROLL_JOB_KIND,
        {"program_uuid": str(program.uuid), "rows": rows},
        actor=actor,
        dispatch=dispatch,
    )


def start_link_upload(
    program_uuid: uuid_module.UUID | str,
    rows: list[dict[str, str]],
    *,
    actor: Actor,
    dispatch: bool = True,
) -> JobData:
    """Link keys to accounts from CSV rows (external_user_key, username) as a job."""
    program = _program_row(program_uuid)
    return jobs.start_job(
        LINK_JOB_KIND,
        {"program_uuid": str(program.uuid), "rows": rows},
        actor=actor,
        dispatch=dispatch,
    )


def run_enroll_job(context: jobs.JobContext) -> dict[str, Any]:
    program_uuid = context.params["program_uuid"]
    rows: list[dict[str, str]] = context.params["rows"]
    for start in range(0, len(rows), _CHUNK):
        chunk = rows[start : start + _CHUNK]
        records = [
            EnrollmentRequest(
                row["student_key"], row["status"], uuid_module.UUID(row["curriculum_uuid"])
            )
            for row in chunk
        ]
        results = write_program_enrollments(
            program_uuid, records, create=True, update=True, actor=context.actor
        )
        for key, outcome in results.items():
            if outcome in RecordError.__members__.values():
                context.error(key, outcome, f"{key}: {outcome}")
            else:
                context.count(outcome)
        done = min(start + _CHUNK, len(rows))
        context.progress(done, len(rows))
        context.notify("rows", done=done, total=len(rows))
    return {"program_uuid": program_uuid, "rows": len(rows)}


def run_link_job(context: jobs.JobContext) -> dict[str, Any]:
    program_uuid = context.params["program_uuid"]
    rows: list[dict[str, str]] = context.params["rows"]
    for start in range(0, len(rows), _CHUNK):
        chunk = {row["external_user_key"]: row["username"] for row in rows[start : start + _CHUNK]}
        result = link_program_enrollments(program_uuid, chunk, actor=context.actor)
        context.count("linked", len(result.linked))
        for key, message in result.errors.items():
            context.error(key, "not_linked", message)
        done = min(start + _CHUNK, len(rows))
        context.progress(done, len(rows))
        context.notify("rows", done=done, total=len(rows))
    return {"program_uuid": program_uuid, "rows": len(rows)}
