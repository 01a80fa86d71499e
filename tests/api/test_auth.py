"""Authentication: every /api/v1 operation answers 401 in the error shape without a live token."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from rollbook.audit.data import Actor
from rollbook.people import api as people
from tests.api.helpers import assert_error, call, operations
from tests.factories import Make

# The LMB endpoint authenticates Luminis Message Broker with HTTP Basic, not API tokens:
# tests/sis_import/test_lmb.py covers its 401s.
OPERATIONS = [op for op in operations() if op.path != "/api/v1/sis/lmb"]
ACTOR = Actor.system("test")


def _assert_401(response: object) -> None:
    body = assert_error(response, 401, "not_authenticated")
    assert body["fields"] == {}
    assert response["WWW-Authenticate"].startswith("Bearer")  # type: ignore[index]


def test_the_api_has_operations_to_check() -> None:
    # Guards the parametrization below against an empty schema.
    assert len(OPERATIONS) >= 25


@pytest.mark.django_db
@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda op: op.id)
def test_every_operation_refuses_a_request_without_token(operation: object) -> None:
    # enforce_csrf_checks: a real client sends no CSRF token either; a request without any
    # credentials must still be told 401, not a CSRF 403.
    client = Client(enforce_csrf_checks=True)
    _assert_401(call(client, operation.method, operation.url()))  # type: ignore[attr-defined]


def _revoked_token() -> str:
    raw = Make.token("revoked")
    (token,) = people.list_tokens("revoked")
    people.revoke_token(token.id, actor=ACTOR)
    return raw


def _inactive_users_token() -> str:
    raw = Make.token("gone")
    Make.user("gone", is_active=False)
    return raw


BAD_TOKENS: dict[str, Callable[[], str]] = {
    "garbage": lambda: "not-a-token",
    "unknown": lambda: "rb_" + "x" * 43,
    "too long": lambda: "rb_" + "x" * 300,
    "revoked": _revoked_token,
    "inactive user": _inactive_users_token,
}


@pytest.mark.django_db
@pytest.mark.parametrize("kind", BAD_TOKENS)
def test_every_operation_refuses_a_bad_token(kind: str) -> None:
    token = BAD_TOKENS[kind]()
    client = Client(enforce_csrf_checks=True)
    for operation in OPERATIONS:
        response = call(client, operation.method, operation.url(), token=token)
        assert response.status_code == 401, (operation.id, response.content)
        _assert_401(response)


@pytest.mark.django_db
def test_a_token_of_another_scheme_is_refused() -> None:
    token = Make.token("mary")
    response = Client().get("/api/v1/version", headers={"Authorization": f"Basic {token}"})
    _assert_401(response)


@pytest.mark.django_db
def test_a_live_token_authenticates_and_revoking_it_ends_that() -> None:
    token = Make.token("mary")
    client = Client(enforce_csrf_checks=True)
    assert call(client, "get", "/api/v1/users/mary", token=token).status_code == 200
    (stored,) = people.list_tokens("mary")
    people.revoke_token(stored.id, actor=ACTOR)
    _assert_401(call(client, "get", "/api/v1/users/mary", token=token))


@pytest.mark.django_db
def test_the_admin_session_authenticates_reads() -> None:
    Make.user("mary")
    client = Client(enforce_csrf_checks=True)
    client.force_login(people_model_user("mary"))
    response = client.get("/api/v1/users/mary")
    assert response.status_code == 200
    assert response.json()["username"] == "mary"


@pytest.mark.django_db
def test_the_admin_session_needs_csrf_on_writes() -> None:
    Make.user("admin", is_staff=True)
    client = Client(enforce_csrf_checks=True)
    client.force_login(people_model_user("admin"))
    response = call(client, "put", "/api/v1/users/newbie", body={"name": "New"})
    assert response.status_code == 403
    assert set(response.json()) == {"code", "message", "fields"}
    assert response.json()["code"] != "not_authenticated"
    csrf = "k" * 32  # a CSRF secret, as the admin's pages set it in the cookie
    client.cookies["csrftoken"] = csrf
    response = call(
        client, "put", "/api/v1/users/newbie", body={"name": "New"}, headers={"X-CSRFToken": csrf}
    )
    assert response.status_code == 201, response.content


@pytest.mark.django_db
def test_the_admin_session_of_an_inactive_user_is_refused() -> None:
    Make.user("mary")
    client = Client(enforce_csrf_checks=True)
    client.force_login(people_model_user("mary"))
    Make.user("mary", is_active=False)
    _assert_401(client.get("/api/v1/users/mary"))
    _assert_401(call(client, "put", "/api/v1/users/mary", body={"name": "M"}))


def people_model_user(username: str) -> object:
    return get_user_model().objects.get(username=username)
