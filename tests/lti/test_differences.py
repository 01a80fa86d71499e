"""The rel="differences" link (NRPS 2.0 section 2.4.3), built on the outbox (ADR 0013, 0017):
only the members whose membership changed after the position the listing began at."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection

from rollbook.audit import api as audit
from rollbook.enrollments import api as enrollments
from rollbook.roles import api as roles
from tests.factories import ACTOR, Make
from tests.lti.conftest import (
    BIO,
    CONTENT_DEVELOPER,
    CS1,
    INSTRUCTOR,
    LEARNER,
    TA,
    NrpsClient,
    container,
    error,
    links,
    query,
    user_ids,
)


def members(response: Any) -> dict[str, dict[str, Any]]:
    return {member["user_id"]: member for member in container(response)["members"]}


def differences(nrps: NrpsClient, response: Any) -> Any:
    return nrps.url(links(response)["differences"])


def test_differences_are_exactly_the_changes(nrps: NrpsClient, school: None) -> None:
    listing = nrps.get(CS1)
    assert len(user_ids(listing)) == 6
    # changes after the listing: an unenrollment, changed roles, a new TA, a new learner,
    # a revoked grant, and changes that do not touch this course's membership
    Make.enrollment(CS1, "alice", is_active=False)
    Make.grant("tina", "staff", course_key=CS1)
    Make.grant("beth", "limited_staff", course_key=CS1)
    Make.user("zoe", name="Zoe New")
    Make.enrollment(CS1, "zoe")
    roles.revoke_role("lee", "limited_staff", actor=ACTOR, course_key=CS1)
    Make.enrollment(BIO, "alice")  # another course
    Make.grant("carl", "beta_testers", course_key=CS1)  # no member role
    # an SIS source now asserts sam's enrollment too, and a grant gains a source: the rows
    # change (audited) but the membership does not
    enrollments.enroll_from_source(CS1, "sam", source="sis:feed", actor=ACTOR)
    roles.grant_role("sam", "staff", actor=ACTOR, course_key=CS1, source="sis:feed")
    Make.user("oscar", name="Oscar Renamed")  # not a member
    response = differences(nrps, listing)
    assert response["Content-Type"] == "application/vnd.ims.lti-nrps.v2.membershipcontainer+json"
    changed = members(response)
    # 2.4.3 differences: each changed member as it is now; a removed one is Deleted
    assert list(changed) == ["alice", "beth", "lee", "tina", "zoe"]
    assert changed["alice"]["status"] == "Inactive"
    assert changed["alice"]["roles"] == [LEARNER]
    assert changed["tina"]["status"] == "Active"
    assert changed["tina"]["roles"] == [INSTRUCTOR, CONTENT_DEVELOPER]
    assert changed["beth"]["roles"] == [TA]
    assert changed["zoe"] == {
        "status": "Active",
        "name": "Zoe New",
        "given_name": "Zoe",
        "family_name": "New",
        "email": "zoe@example.com",
        "user_id": "zoe",
        "roles": [LEARNER],
    }
    # lee holds nothing in the course any more: Deleted, no roles
    assert changed["lee"] == {"status": "Deleted", "user_id": "lee", "roles": []}
    # the container around them is the same container
    body = container(response)
    assert body["id"] == container(listing)["id"]
    assert body["context"] == container(listing)["context"]


def test_nothing_changed_empty_members(nrps: NrpsClient, school: None) -> None:
    listing = nrps.get(CS1)
    Make.enrollment(BIO, "bob")  # elsewhere
    response = differences(nrps, listing)
    assert container(response)["members"] == []
    assert "next" not in links(response)
    # and its own differences link asks from where this one ended
    assert int(query(links(response)["differences"])["since"]) >= int(
        query(links(listing)["differences"])["since"]
    )
    assert container(differences(nrps, response))["members"] == []


def test_differences_chain_without_losing_or_repeating(nrps: NrpsClient, school: None) -> None:
    listing = nrps.get(CS1)
    Make.user("zoe")
    Make.enrollment(CS1, "zoe")
    first = differences(nrps, listing)
    assert user_ids(first) == ["zoe"]
    Make.enrollment(CS1, "zoe", is_active=False)
    second = differences(nrps, first)
    assert members(second)["zoe"]["status"] == "Inactive"
    third = differences(nrps, second)
    assert user_ids(third) == []
    # the old link still answers its (wider) window
    assert user_ids(differences(nrps, listing)) == ["zoe"]


def test_re_enrolling_and_deactivating_a_user(nrps: NrpsClient, school: None) -> None:
    listing = nrps.get(CS1)
    Make.enrollment(CS1, "bob", is_active=True)
    Make.user("alice", is_active=False)
    changed = members(differences(nrps, listing))
    assert list(changed) == ["alice", "bob"]
    assert changed["bob"]["status"] == "Active"
    assert changed["alice"]["status"] == "Inactive"


def test_role_filtered_differences(nrps: NrpsClient, school: None) -> None:
    listing = nrps.get(CS1, role="Learner")
    Make.enrollment(CS1, "alice", is_active=False)  # a learner change
    Make.grant("beth", "limited_staff", course_key=CS1)  # not a learner change
    roles.revoke_role("sam", "staff", actor=ACTOR, course_key=CS1)  # still a learner
    assert query(links(listing)["differences"])["role"] == "Learner"
    assert user_ids(differences(nrps, listing)) == ["alice"]
    ta_listing = nrps.get(CS1, role=TA)
    roles.revoke_role("lee", "limited_staff", actor=ACTOR, course_key=CS1)
    Make.grant("lee", "instructor", course_key=CS1)  # an instructor now, no TA
    changed = members(differences(nrps, ta_listing))
    assert changed == {"lee": {"status": "Deleted", "user_id": "lee", "roles": []}}


def test_differences_are_paged_with_their_own_next_links(nrps: NrpsClient, school: None) -> None:
    listing = nrps.get(CS1, limit=2)
    for name in ("u1", "u2", "u3"):
        Make.user(name)
        Make.enrollment(CS1, name)
    response = differences(nrps, listing)
    assert query(links(listing)["differences"])["limit"] == "2"
    pages = [user_ids(response)]
    window = links(response)["differences"]
    Make.user("u0")
    Make.enrollment(CS1, "u0")  # after the window began: not in this window's pages
    while "next" in links(response):
        cursor = query(links(response)["next"])
        assert {"since", "until", "after", "limit"} <= set(cursor)
        response = nrps.url(links(response)["next"])
        pages.append(user_ids(response))
        assert links(response)["differences"] == window
    assert pages == [["u1", "u2"], ["u3"]]
    # the window's own differences link brings the later change
    assert user_ids(nrps.url(window)) == ["u0"]


def test_differences_cost_the_same_queries_whatever_their_size(
    nrps: NrpsClient, school: None, django_assert_num_queries: Any
) -> None:
    for size in (3, 30):
        listing = nrps.get(CS1, limit=size)
        for n in range(size):
            Make.user(f"d{size}x{n:02}")
            Make.enrollment(CS1, f"d{size}x{n:02}")
        audit.sequence_events()  # numbered: the request's sequencer finds nothing to do
        sequencer = 4 if connection.vendor == "postgresql" else 3
        # token, course, the sequencer, the position, the changed page, people, enrollments,
        # grants
        with django_assert_num_queries(7 + sequencer):
            assert len(user_ids(differences(nrps, listing))) == size


@pytest.mark.parametrize("since", ["x", "-1", "1e3", "", "0x10"])
def test_malformed_since_400(nrps: NrpsClient, school: None, since: str) -> None:
    body = error(nrps.get(CS1, since=since), 400, "invalid_since")
    assert body["fields"] == {"since": since}


def test_stale_since_400(nrps: NrpsClient, school: None) -> None:
    audit.sequence_events()
    beyond = audit.last_seq() + 1
    body = error(nrps.get(CS1, since=beyond), 400, "stale_since")
    assert str(beyond) in body["message"]
    assert "Read the membership container again" in body["message"]


def test_forged_window_400(nrps: NrpsClient, school: None) -> None:
    audit.sequence_events()
    last = audit.last_seq()
    error(nrps.get(CS1, since=5, until=4, after="a"), 400, "invalid_cursor")
    error(nrps.get(CS1, since=0, until=last + 1, after="a"), 400, "invalid_cursor")
    error(nrps.get(CS1, since=0, until="z", after="a"), 400, "invalid_cursor")


def test_differences_of_an_unknown_course_404(nrps: NrpsClient, school: None) -> None:
    error(nrps.get("course-v1:OrgA+NOPE+2026", since=0), 404, "course_not_found")


def test_since_zero_is_everyone_who_was_ever_a_member(nrps: NrpsClient, school: None) -> None:
    changed = members(nrps.get(CS1, since=0))
    # beth's beta-tester grant and oscar's org grant are no membership events
    assert list(changed) == ["alice", "bob", "ivy", "lee", "sam", "tina"]
