"""rollbook course roles as LIS v2 context roles, and the `role` parameter (ADR 0017)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rollbook.lib.errors import BadRequest
from rollbook.lti.data import CONTENT_DEVELOPER, INSTRUCTOR, LEARNER, TEACHING_ASSISTANT
from rollbook.lti.roles import COURSE_ROLE_URIS, granting, member_roles, parse_role
from rollbook.roles.data import COURSE_LEVEL_ROLES

LIS = "http://purl.imsglobal.org/vocab/lis/v2/membership"


def test_the_uris_are_the_lis_v2_context_roles() -> None:
    assert f"{LIS}#Learner" == LEARNER
    assert f"{LIS}#Instructor" == INSTRUCTOR
    assert f"{LIS}#ContentDeveloper" == CONTENT_DEVELOPER
    assert f"{LIS}/Instructor#TeachingAssistant" == TEACHING_ASSISTANT


def test_mapping_of_rollbooks_course_roles() -> None:
    assert COURSE_ROLE_URIS == {
        "instructor": (INSTRUCTOR,),
        "staff": (INSTRUCTOR, CONTENT_DEVELOPER),
        "limited_staff": (TEACHING_ASSISTANT,),
    }
    # every mapped role is a registered course role; beta testers and the like are no members
    assert set(COURSE_ROLE_URIS) <= set(COURSE_LEVEL_ROLES)
    assert "beta_testers" not in COURSE_ROLE_URIS
    assert granting(INSTRUCTOR) == ("instructor", "staff")
    assert granting(TEACHING_ASSISTANT) == ("limited_staff",)
    assert granting(LEARNER) == ()
    assert granting(f"{LIS}#Mentor") == ()


def test_member_roles_merge_grants_and_enrollment() -> None:
    assert member_roles([], learning=True) == (LEARNER,)
    assert member_roles([], learning=False) == ()
    assert member_roles(["staff", "instructor"], learning=True) == (
        INSTRUCTOR,
        CONTENT_DEVELOPER,
        LEARNER,
    )
    assert member_roles(["limited_staff", "beta_testers"], learning=False) == (TEACHING_ASSISTANT,)


@given(
    st.lists(st.sampled_from([*COURSE_LEVEL_ROLES, "unknown"]), max_size=8),
    st.booleans(),
)
def test_member_roles_each_once_in_a_fixed_order(grants: list[str], learning: bool) -> None:
    held = member_roles(grants, learning=learning)
    assert len(set(held)) == len(held)
    assert held == member_roles(list(reversed(grants)), learning=learning)
    assert (LEARNER in held) == learning
    expected = {uri for grant in grants for uri in COURSE_ROLE_URIS.get(grant, ())}
    assert set(held) - {LEARNER} == expected


@pytest.mark.parametrize(
    ("raw", "uri"),
    [
        ("Learner", f"{LIS}#Learner"),
        ("Instructor", f"{LIS}#Instructor"),
        ("ContentDeveloper", f"{LIS}#ContentDeveloper"),
        ("Mentor", f"{LIS}#Mentor"),
        (f"{LIS}#Learner", f"{LIS}#Learner"),
        (f"{LIS}/Instructor#TeachingAssistant", TEACHING_ASSISTANT),
        (f"  {LIS}#Instructor ", INSTRUCTOR),
    ],
)
def test_parse_role_takes_simple_names_and_uris(raw: str, uri: str) -> None:
    assert parse_role(raw) == uri


@pytest.mark.parametrize(
    "raw",
    [
        "learner",  # simple names are case-sensitive
        "Student",
        "TeachingAssistant",  # a sub-role has no simple name
        f"{LIS}#Student",
        "http://purl.imsglobal.org/vocab/lis/v2/institution/person#Instructor",
        f"{LIS}/Instructor#",
        "",
    ],
)
def test_parse_role_refuses_the_rest(raw: str) -> None:
    with pytest.raises(BadRequest) as caught:
        parse_role(raw)
    assert caught.value.code == "invalid_role"
    assert caught.value.status == 400
