from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from rollbook.audit.data import Actor
from rollbook.oneroster import api
from rollbook.oneroster.data import ALL_SCOPES

BASE = "/ims/oneroster/rostering/v1p2"


class RosterClient:
    def __init__(self, token: str | None) -> None:
        self.client = Client()
        self.token = token

    def get(self, path: str, **params: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        return self.client.get(f"{BASE}/{path}", params, headers=headers)


def issue(scopes: tuple[str, ...] = ALL_SCOPES) -> str:
    client, secret = api.create_client("LMS", actor=Actor.system("test"), scopes=scopes)
    return api.issue_token("client_credentials", client.client_id, secret, None).access_token


@pytest.fixture
def roster_as(db: None) -> Callable[..., RosterClient]:
    def build(scopes: tuple[str, ...] = ALL_SCOPES, *, token: str | None = "issue") -> RosterClient:
        return RosterClient(issue(scopes) if token == "issue" else token)

    return build


@pytest.fixture
def roster(roster_as: Callable[..., RosterClient]) -> RosterClient:
    return roster_as()
