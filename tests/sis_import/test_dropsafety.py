"""Drop safety on the live feed: a burst of drops past the threshold is held until approved."""

from __future__ import annotations

import io
import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core import mail
from django.test import override_settings

from rollbook.enrollments import api as enrollments
from rollbook.lib.pagination import PageRequest
from rollbook.sis_import import inbox
from rollbook.sis_import.models import StagedMembership, TermDropHold
from tests.sis_import.test_lmb import enterprise, post
from tests.sis_import.test_pipeline import COURSE, TERM, member, membership, person, section

pytestmark = pytest.mark.django_db

LEARNERS = 40


@pytest.fixture(autouse=True)
def lmb(tmp_path: Path) -> Iterator[None]:
    conf = {**settings.LMB, "USERNAME": "lmb", "PASSWORD": "s3cret"}
    sis = {**settings.SIS, "DROP_THRESHOLD": 0.10, "LIVE_DROP_MINIMUM": 2}
    monitor = {**getattr(settings, "SIS_MONITOR", {}), "MAIL_TO": ["registrar@example.edu"]}
    with override_settings(LMB=conf, SIS=sis, SIS_MONITOR=monitor, DATA_DIR=tmp_path):
        yield


_ids = itertools.count()


def feed(*parts: str) -> None:
    for part in parts:
        post(enterprise(part), message_id=f"m{next(_ids)}")
    inbox.process_inbox()


@pytest.fixture
def term() -> None:
    feed(
        section(),
        *(person(f"P{n}", email=f"l{n}@example.edu") for n in range(LEARNERS)),
        membership(*(member(f"P{n}") for n in range(LEARNERS))),
    )


def active_count() -> int:
    page = enrollments.list_course_enrollments(
        COURSE, page=PageRequest(page=1, page_size=100), is_active=True
    )
    return page.count


def drop(*numbers: int) -> None:
    for n in numbers:
        feed(membership(member(f"P{n}", status=0)))


def test_drops_under_the_threshold_are_applied(term: None) -> None:
    drop(0, 1, 2, 3)  # 4 of 40: exactly 10%
    assert active_count() == LEARNERS - 4
    assert not TermDropHold.objects.filter(held_at__isnull=False).exists()


def test_past_the_threshold_further_drops_of_the_term_are_held(
    term: None, staff_api: Any, django_capture_on_commit_callbacks: Any
) -> None:
    for n in range(6):
        post(enterprise(membership(member(f"P{n}", status=0))), message_id=f"drop-{n}")
    with django_capture_on_commit_callbacks(execute=True):  # the alert goes after commit
        inbox.process_inbox()
    # One batch of six drops: 6 > 10% of 40, so all six are held.
    assert active_count() == LEARNERS
    held = StagedMembership.objects.filter(state="held")
    assert len(held) == 6
    assert all("drop held" in row.reason for row in held)
    (hold,) = staff_api.get("sis/drop-holds").json()["items"]
    assert hold["term"] == TERM
    assert hold["held_drops"] == 6
    assert "threshold" in hold["reason"]
    assert len(mail.outbox) == 1
    assert TERM in mail.outbox[0].subject
    # Adds still go through while drops are held.
    feed(person("PN", email="new@example.edu"), membership(member("PN")))
    assert enrollments.get_enrollment(COURSE, "new").is_active


def test_approving_applies_the_held_drops_and_counts_afresh(term: None, staff_api: Any) -> None:
    drop(0, 1, 2, 3, 4, 5)
    response = staff_api.post(f"sis/drop-holds/{TERM}/approve")
    assert response.status_code == 200, response.content
    assert response.json() == {"term": TERM, "action": "approved", "drops": 2}
    assert active_count() == LEARNERS - 6
    assert staff_api.get("sis/drop-holds").json()["count"] == 0
    drop(6)  # counting starts afresh after approval
    assert active_count() == LEARNERS - 7


def test_discarding_leaves_the_enrollments(term: None, staff_api: Any) -> None:
    drop(0, 1, 2, 3, 4, 5)
    response = staff_api.post(f"sis/drop-holds/{TERM}/discard")
    assert response.json()["drops"] == 2
    assert enrollments.get_enrollment(COURSE, "l4").is_active
    assert StagedMembership.objects.get(person_sourcedid="P4").state == "skipped"
    again = staff_api.post(f"sis/drop-holds/{TERM}/discard")
    assert again.status_code == 404
    assert again.json()["code"] == "no_drop_hold"


def test_only_staff_see_and_release_holds(term: None, api_as: Any) -> None:
    drop(0, 1, 2, 3, 4, 5)
    assert api_as("mary").get("sis/drop-holds").status_code == 403
    assert api_as("mary").post(f"sis/drop-holds/{TERM}/approve").status_code == 403
    assert StagedMembership.objects.filter(state="held").count() == 2


def test_file_imports_are_not_held_here(term: None) -> None:
    """A file import has its own safety (comprehensive mode's threshold); drop safety is for
    the live feed."""
    from rollbook.audit.data import Actor
    from rollbook.jobs import api as jobs
    from rollbook.sis_import import api as sis

    body = f"<enterprise>{membership(*(member(f'P{n}', status=0) for n in range(10)))}</enterprise>"
    started = sis.start_import(
        io.BytesIO(body.encode()),
        filename="drops.xml",
        actor=Actor.system("t"),
        foreground=True,
    )
    assert started.job is not None
    jobs.run_job(started.job.uuid)
    assert active_count() == LEARNERS - 10
