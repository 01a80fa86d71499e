"""The SIS feed in the admin: inbox with status and retry, collisions resolved through the
API, pending memberships, drop holds and cross-lists."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client, override_settings
from django.urls import reverse

from rollbook.enrollments import api as enrollments
from rollbook.people import api as people
from rollbook.people.models import User
from rollbook.sis_import import inbox
from rollbook.sis_import.models import InboxMessage, StagedMembership, StagedPerson, TermDropHold
from tests.factories import Make
from tests.sis_import.test_crosslists import S1, xls
from tests.sis_import.test_lmb import enterprise, post
from tests.sis_import.test_pipeline import COURSE, TERM, member, membership, person, section

pytestmark = pytest.mark.django_db

_ids = itertools.count()


@pytest.fixture(autouse=True)
def lmb(tmp_path: Path) -> Iterator[None]:
    conf = {**settings.LMB, "USERNAME": "lmb", "PASSWORD": "s3cret"}
    sis = {**settings.SIS, "LIVE_DROP_MINIMUM": 0}
    with override_settings(LMB=conf, SIS=sis, DATA_DIR=tmp_path):
        yield


@pytest.fixture
def admin_client() -> Client:
    Make.user("root", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(User.objects.get(username="root"))
    return client


def feed(*parts: str) -> None:
    for part in parts:
        post(enterprise(part), message_id=f"m{next(_ids)}")
    inbox.process_inbox()


@pytest.fixture
def busy_feed() -> None:
    """One of everything: a failed message, a collision, a pending membership, a held drop,
    a cross-list."""
    feed(
        section(),
        person("P1", email="ann@example.edu"),
        person("P2", email="ann@example.edu"),  # held against P1's account
        membership(member("P1"), member("P2"), member("P9")),  # P2 and P9 wait
        xls(S1),
        "<person><name><fn>No id</fn></name></person>",  # fails
    )
    feed(membership(member("P1", status=0)))  # 1 of 3: past 10%, held


@pytest.mark.parametrize(
    "model", ["inboxmessage", "collision", "waitingmembership", "termdrophold", "crosslist"]
)
def test_every_sis_changelist_renders(admin_client: Client, busy_feed: None, model: str) -> None:
    response = admin_client.get(reverse(f"admin:sis_import_{model}_changelist"))
    assert response.status_code == 200
    if model == "inboxmessage":
        assert b"Feed status" in response.content
    if model == "collision":
        assert b"P2" in response.content
    if model == "waitingmembership":
        assert b"P9" in response.content


def test_inbox_message_page_shows_the_xml(admin_client: Client, busy_feed: None) -> None:
    failed = InboxMessage.objects.get(state="failed")
    response = admin_client.get(reverse("admin:sis_import_inboxmessage_change", args=[failed.id]))
    assert response.status_code == 200
    assert b"No id" in response.content


def test_retry_action_puts_failed_messages_back(admin_client: Client, busy_feed: None) -> None:
    failed = InboxMessage.objects.get(state="failed")
    response = admin_client.post(
        reverse("admin:sis_import_inboxmessage_changelist"),
        {"action": "retry", "_selected_action": [failed.id]},
    )
    assert response.status_code == 302
    assert InboxMessage.objects.get(id=failed.id).attempts == 1
    assert InboxMessage.objects.get(id=failed.id).state in {"pending", "failed"}


def test_a_collision_is_resolved_from_its_page(admin_client: Client, busy_feed: None) -> None:
    held = StagedPerson.objects.get(sourcedid="P2")
    url = reverse("admin:sis_import_collision_change", args=[held.id])
    assert admin_client.get(url).status_code == 200
    response = admin_client.post(url, {"action": "create_with_username", "username": "ann2"})
    assert response.status_code == 302
    assert StagedPerson.objects.get(sourcedid="P2").user_id == people.get_user_ref("ann2").id
    assert enrollments.get_enrollment(COURSE, "ann2").is_active


def test_a_refused_resolution_is_shown_and_changes_nothing(
    admin_client: Client, busy_feed: None
) -> None:
    held = StagedPerson.objects.get(sourcedid="P2")
    url = reverse("admin:sis_import_collision_change", args=[held.id])
    response = admin_client.post(
        url, {"action": "create_with_username", "username": "ann"}, follow=True
    )
    assert b"is taken" in response.content
    assert StagedPerson.objects.get(sourcedid="P2").state == "held"


def test_ignore_action(admin_client: Client, busy_feed: None) -> None:
    held = StagedPerson.objects.get(sourcedid="P2")
    admin_client.post(
        reverse("admin:sis_import_collision_changelist"),
        {"action": "ignore", "_selected_action": [held.id]},
    )
    assert StagedPerson.objects.get(sourcedid="P2").state == "skipped"


def test_approving_a_drop_hold_applies_the_drops(admin_client: Client, busy_feed: None) -> None:
    hold = TermDropHold.objects.get(term=TERM)
    assert StagedMembership.objects.get(person_sourcedid="P1").state == "held"
    admin_client.post(
        reverse("admin:sis_import_termdrophold_changelist"),
        {"action": "approve", "_selected_action": [hold.id]},
    )
    assert not enrollments.get_enrollment(COURSE, "ann").is_active
    assert TermDropHold.objects.get(term=TERM).held_at is None
