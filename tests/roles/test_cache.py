from __future__ import annotations

from rollbook.roles.cache import RoleCache

COURSE = "course-v1:edX+toy+2012"


def test_limited_staff_satisfies_staff_but_not_the_reverse() -> None:
    cache = RoleCache([("limited_staff", "edX", COURSE)])
    assert cache.has_role("staff", COURSE, "edX")
    assert cache.has_role("limited_staff", COURSE, "edX")
    assert not cache.has_role("staff", COURSE, "edX", strict=True)
    assert not RoleCache([("staff", "edX", COURSE)]).has_role("limited_staff", COURSE, "edX")
