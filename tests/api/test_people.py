"""REST of people: PUT /users/{username} creates then updates, case-insensitively."""

from __future__ import annotations

from typing import Any

from tests.api.helpers import assert_error, assert_page, query

USER_KEYS = {
    "username",
    "email",
    "name",
    "is_active",
    "is_staff",
    "idnumber",
    "sis_sourcedid",
    "allow_certificate",
    "date_joined",
    "modified",
}


def test_put_creates_then_updates(staff_api: Any) -> None:
    created = staff_api.put("users/Mary", {"email": "mary@example.com", "name": "Mary"})
    assert created.status_code == 201, created.content
    assert set(created.json()) == USER_KEYS
    assert created.json()["username"] == "Mary"
    assert created.json()["allow_certificate"] is True

    updated = staff_api.put("users/mary", {"idnumber": "A001", "allow_certificate": False})
    assert updated.status_code == 200, updated.content
    body = updated.json()
    assert body["username"] == "Mary"  # the case first given stays
    assert body["idnumber"] == "A001"
    assert body["allow_certificate"] is False
    assert body["name"] == "Mary"  # fields not sent keep their value
    assert body["date_joined"] == created.json()["date_joined"]
    assert body["modified"] > created.json()["modified"]  # a profile change moves it

    again = staff_api.put("users/MARY", {})
    assert again.status_code == 200
    assert again.json() == body  # nothing changed: `modified` stays


def test_get_is_case_insensitive(staff_api: Any) -> None:
    staff_api.put("users/mary", {"name": "Mary"})
    for spelling in ("mary", "MARY", "mArY"):
        response = staff_api.get(f"users/{spelling}")
        assert response.status_code == 200
        assert response.json()["username"] == "mary"


def test_put_refuses_a_bad_username_or_email(staff_api: Any) -> None:
    assert_error(staff_api.put("users/no%20spaces", {}), 422, "invalid_username")
    body = assert_error(
        staff_api.put("users/mary", {"email": "not-an-email"}), 422, "invalid_email"
    )
    assert body["fields"] == {"email": "not-an-email"}
    assert_error(staff_api.get("users/mary"), 404, "user_not_found")


def test_deactivating_a_user_through_the_api(staff_api: Any, api_as: Any) -> None:
    client = api_as("mary")
    assert client.get("users/mary").status_code == 200
    assert staff_api.put("users/mary", {"is_active": False}).json()["is_active"] is False
    assert_error(client.get("users/mary"), 401, "not_authenticated")


def test_search(staff_api: Any) -> None:
    staff_api.put("users/mary", {"name": "Mary Major", "email": "mm@example.com"})
    staff_api.put("users/bob", {"name": "Bob Minor", "email": "bob@example.org"})
    found = staff_api.get(query("users", search="major")).json()
    assert [user["username"] for user in assert_page(found, count=1)] == ["mary"]
    found = staff_api.get(query("users", search="example.org")).json()
    assert [user["username"] for user in assert_page(found, count=1)] == ["bob"]
    everyone = staff_api.get("users").json()
    assert [user["username"] for user in everyone["items"]] == ["admin", "bob", "mary"]
