"""The inbox processor: batches, per-entity order behind a failure, waking waiting memberships,
synchronous mode, pruning with tallies."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from rollbook.enrollments import api as enrollments
from rollbook.lib import clock
from rollbook.lib.pagination import PageRequest
from rollbook.people import api as people
from rollbook.sis_import import inbox
from rollbook.sis_import.models import InboxMessage, InboxTally, StagedMembership
from rollbook.sis_import.staging import Stager
from tests.sis_import.test_lmb import enterprise, post
from tests.sis_import.test_pipeline import COURSE, SECTION, member, membership, person, section

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def lmb(tmp_path: Path) -> Iterator[None]:
    conf = {**settings.LMB, "USERNAME": "lmb", "PASSWORD": "s3cret"}
    with override_settings(LMB=conf, DATA_DIR=tmp_path):
        yield


def states() -> dict[str, str]:
    return dict(InboxMessage.objects.values_list("message_id", "state"))


@pytest.fixture
def failing_person(monkeypatch: pytest.MonkeyPatch) -> set[str]:
    """Persons whose staging raises an unexpected error (a fault injected into the real
    pipeline, as a database hiccup would), as long as their sourcedid is in the set."""
    broken: set[str] = set()
    original = Stager.add

    def add(self: Stager, record: Any) -> None:
        if getattr(record, "sourcedid", None) in broken:
            raise RuntimeError(f"database hiccup on {record.sourcedid}")
        original(self, record)

    monkeypatch.setattr(Stager, "add", add)
    return broken


def test_a_failure_holds_back_later_messages_about_the_same_entity_only(
    failing_person: set[str],
) -> None:
    failing_person.add("P1")
    post(enterprise(person("P1", email="ann@example.edu", logon="ann")), message_id="m1")
    post(enterprise(person("P2", email="bob@example.edu", logon="bob")), message_id="m2")
    post(enterprise(person("P1", email="ann2@example.edu", logon="ann")), message_id="m3")
    post(enterprise(person("P3", email="cy@example.edu", logon="cy")), message_id="m4")
    assert inbox.process_inbox() == 4
    assert states() == {"m1": "failed", "m2": "applied", "m3": "blocked", "m4": "applied"}
    assert "database hiccup on P1" in InboxMessage.objects.get(message_id="m1").error
    assert InboxMessage.objects.get(message_id="m3").entities == ["person:P1"]
    # A later message about P1 is held back too, even in another run of the processor.
    post(enterprise(person("P1", email="ann3@example.edu", logon="ann")), message_id="m5")
    assert inbox.process_inbox() == 1
    assert states()["m5"] == "blocked"

    failing_person.clear()  # the cause is fixed
    assert inbox.retry_failed() == 1
    assert set(states().values()) == {"pending", "applied"}
    assert inbox.process_inbox() == 3
    assert set(states().values()) == {"applied"}
    assert people.get_user("ann").email == "ann3@example.edu"  # the last one, applied in order


def test_one_bad_message_in_a_batch_fails_alone(failing_person: set[str]) -> None:
    failing_person.add("P2")
    for number in range(1, 6):
        body = enterprise(person(f"P{number}", email=f"user{number}@example.edu"))
        post(body, message_id=f"m{number}")
    assert inbox.process_inbox() == 5
    assert states() == {
        "m1": "applied",
        "m2": "failed",
        "m3": "applied",
        "m4": "applied",
        "m5": "applied",
    }
    assert people.user_refs(["user1", "user2", "user3"]).keys() == {"user1", "user3"}


def test_a_batch_is_staged_and_applied_together() -> None:
    """Forty membership messages cost about what one does: they are applied in one pass."""
    post(enterprise(section()), message_id="s")
    post(
        enterprise(*(person(f"P{n}", email=f"user{n}@example.edu") for n in range(40))),
        message_id="persons",
    )
    inbox.process_inbox()
    for n in range(40):
        post(enterprise(membership(member(f"P{n}"))), message_id=f"m{n}")
    with CaptureQueriesContext(connection) as queries:
        assert inbox.process_inbox() == 40
    assert len(queries) < 60, len(queries)
    page = enrollments.list_course_enrollments(COURSE, page=PageRequest(page=1, page_size=100))
    assert page.count == 40
    assert StagedMembership.objects.filter(state="applied").count() == 40


def test_memberships_that_wait_are_woken_by_their_person_or_section_only() -> None:
    post(enterprise(membership(member("P1"), member("P2"))), message_id="early")
    post(enterprise(section()), message_id="section")
    inbox.process_inbox()
    waiting = dict(StagedMembership.objects.values_list("person_sourcedid", "state"))
    assert waiting == {"P1": "pending", "P2": "pending"}
    post(enterprise(person("P1", email="ann@example.edu")), message_id="p1")
    inbox.process_inbox()
    waiting = dict(StagedMembership.objects.values_list("person_sourcedid", "state"))
    assert waiting == {"P1": "applied", "P2": "pending"}
    assert enrollments.get_enrollment(COURSE, "ann").is_active


def test_each_staged_row_names_the_message_it_came_from() -> None:
    post(enterprise(section()), message_id="s-1")
    post(enterprise(person("P1", email="ann@example.edu")), message_id="p-1")
    inbox.process_inbox()
    from rollbook.sis_import.models import StagedGroup, StagedPerson

    assert StagedGroup.objects.get(sourcedid=SECTION).changed_by == "lmb:s-1"
    assert StagedPerson.objects.get(sourcedid="P1").changed_by == "lmb:p-1"


# ---------------------------------------------------------------- synchronous mode


@pytest.fixture
def sync(tmp_path: Path) -> Iterator[dict[str, Any]]:
    conf = {**settings.LMB, "USERNAME": "lmb", "PASSWORD": "s3cret", "SYNC": True}
    with override_settings(LMB=conf, DATA_DIR=tmp_path):
        yield conf


def test_synchronous_mode_applies_before_answering(sync: dict[str, Any]) -> None:
    response = post(enterprise(person("P1", email="ann@example.edu")), message_id="p1")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "applied"
    assert people.get_user("ann")  # already there when the answer comes


def test_synchronous_mode_answers_500_on_failure_and_applies_lmbs_retry(
    sync: dict[str, Any], failing_person: set[str]
) -> None:
    failing_person.add("P1")
    response = post(enterprise(person("P1", email="ann@example.edu")), message_id="p1")
    assert response.status_code == 500
    assert response.json()["code"] == "lmb_apply_failed"
    assert "database hiccup" in response.json()["message"]
    failing_person.clear()
    retry = post(enterprise(person("P1", email="ann@example.edu")), message_id="p1")  # LMB retries
    assert retry.status_code == 200
    assert retry.json()["status"] == "applied"
    assert InboxMessage.objects.get(message_id="p1").attempts == 2


def test_synchronous_mode_can_answer_200_on_error(
    sync: dict[str, Any], failing_person: set[str]
) -> None:
    failing_person.add("P1")
    with override_settings(LMB={**sync, "SYNC_200_ON_ERROR": True}):
        response = post(enterprise(person("P1", email="ann@example.edu")), message_id="p1")
    assert response.status_code == 200
    assert response.json()["status"] == "failed"
    assert states() == {"p1": "failed"}


# ---------------------------------------------------------------- pruning


def test_prune_keeps_the_counts_of_what_it_removes(failing_person: set[str]) -> None:
    failing_person.add("P1")
    post(enterprise(person("P1", email="ann@example.edu")), message_id="m1")
    post(enterprise(person("P2", email="bob@example.edu")), message_id="m2")
    inbox.process_inbox()
    failing_person.clear()
    inbox.retry_failed()
    inbox.process_inbox()  # m1: applied at its second attempt
    later = clock.now() + dt.timedelta(days=int(settings.LMB["RETENTION_DAYS"]) + 1)
    assert inbox.prune(now=later) == 2
    tallies = dict(InboxTally.objects.values_list("name", "value"))
    assert tallies[inbox.PRUNED_ACCEPTED] == 2
    assert tallies[inbox.APPLIED] == 2
    assert tallies[inbox.FAILED_ATTEMPTS] == 1


def test_the_processor_prunes_now_and_then(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[dt.datetime] = []
    monkeypatch.setattr(inbox, "prune", lambda *, now: calls.append(now) or 0)
    post(enterprise(person("P1", email="ann@example.edu")), message_id="m1")
    inbox.process_inbox()
    inbox.process_inbox()
    assert len(calls) == 1  # not again within six hours
    InboxTally.objects.filter(name="last_pruned_at").update(value=0)
    inbox.process_inbox()
    assert len(calls) == 2


# ---------------------------------------------------------------- REST: failures and retry


def test_failures_are_listed_and_retried_through_rest(
    failing_person: set[str], staff_api: Any, api_as: Any
) -> None:
    failing_person.add("P1")
    post(enterprise(person("P1", email="ann@example.edu")), message_id="m1")
    post(enterprise(person("P1", email="ann2@example.edu")), message_id="m2")
    post(enterprise(person("P2", email="bob@example.edu")), message_id="m3")
    inbox.process_inbox()
    failed = staff_api.get("sis/messages", data={"state": "failed"}).json()
    assert [item["message_id"] for item in failed["items"]] == ["m1"]
    assert "database hiccup" in failed["items"][0]["error"]
    everything = staff_api.get("sis/messages").json()
    assert [item["message_id"] for item in everything["items"]] == ["m3", "m2", "m1"]
    assert everything["items"][1]["state"] == "blocked"
    assert api_as("mary").post("sis/messages/retry", {}).status_code == 403
    failing_person.clear()
    response = staff_api.post("sis/messages/retry", {"message_ids": ["m1"]})
    assert response.json() == {"retried": 1}
    inbox.process_inbox()
    assert set(states().values()) == {"applied"}
    assert staff_api.get("sis/messages", data={"state": "nonsense"}).status_code == 422


def test_accepts_dispatch_the_processor_once_until_it_starts(
    django_capture_on_commit_callbacks: Any,
) -> None:
    """At term start one task a message would cost more than the messages: an accept
    dispatches the processor only when no dispatched one is still to start. A processor that
    starts lets the next accept dispatch again."""
    from django.core.cache import cache

    cache.delete(inbox.WAKE_KEY)
    with django_capture_on_commit_callbacks() as dispatched:
        for _ in range(5):
            inbox.request_processing()
    assert len(dispatched) == 1  # one processor for the five messages
    with django_capture_on_commit_callbacks():
        inbox.accept_message(enterprise(person("P1")).encode(), message_id="m1")
    assert inbox.process_inbox() == 1
    with django_capture_on_commit_callbacks() as after:
        inbox.request_processing()
    assert len(after) == 1  # the processor started: the next message dispatches again


def test_a_processor_that_finds_another_at_work_leaves_the_wake_key(
    monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Any
) -> None:
    """While a processor works, accepted messages need no other dispatch: one dispatched
    meanwhile finds it at work and returns, and the key keeps holding dispatches back until
    the processor at work lets go and clears it before its last look for pending messages."""
    from contextlib import contextmanager

    from django.core.cache import cache

    cache.delete(inbox.WAKE_KEY)
    with django_capture_on_commit_callbacks() as first:
        inbox.request_processing()
    assert len(first) == 1

    @contextmanager
    def busy() -> Iterator[bool]:
        yield False

    with monkeypatch.context() as patch:
        patch.setattr(inbox, "_single_processor", busy)
        assert inbox.process_inbox() == 0  # another is at work
    with django_capture_on_commit_callbacks() as meanwhile:
        inbox.request_processing()
    assert meanwhile == []  # held back: the one at work will look again

    assert inbox.process_inbox() == 0  # the one at work lets go: the key is cleared
    with django_capture_on_commit_callbacks() as after:
        inbox.request_processing()
    assert len(after) == 1


def test_the_dispatched_processor_lingers_after_a_small_batch(
    monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Any
) -> None:
    """Under a steady stream a batch costs a few dozen statements whatever its size: after a
    small batch the dispatched processor waits a moment, and what arrived meanwhile goes in
    its next batch instead of one batch each."""
    with django_capture_on_commit_callbacks():
        inbox.accept_message(enterprise(person("P1")).encode(), message_id="m1")
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) == 1:  # two messages arrive while it waits
            for n in (2, 3):
                with django_capture_on_commit_callbacks():
                    body = enterprise(person(f"P{n}")).encode()
                    inbox.accept_message(body, message_id=f"m{n}")

    monkeypatch.setattr(inbox.time, "sleep", sleep)
    assert inbox.process_inbox_task() == 3
    assert waits == [inbox.LINGER_SECONDS, inbox.LINGER_SECONDS]  # after each small batch
    assert set(states().values()) == {"applied"}
    # Direct calls (the CLI, the API, tests) do not wait.
    with django_capture_on_commit_callbacks():
        inbox.accept_message(enterprise(person("P4")).encode(), message_id="m4")
    assert inbox.process_inbox() == 1
    assert len(waits) == 2
