"""Every refusal answers {"code", "message", "fields"} with the status of its kind."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import override_settings

from tests.api.helpers import COURSE, assert_error, query
from tests.api.world import World


@pytest.mark.parametrize(
    "path",
    [
        "courses/not-a-key",
        "courses/course-v1:edX+toy",
        "courses/not-a-key/enrollments",
        "courses/not-a-key/enrollments/mary",
    ],
)
def test_a_malformed_course_key_is_422(world: World, staff_api: Any, path: str) -> None:
    body = assert_error(staff_api.get(path), 422, "invalid_course_key")
    assert body["fields"] == {"course_key": path.split("/")[1]}


def test_a_malformed_course_key_is_422_on_writes(world: World, staff_api: Any) -> None:
    assert_error(staff_api.put("courses/edX+toy+2012", {"title": "T"}), 422, "invalid_course_key")
    assert_error(staff_api.put("courses/not-a-key/enrollments/mary", {}), 422, "invalid_course_key")
    assert_error(
        staff_api.post("courses/not-a-key/bulk_enrollments", {"usernames": ["mary"]}),
        422,
        "invalid_course_key",
    )


def test_an_unknown_course_is_404(world: World, staff_api: Any) -> None:
    body = assert_error(staff_api.get("courses/course-v1:edX+nope+2012"), 404, "course_not_found")
    assert body["fields"] == {"course_key": "course-v1:edX+nope+2012"}


@pytest.mark.parametrize(
    "path",
    [
        "users/nobody",
        "users/nobody/enrollments",
        "users/nobody/roles",
        "users/nobody/libraries",
        f"courses/{COURSE}/enrollments/nobody",
        query("roles/check", username="nobody", role="staff", course_key=COURSE),
    ],
)
def test_an_unknown_user_is_404(world: World, staff_api: Any, path: str) -> None:
    body = assert_error(staff_api.get(path), 404, "user_not_found")
    assert body["fields"] == {"username": "nobody"}


def test_an_unknown_user_is_404_on_writes(world: World, staff_api: Any) -> None:
    assert_error(staff_api.put(f"courses/{COURSE}/enrollments/nobody", {}), 404, "user_not_found")
    grant = {"username": "nobody", "role": "staff", "course_key": COURSE}
    assert_error(staff_api.post("roles/grants", grant), 404, "user_not_found")
    assert_error(staff_api.post("roles/revokes", grant), 404, "user_not_found")


@pytest.mark.parametrize("endpoint", ["roles/grants", "roles/revokes"])
def test_an_unknown_role_is_422(world: World, staff_api: Any, endpoint: str) -> None:
    body = assert_error(
        staff_api.post(endpoint, {"username": "mary", "role": "wizard", "course_key": COURSE}),
        422,
        "unknown_role",
    )
    assert body["fields"] == {"role": "wizard"}


def test_an_unknown_role_is_422_on_check(world: World, staff_api: Any) -> None:
    path = query("roles/check", username="mary", role="wizard", course_key=COURSE)
    assert_error(staff_api.get(path), 422, "unknown_role")


@override_settings(MAX_BODY_BYTES=1000)
def test_an_oversized_body_is_413(world: World, staff_api: Any) -> None:
    usernames = [f"user{i}" for i in range(200)]  # about 1,800 bytes of JSON
    response = staff_api.post(f"courses/{COURSE}/bulk_enrollments", {"usernames": usernames})
    body = assert_error(response, 413, "body_too_large")
    assert body["fields"] == {"limit": 1000}
    assert "1000" in body["message"]
    assert staff_api.get("jobs").json()["count"] == 0


@override_settings(MAX_BODY_BYTES=1000)
def test_a_body_under_the_limit_is_accepted(world: World, staff_api: Any) -> None:
    usernames = [f"user{i}" for i in range(90)]  # about 800 bytes of JSON
    response = staff_api.post(f"courses/{COURSE}/bulk_enrollments", {"usernames": usernames})
    assert response.status_code == 202, response.content


@override_settings(MAX_BODY_BYTES=1000)
def test_an_oversized_body_is_413_even_without_a_token(anon_api: Any) -> None:
    response = anon_api.put("users/mary", {"name": "M" * 2000})
    assert_error(response, 413, "body_too_large")


@override_settings(MAX_BODY_BYTES=100_000, DATA_UPLOAD_MAX_MEMORY_SIZE=1000)
def test_a_body_over_djangos_read_limit_is_413_too(world: World, staff_api: Any) -> None:
    response = staff_api.put("users/mary", {"name": "M" * 2000})
    body = assert_error(response, 413, "body_too_large")
    assert body["fields"] == {"limit": 100_000}


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("users/mary", {"is_active": "perhaps"}, "is_active"),
        ("users/mary", {"email": "x" * 300 + "@example.com"}, "email"),
        (f"courses/{COURSE}", {"passing_grade": 2}, "passing_grade"),
        (f"courses/{COURSE}", {"days_early_for_beta": -1}, "days_early_for_beta"),
        (f"courses/{COURSE}/enrollments/mary", {"is_active": []}, "is_active"),
        ("libraries/lib:edX:lib1", {}, "title"),
    ],
)
def test_schema_errors_are_422_invalid_with_fields(
    world: World, staff_api: Any, path: str, body: dict[str, Any], field: str
) -> None:
    answer = assert_error(staff_api.put(path, body), 422, "invalid")
    assert list(answer["fields"]) == [field], answer
    assert field in answer["message"]


def test_schema_errors_name_every_field(world: World, staff_api: Any) -> None:
    answer = assert_error(staff_api.post("roles/grants", {"course_key": COURSE}), 422, "invalid")
    assert set(answer["fields"]) == {"username", "role"}


def test_schema_errors_in_a_list_name_the_item(world: World, staff_api: Any) -> None:
    response = staff_api.post(
        f"courses/{COURSE}/bulk_enrollments", {"usernames": ["mary", {"not": "a name"}]}
    )
    answer = assert_error(response, 422, "invalid")
    assert list(answer["fields"]) == ["usernames.1"]


def test_an_empty_bulk_is_422(world: World, staff_api: Any) -> None:
    answer = assert_error(
        staff_api.post(f"courses/{COURSE}/bulk_enrollments", {"usernames": []}), 422, "invalid"
    )
    assert list(answer["fields"]) == ["usernames"]


def test_query_errors_are_422_invalid_with_fields(world: World, staff_api: Any) -> None:
    answer = assert_error(staff_api.get("roles/check?role=staff"), 422, "invalid")
    assert list(answer["fields"]) == ["username"]
    answer = assert_error(
        staff_api.get(f"courses/{COURSE}/enrollments?is_active=sometimes"), 422, "invalid"
    )
    assert list(answer["fields"]) == ["is_active"]


def test_a_malformed_job_id_is_422(world: World, staff_api: Any) -> None:
    answer = assert_error(staff_api.get("jobs/not-a-uuid"), 422, "invalid")
    assert list(answer["fields"]) == ["job_id"]


def test_a_missing_body_is_422(world: World, staff_api: Any) -> None:
    response = staff_api.client.put(
        "/api/v1/users/mary",
        content_type="application/json",
        headers={"Authorization": f"Bearer {staff_api.token}"},
    )
    assert_error(response, 422, "invalid")


@pytest.mark.parametrize("raw", ['{"name": ', "not json", '{"name": "x"}}'])
def test_malformed_json_is_422(world: World, staff_api: Any, raw: str) -> None:
    response = staff_api.client.put(
        "/api/v1/users/mary",
        data=raw,
        content_type="application/json",
        headers={"Authorization": f"Bearer {staff_api.token}"},
    )
    body = assert_error(response, 422, "invalid_json")
    assert body["fields"] == {}


@pytest.mark.parametrize("raw", ["[1, 2]", '"name"', "3", "null"])
def test_json_that_is_not_an_object_is_422(world: World, staff_api: Any, raw: str) -> None:
    response = staff_api.client.put(
        "/api/v1/users/newbie",
        data=raw,
        content_type="application/json",
        headers={"Authorization": f"Bearer {staff_api.token}"},
    )
    assert_error(response, 422, "invalid_json")
    assert_error(staff_api.get("users/newbie"), 404, "user_not_found")


def test_granting_to_an_inactive_user_is_409(world: World, staff_api: Any) -> None:
    assert staff_api.put("users/mary", {"is_active": False}).status_code == 200
    body = assert_error(
        staff_api.post("roles/grants", {"username": "MARY", "role": "staff", "course_key": COURSE}),
        409,
        "user_inactive",
    )
    assert body["fields"] == {"username": "mary"}
    assert staff_api.get("users/mary/roles").json()["count"] == 0


def test_a_role_at_the_wrong_scope_is_422(world: World, staff_api: Any) -> None:
    grant = {"username": "mary", "role": "support", "course_key": COURSE}
    assert_error(staff_api.post("roles/grants", grant), 422, "invalid_role_scope")


def test_a_course_role_on_a_missing_course_is_404(world: World, staff_api: Any) -> None:
    grant = {"username": "mary", "role": "staff", "course_key": "course-v1:edX+nope+1"}
    assert_error(staff_api.post("roles/grants", grant), 404, "course_not_found")


def test_an_unknown_job_is_404(world: World, staff_api: Any) -> None:
    path = "jobs/6b1f3a52-6a8e-4f4b-9d27-0b8d7c7b1a10"
    assert_error(staff_api.get(path), 404, "job_not_found")
    assert_error(staff_api.post(f"{path}/approve"), 404, "job_not_found")
    assert_error(staff_api.post(f"{path}/cancel"), 404, "job_not_found")


def test_an_unknown_url_under_the_api_is_404(world: World, staff_api: Any) -> None:
    assert staff_api.get("no-such-thing").status_code == 404


def test_a_method_the_route_lacks_is_405_in_the_json_shape(world: World, staff_api: Any) -> None:
    response = staff_api.delete("users/mary")
    body = assert_error(response, 405, "method_not_allowed")
    assert "GET" in response["Allow"]
    assert "PUT" in response["Allow"]
    assert body["fields"]["allow"] == response["Allow"]


def test_an_admin_session_without_csrf_token_gets_a_named_code(world: World) -> None:
    from django.test import Client

    from rollbook.people.models import User
    from tests.factories import Make

    Make.user("operator", is_staff=True)
    client = Client(enforce_csrf_checks=True)
    client.force_login(User.objects.get(username="operator"))
    response = client.put("/api/v1/users/newbie", data="{}", content_type="application/json")
    assert_error(response, 403, "csrf_failed")


def test_every_response_says_how_long_the_server_took(world: World, staff_api: Any) -> None:
    for response in (staff_api.get(f"courses/{COURSE}"), staff_api.get("courses/nope")):
        name, _, duration = response["Server-Timing"].partition(";dur=")
        assert name == "app"
        assert float(duration) >= 0
