"""Certificates: eligibility in its order, the status machine, batch generation, issue dates,
verification outcomes."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from rollbook.audit.data import Actor
from rollbook.certificates import api as certs
from rollbook.certificates.models import Certificate, GenerationRun
from rollbook.jobs import api as jobs
from rollbook.lib.errors import RollbookError
from rollbook.people import api as people
from tests.factories import Make

pytestmark = pytest.mark.django_db
ACTOR = Actor.system("test")
COURSE = "course-v1:UniX+Hist1+2026"


@pytest.fixture
def course() -> None:
    Make.course(
        COURSE, modes=["audit", "verified", "honor"], default_mode="audit", passing_grade=0.6
    )


def learner(
    name: str, *, mode: str = "verified", percent: float | None = None, **fields: Any
) -> None:
    Make.user(name, name=f"{name.title()} Lee", **fields)
    Make.enrollment(COURSE, name, mode=mode)
    if percent is not None:
        certs.put_grades(COURSE, [certs.GradeRecord(name, percent)], actor=ACTOR)


def status(name: str) -> str:
    return str(certs.certificate_status(COURSE, name)["status"])


def generate(name: str) -> str:
    return certs.generate_certificate(COURSE, name, actor=ACTOR)


def test_passing_by_the_course_cutoff_generates(course: None) -> None:
    learner("ann", percent=0.61)
    learner("bob", percent=0.59)
    assert generate("ann") == "generated"
    assert generate("bob") == "notpassing"
    verify = Certificate.objects.get(user__username="ann").verify_uuid
    assert certs.certificate_status(COURSE, "ann") == {
        "status": "downloadable",
        "mode": "verified",
        "grade": "0.61",
        "download_url": f"/certificates/{verify}",
    }
    assert certs.certificate_status(COURSE, "bob") == {
        "status": "notpassing",
        "mode": "verified",
        "grade": "0.59",
    }
    Make.user("cy")
    assert certs.certificate_status(COURSE, "cy") == {"status": "unavailable", "mode": "honor"}


def test_an_explicit_passed_flag_wins_over_the_cutoff(course: None) -> None:
    learner("ann")
    certs.put_grades(COURSE, [certs.GradeRecord("ann", 0.2, "F", passed=True)], actor=ACTOR)
    assert generate("ann") == "generated"


def test_allowlisted_but_failing_gets_downloadable(course: None) -> None:
    learner("ann", percent=0.1)
    certs.add_to_allowlist(COURSE, "ann", notes="medical leave", actor=ACTOR)
    assert generate("ann") == "generated"
    assert status("ann") == "downloadable"


def test_allowlisted_but_restricted_gets_restricted(course: None) -> None:
    learner("ann", percent=0.9, allow_certificate=False)
    certs.add_to_allowlist(COURSE, "ann", notes="", actor=ACTOR)
    assert generate("ann") == "restricted"
    assert status("ann") == "restricted"


def test_allowlisted_but_audit_only_gets_nothing(course: None) -> None:
    learner("ann", mode="audit", percent=0.9)
    certs.add_to_allowlist(COURSE, "ann", notes="", actor=ACTOR)
    assert generate("ann") == "audit"
    assert not Certificate.objects.exists()  # nothing written


def test_invalidated_then_allowlisted_stays_refused_until_lifted(course: None) -> None:
    learner("ann", percent=0.9)
    generate("ann")
    verify = Certificate.objects.get().verify_uuid
    certs.invalidate(COURSE, "ann", notes="plagiarism", actor=ACTOR)
    assert status("ann") == "unavailable"
    assert certs.verification(verify).state == "invalidated"
    certs.add_to_allowlist(COURSE, "ann", notes="", actor=ACTOR)
    with pytest.raises(RollbookError) as refused:
        generate("ann")
    assert refused.value.code == "certificate_invalidated"
    assert status("ann") == "unavailable"
    certs.lift_invalidation(COURSE, "ann", actor=ACTOR)
    assert generate("ann") == "generated"
    assert certs.verification(verify).state == "valid"


def test_notpassing_then_passing_becomes_downloadable(course: None) -> None:
    learner("ann", percent=0.3)
    assert generate("ann") == "notpassing"
    certs.put_grades(COURSE, [certs.GradeRecord("ann", 0.8)], actor=ACTOR)
    assert generate("ann") == "generated"
    assert status("ann") == "downloadable"


@pytest.mark.parametrize(
    ("before", "after", "allowed"),
    [
        (None, "generating", True),
        ("deleted", "generating", True),
        ("restricted", "generating", True),
        ("downloadable", "generating", False),
        ("error", "regenerating", True),
        ("notpassing", "regenerating", False),
        ("downloadable", "deleting", True),
        ("notpassing", "deleting", False),
        ("deleting", "deleted", True),
        ("downloadable", "deleted", False),
        ("generating", "downloadable", True),
        ("notpassing", "downloadable", False),
        ("regenerating", "error", True),
        ("downloadable", "error", False),
        ("downloadable", "notpassing", True),
        ("generating", "notpassing", False),
        ("deleting", "unavailable", False),
        ("error", "restricted", True),
    ],
)
def test_the_status_machine(before: str | None, after: str, allowed: bool) -> None:
    assert certs.transition_allowed(before, after) is allowed


def test_an_illegal_transition_is_refused_and_writes_nothing(course: None) -> None:
    learner("ann", percent=0.3)
    generate("ann")
    row = Certificate.objects.get()
    with pytest.raises(RollbookError) as refused:
        certs.set_status(COURSE, "ann", "deleted", actor=ACTOR)
    assert refused.value.status == 409
    again = Certificate.objects.get()
    assert (again.status, again.modified) == ("notpassing", row.modified)


def test_issued_at_does_not_move_when_the_row_is_saved_again(course: None) -> None:
    learner("ann", percent=0.9)
    generate("ann")
    first = Certificate.objects.get().issued_at
    assert first is not None
    job = certs.start_generation(
        COURSE, usernames=None, statuses_to_regenerate=["downloadable"], actor=ACTOR, dispatch=False
    )
    jobs.run_job(job.uuid)
    row = Certificate.objects.get()
    assert row.issued_at == first
    assert row.modified > first
    certs.override_issue_date(
        COURSE, "ann", dt.datetime(2026, 1, 2, tzinfo=dt.UTC), reason="ceremony date", actor=ACTOR
    )
    assert Certificate.objects.get().issued_at == dt.datetime(2026, 1, 2, tzinfo=dt.UTC)


def test_batch_generation_counts_outcomes_keeps_history_and_a_rerun_creates_nothing(
    course: None,
) -> None:
    learner("ann", percent=0.9)
    learner("bob", percent=0.1)
    learner("cy", mode="audit", percent=0.9)
    learner("dee", percent=0.9, allow_certificate=False)
    Make.user("eve")  # not enrolled: no row, ever
    job = certs.start_generation(
        COURSE, usernames=None, statuses_to_regenerate=None, actor=ACTOR, dispatch=False
    )
    done = jobs.run_job(job.uuid)
    assert done.state == "succeeded"
    assert done.counts["generated"] == 1
    assert done.counts["audit"] == 1
    assert done.counts["restricted"] == 1
    rows = dict(Certificate.objects.values_list("user__username", "status"))
    assert rows == {"ann": "downloadable", "dee": "restricted"}  # bob failing, not asked by name
    run = GenerationRun.objects.get(job_uuid=job.uuid)
    assert run.counts["generated"] == 1
    assert run.finished is not None
    second = certs.start_generation(
        COURSE, usernames=None, statuses_to_regenerate=None, actor=ACTOR, dispatch=False
    )
    again = jobs.run_job(second.uuid)
    assert again.counts["already_downloadable"] == 1
    assert Certificate.objects.count() == 2
    assert GenerationRun.objects.count() == 2


def test_named_learners_get_notpassing_and_unknown_names_are_errors(course: None) -> None:
    learner("bob", percent=0.1)
    job = certs.start_generation(
        COURSE, usernames=["bob", "ghost"], statuses_to_regenerate=None, actor=ACTOR, dispatch=False
    )
    done = jobs.run_job(job.uuid)
    assert done.state == "succeeded"
    assert status("bob") == "notpassing"
    assert done.errors[0]["record"] == "ghost"


@pytest.mark.parametrize("learners", [10, 40])
def test_a_batch_costs_a_constant_number_of_queries(course: None, learners: int) -> None:
    for n in range(learners):
        learner(f"l{n}", percent=0.9 if n % 2 else 0.1)
    people_ids = sorted(
        people.user_refs([f"l{n}" for n in range(learners)]).values(), key=lambda r: r.id
    )
    from rollbook.catalog import api as catalog

    course_data = catalog.get_course(COURSE)
    with CaptureQueriesContext(connection) as queries:
        certs._generate_batch(
            course_data,
            [r.id for r in people_ids],
            by_name=True,
            regenerate=frozenset(),
            actor=ACTOR,
        )
    assert len(queries) == QUERIES_PER_BATCH, [q["sql"][:60] for q in queries.captured_queries]


# savepoint + release, course, enrollments, profiles, grades, allowlist, invalidations,
# certificates (locked), the INSERT of new certificates, the audit INSERT.
QUERIES_PER_BATCH = 11


def test_a_status_look_up_is_one_query_when_the_certificate_exists(
    course: None, django_assert_num_queries: Any
) -> None:
    learner("ann", percent=0.9)
    learner("bob", percent=0.1)
    generate("ann")
    with django_assert_num_queries(1):
        assert certs.certificate_status(COURSE, "ANN")["status"] == "downloadable"
    # Without a certificate, the course and the user are looked up to tell 404s apart.
    with django_assert_num_queries(3):
        assert certs.certificate_status(COURSE, "bob") == {"status": "unavailable", "mode": "honor"}
    with pytest.raises(RollbookError) as unknown_user:
        certs.certificate_status(COURSE, "ghost")
    assert unknown_user.value.code == "user_not_found"
    with pytest.raises(RollbookError) as unknown_course:
        certs.certificate_status("course-v1:UniX+Nope+2026", "ann")
    assert unknown_course.value.code == "course_not_found"


def test_an_empty_list_of_learners_is_refused_not_taken_for_everyone(course: None) -> None:
    learner("ann", percent=0.9)
    with pytest.raises(RollbookError) as refused:
        certs.start_generation(
            COURSE, usernames=[], statuses_to_regenerate=None, actor=ACTOR, dispatch=False
        )
    assert (refused.value.code, refused.value.status) == ("invalid", 422)
    assert not GenerationRun.objects.exists()
    assert status("ann") == "unavailable"


def test_verification_of_unknown_and_malformed_ids(course: None) -> None:
    assert certs.verification("0" * 32).state == "unknown"
    assert certs.verification("not-a-uuid").state == "unknown"
    assert certs.verification("../../etc/passwd").state == "unknown"


def test_a_deleted_certificate_verifies_as_deleted(course: None) -> None:
    learner("ann", percent=0.9)
    generate("ann")
    verify = Certificate.objects.get().verify_uuid
    certs.delete_certificate(COURSE, "ann", actor=ACTOR)
    assert status("ann") == "deleted"
    assert certs.verification(verify).state == "deleted"
