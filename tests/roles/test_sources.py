"""Grants remember their sources: a feed revoking never takes away a hand-made grant."""

from __future__ import annotations

import pytest

from rollbook.lib import sources
from rollbook.people import api as people
from rollbook.roles import api as roles
from rollbook.roles.models import RoleGrant
from tests.factories import ACTOR, Make

COURSE = "course-v1:edX+toy+2012"
SIS = sources.sis("10001.201740/02")


@pytest.fixture
def world(db: None) -> None:
    Make.course(COURSE)
    Make.user("ada")


def _sources() -> list[str]:
    return list(RoleGrant.objects.get().sources)


def _holds(role: str = "instructor") -> bool:
    return roles.check_role(people.get_user_ref("ada"), role, course_key=COURSE)


def test_a_manual_grant_is_sourced_manual(world: None) -> None:
    Make.grant("ada", "instructor", course_key=COURSE)
    assert _sources() == ["manual"]


def test_a_source_grant_is_revoked_when_its_source_takes_it_back(world: None) -> None:
    _, created = roles.grant_role("ada", "instructor", actor=ACTOR, course_key=COURSE, source=SIS)
    assert created
    assert _sources() == [SIS]
    _, revoked = roles.revoke_source(
        "ada", "instructor", source=SIS, actor=ACTOR, course_key=COURSE
    )
    assert revoked
    assert not _holds()


def test_a_manual_grant_survives_the_feed_taking_it_back(world: None) -> None:
    Make.grant("ada", "instructor", course_key=COURSE)
    roles.grant_role("ada", "instructor", actor=ACTOR, course_key=COURSE, source=SIS)
    assert _sources() == ["manual", SIS]
    _, revoked = roles.revoke_source(
        "ada", "instructor", source=SIS, actor=ACTOR, course_key=COURSE
    )
    assert not revoked
    assert _holds()
    assert _sources() == ["manual"]


def test_a_person_revoking_ends_every_source(world: None) -> None:
    roles.grant_role("ada", "instructor", actor=ACTOR, course_key=COURSE, source=SIS)
    Make.grant("ada", "instructor", course_key=COURSE)
    _, revoked = roles.revoke_role("ada", "instructor", actor=ACTOR, course_key=COURSE)
    assert revoked
    assert not RoleGrant.objects.exists()


def test_granting_from_the_same_source_twice_writes_nothing(world: None) -> None:
    roles.grant_role("ada", "instructor", actor=ACTOR, course_key=COURSE, source=SIS)
    before = list(RoleGrant.objects.values_list("id", "sources"))
    _, created = roles.grant_role("ada", "instructor", actor=ACTOR, course_key=COURSE, source=SIS)
    assert not created
    assert list(RoleGrant.objects.values_list("id", "sources")) == before
