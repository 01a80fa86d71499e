from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from rollbook.audit.data import Actor
from rollbook.oneroster import api as oauth
from rollbook.oneroster.data import SCOPE_NRPS

PATH = "/lti/nrps/v2/courses/{key}/memberships"


class NrpsClient:
    """GETs a course's membership container with a bearer token."""

    def __init__(self, token: str | None) -> None:
        self.client = Client()
        self.token = token

    def get(self, key: str, **params: Any) -> Any:
        return self.url(PATH.format(key=key), **params)

    def url(self, url: str, **params: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        return self.client.get(url, params, headers=headers)


def issue(scopes: tuple[str, ...]) -> str:
    client, secret = oauth.create_client("Tool", actor=Actor.system("test"), scopes=scopes)
    return oauth.issue_token("client_credentials", client.client_id, secret, None).access_token


@pytest.fixture
def nrps_as(db: None) -> Callable[..., NrpsClient]:
    def build(
        scopes: tuple[str, ...] = (SCOPE_NRPS,), *, token: str | None = "issue"
    ) -> NrpsClient:
        return NrpsClient(issue(scopes) if token == "issue" else token)

    return build


@pytest.fixture
def nrps(nrps_as: Callable[..., NrpsClient]) -> NrpsClient:
    return nrps_as()
