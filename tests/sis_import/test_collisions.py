"""Identity collisions: held with both sides as fields, listed, and resolved three ways."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import override_settings

from rollbook.audit import api as audit
from rollbook.enrollments import api as enrollments
from rollbook.lib.errors import RollbookError
from rollbook.lib.pagination import PageRequest
from rollbook.people import api as people
from rollbook.sis_import import inbox
from rollbook.sis_import.models import StagedMembership, StagedPerson
from tests.sis_import.test_lmb import enterprise, post
from tests.sis_import.test_pipeline import COURSE, member, membership, person, section

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def lmb(tmp_path: Path) -> Iterator[None]:
    conf = {**settings.LMB, "USERNAME": "lmb", "PASSWORD": "s3cret"}
    with override_settings(LMB=conf, DATA_DIR=tmp_path):
        yield


_ids = itertools.count()


def feed(*parts: str) -> None:
    for part in parts:
        post(enterprise(part), message_id=f"m{next(_ids)}")
    inbox.process_inbox()


@pytest.fixture
def held() -> StagedPerson:
    """P2 arrives with Ann's email (so her username): held against the account of P1. P2 is
    enrolled in the section, which waits."""
    feed(
        section(),
        person("P1", email="ann@example.edu", sctid="111"),
        person("P2", email="ann@example.edu", sctid="222", given="Anna"),
        membership(member("P2")),
    )
    row = StagedPerson.objects.get(sourcedid="P2")
    assert row.state == "held"
    return row


def test_a_collision_is_held_with_structured_sides(held: StagedPerson, staff_api: Any) -> None:
    ann = people.get_user_ref("ann")
    assert (held.collision_kind, held.collision_user_id, held.collision_person) == (
        "username",
        ann.id,
        "P1",
    )
    (item,) = staff_api.get("sis/collisions").json()["items"]
    assert item["kind"] == "username"
    assert item["account_id"] == ann.id
    assert item["account_username"] == "ann"
    assert item["other_sourcedid"] == "P1"
    assert "P1" in item["reason"]
    assert StagedMembership.objects.get().state == "pending"


def test_a_collision_by_sctid_names_it(staff_api: Any) -> None:
    feed(person("P1", email="ann@example.edu", sctid="111"))
    feed(person("P2", email="zed@example.edu", sctid="111"))
    (item,) = staff_api.get("sis/collisions").json()["items"]
    assert item["kind"] == "sctid"
    assert "SCTID" in item["reason"]


def test_create_with_username_makes_a_new_account_and_applies_what_waited(
    held: StagedPerson, staff_api: Any
) -> None:
    response = staff_api.post(
        f"sis/collisions/{held.id}/resolve",
        {"action": "create_with_username", "username": "anna2"},
    )
    assert response.status_code == 200, response.content
    assert response.json()["sourcedid"] == "P2"
    anna = people.get_user("anna2")
    assert anna.name == "Anna Lee"
    assert anna.idnumber == "222"
    assert enrollments.get_enrollment(COURSE, "anna2").is_active
    row = StagedPerson.objects.get(sourcedid="P2")
    assert (row.state, row.user_id, row.collision_kind) == ("applied", anna.id, "")
    assert StagedPerson.objects.get(sourcedid="P1").user_id == people.get_user_ref("ann").id
    assert staff_api.get("sis/collisions").json()["count"] == 0
    events = audit.list_events(subject="sis-person:P2", page=PageRequest(page=1, page_size=10))
    assert [event.event for event in events.items] == ["sis.collision_resolved"]


def test_create_with_username_refuses_a_taken_or_missing_username(
    held: StagedPerson, staff_api: Any
) -> None:
    taken = staff_api.post(
        f"sis/collisions/{held.id}/resolve", {"action": "create_with_username", "username": "ANN"}
    )
    assert taken.status_code == 409
    assert taken.json()["code"] == "username_taken"
    missing = staff_api.post(
        f"sis/collisions/{held.id}/resolve", {"action": "create_with_username"}
    )
    assert missing.status_code == 422
    assert missing.json()["code"] == "bad_resolution"
    assert StagedPerson.objects.get(sourcedid="P2").state == "held"  # nothing half done


def test_link_existing_moves_the_account_to_this_sis_person(
    held: StagedPerson, staff_api: Any
) -> None:
    response = staff_api.post(f"sis/collisions/{held.id}/resolve", {"action": "link_existing"})
    assert response.status_code == 200, response.content
    ann = people.get_user("ann")
    assert StagedPerson.objects.get(sourcedid="P2").user_id == ann.id
    old = StagedPerson.objects.get(sourcedid="P1")
    assert old.user_id is None
    assert "P2" in old.reason
    assert ann.sis_sourcedid == "P2"
    assert ann.idnumber == "222"  # the SIS person's data now goes to the account
    assert enrollments.get_enrollment(COURSE, "ann").is_active


def test_ignore_leaves_the_person_out_and_skips_what_waited(
    held: StagedPerson, staff_api: Any
) -> None:
    response = staff_api.post(f"sis/collisions/{held.id}/resolve", {"action": "ignore"})
    assert response.status_code == 200
    row = StagedPerson.objects.get(sourcedid="P2")
    assert row.state == "skipped"
    assert "ignored" in row.reason
    waiting = StagedMembership.objects.get()
    assert waiting.state == "skipped"
    assert staff_api.get("sis/pending").json()["count"] == 0


def test_resolving_twice_or_an_unknown_id_is_404(held: StagedPerson, staff_api: Any) -> None:
    first = staff_api.post(f"sis/collisions/{held.id}/resolve", {"action": "ignore"})
    assert first.status_code == 200
    again = staff_api.post(f"sis/collisions/{held.id}/resolve", {"action": "ignore"})
    assert again.status_code == 404
    assert again.json()["code"] == "not_held"
    bad = staff_api.post(f"sis/collisions/{held.id}/resolve", {"action": "merge"})
    assert bad.status_code == 422
    unknown = staff_api.post("sis/collisions/999999/resolve", {"action": "ignore"})
    assert unknown.status_code == 404


def test_only_global_staff_resolve(held: StagedPerson, api_as: Any) -> None:
    response = api_as("mary").post(f"sis/collisions/{held.id}/resolve", {"action": "ignore"})
    assert response.status_code == 403
    assert StagedPerson.objects.get(sourcedid="P2").state == "held"


def test_the_api_refuses_an_unknown_action(held: StagedPerson) -> None:
    from rollbook.audit.data import Actor
    from rollbook.sis_import import api as sis

    with pytest.raises(RollbookError) as caught:
        sis.resolve_collision(held.id, "merge", actor=Actor.system("test"))
    assert caught.value.code == "bad_resolution"
