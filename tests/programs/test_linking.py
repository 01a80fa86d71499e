"""Linking keys to accounts: Open edX's rules, one test (at least) each."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from rollbook.audit.data import Actor
from rollbook.enrollments import api as enrollments
from rollbook.lib.errors import NotFound
from rollbook.people import api as people
from rollbook.programs import api as programs
from rollbook.programs.models import PendingCourseRole, ProgramEnrollment
from rollbook.roles import api as roles
from tests.factories import Make

pytestmark = pytest.mark.django_db

ACTOR = Actor.system("test")
C1 = "course-v1:UniX+M101+2026"
C2 = "course-v1:UniX+M102+2026"
MISSING = "course-v1:UniX+M999+2026"
MODES = ["audit", "verified", "masters"]


def make_program(*courses: str, org: str = "UniX") -> tuple[uuid.UUID, uuid.UUID]:
    program, curriculum = uuid.uuid4(), uuid.uuid4()
    programs.put_program(
        program,
        title="MSc Data",
        org=org,
        type="Masters",
        curricula=[programs.CurriculumSpec(curriculum, tuple(courses))],
        actor=ACTOR,
    )
    return program, curriculum


def waiting(
    program: uuid.UUID,
    curriculum: uuid.UUID,
    key: str,
    courses: tuple[str, ...] = (C1, C2),
    *,
    staff: bool = False,
    status: str = "active",
) -> None:
    result = programs.write_program_enrollments(
        program,
        [programs.EnrollmentRequest(key, "enrolled", curriculum)],
        create=True,
        update=False,
        actor=ACTOR,
    )
    assert result == {key: "enrolled"}
    for course in courses:
        outcome = programs.write_course_enrollments(
            program,
            course,
            [programs.CourseEnrollmentRequest(key, status, course_staff=staff or None)],
            create=True,
            update=False,
            actor=ACTOR,
        )
        assert outcome == {key: status}


def mode_of(course: str, username: str) -> tuple[str, bool] | None:
    try:
        data = enrollments.get_enrollment(course, username)
    except NotFound:
        return None
    return data.mode, data.is_active


@pytest.fixture
def setup() -> tuple[uuid.UUID, uuid.UUID]:
    Make.course(C1, modes=MODES, default_mode="audit")
    Make.course(C2, modes=MODES, default_mode="audit")
    Make.user("ann")
    Make.user("bob")
    return make_program(C1, C2)


def link(program: uuid.UUID, mapping: dict[str, str]) -> dict[str, str]:
    return programs.link_program_enrollments(program, mapping, actor=ACTOR).errors


def test_linking_enrolls_in_the_masters_track(setup: Any) -> None:
    program, curriculum = setup
    waiting(program, curriculum, "STU-1")
    assert link(program, {"STU-1": "ann"}) == {}
    assert mode_of(C1, "ann") == ("masters", True)
    assert mode_of(C2, "ann") == ("masters", True)
    row = ProgramEnrollment.objects.get()
    assert row.user_id == people.get_user_ref("ann").id
    assert row.external_user_key == "STU-1"  # stored as first sent


def test_rule_1_unknown_user_unknown_key_and_already_linked(setup: Any) -> None:
    program, curriculum = setup
    waiting(program, curriculum, "STU-1")
    assert link(program, {"STU-1": "ann"}) == {}
    errors = link(program, {"STU-1": "ann", "STU-2": "bob", "STU-3": "nobody"})
    assert errors == {
        "STU-1": "Program enrollment with external_student_key=STU-1 is already linked to "
        "target account username=ann",
        "STU-2": f"No program enrollment found for program uuid={program} and external "
        "student key=STU-2",
        "STU-3": "No user found with username nobody",
    }
    # The order of the checks: an unknown user is reported even for an unknown key.
    assert link(program, {"STU-9": "nobody"}) == {"STU-9": "No user found with username nobody"}


def test_rule_2_relinking_moves_the_enrollments_and_leaves_audit(setup: Any) -> None:
    program, curriculum = setup
    waiting(program, curriculum, "STU-1")
    link(program, {"STU-1": "ann"})
    assert link(program, {"STU-1": "bob"}) == {}
    assert mode_of(C1, "ann") == ("audit", False)  # deactivated, moved to audit, detached
    assert mode_of(C1, "bob") == ("masters", True)
    assert ProgramEnrollment.objects.get().user_id == people.get_user_ref("bob").id
    old = enrollments.get_enrollment(C1, "ann")
    assert programs.program_source(program) not in old.sources


def test_rule_2_without_an_audit_mode_the_mode_is_kept(setup: Any) -> None:
    Make.course("course-v1:UniX+M103+2026", modes=["verified", "masters"], default_mode="verified")
    Make.user("cy")
    program, curriculum = make_program("course-v1:UniX+M103+2026")
    waiting(program, curriculum, "K1", ("course-v1:UniX+M103+2026",))
    link(program, {"K1": "cy"})
    assert link(program, {"K1": "ann"}) == {}
    assert mode_of("course-v1:UniX+M103+2026", "cy") == ("masters", False)


def test_rule_3_modes_on_linking(setup: Any) -> None:
    program, curriculum = setup
    Make.enrollment(C1, "ann", mode="audit")
    Make.enrollment(C2, "ann", mode="verified")
    waiting(program, curriculum, "STU-1")
    assert link(program, {"STU-1": "ann"}) == {}
    assert mode_of(C1, "ann") == ("masters", True)  # audit converted
    assert mode_of(C2, "ann") == ("verified", True)  # a paid mode is kept


def test_rule_3_an_inactive_program_course_enrollment_stays_inactive(setup: Any) -> None:
    program, curriculum = setup
    waiting(program, curriculum, "STU-1", (C1,), status="inactive")
    assert link(program, {"STU-1": "ann"}) == {}
    assert mode_of(C1, "ann") == ("masters", False)


def test_rule_3_and_5_a_missing_course_rolls_back_that_key_entirely(setup: Any) -> None:
    program, curriculum = make_program(C1, MISSING)
    waiting(program, curriculum, "STU-1", (C1, MISSING), staff=True)
    waiting(program, curriculum, "STU-2", (C1,))
    errors = link(program, {"STU-1": "ann", "STU-2": "bob"})
    assert set(errors) == {"STU-1"}
    assert errors["STU-1"].startswith("CourseNotFoundError: ")
    assert MISSING in errors["STU-1"]
    assert mode_of(C1, "ann") is None  # the C1 enrollment made before the failure is undone
    assert not roles.check_role(people.get_user_ref("ann"), "staff", course_key=C1)
    row = ProgramEnrollment.objects.get(external_user_key="STU-1")
    assert row.user_id is None
    assert PendingCourseRole.objects.count() == 2  # still pending
    assert mode_of(C1, "bob") == ("masters", True)


def test_rule_4_pending_staff_becomes_a_grant_also_when_held(setup: Any) -> None:
    program, curriculum = setup
    waiting(program, curriculum, "STU-1", staff=True)
    waiting(program, curriculum, "STU-2", (C1,), staff=True)
    Make.grant("bob", "staff", course_key=C1)  # already held: no error
    assert PendingCourseRole.objects.count() == 3
    assert link(program, {"STU-1": "ann", "STU-2": "bob"}) == {}
    ann = people.get_user_ref("ann")
    assert roles.check_role(ann, "staff", course_key=C1, strict=True)
    assert roles.check_role(ann, "staff", course_key=C2, strict=True)
    assert roles.check_role(people.get_user_ref("bob"), "staff", course_key=C1, strict=True)
    assert PendingCourseRole.objects.count() == 0


def test_rule_6_keys_match_case_insensitively(setup: Any) -> None:
    program, curriculum = setup
    waiting(program, curriculum, "ABC123")
    assert link(program, {"abc123": "ann"}) == {}
    assert mode_of(C1, "ann") == ("masters", True)
    again = programs.write_program_enrollments(
        program,
        [programs.EnrollmentRequest("abc123", "enrolled", curriculum)],
        create=True,
        update=False,
        actor=ACTOR,
    )
    assert again == {"abc123": "conflict"}  # the same learner


def test_rule_7_the_same_key_in_another_program_is_another_enrollment(setup: Any) -> None:
    first, curriculum1 = setup
    second, curriculum2 = make_program(C1)
    waiting(first, curriculum1, "STU-1", (C2,))
    waiting(second, curriculum2, "STU-1", (C1,))
    assert link(first, {"STU-1": "ann"}) == {}
    rows = dict(ProgramEnrollment.objects.values_list("program__uuid", "user_id"))
    assert rows == {first: people.get_user_ref("ann").id, second: None}
    assert mode_of(C1, "ann") is None
    assert link(second, {"STU-1": "bob"}) == {}
    assert mode_of(C1, "bob") == ("masters", True)


def test_a_user_holding_another_key_gets_an_error_for_that_key_only(setup: Any) -> None:
    program, curriculum = setup
    waiting(program, curriculum, "STU-1")
    waiting(program, curriculum, "STU-2")
    waiting(program, curriculum, "STU-3")
    link(program, {"STU-1": "ann"})
    errors = link(program, {"STU-2": "ann", "STU-3": "bob"})
    assert set(errors) == {"STU-2"}
    assert errors["STU-2"].startswith("UserAlreadyInProgramError: ")
    assert ProgramEnrollment.objects.get(external_user_key="STU-3").user_id is not None
    # Two keys to one user in one request: the second fails.
    Make.user("cy")
    waiting(program, curriculum, "STU-4")
    waiting(program, curriculum, "STU-5")
    assert set(link(program, {"STU-4": "cy", "STU-5": "cy"})) == {"STU-5"}


def test_automatic_linking_by_external_id(setup: Any) -> None:
    program, curriculum = setup
    waiting(program, curriculum, "stu-77", (C1,))
    other, other_curriculum = make_program(C2, org="OtherU")
    waiting(other, other_curriculum, "STU-77", (C2,))
    changed = people.set_external_ids("ann", {"UniX": "STU-77"}, actor=ACTOR)
    assert changed == {"UniX": "STU-77"}
    assert programs.link_by_external_ids("ann", changed, actor=ACTOR) == {}
    linked = dict(ProgramEnrollment.objects.values_list("program__uuid", "user_id"))
    assert linked[program] == people.get_user_ref("ann").id
    assert linked[other] is None  # another org's program


def test_waiting_enrollments_in_two_programs_link_separately(setup: Any) -> None:
    first, c1 = setup
    second, c2 = make_program(C2)
    waiting(first, c1, "K-1", (C1,))
    waiting(second, c2, "K-1", (C2,))
    assert link(first, {"K-1": "ann"}) == {}
    assert link(second, {"k-1": "ann"}) == {}
    assert mode_of(C1, "ann") == ("masters", True)
    assert mode_of(C2, "ann") == ("masters", True)


def test_expire_waiting_removes_old_unlinked_ones_with_audit(setup: Any) -> None:
    import datetime as dt

    from rollbook.audit import api as audit
    from rollbook.lib import clock
    from rollbook.lib.pagination import PageRequest

    program, curriculum = setup
    waiting(program, curriculum, "OLD")
    waiting(program, curriculum, "LINKED")
    link(program, {"LINKED": "ann"})
    later = clock.now() + dt.timedelta(days=31)
    assert programs.expire_waiting(days=30, actor=ACTOR, now=later) == 1
    assert list(ProgramEnrollment.objects.values_list("external_user_key", flat=True)) == ["LINKED"]
    events = audit.list_events(subject=f"program:{program}:OLD", page=PageRequest())
    assert events.items[0].event == "program_enrollment.expired"


@pytest.mark.parametrize("keys", [5, 20])
def test_waiting_keys_link_a_chunk_at_a_time_in_a_fixed_number_of_queries(
    setup: Any, keys: int
) -> None:
    program, curriculum = setup
    for n in range(keys):
        Make.user(f"learner{n}")
        waiting(program, curriculum, f"K{n}")
    mapping = {f"K{n}": f"learner{n}" for n in range(keys)}
    with CaptureQueriesContext(connection) as queries:
        assert link(program, mapping) == {}
    assert len(queries) == PLAN + PER_CHUNK
    assert all(mode_of(C2, f"learner{n}") == ("masters", True) for n in range(keys))


# The planning reads (program, users, enrollments, keys held, program courses, courses,
# program course enrollments, pending roles), then per chunk of up to 500 keys: its
# savepoint and release, the lock of the enrollments, their INSERT, their audit rows, the
# links, the attachments and the links' audit rows.
PLAN = 8
PER_CHUNK = 8


@pytest.mark.parametrize("keys", [3, 6])
def test_keys_linked_one_by_one_cost_a_constant_number_of_queries_each(
    setup: Any, keys: int
) -> None:
    """Relinking goes key by key (rule 2 needs the old account's enrollments)."""
    program, curriculum = setup
    for n in range(keys):
        Make.user(f"first{n}")
        Make.user(f"second{n}")
        waiting(program, curriculum, f"K{n}")
    link(program, {f"K{n}": f"first{n}" for n in range(keys)})
    with CaptureQueriesContext(connection) as queries:
        assert link(program, {f"K{n}": f"second{n}" for n in range(keys)}) == {}
    assert len(queries) == PLAN + RELINK_PER_KEY * keys


# Per key: savepoint and release, the old account, its lock, per course (two) the old
# enrollment's update, its audit row and the detachment, the unlink's audit row, the link,
# then per course the new account's lock, enrollment, audit row and attachment, and the
# link's audit row.
RELINK_PER_KEY = 2 + 1 + 1 + 2 * 3 + 1 + 1 + 2 * 4 + 1


def test_a_chunk_that_fails_is_linked_key_by_key(
    setup: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    program, curriculum = setup
    waiting(program, curriculum, "K1")
    waiting(program, curriculum, "K2")

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("lost connection")

    monkeypatch.setattr(programs.enrollments, "write_enrollments_many", broken)
    assert link(program, {"K1": "ann", "K2": "bob"}) == {}
    assert mode_of(C1, "ann") == ("masters", True)
    assert mode_of(C1, "bob") == ("masters", True)
