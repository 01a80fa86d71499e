"""REST of enrollments: PUT enrolls or changes, GET lists (filters), bulk starts a job."""

from __future__ import annotations

from typing import Any

from tests.api.helpers import COURSE, OTHER_COURSE, assert_error, assert_page, query
from tests.api.world import World
from tests.factories import Make

ENROLLMENT_KEYS = {"course_key", "username", "mode", "is_active", "created", "modified"}


def test_put_enrolls_then_changes(world: World, staff_api: Any) -> None:
    Make.user("carol")
    created = staff_api.put(f"courses/{COURSE}/enrollments/carol", {})
    assert created.status_code == 201, created.content
    body = created.json()
    assert set(body) == ENROLLMENT_KEYS
    assert body["course_key"] == COURSE
    assert body["username"] == "carol"
    assert body["mode"] == "audit"  # the course's default mode
    assert body["is_active"] is True
    assert body["created"] == body["modified"]

    same = staff_api.put(f"courses/{COURSE}/enrollments/CAROL", {})
    assert same.status_code == 200
    assert same.json() == body

    upgraded = staff_api.put(f"courses/{COURSE}/enrollments/Carol", {"mode": "verified"})
    assert upgraded.status_code == 200
    assert upgraded.json()["mode"] == "verified"
    assert upgraded.json()["username"] == "carol"
    assert upgraded.json()["created"] == body["created"]

    left = staff_api.put(f"courses/{COURSE}/enrollments/carol", {"is_active": False})
    assert left.json()["is_active"] is False
    assert left.json()["mode"] == "verified"

    fetched = staff_api.get(f"courses/{COURSE}/enrollments/carol")
    assert fetched.status_code == 200
    assert fetched.json() == left.json()


def test_put_a_new_enrollment_inactive(world: World, staff_api: Any) -> None:
    Make.user("carol")
    body = staff_api.put(
        f"courses/{COURSE}/enrollments/carol", {"is_active": False, "mode": "verified"}
    ).json()
    assert (body["mode"], body["is_active"]) == ("verified", False)


def test_a_mode_the_course_lacks_is_422(world: World, staff_api: Any) -> None:
    Make.user("carol")
    for username in ("carol", "mary"):
        body = assert_error(
            staff_api.put(f"courses/{COURSE}/enrollments/{username}", {"mode": "professional"}),
            422,
            "invalid_mode",
        )
        assert body["fields"] == {"mode": "professional"}
    assert_error(staff_api.get(f"courses/{COURSE}/enrollments/carol"), 404, "enrollment_not_found")
    assert staff_api.get(f"courses/{COURSE}/enrollments/mary").json()["mode"] == "audit"


def test_put_on_an_unknown_course_or_user(world: World, staff_api: Any) -> None:
    assert_error(
        staff_api.put("courses/course-v1:edX+nope+1/enrollments/mary", {}), 404, "course_not_found"
    )
    assert_error(staff_api.put(f"courses/{COURSE}/enrollments/nobody", {}), 404, "user_not_found")


def test_get_one_enrollment(world: World, staff_api: Any) -> None:
    body = staff_api.get(f"courses/{COURSE}/enrollments/BOB").json()
    assert set(body) == ENROLLMENT_KEYS
    assert (body["username"], body["mode"], body["is_active"]) == ("bob", "verified", True)
    Make.user("carol")
    body = assert_error(
        staff_api.get(f"courses/{COURSE}/enrollments/carol"), 404, "enrollment_not_found"
    )


def test_course_list_includes_inactive_and_filters(world: World, staff_api: Any) -> None:
    Make.user("carol")
    Make.enrollment(COURSE, "carol", is_active=False)
    everyone = staff_api.get(f"courses/{COURSE}/enrollments").json()
    items = assert_page(everyone, count=3)
    assert [(e["username"], e["mode"], e["is_active"]) for e in items] == [
        ("bob", "verified", True),
        ("carol", "audit", False),
        ("mary", "audit", True),
    ]
    for item in items:
        assert set(item) == ENROLLMENT_KEYS
        assert item["course_key"] == COURSE

    def usernames(**params: Any) -> list[str]:
        body = staff_api.get(query(f"courses/{COURSE}/enrollments", **params)).json()
        return [e["username"] for e in body["items"]]

    assert usernames(mode="verified") == ["bob"]
    assert usernames(mode="audit") == ["carol", "mary"]
    assert usernames(is_active="false") == ["carol"]
    assert usernames(is_active="true") == ["bob", "mary"]
    assert usernames(mode="audit", is_active="true") == ["mary"]
    assert usernames(mode="honor") == []


def test_course_list_pages(world: World, staff_api: Any) -> None:
    body = staff_api.get(f"courses/{COURSE}/enrollments?page=2&page_size=1").json()
    assert [e["username"] for e in assert_page(body, count=2, page=2, page_size=1)] == ["mary"]


def test_user_list(world: World, staff_api: Any) -> None:
    body = staff_api.get("users/MARY/enrollments").json()
    items = assert_page(body, count=2)
    assert {(e["course_key"], e["username"]) for e in items} == {
        (COURSE, "mary"),
        (OTHER_COURSE, "mary"),
    }
    for item in items:
        assert set(item) == ENROLLMENT_KEYS
    assert assert_page(staff_api.get("users/admin/enrollments").json(), count=0) == []


def test_bulk_answers_202_with_a_job_id(world: World, staff_api: Any) -> None:
    response = staff_api.post(
        f"courses/{COURSE}/bulk_enrollments", {"usernames": ["mary", "bob"], "mode": "verified"}
    )
    assert response.status_code == 202, response.content
    body = response.json()
    assert set(body) == {"job_id"}
    job = staff_api.get(f"jobs/{body['job_id']}")
    assert job.status_code == 200
    assert job.json()["kind"] == "enrollments.bulk"
    assert job.json()["state"] == "queued"  # dispatched once the request's transaction commits
    assert job.json()["actor"] == "admin"
    assert job.json()["source"] == "api"


def test_bulk_refuses_what_it_can_tell_at_once(world: World, staff_api: Any) -> None:
    url = f"courses/{COURSE}/bulk_enrollments"
    assert_error(
        staff_api.post(url, {"usernames": ["mary"], "mode": "professional"}), 422, "invalid_mode"
    )
    assert_error(staff_api.post(url, {"usernames": ["mary"], "action": "expel"}), 422, "invalid")
    assert_error(
        staff_api.post("courses/course-v1:edX+nope+1/bulk_enrollments", {"usernames": ["mary"]}),
        404,
        "course_not_found",
    )
    assert staff_api.get("jobs").json()["count"] == 0
