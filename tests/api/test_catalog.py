"""REST of the catalog: courses (PUT creates or changes; GET answers the fields) and libraries."""

from __future__ import annotations

from typing import Any

from tests.api.helpers import assert_error, assert_page, query

KEY = "course-v1:edX+toy+2012"
COURSE_KEYS = {
    "key",
    "org",
    "title",
    "start",
    "end",
    "modes",
    "default_mode",
    "sis_id",
    "enrollment_open",
    "days_early_for_beta",
    "passing_grade",
}


def test_put_creates_a_course_then_changes_it(staff_api: Any) -> None:
    created = staff_api.put(f"courses/{KEY}", {"title": "Toy"})
    assert created.status_code == 201, created.content
    assert created.json() == {
        "key": KEY,
        "org": "edX",
        "title": "Toy",
        "start": None,
        "end": None,
        "modes": ["audit"],
        "default_mode": "audit",
        "sis_id": "",
        "enrollment_open": True,
        "days_early_for_beta": None,
        "passing_grade": created.json()["passing_grade"],
    }
    changed = staff_api.put(
        f"courses/{KEY}",
        {
            "modes": ["audit", "verified"],
            "default_mode": "verified",
            "start": "2026-01-05T00:00:00Z",
            "end": "2026-06-30T00:00:00Z",
            "sis_id": "SIS-1",
            "passing_grade": 0.6,
            "days_early_for_beta": 3,
            "enrollment_open": False,
        },
    )
    assert changed.status_code == 200, changed.content
    fetched = staff_api.get(f"courses/{KEY}")
    assert fetched.status_code == 200
    body = fetched.json()
    assert set(body) == COURSE_KEYS
    assert body["title"] == "Toy"
    assert body["modes"] == ["audit", "verified"]
    assert body["default_mode"] == "verified"
    assert body["start"].startswith("2026-01-05T00:00:00")
    assert body["sis_id"] == "SIS-1"
    assert body["passing_grade"] == 0.6
    assert body["days_early_for_beta"] == 3
    assert body["enrollment_open"] is False


def test_null_clears_the_dates_but_keeps_the_rest(staff_api: Any) -> None:
    staff_api.put(f"courses/{KEY}", {"title": "Toy", "start": "2026-01-05T00:00:00Z"})
    body = staff_api.put(f"courses/{KEY}", {"start": None, "title": None}).json()
    assert body["start"] is None
    assert body["title"] == "Toy"


def test_a_new_course_needs_a_title(staff_api: Any) -> None:
    for body in ({}, {"title": None}, {"title": "  "}, {"sis_id": "S"}):
        answer = assert_error(staff_api.put(f"courses/{KEY}", body), 422, "title_required")
        assert "title" in answer["fields"]
    assert_error(staff_api.get(f"courses/{KEY}"), 404, "course_not_found")


def test_course_values_are_checked(staff_api: Any) -> None:
    staff_api.put(f"courses/{KEY}", {"title": "Toy"})
    assert_error(staff_api.put(f"courses/{KEY}", {"modes": ["wizard"]}), 422, "invalid_mode")
    assert_error(staff_api.put(f"courses/{KEY}", {"default_mode": "honor"}), 422, "invalid_mode")
    assert_error(
        staff_api.put(
            f"courses/{KEY}", {"start": "2026-06-01T00:00:00Z", "end": "2026-01-01T00:00:00Z"}
        ),
        422,
        "invalid_dates",
    )
    assert staff_api.get(f"courses/{KEY}").json()["modes"] == ["audit"]


def test_list_courses_by_org_and_sis_id(staff_api: Any) -> None:
    staff_api.put(f"courses/{KEY}", {"title": "Toy", "sis_id": "SIS-1"})
    staff_api.put("courses/course-v1:edX+other+2012", {"title": "Other"})
    staff_api.put("courses/course-v1:MITx+6.002x+2026", {"title": "Circuits", "sis_id": "SIS-1"})

    everything = staff_api.get("courses").json()
    assert {c["key"] for c in assert_page(everything, count=3)} == {
        KEY,
        "course-v1:edX+other+2012",
        "course-v1:MITx+6.002x+2026",
    }
    by_org = staff_api.get(query("courses", org="edX")).json()
    assert [c["key"] for c in assert_page(by_org, count=2)] == [
        "course-v1:edX+other+2012",
        KEY,
    ]
    by_sis = staff_api.get(query("courses", sis_id="SIS-1")).json()
    assert {c["key"] for c in assert_page(by_sis, count=2)} == {
        "course-v1:MITx+6.002x+2026",
        KEY,
    }
    both = staff_api.get(query("courses", org="MITx", sis_id="SIS-1")).json()
    assert [c["key"] for c in assert_page(both, count=1)] == ["course-v1:MITx+6.002x+2026"]
    for item in everything["items"]:
        assert set(item) == COURSE_KEYS


def test_course_keys_are_case_sensitive(staff_api: Any) -> None:
    staff_api.put(f"courses/{KEY}", {"title": "Toy"})
    assert_error(staff_api.get("courses/course-v1:EDX+TOY+2012"), 404, "course_not_found")


def test_libraries(staff_api: Any) -> None:
    created = staff_api.put("libraries/lib:edX:physics", {"title": "Physics"})
    assert created.status_code == 201, created.content
    assert created.json() == {"key": "lib:edX:physics", "org": "edX", "title": "Physics"}
    renamed = staff_api.put("libraries/lib:edX:physics", {"title": "Physics II"})
    assert renamed.status_code == 200
    assert staff_api.get("libraries/lib:edX:physics").json()["title"] == "Physics II"
    assert_error(staff_api.get("libraries/lib:edX:nope"), 404, "library_not_found")
    assert_error(
        staff_api.put("libraries/library-edX-x", {"title": "T"}), 422, "invalid_library_key"
    )
    assert_error(staff_api.put("libraries/lib:edX:new", {"title": ""}), 422, "invalid")
