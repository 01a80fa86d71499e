from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client

from rollbook.audit.data import Actor
from rollbook.oneroster import api as oauth
from rollbook.oneroster.data import SCOPE_NRPS
from tests.factories import Make

PATH = "/lti/nrps/v2/courses/{key}/memberships"
CS1 = "course-v1:OrgA+CS101+2026"
BIO = "course-v1:OrgB+BIO1+2026"
LIS = "http://purl.imsglobal.org/vocab/lis/v2/membership"
LEARNER = f"{LIS}#Learner"
INSTRUCTOR = f"{LIS}#Instructor"
CONTENT_DEVELOPER = f"{LIS}#ContentDeveloper"
TA = f"{LIS}/Instructor#TeachingAssistant"
MEDIA_TYPE = "application/vnd.ims.lti-nrps.v2.membershipcontainer+json"


@pytest.fixture
def school(db: None) -> None:
    Make.course(CS1, title="Intro to CS")
    Make.course(BIO, title="Biology")
    Make.user("alice", name="Alice Mary Smith", sis_sourcedid="SIS-A1")
    Make.user("bob", name="Bob Jones")
    Make.user("tina", name="Tina Teach")
    Make.user("sam", name="Sam")
    Make.user("lee", name="Lee Assist")
    Make.user("beth", name="Beth Beta")
    Make.user("carl", name="Carl Bio")
    Make.user("oscar", name="Oscar Org")
    Make.user("ivy", name="Ivy Gone")
    Make.enrollment(CS1, "alice")
    Make.enrollment(CS1, "bob")
    Make.enrollment(CS1, "bob", is_active=False)  # unenrolled: an inactive learner
    Make.grant("tina", "instructor", course_key=CS1)
    Make.grant("sam", "staff", course_key=CS1)
    Make.enrollment(CS1, "sam")
    Make.grant("lee", "limited_staff", course_key=CS1)
    Make.grant("beth", "beta_testers", course_key=CS1)  # no member role
    Make.enrollment(BIO, "carl")  # another course
    Make.grant("oscar", "staff", org="OrgA")  # org roles make no one a member
    Make.enrollment(CS1, "ivy")
    Make.user("ivy", is_active=False)  # a deactivated account


def container(response: Any) -> dict[str, Any]:
    assert response.status_code == 200, response.content
    body: dict[str, Any] = response.json()
    return body


def user_ids(response: Any) -> list[str]:
    return [member["user_id"] for member in container(response)["members"]]


def links(response: Any) -> dict[str, str]:
    """RFC 8288 `Link` header: {rel: url}."""
    found = {}
    for part in response["Link"].split(", "):
        target, _, rel = part.partition("; ")
        assert target.startswith("<"), part
        assert target.endswith(">"), part
        assert rel.startswith('rel="'), part
        assert rel.endswith('"'), part
        found[rel[5:-1]] = target[1:-1]
    return found


def query(url: str) -> dict[str, str]:
    return {name: values[0] for name, values in parse_qs(urlsplit(url).query).items()}


def error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.content
    body: dict[str, Any] = response.json()
    assert body["code"] == code
    assert body["message"]
    return body


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
