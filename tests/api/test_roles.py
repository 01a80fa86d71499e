"""REST of roles: grants, revokes, checks (strict or not) and the lists of grants."""

from __future__ import annotations

from typing import Any

from tests.api.helpers import COURSE, LIBRARY, OTHER_COURSE, assert_page, query
from tests.api.world import World
from tests.factories import Make


def _check(client: Any, **params: Any) -> bool:
    response = client.get(query("roles/check", **params))
    assert response.status_code == 200, response.content
    return response.json()["allowed"]


def test_grant_is_idempotent_and_case_insensitive(world: World, staff_api: Any) -> None:
    grant = {"username": "MARY", "role": "staff", "course_key": COURSE}
    first = staff_api.post("roles/grants", grant)
    assert first.status_code == 201, first.content
    assert first.json() == {
        "grant": {"username": "mary", "role": "staff", "org": "edX", "course_key": COURSE},
        "created": True,
    }
    second = staff_api.post("roles/grants", {**grant, "username": "mary"})
    assert second.status_code == 200
    assert second.json()["created"] is False
    assert staff_api.get("users/mary/roles").json()["count"] == 1


def test_revoke(world: World, staff_api: Any) -> None:
    grant = {"username": "mary", "role": "staff", "org": "edX"}
    staff_api.post("roles/grants", grant)
    first = staff_api.post("roles/revokes", {**grant, "username": "Mary"})
    assert first.status_code == 200
    assert first.json() == {
        "grant": {"username": "mary", "role": "staff", "org": "edX", "course_key": ""},
        "revoked": True,
    }
    second = staff_api.post("roles/revokes", grant)
    assert second.json()["revoked"] is False
    assert staff_api.get("users/mary/roles").json()["count"] == 0


def test_check_follows_inheritance_unless_strict(world: World, staff_api: Any) -> None:
    Make.grant("mary", "limited_staff", course_key=COURSE)
    assert _check(staff_api, username="mary", role="staff", course_key=COURSE)
    assert not _check(staff_api, username="mary", role="staff", course_key=COURSE, strict=True)
    assert _check(staff_api, username="mary", role="limited_staff", course_key=COURSE, strict=True)
    assert not _check(staff_api, username="mary", role="staff", course_key=OTHER_COURSE)
    assert not _check(staff_api, username="bob", role="staff", course_key=COURSE)


def test_check_keeps_course_and_org_roles_apart(world: World, staff_api: Any) -> None:
    Make.grant("mary", "staff", org="edX")
    assert _check(staff_api, username="mary", role="staff", org="edX")
    assert not _check(staff_api, username="mary", role="staff", org="MITx")
    assert not _check(staff_api, username="mary", role="staff", course_key=COURSE)


def test_check_a_global_role(world: World, staff_api: Any) -> None:
    Make.grant("mary", "support")
    assert _check(staff_api, username="MARY", role="support")
    assert not _check(staff_api, username="bob", role="support")


def test_user_roles_lists_every_grant(world: World, staff_api: Any) -> None:
    Make.grant("mary", "staff", course_key=COURSE)
    Make.grant("mary", "instructor", org="edX")
    Make.grant("mary", "library_user", course_key=LIBRARY)
    Make.grant("mary", "support")
    body = staff_api.get("users/MARY/roles").json()
    items = assert_page(body, count=4)
    assert {(g["role"], g["org"], g["course_key"]) for g in items} == {
        ("staff", "edX", COURSE),
        ("instructor", "edX", ""),
        ("library_user", "edX", LIBRARY),
        ("support", "", ""),
    }
    assert {g["username"] for g in items} == {"mary"}


def test_course_roles_lists_the_grants_on_the_key(world: World, staff_api: Any) -> None:
    Make.grant("mary", "staff", course_key=COURSE)
    Make.grant("bob", "beta_testers", course_key=COURSE)
    Make.grant("bob", "staff", course_key=OTHER_COURSE)
    Make.grant("bob", "staff", org="edX")
    body = staff_api.get(f"courses/{COURSE}/roles").json()
    assert assert_page(body, count=2) == [
        {"username": "bob", "role": "beta_testers", "org": "edX", "course_key": COURSE},
        {"username": "mary", "role": "staff", "org": "edX", "course_key": COURSE},
    ]
    library = staff_api.get(f"courses/{LIBRARY}/roles").json()
    assert assert_page(library, count=0) == []


def test_user_libraries(world: World, staff_api: Any, api_as: Any) -> None:
    Make.library("lib:edX:lib2")
    Make.library("lib:MITx:circuits")
    mary = api_as("mary")
    assert assert_page(mary.get("users/mary/libraries").json(), count=0) == []

    Make.grant("mary", "library_user", course_key=LIBRARY)
    items = assert_page(mary.get("users/mary/libraries").json(), count=1)
    assert items == [{"key": LIBRARY, "org": "edX", "title": f"Library {LIBRARY}"}]

    Make.grant("mary", "instructor", org="MITx")
    keys = {lib["key"] for lib in mary.get("users/mary/libraries").json()["items"]}
    assert keys == {LIBRARY, "lib:MITx:circuits"}

    # Global staff see them all. (Sets: "MITx" and "edX" sort apart on SQLite and PostgreSQL.)
    everything = staff_api.get("users/admin/libraries").json()
    assert {lib["key"] for lib in assert_page(everything, count=3)} == {
        LIBRARY,
        "lib:edX:lib2",
        "lib:MITx:circuits",
    }
