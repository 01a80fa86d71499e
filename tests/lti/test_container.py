"""The NRPS 2.0 membership container, checked field by field against the specification
(https://www.imsglobal.org/spec/lti-nrps/v2p0, cited by section), and its role filter,
paging, authorization and errors."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test import override_settings

from rollbook.audit import api as audit
from rollbook.oneroster.data import SCOPE_NRPS, SCOPE_ROSTER_CORE
from tests.factories import Make
from tests.lti.conftest import (
    CONTENT_DEVELOPER,
    CS1,
    INSTRUCTOR,
    LEARNER,
    LIS,
    MEDIA_TYPE,
    TA,
    NrpsClient,
    container,
    error,
    links,
    query,
    user_ids,
)
from tests.oneroster.conftest import BASE as ONEROSTER

# -- the container, field by field ------------------------------------------------------------


@override_settings(PUBLIC_URL="https://rollbook.example.edu")
def test_container_field_by_field(nrps: NrpsClient, school: None) -> None:
    response = nrps.get(CS1)
    # 2.1 "Membership container media type": the response is of media type
    # application/vnd.ims.lti-nrps.v2.membershipcontainer+json
    assert response["Content-Type"] == MEDIA_TYPE
    body = container(response)
    # 2.1: the container has exactly `id`, `context` and `members`
    assert set(body) == {"id", "context", "members"}
    # `id`: the URL of the membership container (here under ROLLBOOK_PUBLIC_URL)
    assert body["id"] == f"https://rollbook.example.edu/lti/nrps/v2/courses/{CS1}/memberships"
    # `context`: the LTI context, with `id` (required), `label` and `title`
    assert body["context"] == {"id": CS1, "label": "CS101", "title": "Intro to CS"}
    members = {member["user_id"]: member for member in body["members"]}
    # members in user_id order; beth (beta tester), carl (other course), oscar (org staff) are
    # no members
    assert list(members) == ["alice", "bob", "ivy", "lee", "sam", "tina"]
    # 2.2 "Sharing of personal data" and the sample response of 2.1: a member carries
    # `status`, `name`, `given_name`, `family_name`, `email`, `user_id`,
    # `lis_person_sourcedid` (the SIS id, when there is one) and `roles` (full LIS URIs)
    assert members["alice"] == {
        "status": "Active",
        "name": "Alice Mary Smith",
        "given_name": "Alice Mary",
        "family_name": "Smith",
        "email": "alice@example.com",
        "user_id": "alice",
        "lis_person_sourcedid": "SIS-A1",
        "roles": [LEARNER],
    }
    # no SIS id: no lis_person_sourcedid; a one-word name has no family name
    assert members["sam"] == {
        "status": "Active",
        "name": "Sam",
        "given_name": "Sam",
        "email": "sam@example.com",
        "user_id": "sam",
        "roles": [INSTRUCTOR, CONTENT_DEVELOPER, LEARNER],  # one member, several roles
    }
    assert members["tina"]["roles"] == [INSTRUCTOR]
    assert members["lee"]["roles"] == [TA]  # the Instructor#TeachingAssistant sub-role
    # 2.3 "Membership status": Active or Inactive. An unenrolled learner and a deactivated
    # account are Inactive; "a normal request for a memberships list will only return current
    # memberships and hence none will have a status of Deleted"
    assert members["bob"]["status"] == "Inactive"
    assert members["bob"]["roles"] == [LEARNER]
    assert members["ivy"]["status"] == "Inactive"
    assert members["ivy"]["roles"] == [LEARNER]
    assert {member["status"] for member in members.values()} == {"Active", "Inactive"}
    for member in members.values():
        assert member["roles"], "a person cannot be a member without a role"
        assert all(role.startswith(LIS) for role in member["roles"])
    # 2.4.3: "A response by the Names and Role Provisioning Services may include a
    # rel="differences" header link"; 2.4.2: no rel="next" when all members are in it
    assert set(links(response)) == {"differences"}


def test_an_empty_course_has_an_empty_members_array(nrps: NrpsClient, school: None) -> None:
    Make.course("course-v1:OrgA+EMPTY+2026", title="Nobody")
    body = container(nrps.get("course-v1:OrgA+EMPTY+2026"))
    assert body["members"] == []
    assert body["context"]["label"] == "EMPTY"


# -- 2.4.1 role filter ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        ("Learner", ["alice", "bob", "ivy", "sam"]),
        (LEARNER, ["alice", "bob", "ivy", "sam"]),
        ("Instructor", ["sam", "tina"]),
        (INSTRUCTOR, ["sam", "tina"]),
        ("ContentDeveloper", ["sam"]),
        (TA, ["lee"]),
        ("Mentor", []),  # a context role nobody in rollbook holds
    ],
)
def test_role_filter(nrps: NrpsClient, school: None, role: str, expected: list[str]) -> None:
    # 2.4.1: "A query parameter of role=Learner will filter the memberships to just those
    # which have a Learner role"; a full URI or a simple name
    response = nrps.get(CS1, role=role)
    assert user_ids(response) == expected
    for member in container(response)["members"]:
        assert (LIS + "#" + role if "/" not in role else role) in member["roles"]
    assert query(links(response)["differences"])["role"] == role


def test_a_learner_who_also_teaches_but_left_is_no_learner(nrps: NrpsClient, school: None) -> None:
    Make.enrollment(CS1, "tina")
    Make.enrollment(CS1, "tina", is_active=False)
    assert "tina" not in user_ids(nrps.get(CS1, role="Learner"))
    assert container(nrps.get(CS1, role="Instructor"))["members"][1]["roles"] == [INSTRUCTOR]


# -- 2.4.2 limit and rel="next" ---------------------------------------------------------------


def test_paging_follows_next_links_in_stable_order(nrps: NrpsClient, school: None) -> None:
    # 2.4.2: "If the response from a Platform does not comprise all of the members a
    # rel="next" header link will be included ... The absence of a rel="next" header link
    # indicates that no more members are available."
    response = nrps.get(CS1, limit=2)
    pages = [user_ids(response)]
    first_differences = links(response)["differences"]
    while "next" in links(response):
        next_url = links(response)["next"]
        assert query(next_url)["limit"] == "2"
        response = nrps.url(next_url)
        pages.append(user_ids(response))
        # every page points at the position the listing began at
        assert links(response)["differences"] == first_differences
    assert pages == [["alice", "bob"], ["ivy", "lee"], ["sam", "tina"]]


def test_paging_with_a_role_keeps_the_role(nrps: NrpsClient, school: None) -> None:
    response = nrps.get(CS1, role="Learner", limit=3)
    assert user_ids(response) == ["alice", "bob", "ivy"]
    assert query(links(response)["next"])["role"] == "Learner"
    assert user_ids(nrps.url(links(response)["next"])) == ["sam"]


def test_a_member_added_while_paging_does_not_shift_pages(nrps: NrpsClient, school: None) -> None:
    response = nrps.get(CS1, limit=3)
    assert user_ids(response) == ["alice", "bob", "ivy"]
    Make.user("aaron")
    Make.enrollment(CS1, "aaron")  # sorts first: the next page is not shifted by it
    assert user_ids(nrps.url(links(response)["next"])) == ["lee", "sam", "tina"]


def test_a_large_limit_is_clamped(nrps: NrpsClient, school: None) -> None:
    response = nrps.get(CS1, limit=5000)
    assert len(user_ids(response)) == 6
    assert query(links(response)["differences"])["limit"] == "1000"


@pytest.mark.parametrize("size", [3, 30])
def test_a_page_costs_the_same_queries_whatever_its_size(
    nrps: NrpsClient, school: None, size: int, django_assert_num_queries: Any
) -> None:
    for n in range(size):
        Make.user(f"extra{n:02}")
        Make.enrollment(CS1, f"extra{n:02}")
        Make.grant(f"extra{n:02}", "staff", course_key=CS1)
    audit.sequence_events()  # nothing left to number, so no listener runs
    sequencer = 4 if connection.vendor == "postgresql" else 3  # see tests/audit
    # token, course, the sequencer, the outbox position, the page, enrollments, grants
    with django_assert_num_queries(6 + sequencer):
        response = nrps.get(CS1, limit=size)
    assert len(user_ids(response)) == size
    # a next page: token, course, the position check, the page, enrollments, grants
    with django_assert_num_queries(6):
        assert len(user_ids(nrps.url(links(response)["next"]))) > 0


# -- authorization (NRPS 2.0 section 3.6.1.2 scope; RFC 6750 section 3) ----------------------


def test_without_a_token_401(nrps_as: Any, school: None) -> None:
    response = nrps_as(token=None).get(CS1)
    error(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"] == 'Bearer realm="rollbook"'


def test_an_unknown_token_401_invalid_token(nrps_as: Any, school: None) -> None:
    response = nrps_as(token="ort_nope").get(CS1)
    error(response, 401, "invalid_token")
    assert response["WWW-Authenticate"] == 'Bearer realm="rollbook", error="invalid_token"'


def test_a_token_without_the_nrps_scope_403(nrps_as: Any, school: None) -> None:
    response = nrps_as((SCOPE_ROSTER_CORE,)).get(CS1)
    error(response, 403, "insufficient_scope")
    assert response["WWW-Authenticate"] == (
        f'Bearer realm="rollbook", error="insufficient_scope", scope="{SCOPE_NRPS}"'
    )


def test_an_nrps_token_reads_no_oneroster(nrps: NrpsClient, school: None) -> None:
    response = nrps.url(f"{ONEROSTER}/users")
    assert response.status_code == 403


def test_only_get(nrps: NrpsClient, school: None) -> None:
    response = nrps.client.post(
        f"/lti/nrps/v2/courses/{CS1}/memberships",
        headers={"Authorization": f"Bearer {nrps.token}"},
    )
    error(response, 405, "method_not_allowed")
    assert response["Allow"] == "GET"


# -- errors -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key", ["course-v1:OrgA+NOPE+2026", "not-a-key", "course-v1:orga+cs101+2026"]
)
def test_unknown_course_404(nrps: NrpsClient, school: None, key: str) -> None:
    body = error(nrps.get(key), 404, "course_not_found")
    assert body["fields"] == {"course_key": key}


@pytest.mark.parametrize("limit", ["0", "-1", "ten", "1.5", "", "²"])
def test_bad_limit_400(nrps: NrpsClient, school: None, limit: str) -> None:
    body = error(nrps.get(CS1, limit=limit), 400, "invalid_limit")
    assert body["fields"] == {"limit": limit}


@pytest.mark.parametrize("role", ["Student", "learner", f"{LIS}#Nope"])
def test_bad_role_400(nrps: NrpsClient, school: None, role: str) -> None:
    body = error(nrps.get(CS1, role=role), 400, "invalid_role")
    assert body["fields"] == {"role": role}


def test_a_forged_position_in_a_next_link_400(nrps: NrpsClient, school: None) -> None:
    error(nrps.get(CS1, at=10**9, after="alice"), 400, "invalid_cursor")
    error(nrps.get(CS1, at="x", after="alice"), 400, "invalid_cursor")


def test_audit_position_is_not_moved_by_reads(nrps: NrpsClient, school: None) -> None:
    audit.sequence_events()
    before = audit.last_seq()
    container(nrps.get(CS1))
    # reading writes no audit rows (token checks are reads too)
    assert audit.last_seq() == before
