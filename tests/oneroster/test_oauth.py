"""OAuth 2 client credentials: the token endpoint and what a token lets a client read."""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from rollbook.audit.data import Actor
from rollbook.oneroster import api
from rollbook.oneroster.data import SCOPE_DEMOGRAPHICS, SCOPE_ROSTER_CORE
from rollbook.oneroster.models import OAuthToken
from tests.oneroster.conftest import RosterClient

pytestmark = pytest.mark.django_db


def new_client(*scopes: str) -> tuple[str, str]:
    client, secret = api.create_client(
        "LMS", actor=Actor.system("test"), scopes=scopes or (SCOPE_ROSTER_CORE, SCOPE_DEMOGRAPHICS)
    )
    return client.client_id, secret


def post(data: dict[str, str], basic: tuple[str, str] | None = None) -> Any:
    headers = {}
    if basic:
        headers["Authorization"] = "Basic " + base64.b64encode(":".join(basic).encode()).decode()
    return Client().post("/oauth/token", data, headers=headers)


def minor(response: Any) -> str:
    field = response.json()["imsx_CodeMinor"]["imsx_codeMinorField"][0]
    return str(field["imsx_codeMinorFieldValue"])


def test_token_with_http_basic() -> None:
    client_id, secret = new_client()
    response = post({"grant_type": "client_credentials"}, basic=(client_id, secret))
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 3600
    assert body["scope"] == f"{SCOPE_ROSTER_CORE} {SCOPE_DEMOGRAPHICS}"
    assert response["Cache-Control"] == "no-store"
    # Stored as a digest only.
    assert not OAuthToken.objects.filter(digest=body["access_token"]).exists()
    listed = RosterClient(body["access_token"]).get("orgs")
    assert listed.status_code == 200


def test_token_with_form_credentials_and_a_narrower_scope() -> None:
    client_id, secret = new_client()
    response = post(
        {
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_secret": secret,
            "scope": SCOPE_DEMOGRAPHICS,
        }
    )
    assert response.json()["scope"] == SCOPE_DEMOGRAPHICS
    # demographics alone does not cover the rostering endpoints
    forbidden = RosterClient(response.json()["access_token"]).get("users")
    assert forbidden.status_code == 403
    assert minor(forbidden) == "forbidden"


@pytest.mark.parametrize(
    ("data", "use_secret", "status", "error"),
    [
        ({"grant_type": "client_credentials"}, False, 401, "invalid_client"),
        ({"grant_type": "password"}, True, 400, "unsupported_grant_type"),
        (
            {"grant_type": "client_credentials", "scope": "https://example.com/x"},
            True,
            400,
            "invalid_scope",
        ),
        (
            {
                "grant_type": "client_credentials",
                "scope": "https://purl.imsglobal.org/spec/or/v1p2/scope/roster.readonly",
            },
            True,
            400,
            "invalid_scope",  # a known scope, but not granted to this client
        ),
    ],
)
def test_token_errors(data: dict[str, str], use_secret: bool, status: int, error: str) -> None:
    client_id, secret = new_client()
    response = post(data, basic=(client_id, secret if use_secret else "wrong"))
    assert response.status_code == status
    assert response.json()["error"] == error
    assert response.json()["error_description"]


def test_no_credentials_and_get_are_refused() -> None:
    assert post({"grant_type": "client_credentials"}).status_code == 401
    assert Client().get("/oauth/token").status_code == 405


def test_a_revoked_client_gets_no_token_and_its_tokens_stop(
    roster_as: Callable[..., RosterClient],
) -> None:
    client_id, secret = new_client()
    token = api.issue_token("client_credentials", client_id, secret, None).access_token
    assert RosterClient(token).get("orgs").status_code == 200
    assert api.revoke_client(client_id, actor=Actor.system("test"))
    assert RosterClient(token).get("orgs").status_code == 401
    assert post({"grant_type": "client_credentials"}, basic=(client_id, secret)).status_code == 401


def test_requests_without_or_with_a_bad_token_are_401(
    roster_as: Callable[..., RosterClient],
) -> None:
    for client in (roster_as(token=None), roster_as(token="ort_nonsense"), roster_as(token="x")):
        response = client.get("orgs")
        assert response.status_code == 401
        assert minor(response) == "unauthorisedrequest"
        assert response["WWW-Authenticate"].startswith("Bearer")


def test_an_expired_token_is_401() -> None:
    client_id, secret = new_client()
    token = api.issue_token("client_credentials", client_id, secret, None).access_token
    OAuthToken.objects.update(expires_at=dt.datetime(2000, 1, 1, tzinfo=dt.UTC))
    response = RosterClient(token).get("orgs")
    assert response.status_code == 401
    assert minor(response) == "unauthorisedrequest"


def test_only_get(roster_as: Callable[..., RosterClient]) -> None:
    client = roster_as()
    response = client.client.post(
        "/ims/oneroster/rostering/v1p2/orgs", headers={"Authorization": f"Bearer {client.token}"}
    )
    assert response.status_code == 405
