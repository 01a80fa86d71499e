"""Enrollments remember their sources: a feed's drop never takes away what a person did."""

from __future__ import annotations

from typing import Any

import pytest

from rollbook.enrollments import api as enrollments
from rollbook.lib import sources
from rollbook.people import api as people
from tests.factories import ACTOR, Make

COURSE = "course-v1:edX+toy+2012"
SIS = sources.sis("10001.201740/01")
PROGRAM = sources.program("b4a0c0de-0000-4000-8000-000000000001")


@pytest.fixture
def world(db: None) -> None:
    Make.course(COURSE, modes=["audit", "verified"])
    Make.user("mary")


def test_a_manual_enrollment_is_sourced_manual(world: None) -> None:
    assert Make.enrollment(COURSE, "mary").sources == ("manual",)


def test_a_source_enrolls_and_its_drop_deactivates_when_nothing_else_holds(world: None) -> None:
    enrollment, changed = enrollments.enroll_from_source(
        COURSE, "mary", source=SIS, actor=ACTOR, mode="verified"
    )
    assert changed
    assert (enrollment.is_active, enrollment.mode, enrollment.sources) == (True, "verified", (SIS,))
    dropped = enrollments.drop_source(COURSE, "mary", source=SIS, actor=ACTOR)
    assert dropped is not None
    assert (dropped.is_active, dropped.sources) == (False, ())


def test_a_manual_enrollment_survives_the_feed_dropping_it(world: None) -> None:
    Make.enrollment(COURSE, "mary", mode="audit")
    enrollments.enroll_from_source(COURSE, "mary", source=SIS, actor=ACTOR, mode="verified")
    both = enrollments.get_enrollment(COURSE, "mary")
    assert both.sources == ("manual", SIS)
    assert both.mode == "audit"  # an active enrollment keeps its mode
    after = enrollments.drop_source(COURSE, "mary", source=SIS, actor=ACTOR)
    assert after is not None
    assert (after.is_active, after.sources) == (True, ("manual",))


def test_two_sources_each_hold_the_enrollment(world: None) -> None:
    enrollments.enroll_from_source(COURSE, "mary", source=SIS, actor=ACTOR)
    enrollments.enroll_from_source(COURSE, "mary", source=PROGRAM, actor=ACTOR)
    first = enrollments.drop_source(COURSE, "mary", source=SIS, actor=ACTOR)
    assert first is not None
    assert first.is_active
    second = enrollments.drop_source(COURSE, "mary", source=PROGRAM, actor=ACTOR)
    assert second is not None
    assert not second.is_active


def test_the_same_source_twice_changes_nothing(world: None) -> None:
    enrollments.enroll_from_source(COURSE, "mary", source=SIS, actor=ACTOR)
    _, changed = enrollments.enroll_from_source(COURSE, "mary", source=SIS, actor=ACTOR)
    assert not changed


def test_a_person_unenrolling_ends_every_source(world: None) -> None:
    enrollments.enroll_from_source(COURSE, "mary", source=SIS, actor=ACTOR)
    enrollment, _ = enrollments.put_enrollment(COURSE, "mary", actor=ACTOR, is_active=False)
    assert (enrollment.is_active, enrollment.sources) == (False, ())


def test_a_person_re_enrolling_adds_the_manual_source(world: None) -> None:
    enrollments.enroll_from_source(COURSE, "mary", source=SIS, actor=ACTOR)
    enrollment, _ = enrollments.put_enrollment(COURSE, "mary", actor=ACTOR, is_active=True)
    assert enrollment.sources == (SIS, "manual")
    # A mode change alone asserts nothing new.
    changed, _ = enrollments.put_enrollment(COURSE, "mary", actor=ACTOR, mode="verified")
    assert changed.sources == (SIS, "manual")


def test_dropping_a_source_from_no_enrollment_is_none(world: None) -> None:
    assert enrollments.drop_source(COURSE, "mary", source=SIS, actor=ACTOR) is None


def test_dropping_a_source_that_is_not_there_keeps_the_enrollment(world: None) -> None:
    Make.enrollment(COURSE, "mary")
    after = enrollments.drop_source(COURSE, "mary", source=SIS, actor=ACTOR)
    assert after is not None
    assert (after.is_active, after.sources) == (True, ("manual",))


def _refs(n: int) -> list[Any]:
    names = [f"learner{i}" for i in range(n)]
    for name in names:
        Make.user(name)
    refs = people.user_refs(names)
    return [refs[name] for name in names]


def test_apply_sources_in_bulk_follows_the_same_rules(world: None) -> None:
    Make.enrollment(COURSE, "mary")  # by hand
    mary = people.get_user_ref("mary")
    learners = _refs(3)
    changes = [enrollments.SourceChange(ref, SIS, True) for ref in learners]
    changes.append(enrollments.SourceChange(mary, SIS, True))
    result = enrollments.apply_sources(COURSE, changes, actor=ACTOR)
    assert all(result.values())
    assert enrolled_sources("learner0") == (True, (SIS,))
    assert enrolled_sources("mary") == (True, ("manual", SIS))
    drops = [enrollments.SourceChange(ref, SIS, False) for ref in [*learners, mary]]
    enrollments.apply_sources(COURSE, drops, actor=ACTOR)
    assert enrolled_sources("learner0") == (False, ())
    assert enrolled_sources("mary") == (True, ("manual",))  # the manual enrollment stays
    again = enrollments.apply_sources(COURSE, drops, actor=ACTOR)
    assert not any(again.values())


def enrolled_sources(username: str) -> tuple[bool, tuple[str, ...]]:
    enrollment = enrollments.get_enrollment(COURSE, username)
    return enrollment.is_active, enrollment.sources


@pytest.mark.parametrize("n", [5, 50])
def test_apply_sources_costs_the_same_queries_for_any_number(
    world: None, n: int, django_assert_num_queries: Any
) -> None:
    learners = _refs(n)
    changes = [enrollments.SourceChange(ref, SIS, True) for ref in learners]
    # course, SAVEPOINT, existing enrollments, INSERT enrollments, INSERT audit, RELEASE
    with django_assert_num_queries(6):
        enrollments.apply_sources(COURSE, changes, actor=ACTOR)


@pytest.mark.parametrize("courses", [2, 20])
def test_apply_sources_many_costs_the_same_queries_for_any_number_of_courses(
    world: None, courses: int, django_assert_num_queries: Any
) -> None:
    keys = [f"course-v1:edX+many{n}+2012" for n in range(courses)]
    for key in keys:
        Make.course(key, modes=["audit", "verified"])
    learners = _refs(3)
    Make.enrollment(keys[0], "learner0")  # by hand: the feed's source joins it
    changes = {key: [enrollments.SourceChange(ref, SIS, True) for ref in learners] for key in keys}
    # courses, SAVEPOINT, existing enrollments, INSERT, UPDATE, INSERT audit, RELEASE
    with django_assert_num_queries(7):
        result = enrollments.apply_sources_many(changes, actor=ACTOR)
    assert set(result) == set(keys)
    assert all(all(changed.values()) for changed in result.values())
    first = enrollments.get_enrollment(keys[0], "learner0")
    assert (first.is_active, first.sources) == (True, ("manual", SIS))
    last = enrollments.get_enrollment(keys[-1], "learner2")
    assert (last.is_active, last.sources) == (True, (SIS,))
    # The same changes again change nothing.
    again = enrollments.apply_sources_many(changes, actor=ACTOR)
    assert not any(any(changed.values()) for changed in again.values())


def test_apply_sources_many_refuses_all_for_one_unknown_course(world: None) -> None:
    from rollbook.lib.errors import RollbookError

    learners = _refs(2)
    changes = {
        COURSE: [enrollments.SourceChange(ref, SIS, True) for ref in learners],
        "course-v1:edX+nope+2012": [enrollments.SourceChange(learners[0], SIS, True)],
    }
    with pytest.raises(RollbookError) as refused:
        enrollments.apply_sources_many(changes, actor=ACTOR)
    assert refused.value.code == "course_not_found"
    with pytest.raises(RollbookError):
        enrollments.get_enrollment(COURSE, "learner0")
