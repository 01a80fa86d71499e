"""Committed changes are delivered without anyone asking: the sequencer tells webhooks
(audit.api.on_events_numbered), which dispatches the delivery task (embedded runner here)."""

from __future__ import annotations

import time

import pytest
from django.db import transaction

from rollbook.audit import api as audit
from rollbook.audit.data import Actor
from rollbook.jobs import api as jobs
from rollbook.webhooks import api as webhooks
from rollbook.webhooks.models import PendingDelivery
from tests.webhooks.receiver import Receiver

pytestmark = pytest.mark.django_db(transaction=True)
ACTOR = Actor.system("test")


def wait_for(condition: object, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)
    assert jobs.wait_for_embedded_jobs(timeout=timeout)


def test_a_commit_dispatches_delivery(receiver: Receiver) -> None:
    webhooks.create_subscription(receiver.url, actor=ACTOR)
    with transaction.atomic():
        audit.record("user.updated", "user:mary", actor=ACTOR)
        audit.record("user.updated", "user:ann", actor=ACTOR)
    wait_for(lambda: len(receiver.requests) == 2)
    assert sorted(r.subject for r in receiver.requests) == ["user:ann", "user:mary"]


def test_a_failure_is_retried_by_a_scheduled_dispatch(receiver: Receiver) -> None:
    receiver.answer = lambda request, times: 500 if times <= 2 else 200
    sub = webhooks.create_subscription(receiver.url, actor=ACTOR)
    audit.record("user.updated", "user:mary", actor=ACTOR)
    wait_for(lambda: len(receiver.requests) == 3)  # two failures, then the retry's success
    wait_for(lambda: not PendingDelivery.objects.exists())
    assert webhooks.subscription_status(sub.uuid).lag == 0
