"""Authorization: global staff do everything; course staff read their course; users read
themselves."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.api.helpers import COURSE, LIBRARY, OTHER_COURSE, assert_error, query
from tests.api.world import World
from tests.factories import Make

# What course staff may read on their course (COURSE); mary is a learner there.
COURSE_READS = [
    f"courses/{COURSE}/enrollments",
    f"courses/{COURSE}/enrollments?mode=verified",
    f"courses/{COURSE}/enrollments/mary",
    f"courses/{COURSE}/roles",
    query("roles/check", username="mary", role="beta_testers", course_key=COURSE),
]
# The same reads on a course they have no role on.
OTHER_COURSE_READS = [
    f"courses/{OTHER_COURSE}/enrollments",
    f"courses/{OTHER_COURSE}/enrollments/mary",
    f"courses/{OTHER_COURSE}/roles",
    query("roles/check", username="mary", role="beta_testers", course_key=OTHER_COURSE),
]
# Reads of global staff only, or of mary herself.
STAFF_OR_MARY_READS = [
    "users/mary",
    "users/mary/enrollments",
    "users/mary/roles",
    "users/mary/libraries",
]
STAFF_READS = ["users", "audit", "jobs", "roles/check?username=mary&role=support"]
# Every write, each of which global staff may do (with its success status).
WRITES: list[tuple[str, str, dict[str, Any], int]] = [
    ("put", f"courses/{COURSE}/enrollments/mary", {"mode": "verified"}, 200),
    ("put", f"courses/{COURSE}/enrollments/carol", {}, 201),
    ("post", f"courses/{COURSE}/bulk_enrollments", {"usernames": ["mary"]}, 202),
    ("put", f"courses/{COURSE}", {"title": "Renamed"}, 200),
    ("put", "courses/course-v1:edX+new+2027", {"title": "New"}, 201),
    ("put", f"libraries/{LIBRARY}", {"title": "Renamed"}, 200),
    (
        "post",
        "roles/grants",
        {"username": "mary", "role": "beta_testers", "course_key": COURSE},
        201,
    ),
    (
        "post",
        "roles/revokes",
        {"username": "bob", "role": "beta_testers", "course_key": COURSE},
        200,
    ),
    ("put", "users/mary", {"name": "Mary Major"}, 200),
    ("put", "users/dave", {"name": "Dave"}, 201),
]

COURSE_STAFF_GRANTS = {
    "course staff": ("staff", {"course_key": COURSE}),
    "course instructor": ("instructor", {"course_key": COURSE}),
    "course limited_staff": ("limited_staff", {"course_key": COURSE}),
    "org staff": ("staff", {"org": "edX"}),
    "org instructor": ("instructor", {"org": "edX"}),
}
NOT_COURSE_STAFF_GRANTS = {
    "course beta tester": ("beta_testers", {"course_key": COURSE}),
    "course data researcher": ("data_researcher", {"course_key": COURSE}),
    "staff of another course": ("staff", {"course_key": OTHER_COURSE}),
    "staff of another org": ("staff", {"org": "MITx"}),
    "org library user": ("library_user", {"org": "edX"}),
    "library staff": ("staff", {"course_key": LIBRARY}),
}


@pytest.fixture
def as_role(world: World, api_as: Callable[..., Any]) -> Callable[[str, dict[str, str]], Any]:
    def build(role: str, scope: dict[str, str]) -> Any:
        client = api_as("helper")
        Make.user("carol")
        Make.grant("helper", role, **scope)
        return client

    return build


def _call(client: Any, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    return client.get(path) if method == "get" else getattr(client, method)(path, body)


@pytest.mark.parametrize(("method", "path", "body", "status"), WRITES, ids=[w[1] for w in WRITES])
def test_global_staff_may_write(
    world: World, staff_api: Any, method: str, path: str, body: dict[str, Any], status: int
) -> None:
    Make.user("carol")
    Make.grant("bob", "beta_testers", course_key=COURSE)
    response = _call(staff_api, method, path, body)
    assert response.status_code == status, response.content


def test_global_staff_may_read_everything(world: World, staff_api: Any) -> None:
    for path in COURSE_READS + OTHER_COURSE_READS + STAFF_OR_MARY_READS + STAFF_READS:
        response = staff_api.get(path)
        assert response.status_code == 200, (path, response.content)


@pytest.mark.parametrize("holder", COURSE_STAFF_GRANTS)
def test_course_staff_read_their_course(as_role: Callable[..., Any], holder: str) -> None:
    client = as_role(*COURSE_STAFF_GRANTS[holder])
    for path in COURSE_READS:
        response = client.get(path)
        assert response.status_code == 200, (path, response.content)
    listing = client.get(f"courses/{COURSE}/enrollments").json()
    assert [item["username"] for item in listing["items"]] == ["bob", "mary"]


@pytest.mark.parametrize("holder", COURSE_STAFF_GRANTS)
def test_course_staff_may_not_read_other_courses_or_people(
    as_role: Callable[..., Any], holder: str
) -> None:
    client = as_role(*COURSE_STAFF_GRANTS[holder])
    for path in OTHER_COURSE_READS + STAFF_OR_MARY_READS + STAFF_READS:
        body = assert_error(client.get(path), 403, "forbidden")
        assert body["fields"] == {}


@pytest.mark.parametrize("holder", COURSE_STAFF_GRANTS)
def test_course_staff_may_not_write(as_role: Callable[..., Any], holder: str) -> None:
    client = as_role(*COURSE_STAFF_GRANTS[holder])
    for method, path, body, _status in WRITES:
        assert_error(_call(client, method, path, body), 403, "forbidden")


@pytest.mark.parametrize("holder", NOT_COURSE_STAFF_GRANTS)
def test_other_roles_give_no_course_staff_access(as_role: Callable[..., Any], holder: str) -> None:
    client = as_role(*NOT_COURSE_STAFF_GRANTS[holder])
    for path in COURSE_READS:
        assert_error(client.get(path), 403, "forbidden")


def test_writes_refused_to_course_staff_leave_nothing_behind(
    as_role: Callable[..., Any], staff_api: Any
) -> None:
    client = as_role("staff", {"course_key": COURSE})
    for method, path, body, _status in WRITES:
        _call(client, method, path, body)
    assert staff_api.get("users/carol/enrollments").json()["count"] == 0
    assert staff_api.get("users/dave").status_code == 404
    assert staff_api.get(f"courses/{COURSE}").json()["title"] != "Renamed"
    assert staff_api.get("jobs").json()["count"] == 0


@pytest.mark.parametrize("spelling", ["mary", "MARY", "Mary"])
def test_a_user_reads_themself_in_any_case(
    world: World, api_as: Callable[..., Any], spelling: str
) -> None:
    client = api_as("mary")
    for path in STAFF_OR_MARY_READS:
        response = client.get(path.replace("mary", spelling))
        assert response.status_code == 200, (path, response.content)
    enrollments = client.get(f"users/{spelling}/enrollments").json()
    assert sorted(item["course_key"] for item in enrollments["items"]) == sorted(
        [COURSE, OTHER_COURSE]
    )
    assert client.get(f"courses/{COURSE}/enrollments/{spelling}").status_code == 200
    assert client.get(f"roles/check?username={spelling}&role=support").json() == {"allowed": False}


def test_a_user_may_not_read_someone_else(world: World, api_as: Callable[..., Any]) -> None:
    client = api_as("mary")
    for path in STAFF_OR_MARY_READS:
        assert_error(client.get(path.replace("mary", "bob")), 403, "forbidden")
    assert_error(client.get(f"courses/{COURSE}/enrollments/bob"), 403, "forbidden")
    assert_error(client.get(f"courses/{COURSE}/enrollments"), 403, "forbidden")
    assert_error(client.get("roles/check?username=bob&role=support"), 403, "forbidden")


def test_someone_elses_missing_user_is_forbidden_not_found(
    world: World, api_as: Callable[..., Any]
) -> None:
    # Whether a user exists is not told to a caller who may not see them.
    assert_error(api_as("mary").get("users/nobody"), 403, "forbidden")


def test_a_plain_user_may_not_write(world: World, api_as: Callable[..., Any]) -> None:
    client = api_as("mary")
    for method, path, body, _status in WRITES:
        assert_error(_call(client, method, path, body), 403, "forbidden")


def test_a_plain_user_may_read_the_catalog(world: World, api_as: Callable[..., Any]) -> None:
    client = api_as("mary")
    assert client.get(f"courses/{COURSE}").status_code == 200
    assert client.get("courses").status_code == 200
    assert client.get(f"libraries/{LIBRARY}").status_code == 200
    assert client.get("version").status_code == 200


def test_a_revoked_course_role_ends_course_staff_access(
    as_role: Callable[..., Any], staff_api: Any
) -> None:
    client = as_role("staff", {"course_key": COURSE})
    assert client.get(f"courses/{COURSE}/enrollments").status_code == 200
    revoked = staff_api.post(
        "roles/revokes", {"username": "helper", "role": "staff", "course_key": COURSE}
    )
    assert revoked.json()["revoked"] is True
    assert_error(client.get(f"courses/{COURSE}/enrollments"), 403, "forbidden")


def test_staff_made_through_the_api_gets_staff_access(
    world: World, api_as: Callable[..., Any], staff_api: Any
) -> None:
    client = api_as("helper")
    assert_error(client.get("users"), 403, "forbidden")
    assert staff_api.put("users/helper", {"is_staff": True}).status_code == 200
    assert client.get("users").status_code == 200
