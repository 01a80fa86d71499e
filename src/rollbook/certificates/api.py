"""Certificates: grades in, the allowlist, invalidations, eligibility, the status machine,
batch generation and verification (docs/decisions/0010).

Only `downloadable` counts as certified, everywhere. Eligibility, in this order: a restricted
profile gives `restricted`; no active enrollment, or a mode that earns no certificate
(audit), gives nothing and writes nothing; an active invalidation refuses; allowlisted or
passing generates; otherwise `notpassing` is written for a learner who has a certificate or
was asked for by name.

A downloadable certificate also has a signed Open Badges 3.0 credential, a bit in the
revocation list and a PDF (credentials.py, docs/decisions/0012); their functions are here.
"""

from __future__ import annotations

import datetime as dt
import uuid as uuid_module
from collections import Counter
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from rollbook.audit import api as audit
from rollbook.audit.data import Actor
from rollbook.catalog import api as catalog
from rollbook.catalog.data import CourseData
from rollbook.certificates import pdf
from rollbook.certificates.credentials import (
    certificate_title,
    issue_credential,
    status_list_credential,
    status_list_id,
    verify_credential,
    verify_url,
)
from rollbook.certificates.data import CheckFailure, CheckState, CredentialCheck, IssuedCredential
from rollbook.certificates.errors import (
    MSG_ILLEGAL_TRANSITION,
    MSG_INVALID_GRADE,
    MSG_INVALIDATED,
    MSG_NO_CERTIFICATE,
    MSG_NOT_ALLOWLISTED,
    MSG_NOT_INVALIDATED,
    CertificateErrorCode,
)
from rollbook.certificates.jobs import GENERATE_JOB_KIND
from rollbook.certificates.models import (
    AllowlistEntry,
    Certificate,
    CertificateStatus,
    CourseGrade,
    GenerationRun,
    Invalidation,
)
from rollbook.enrollments import api as enrollments
from rollbook.jobs import api as jobs
from rollbook.jobs.data import JobData
from rollbook.lib import clock
from rollbook.lib.errors import CommonErrorCode, Conflict, Invalid, NotFound
from rollbook.lib.pagination import Page, PageRequest, paginate
from rollbook.people import api as people
from rollbook.people.data import UserRef

MSG_NO_USERNAMES = "usernames is empty: leave it out to generate for every enrolled learner."

__all__ = [
    "CertificateRow",
    "CertificateStatus",
    "CheckFailure",
    "CheckState",
    "CredentialCheck",
    "GenerationRunData",
    "GradeData",
    "GradeRecord",
    "IssuedCredential",
    "Verification",
    "add_to_allowlist",
    "certificate_pdf",
    "certificate_status",
    "certificate_title",
    "delete_certificate",
    "generate_certificate",
    "get_grade",
    "invalidate",
    "issue_credential",
    "lift_invalidation",
    "list_certificates",
    "list_generation_runs",
    "override_issue_date",
    "put_grades",
    "remove_from_allowlist",
    "run_generation",
    "set_status",
    "start_generation",
    "status_list_credential",
    "status_list_id",
    "transition_allowed",
    "verification",
    "verify_credential",
    "verify_url",
]

S = CertificateStatus
IN_PROGRESS = frozenset({S.GENERATING, S.REGENERATING, S.DELETING})
OUTCOMES = frozenset({S.NOTPASSING, S.RESTRICTED, S.UNAVAILABLE})
_ALLOWED: dict[str, frozenset[str]] = {
    S.GENERATING: frozenset({S.DELETED, S.ERROR, S.UNAVAILABLE, S.NOTPASSING, S.RESTRICTED}),
    S.REGENERATING: frozenset({S.ERROR, S.DOWNLOADABLE}),
    S.DELETING: frozenset({S.ERROR, S.DOWNLOADABLE}),
    S.DOWNLOADABLE: frozenset({S.GENERATING, S.REGENERATING}),
    S.DELETED: frozenset({S.DELETING}),
    S.ERROR: IN_PROGRESS,
}
NO_CERTIFICATE_MODES = frozenset({"audit"})
BATCH = 1000


def transition_allowed(before: str | None, after: str) -> bool:
    """The status machine. No record counts as `unavailable`."""
    before = before or S.UNAVAILABLE
    if after in OUTCOMES:
        return before not in IN_PROGRESS
    return before in _ALLOWED.get(after, frozenset())


def _check(before: str | None, after: str) -> None:
    if not transition_allowed(before, after):
        raise Conflict(
            CertificateErrorCode.ILLEGAL_TRANSITION,
            MSG_ILLEGAL_TRANSITION.format(before=before or S.UNAVAILABLE, after=after),
            fields={"from": before or S.UNAVAILABLE, "to": after},
        )


def _snapshot(cert: Certificate) -> dict[str, Any]:
    return {
        "status": cert.status,
        "mode": cert.mode,
        "grade": cert.grade,
        "issued_at": cert.issued_at.isoformat() if cert.issued_at else None,
    }


def _subject(course_key: str, username: str) -> str:
    return f"certificate:{course_key}:{username}"


# ---------------------------------------------------------------- grades


@dataclass(frozen=True, slots=True)
class GradeRecord:
    username: str
    percent: float
    letter_grade: str = ""
    passed: bool | None = None


def put_grades(course_key: str, grades: list[GradeRecord], *, actor: Actor) -> dict[str, str]:
    """Record grades; `passed` follows the course's passing cutoff when not given. Returns
    "ok" or an error code per username (an unknown user fails alone)."""
    course = catalog.get_course(course_key)
    for grade in grades:
        if not 0.0 <= grade.percent <= 1.0:
            raise Invalid(
                CertificateErrorCode.INVALID_GRADE,
                MSG_INVALID_GRADE.format(percent=grade.percent),
                fields={"username": grade.username},
            )
    refs = people.user_refs(g.username for g in grades)
    results: dict[str, str] = {}
    now = clock.now()
    known = [g for g in grades if g.username.lower() in refs]
    for g in grades:
        if g.username.lower() not in refs:
            results[g.username] = "user_not_found"
    with transaction.atomic():
        existing = {
            row.user_id: row
            for row in CourseGrade.objects.select_for_update().filter(
                course_key=course_key, user_id__in=[refs[g.username.lower()].id for g in known]
            )
        }
        creates, updates = [], []
        for g in known:
            user = refs[g.username.lower()]
            passed = g.passed if g.passed is not None else g.percent >= course.passing_grade
            row = existing.get(user.id)
            if row is None:
                row = CourseGrade(course_key=course_key, user_id=user.id)
                creates.append(row)
            else:
                updates.append(row)
            row.percent, row.letter_grade, row.passed, row.modified = (
                g.percent,
                g.letter_grade,
                passed,
                now,
            )
            existing[user.id] = row
            results[g.username] = "ok"
        CourseGrade.objects.bulk_create(creates, batch_size=500)
        CourseGrade.objects.bulk_update(
            updates, ["percent", "letter_grade", "passed", "modified"], batch_size=500
        )
        audit.record_many(
            [
                (
                    "grade.recorded",
                    f"grade:{course_key}:{g.username}",
                    None,
                    {"percent": g.percent, "letter_grade": g.letter_grade},
                )
                for g in known
            ],
            actor=actor,
        )
    return results


@dataclass(frozen=True, slots=True)
class GradeData:
    username: str
    course_key: str
    percent: float
    letter_grade: str
    passed: bool
    modified: dt.datetime


def get_grade(course_key: str, username: str) -> GradeData | None:
    """The learner's recorded grade in the course (None when none was recorded)."""
    user = people.get_user_ref(username)
    row = CourseGrade.objects.filter(course_key=course_key, user_id=user.id).first()
    if row is None:
        return None
    return GradeData(
        user.username, course_key, row.percent, row.letter_grade, row.passed, row.modified
    )


# ---------------------------------------------------------------- allowlist, invalidation


def add_to_allowlist(course_key: str, username: str, *, notes: str, actor: Actor) -> bool:
    catalog.get_course(course_key)
    user = people.get_user_ref(username)
    with transaction.atomic():
        row, created = AllowlistEntry.objects.get_or_create(
            course_key=course_key,
            user_id=user.id,
            defaults={"notes": notes, "created": clock.now(), "created_by": _who(actor)},
        )
        if not created and row.notes != notes:
            row.notes = notes
            row.save(update_fields=["notes"])
        audit.record(
            "certificate.allowlisted",
            _subject(course_key, user.username),
            actor=actor,
            after={"notes": notes},
        )
    return created


def remove_from_allowlist(course_key: str, username: str, *, actor: Actor) -> None:
    user = people.get_user_ref(username)
    with transaction.atomic():
        deleted, _ = AllowlistEntry.objects.filter(course_key=course_key, user_id=user.id).delete()
        if not deleted:
            raise NotFound(
                CertificateErrorCode.NOT_ALLOWLISTED,
                MSG_NOT_ALLOWLISTED.format(username=user.username, course_key=course_key),
            )
        audit.record(
            "certificate.allowlist_removed", _subject(course_key, user.username), actor=actor
        )


def invalidate(course_key: str, username: str, *, notes: str, actor: Actor) -> None:
    """The certificate becomes `unavailable` (its verify link dies) and generation is refused
    while the invalidation is active, allowlist or not."""
    catalog.get_course(course_key)
    user = people.get_user_ref(username)
    with transaction.atomic():
        cert = (
            Certificate.objects.select_for_update()
            .filter(course_key=course_key, user_id=user.id)
            .first()
        )
        if cert is not None and cert.status != S.UNAVAILABLE:
            _set(cert, S.UNAVAILABLE, actor, user.username)
        if not Invalidation.objects.filter(
            course_key=course_key, user_id=user.id, active=True
        ).exists():
            Invalidation.objects.create(
                course_key=course_key,
                user_id=user.id,
                notes=notes,
                created=clock.now(),
                created_by=_who(actor),
            )
        audit.record(
            "certificate.invalidated",
            _subject(course_key, user.username),
            actor=actor,
            after={"notes": notes},
        )


def lift_invalidation(course_key: str, username: str, *, actor: Actor) -> None:
    user = people.get_user_ref(username)
    with transaction.atomic():
        lifted = Invalidation.objects.filter(
            course_key=course_key, user_id=user.id, active=True
        ).update(active=False, lifted_at=clock.now(), lifted_by=_who(actor))
        if not lifted:
            raise NotFound(
                CertificateErrorCode.NOT_INVALIDATED,
                MSG_NOT_INVALIDATED.format(username=user.username, course_key=course_key),
            )
        audit.record(
            "certificate.invalidation_lifted", _subject(course_key, user.username), actor=actor
        )


def _who(actor: Actor) -> str:
    return actor.username or actor.source


# ---------------------------------------------------------------- single transitions


def _set(cert: Certificate, status: str, actor: Actor, username: str, *, reason: str = "") -> None:
    _check(cert.status, status)
    before = _snapshot(cert)
    cert.status = status
    cert.error_reason = reason if status == S.ERROR else ""
    cert.modified = clock.now()
    cert.save(update_fields=["status", "error_reason", "modified"])
    audit.record(
        "certificate.status",
        _subject(cert.course_key, username),
        actor=actor,
        before=before,
        after=_snapshot(cert),
    )


def _locked_certificate(course_key: str, user: UserRef) -> Certificate:
    """The user's certificate in the course, locked until the transaction ends; 404 if none."""
    cert = (
        Certificate.objects.select_for_update()
        .filter(course_key=course_key, user_id=user.id)
        .first()
    )
    if cert is None:
        raise NotFound(
            CertificateErrorCode.NO_CERTIFICATE,
            MSG_NO_CERTIFICATE.format(username=user.username, course_key=course_key),
        )
    return cert


def set_status(
    course_key: str, username: str, status: str, *, actor: Actor, error_reason: str = ""
) -> None:
    """One transition of the status machine (409 when not allowed; nothing written)."""
    user = people.get_user_ref(username)
    with transaction.atomic():
        cert = _locked_certificate(course_key, user)
        _set(cert, status, actor, user.username, reason=error_reason)


def delete_certificate(course_key: str, username: str, *, actor: Actor) -> None:
    """`deleting` then `deleted` (from `downloadable` or `error`)."""
    set_status(course_key, username, S.DELETING, actor=actor)
    set_status(course_key, username, S.DELETED, actor=actor)


def override_issue_date(
    course_key: str, username: str, issued_at: dt.datetime, *, reason: str, actor: Actor
) -> None:
    user = people.get_user_ref(username)
    with transaction.atomic():
        cert = _locked_certificate(course_key, user)
        before = _snapshot(cert)
        cert.issued_at, cert.issued_at_reason = issued_at, reason
        cert.save(update_fields=["issued_at", "issued_at_reason"])
        audit.record(
            "certificate.issue_date_overridden",
            _subject(course_key, user.username),
            actor=actor,
            before=before,
            after={**_snapshot(cert), "reason": reason},
        )


# ---------------------------------------------------------------- eligibility and generation


@dataclass
class _Batch:
    """Everything eligibility needs for a batch of learners, read in a fixed number of
    queries."""

    modes: dict[int, tuple[str, bool]]
    profiles: dict[int, people.CertificateProfile]
    grades: dict[int, CourseGrade]
    allowlisted: set[int]
    invalidated: set[int]
    certs: dict[int, Certificate]


def _load(course: CourseData, user_ids: list[int], *, lock: bool) -> _Batch:
    modes = {
        uid: (mode, active)
        for uid, mode, active in enrollments.enrollment_modes(course.key, user_ids=user_ids)
    }
    certs_rows = Certificate.objects.filter(course_key=course.key, user_id__in=user_ids)
    if lock:
        certs_rows = certs_rows.select_for_update().order_by("id")
    return _Batch(
        modes=modes,
        profiles=people.certificate_profiles(user_ids),
        grades={
            g.user_id: g
            for g in CourseGrade.objects.filter(course_key=course.key, user_id__in=user_ids)
        },
        allowlisted=set(
            AllowlistEntry.objects.filter(course_key=course.key, user_id__in=user_ids).values_list(
                "user_id", flat=True
            )
        ),
        invalidated=set(
            Invalidation.objects.filter(
                course_key=course.key, user_id__in=user_ids, active=True
            ).values_list("user_id", flat=True)
        ),
        certs={c.user_id: c for c in certs_rows},
    )


def _grade_text(grade: CourseGrade | None) -> str:
    return f"{grade.percent:.4g}" if grade is not None else ""


def _decide(
    uid: int, batch: _Batch, *, by_name: bool, regenerate: frozenset[str]
) -> tuple[str, str | None]:
    """(outcome, the status to write or None)."""
    cert = batch.certs.get(uid)
    current = cert.status if cert else None
    profile = batch.profiles.get(uid)
    enrolled = batch.modes.get(uid)
    certifiable = enrolled is not None and enrolled[1] and enrolled[0] not in NO_CERTIFICATE_MODES
    if profile is not None and not profile.allow_certificate:
        if (cert is not None or certifiable) and current != S.RESTRICTED:
            return "restricted", S.RESTRICTED if transition_allowed(current, S.RESTRICTED) else None
        return "restricted", None
    if not certifiable:
        return ("audit" if enrolled and enrolled[1] else "not_enrolled"), None
    if uid in batch.invalidated:
        return "invalidated", None
    grade = batch.grades.get(uid)
    if uid in batch.allowlisted or (grade is not None and grade.passed):
        if current == S.DOWNLOADABLE and S.DOWNLOADABLE not in regenerate:
            return "already_downloadable", None
        if current in IN_PROGRESS and current != S.DELETING:
            return "generated", S.DOWNLOADABLE  # an interrupted run, completed
        if current in (S.DOWNLOADABLE, S.ERROR) and (current in regenerate):
            return "regenerated", S.DOWNLOADABLE
        if transition_allowed(current, S.GENERATING):
            return "generated", S.DOWNLOADABLE
        return f"kept_{current}", None
    wanted = (cert is not None or by_name) and current != S.NOTPASSING
    if wanted and transition_allowed(current, S.NOTPASSING):
        return "notpassing", S.NOTPASSING
    return "notpassing", None


def _generate_batch(
    course: CourseData,
    user_ids: list[int],
    *,
    by_name: bool,
    regenerate: frozenset[str],
    actor: Actor,
) -> Counter[str]:
    """One batch in one transaction: reads (a fixed number of queries), then one INSERT of
    new certificates, one UPDATE of changed ones and one audit INSERT."""
    counts: Counter[str] = Counter()
    now = clock.now()
    with transaction.atomic():
        batch = _load(course, user_ids, lock=True)
        creates: list[Certificate] = []
        updates: list[Certificate] = []
        events: list[tuple[str, str, Any, Any]] = []
        for uid in user_ids:
            outcome, status = _decide(uid, batch, by_name=by_name, regenerate=regenerate)
            counts[outcome] += 1
            if status is None:
                continue
            profile = batch.profiles.get(uid)
            username = profile.username if profile else str(uid)
            cert = batch.certs.get(uid)
            before = _snapshot(cert) if cert else None
            if cert is None:
                cert = Certificate(
                    user_id=uid,
                    course_key=course.key,
                    verify_uuid=uuid_module.uuid4().hex,
                    download_uuid=uuid_module.uuid4().hex,
                    created=now,
                )
                creates.append(cert)
            else:
                updates.append(cert)
            mode = batch.modes[uid][0] if uid in batch.modes else cert.mode
            cert.status, cert.error_reason, cert.modified = status, "", now
            cert.mode = mode or cert.mode or "honor"
            cert.grade = _grade_text(batch.grades.get(uid))
            if status == S.DOWNLOADABLE:
                cert.name = (profile.name if profile else "") or username
                if cert.issued_at is None:
                    cert.issued_at = now  # set once: later saves never move it
            events.append(
                ("certificate.status", _subject(course.key, username), before, _snapshot(cert))
            )
        Certificate.objects.bulk_create(creates, batch_size=BATCH)
        Certificate.objects.bulk_update(
            updates,
            ["status", "error_reason", "modified", "mode", "grade", "name", "issued_at"],
            batch_size=BATCH,
        )
        audit.record_many(events, actor=actor)
    return counts


def generate_certificate(course_key: str, username: str, *, actor: Actor) -> str:
    """Eligibility and generation for one learner (asked for by name); returns the outcome."""
    course = catalog.get_course(course_key)
    user = people.get_user_ref(username)
    with transaction.atomic():
        if Invalidation.objects.filter(
            course_key=course_key, user_id=user.id, active=True
        ).exists():
            raise Conflict(
                CertificateErrorCode.INVALIDATED,
                MSG_INVALIDATED.format(username=user.username, course_key=course_key),
            )
        counts = _generate_batch(
            course, [user.id], by_name=True, regenerate=frozenset(), actor=actor
        )
    return next(iter(counts))


def start_generation(
    course_key: str,
    *,
    usernames: list[str] | None,
    statuses_to_regenerate: list[str] | None,
    actor: Actor,
    dispatch: bool = True,
) -> JobData:
    """Batch generation as a job (counts per outcome; refused learners are outcomes). Each
    run is kept in the history."""
    course = catalog.get_course(course_key)
    if usernames is not None and not usernames:
        # None means every enrolled learner; an empty list names nobody and is a mistake.
        raise Invalid(CommonErrorCode.INVALID, MSG_NO_USERNAMES, fields={"usernames": "empty"})
    regenerate = sorted(set(statuses_to_regenerate or []))
    for status in regenerate:
        if status not in (S.DOWNLOADABLE, S.ERROR):
            raise Invalid(
                CertificateErrorCode.ILLEGAL_TRANSITION,
                f"Only downloadable and error certificates are regenerated, not {status}.",
                fields={"statuses_to_regenerate": status},
            )
    # One transaction: the job is dispatched on commit, so its run finds the history row.
    with transaction.atomic():
        job = jobs.start_job(
            GENERATE_JOB_KIND,
            {"course_key": course.key, "usernames": usernames, "regenerate": regenerate},
            actor=actor,
            dispatch=dispatch,
        )
        GenerationRun.objects.create(
            job_uuid=job.uuid,
            course_key=course.key,
            requested_by=_who(actor),
            usernames=usernames or [],
            statuses_to_regenerate=regenerate,
            created=clock.now(),
        )
    return job


def run_generation(context: jobs.JobContext) -> dict[str, Any]:
    params = context.params
    course = catalog.get_course(params["course_key"])
    regenerate = frozenset(params.get("regenerate") or [])
    totals: Counter[str] = Counter()
    usernames: list[str] | None = params.get("usernames")
    if usernames is not None:
        refs = people.user_refs(usernames)
        for name in usernames:
            if name.lower() not in refs:
                totals["unknown_user"] += 1
                context.error(name, "user_not_found", f"No user '{name}'.")
        ids = sorted({ref.id for ref in refs.values()})
        for start in range(0, len(ids), BATCH):
            totals += _generate_batch(
                course,
                ids[start : start + BATCH],
                by_name=True,
                regenerate=regenerate,
                actor=context.actor,
            )
            context.progress(min(start + BATCH, len(ids)), len(ids))
            context.notify("batch", done=sum(totals.values()))
    else:
        after = 0
        while True:
            rows = enrollments.enrollment_modes(course.key, after_user_id=after, limit=BATCH)
            if not rows:
                break
            ids = [uid for uid, _mode, _active in rows]
            totals += _generate_batch(
                course, ids, by_name=False, regenerate=regenerate, actor=context.actor
            )
            after = ids[-1]
            context.count("learners", len(ids))
            context.notify("batch", done=sum(totals.values()))
    for outcome, count in totals.items():
        context.count(outcome, count)
    GenerationRun.objects.filter(job_uuid=context.job_uuid).update(
        counts=dict(totals), finished=clock.now()
    )
    return {"course_key": course.key, "counts": dict(totals)}


# ---------------------------------------------------------------- reading


def certificate_status(course_key: str, username: str) -> dict[str, Any]:
    """{status, mode} (+ grade when graded, download_url only when downloadable); with no
    record, {"status": "unavailable", "mode": "honor"}."""
    # One query when the certificate exists (the usual look-up); the course and the user are
    # looked up only to tell "unavailable" from their 404s.
    found = list(
        Certificate.objects.filter(
            course_key=course_key, user__username__lower=username.lower()
        ).values_list("status", "mode", "grade", "verify_uuid")[:1]
    )
    if not found:
        catalog.get_course(course_key)
        people.get_user_ref(username)
        return {"status": S.UNAVAILABLE.value, "mode": "honor"}
    status, mode, grade, verify_uuid = found[0]
    body: dict[str, Any] = {"status": status, "mode": mode}
    if grade:
        body["grade"] = grade
    if status == S.DOWNLOADABLE:
        body["download_url"] = f"/certificates/{verify_uuid}"
    return body


@dataclass(frozen=True, slots=True)
class CertificateRow:
    username: str
    status: str
    mode: str
    grade: str
    verify_uuid: str | None
    issued_at: dt.datetime | None


def list_certificates(
    course_key: str, *, page: PageRequest, status: str | None = None
) -> Page[CertificateRow]:
    catalog.get_course(course_key)
    rows = Certificate.objects.filter(course_key=course_key).select_related("user").order_by("id")
    if status:
        rows = rows.filter(status=status)
    return paginate(rows, page, _row)


def _row(c: Certificate) -> CertificateRow:
    return CertificateRow(
        c.user.username,
        c.status,
        c.mode,
        c.grade,
        c.verify_uuid if c.status == S.DOWNLOADABLE else None,
        c.issued_at,
    )


@dataclass(frozen=True, slots=True)
class GenerationRunData:
    job_id: uuid_module.UUID
    course_key: str
    requested_by: str
    usernames: list[str]  # empty: every enrolled learner
    statuses_to_regenerate: list[str]
    counts: dict[str, int]  # per outcome, once finished
    created: dt.datetime
    finished: dt.datetime | None


def list_generation_runs(course_key: str, *, page: PageRequest) -> Page[GenerationRunData]:
    """The course's batch generations, newest first."""
    catalog.get_course(course_key)
    rows = GenerationRun.objects.filter(course_key=course_key).order_by("-id")
    return paginate(rows, page, _run)


def _run(r: GenerationRun) -> GenerationRunData:
    return GenerationRunData(
        r.job_uuid,
        r.course_key,
        r.requested_by,
        list(r.usernames),
        list(r.statuses_to_regenerate),
        dict(r.counts),
        r.created,
        r.finished,
    )


@dataclass(frozen=True, slots=True)
class Verification:
    """What the public verify page shows: `valid` only for a downloadable certificate."""

    state: str  # valid | invalidated | deleted | unknown
    name: str = ""
    course_title: str = ""
    org: str = ""
    course_key: str = ""
    issued_at: dt.datetime | None = None
    mode: str = ""


def verification(verify_uuid: str) -> Verification:
    try:
        key = uuid_module.UUID(hex=verify_uuid).hex
    except ValueError:
        return Verification("unknown")
    if key != verify_uuid.lower() or len(verify_uuid) != 32:
        return Verification("unknown")
    cert = Certificate.objects.filter(verify_uuid=key).first()
    if cert is None:
        return Verification("unknown")
    if cert.status != S.DOWNLOADABLE:
        state = "deleted" if cert.status in (S.DELETED, S.DELETING) else "invalidated"
        return Verification(state, course_key=cert.course_key)
    course = catalog.courses_by_key([cert.course_key]).get(cert.course_key)
    return Verification(
        "valid",
        name=cert.name,
        course_title=course.title if course else cert.course_key,
        org=course.org if course else "",
        course_key=cert.course_key,
        issued_at=cert.issued_at,
        mode=cert.mode,
    )


def certificate_pdf(verify_uuid: str) -> bytes | None:
    """The printable certificate (one A4 page, a QR code to its verify page); None unless the
    certificate is valid. The issue date is the day in TIME_ZONE, as the verify page shows."""
    found = verification(verify_uuid)
    if found.state != "valid" or found.issued_at is None:
        return None
    return pdf.certificate_pdf(
        learner_name=found.name,
        course_title=found.course_title,
        org=found.org,
        issued=timezone.localtime(found.issued_at).date(),
        verify_url=verify_url(verify_uuid.lower()),
        certificate_id=verify_uuid.lower(),
    )
