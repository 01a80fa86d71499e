"""Bulk people paths used by feeds: create many at once, look many up at once."""

from __future__ import annotations

from typing import Any

import pytest

from rollbook.audit.models import AuditEvent
from rollbook.lib.errors import Invalid
from rollbook.people import api as people
from tests.factories import ACTOR, Make

pytestmark = pytest.mark.django_db


def _specs(n: int) -> list[people.NewUser]:
    return [
        people.NewUser(f"new{i}", f"new{i}@example.edu", f"New {i}", f"9000{i}", f"P{i}")
        for i in range(n)
    ]


@pytest.mark.parametrize("n", [3, 40])
def test_create_users_in_three_inserts(n: int, django_assert_num_queries: Any) -> None:
    # SAVEPOINT, INSERT users, INSERT profiles, INSERT audit rows, RELEASE
    with django_assert_num_queries(5):
        refs = people.create_users(_specs(n), actor=ACTOR)
    assert len(refs) == n
    user = people.get_user("NEW1")
    assert (user.email, user.name, user.idnumber, user.sis_sourcedid) == (
        "new1@example.edu",
        "New 1",
        "90001",
        "P1",
    )
    assert refs["new1"].id == user.id
    assert AuditEvent.objects.filter(event="user.created", subject="user:new1").count() == 1


def test_create_users_refuses_the_whole_batch_on_one_bad_record() -> None:
    specs = [*_specs(2), people.NewUser("bad name")]
    with pytest.raises(Invalid):
        people.create_users(specs, actor=ACTOR)
    with pytest.raises(Invalid):
        people.create_users([*_specs(1), people.NewUser("NEW0")], actor=ACTOR)  # twice
    assert not people.user_refs(["new0", "new1"])


def test_look_ups_by_email_and_idnumber() -> None:
    Make.user("ann", email="Ann@Example.edu", idnumber="900001")
    Make.user("ann2", email="ann@example.edu")
    by_email = people.user_refs_by_email(["ANN@example.edu", "nobody@example.edu"])
    assert [ref.username for ref in by_email["ann@example.edu"]] == ["ann", "ann2"]
    assert "nobody@example.edu" not in by_email
    by_number = people.user_refs_by_idnumber(["900001", ""])
    assert [ref.username for ref in by_number["900001"]] == ["ann"]
    assert people.user_refs_by_id([by_number["900001"][0].id, 10**9]).keys() == {
        by_number["900001"][0].id
    }
