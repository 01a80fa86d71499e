from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from rollbook.roles.cache import RoleCache
from rollbook.roles.data import ALL_ROLES, satisfied_by

COURSE = "course-v1:edX+toy+2012"


def test_limited_staff_satisfies_staff_but_not_the_reverse() -> None:
    cache = RoleCache([("limited_staff", "edX", COURSE)])
    assert cache.has_role("staff", COURSE, "edX")
    assert cache.has_role("limited_staff", COURSE, "edX")
    assert not cache.has_role("staff", COURSE, "edX", strict=True)
    assert not RoleCache([("staff", "edX", COURSE)]).has_role("limited_staff", COURSE, "edX")


# ---------------------------------------------------------------- invariants (hypothesis)

ROLES = sorted(ALL_ROLES)
ORGS = ["", "edX", "EDX", "MITx"]
KEYS = ["", COURSE, "course-v1:EDX+TOY+2012", "course-v1:MITx+6.002x+2013", "lib:edX:problems"]
GRANTS = st.lists(
    st.tuples(st.sampled_from(ROLES), st.sampled_from(ORGS), st.sampled_from(KEYS)),
    max_size=25,
)
FAST = settings(max_examples=200, deadline=None)


def _queries() -> list[tuple[str, str, str]]:
    return [(role, org, key) for role in ROLES for org in ORGS for key in KEYS]


@FAST
@given(GRANTS)
def test_strict_check_is_exactly_membership(grants: list[tuple[str, str, str]]) -> None:
    cache = RoleCache(grants)
    granted = set(grants)
    for role, org, key in _queries():
        assert cache.has_role(role, key, org, strict=True) == ((role, org, key) in granted)


@FAST
@given(GRANTS)
def test_check_is_membership_up_to_inheritance(grants: list[tuple[str, str, str]]) -> None:
    cache = RoleCache(grants)
    for role, org, key in _queries():
        expected = any(
            role in satisfied_by(g_role) and (g_org, g_key) == (org, key)
            for g_role, g_org, g_key in grants
        )
        assert cache.has_role(role, key, org) == expected


@FAST
@given(GRANTS)
def test_has_any_agrees_with_has_role(grants: list[tuple[str, str, str]]) -> None:
    cache = RoleCache(grants)
    for org in ORGS:
        for key in KEYS:
            for pair in (("staff", "instructor"), ("limited_staff",), ("support", "beta_testers")):
                expected = any(cache.has_role(role, key, org) for role in pair)
                assert cache.has_any(pair, key, org) == expected


@FAST
@given(GRANTS, st.randoms(use_true_random=False))
def test_cache_ignores_order_and_duplicates(
    grants: list[tuple[str, str, str]], rnd: random.Random
) -> None:
    shuffled = grants * 2
    rnd.shuffle(shuffled)
    one, other = RoleCache(grants), RoleCache(shuffled)
    assert len(one) == len(other) == len(set(grants))
    assert sorted(one.course_keys()) == sorted(other.course_keys())
    assert one.org_roles() == other.org_roles()
    for role, org, key in _queries():
        assert one.has_role(role, key, org) == other.has_role(role, key, org)
        assert one.has_role(role, key, org, strict=True) == other.has_role(
            role, key, org, strict=True
        )


@FAST
@given(GRANTS)
def test_course_keys_and_org_roles_list_the_grants(grants: list[tuple[str, str, str]]) -> None:
    cache = RoleCache(grants)
    assert sorted(cache.course_keys()) == sorted({key for _r, _o, key in grants if key})
    assert cache.org_roles() == {(role, org) for role, org, key in grants if key == ""}


# ---------------------------------------------------------------- examples


def test_empty_cache_answers_false() -> None:
    cache = RoleCache()
    assert len(cache) == 0
    assert not cache.has_role("staff", COURSE, "edX")
    assert not cache.has_role("support")
    assert not cache.has_any(("staff", "instructor"), COURSE, "edX")
    assert cache.course_keys() == []
    assert cache.org_roles() == set()


def test_org_and_course_grants_are_apart() -> None:
    cache = RoleCache([("staff", "edX", ""), ("instructor", "edX", COURSE)])
    assert cache.has_role("staff", "", "edX")
    assert not cache.has_role("staff", COURSE, "edX")
    assert cache.has_role("instructor", COURSE, "edX")
    assert not cache.has_role("instructor", "", "edX")
    assert cache.org_roles() == {("staff", "edX")}
    assert cache.course_keys() == [COURSE]


def test_course_keys_are_case_sensitive_in_the_cache() -> None:
    cache = RoleCache([("staff", "edX", COURSE)])
    assert not cache.has_role("staff", "course-v1:EDX+TOY+2012", "EDX")
    assert not cache.has_role("staff", "course-v1:EDX+TOY+2012", "edX")


def test_limited_staff_is_expanded_in_has_any() -> None:
    cache = RoleCache([("limited_staff", "edX", COURSE)])
    assert cache.has_any(("staff", "instructor"), COURSE, "edX")
    assert not cache.has_any(("instructor",), COURSE, "edX")
