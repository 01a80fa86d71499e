"""GET /api/v1/audit: the change log for global staff, newest first, with before and after."""

from __future__ import annotations

from typing import Any

from tests.api.helpers import COURSE, assert_error, assert_page, query
from tests.api.world import World
from tests.factories import Make

AUDIT_KEYS = {"id", "time", "event", "subject", "actor", "source", "before", "after"}


def test_changes_made_through_the_api_are_logged(staff_api: Any) -> None:
    staff_api.put("users/mary", {"name": "Mary", "email": "mary@example.com"})
    staff_api.put("users/MARY", {"name": "Mary Major"})
    staff_api.put("users/mary", {"name": "Mary Major"})  # no change: no row

    body = staff_api.get(query("audit", subject="user:mary")).json()
    created, updated = reversed(assert_page(body, count=2))
    for event in (created, updated):
        assert set(event) == AUDIT_KEYS
        assert event["actor"] == "admin"
        assert event["source"] == "api"
        assert event["subject"] == "user:mary"
    assert created["event"] == "user.created"
    assert created["before"] is None
    assert created["after"]["name"] == "Mary"
    assert updated["event"] == "user.updated"
    assert updated["before"]["name"] == "Mary"
    assert updated["after"]["name"] == "Mary Major"
    assert updated["before"]["email"] == updated["after"]["email"] == "mary@example.com"
    assert updated["id"] > created["id"]
    assert updated["time"] >= created["time"]


def test_filters_by_subject_prefix_and_event(world: World, staff_api: Any) -> None:
    staff_api.put(f"courses/{COURSE}/enrollments/mary", {"mode": "verified"})
    staff_api.put(f"courses/{COURSE}/enrollments/bob", {"is_active": False})

    prefix = staff_api.get(query("audit", subject=f"enrollment:{COURSE}:*")).json()
    subjects = {event["subject"] for event in prefix["items"]}
    assert subjects == {f"enrollment:{COURSE}:mary", f"enrollment:{COURSE}:bob"}

    updates = staff_api.get(
        query("audit", subject=f"enrollment:{COURSE}:*", event="enrollment.updated")
    ).json()
    items = assert_page(updates, count=2)
    assert [(e["subject"], e["before"], e["after"], e["source"]) for e in items] == [
        (
            f"enrollment:{COURSE}:bob",
            {"mode": "verified", "is_active": True, "sources": ["manual"]},
            {"mode": "verified", "is_active": False, "sources": []},
            "api",
        ),
        (
            f"enrollment:{COURSE}:mary",
            {"mode": "audit", "is_active": True, "sources": ["manual"]},
            {"mode": "verified", "is_active": True, "sources": ["manual"]},
            "api",
        ),
    ]
    exact = staff_api.get(query("audit", subject=f"enrollment:{COURSE}")).json()
    assert exact["count"] == 0  # without '*', the subject matches exactly


def test_role_changes_are_logged(world: World, staff_api: Any) -> None:
    grant = {"username": "mary", "role": "staff", "course_key": COURSE}
    staff_api.post("roles/grants", grant)
    staff_api.post("roles/grants", grant)  # idempotent: no second row
    staff_api.post("roles/revokes", grant)
    body = staff_api.get(query("audit", subject="user:mary", event="role.granted")).json()
    (granted,) = assert_page(body, count=1)
    assert granted["after"] == {
        "role": "staff",
        "org": "edX",
        "course_key": COURSE,
        "sources": ["manual"],
    }
    assert granted["source"] == "api"
    revoked = staff_api.get(query("audit", event="role.revoked")).json()["items"]
    assert [(e["before"], e["after"]) for e in revoked] == [
        ({"role": "staff", "org": "edX", "course_key": COURSE, "sources": ["manual"]}, None)
    ]


def test_the_log_is_for_global_staff_only(world: World, api_as: Any) -> None:
    assert_error(api_as("mary").get(query("audit", subject="user:mary")), 403, "forbidden")
    course_staff = api_as("helper")
    Make.grant("helper", "staff", course_key=COURSE)
    assert_error(course_staff.get("audit"), 403, "forbidden")


def test_refused_writes_leave_no_row(world: World, staff_api: Any) -> None:
    before = staff_api.get("audit").json()["count"]
    staff_api.put(f"courses/{COURSE}/enrollments/mary", {"mode": "professional"})
    staff_api.put("courses/course-v1:edX+new+1", {})
    staff_api.put("courses/course-v1:NewOrg+new+1", {})  # no title: no course, and no org
    staff_api.put("libraries/lib:OtherOrg:x", {"title": ""})
    staff_api.post("roles/grants", {"username": "mary", "role": "wizard"})
    assert staff_api.get("audit").json()["count"] == before
