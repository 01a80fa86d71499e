"""The delivery engine against a real receiver on loopback (tests/webhooks/receiver.py)."""

from __future__ import annotations

import time
from collections import defaultdict
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from rollbook.audit import api as audit
from rollbook.audit.data import Actor
from rollbook.lib.errors import Invalid
from rollbook.webhooks import api as webhooks
from rollbook.webhooks import sender
from rollbook.webhooks.models import PendingDelivery
from tests.webhooks.receiver import Receiver

pytestmark = pytest.mark.django_db
ACTOR = Actor.system("test")


def emit(subjects: list[str], per_subject: int, event: str = "enrollment.updated") -> None:
    """Events interleaved across the subjects: s1#0, s2#0, ..., s1#1, ..."""
    changes = [(event, subject, None, {"n": n}) for n in range(per_subject) for subject in subjects]
    audit.record_many(changes, actor=ACTOR)
    audit.sequence_events()  # inside the test's transaction: numbered now


def subscribe(url: str, **options: Any) -> webhooks.SubscriptionData:
    return webhooks.create_subscription(url, actor=ACTOR, **options)


def by_subject(receiver: Receiver) -> dict[str, list[int]]:
    seen: dict[str, list[int]] = defaultdict(list)
    for request in receiver.requests:
        seen[request.subject].append(request.seq)
    return seen


def deliver_until(sub: webhooks.SubscriptionData, done: Any, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while True:
        webhooks.deliver(sub.uuid)
        if done():
            return
        assert time.monotonic() < deadline, "not delivered in time"
        time.sleep(0.02)


def test_a_request_is_signed_and_says_its_seq(receiver: Receiver) -> None:
    sub = subscribe(receiver.url)
    assert sub.secret
    assert len(sub.secret) >= 32
    audit.record("user.updated", "user:mary", actor=ACTOR, after={"name": "Mary"})
    assert webhooks.deliver(sub.uuid) == 1
    (got,) = receiver.requests
    headers = {k.lower(): v for k, v in got.headers.items()}
    assert headers["content-type"] == "application/json"
    assert webhooks.verify_signature(sub.secret, got.body, headers["x-rollbook-signature"])
    assert not webhooks.verify_signature("x" * 40, got.body, headers["x-rollbook-signature"])
    assert not webhooks.verify_signature(
        sub.secret, got.body + b" ", headers["x-rollbook-signature"]
    )
    body = got.json
    assert int(headers["x-rollbook-seq"]) == body["seq"] == audit.last_seq()
    assert headers["x-rollbook-event"] == body["type"] == "user.updated"
    assert headers["x-rollbook-delivery"]
    assert body["subject"] == "user:mary"
    assert body["after"] == {"name": "Mary"}
    assert body["subscription"] == str(sub.uuid)
    assert set(body) == {
        "seq", "type", "subject", "time", "actor", "source", "before", "after", "subscription"
    }  # fmt: skip


def test_events_arrive_in_order_per_subject(receiver: Receiver) -> None:
    sub = subscribe(receiver.url)
    subjects = [f"user:u{i}" for i in range(12)]
    emit(subjects, 40)
    assert webhooks.deliver(sub.uuid) == 480
    seen = by_subject(receiver)
    assert set(seen) == set(subjects)
    for seqs in seen.values():
        assert seqs == sorted(seqs)
        assert len(seqs) == 40
    status = webhooks.subscription_status(sub.uuid)
    assert status.lag == 0
    assert status.delivered_seq == audit.last_seq()
    assert status.pending == 0
    assert status.last_success_at is not None


def test_a_subscription_starts_at_the_end_of_the_stream(receiver: Receiver) -> None:
    emit(["user:old"], 3)
    sub = subscribe(receiver.url)
    emit(["user:new"], 2)
    webhooks.deliver(sub.uuid)
    assert [r.subject for r in receiver.requests] == ["user:new", "user:new"]


def test_types_exact_and_prefix_and_orgs_filter(receiver: Receiver) -> None:
    sub = subscribe(
        receiver.url, event_types=["enrollment.*", "user.created"], orgs=["OrgA", "orgc"]
    )
    audit.record("enrollment.created", "enrollment:course-v1:OrgA+X+1:mary", actor=ACTOR)
    audit.record("enrollment.created", "enrollment:course-v1:OrgB+X+1:mary", actor=ACTOR)
    audit.record("enrollment.created", "enrollment:course-v1:OrgC+X+1:mary", actor=ACTOR)
    audit.record("role.granted", "role:course-v1:OrgA+X+1:mary", actor=ACTOR)
    audit.record("user.created", "user:mary", actor=ACTOR)  # no org: only without orgs
    audit.record("enrollment.deleted", "program:p1", actor=ACTOR, after={"org": "OrgA"})
    webhooks.deliver(sub.uuid)
    got = sorted(receiver.requests, key=lambda r: r.seq)
    assert [(r.type, r.subject) for r in got] == [
        ("enrollment.created", "enrollment:course-v1:OrgA+X+1:mary"),
        ("enrollment.created", "enrollment:course-v1:OrgC+X+1:mary"),
        ("enrollment.deleted", "program:p1"),
    ]
    status = webhooks.subscription_status(sub.uuid)
    assert status.lag == 0  # the cursor passed the events of other types and orgs too


def test_no_org_filter_takes_events_without_org_but_never_webhook_events(
    receiver: Receiver,
) -> None:
    sub = subscribe(receiver.url)
    audit.record("user.created", "user:mary", actor=ACTOR)
    subscribe(receiver.url)  # a webhook.created audit row
    webhooks.deliver(sub.uuid)
    assert [r.type for r in receiver.requests] == ["user.created"]


def test_event_org_reads_subject_then_state() -> None:
    def org(subject: str, after: dict[str, Any] | None = None) -> str | None:
        event = audit.EventData(1, "x.y", subject, None, "", "", None, after)  # type: ignore[arg-type]
        return webhooks.event_org(event)

    assert org("enrollment:course-v1:Org+X+Y:mary") == "Org"
    assert org("course:course-v1:MIT+6.00x+2024") == "MIT"
    assert org("library:lib:Acme:math") == "Acme"
    assert org("org:Acme") == "Acme"
    assert org("program:p1", {"course_key": "course-v1:Edu+A+B"}) == "Edu"
    assert org("user:mary") is None


def test_failures_back_off_then_succeed_in_order(receiver: Receiver) -> None:
    sub = subscribe(receiver.url)
    emit(["user:a", "user:b"], 3)  # a0 b0 a1 b1 a2 b2
    first = audit.last_seq() - 5
    failing = first  # a0 fails twice, then passes
    receiver.answer = lambda request, times: 500 if request.seq == failing and times <= 2 else 200
    webhooks.deliver(sub.uuid)
    pending = list(PendingDelivery.objects.order_by("seq").values_list("seq", "attempts"))
    assert pending == [(first, 1), (first + 2, 0), (first + 4, 0)]  # a1, a2 wait behind a0
    assert sorted(r.seq for r in receiver.requests if r.subject == "user:b") == [
        first + 1, first + 3, first + 5
    ]  # fmt: skip
    status = webhooks.subscription_status(sub.uuid)
    assert status.delivered_seq == first - 1
    assert status.failing == 1
    assert status.pending == 3
    assert "HTTP 500" in status.last_error
    deliver_until(sub, lambda: not PendingDelivery.objects.exists())
    a = [r.seq for r in receiver.requests if r.subject == "user:a"]
    assert a == [first, first, first, first + 2, first + 4]  # the retries, then in order
    assert webhooks.subscription_status(sub.uuid).lag == 0


def test_backoff_doubles_up_to_the_cap(webhook_settings: dict[str, Any]) -> None:
    from rollbook.webhooks import dispatcher

    webhook_settings.update(BACKOFF_BASE=1.0, BACKOFF_CAP=10.0)
    delays = [dispatcher.backoff(n) for n in (1, 2, 3, 4, 5, 6)]
    for delay, expected in zip(delays, (1, 2, 4, 8, 10, 10), strict=True):
        assert expected * 0.8 <= delay <= expected * 1.2


def test_dead_letter_after_max_attempts_then_the_subject_goes_on(receiver: Receiver) -> None:
    sub = subscribe(receiver.url, max_attempts=3)
    emit(["user:a"], 3)
    first = audit.last_seq() - 2
    receiver.answer = lambda request, times: 503 if request.seq == first else 200
    deliver_until(sub, lambda: not PendingDelivery.objects.exists())
    assert [r.seq for r in receiver.requests] == [first] * 3 + [first + 1, first + 2]
    (dead,) = webhooks.list_dead_letters(sub.uuid, page=_page()).items
    assert (dead.seq, dead.attempts, dead.last_status) == (first, 3, 503)
    status = webhooks.subscription_status(sub.uuid)
    assert status.dead_letters == 1
    assert status.lag == 0
    receiver.answer = lambda request, times: 200
    webhooks.retry_dead_letter(sub.uuid, first, actor=ACTOR)
    webhooks.deliver(sub.uuid)
    assert receiver.seqs()[-1] == first
    assert webhooks.subscription_status(sub.uuid).dead_letters == 0


def _page() -> Any:
    from rollbook.lib.pagination import PageRequest

    return PageRequest(page=1, page_size=50)


@pytest.mark.parametrize("status", [500, 404, 302])
def test_a_non_2xx_answer_is_a_failure_and_redirects_are_not_followed(
    receiver: Receiver, status: int
) -> None:
    sub = subscribe(receiver.url, max_attempts=1)
    receiver.answer = lambda request, times: status
    audit.record("user.updated", "user:mary", actor=ACTOR)
    webhooks.deliver(sub.uuid)
    assert len(receiver.requests) == 1
    (dead,) = webhooks.list_dead_letters(sub.uuid, page=_page()).items
    assert dead.last_status == status


def test_connection_refused_is_a_failure() -> None:
    port = _closed_port()
    sub = subscribe(f"http://127.0.0.1:{port}/hook")
    audit.record("user.updated", "user:mary", actor=ACTOR)
    assert webhooks.deliver(sub.uuid) == 0
    status = webhooks.subscription_status(sub.uuid)
    assert status.failing == 1
    assert "Connection" in status.last_error
    assert status.last_failure_at is not None


def _closed_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_replay_delivers_again_with_the_same_seq(receiver: Receiver) -> None:
    sub = subscribe(receiver.url)
    emit(["user:a", "user:b"], 5)
    webhooks.deliver(sub.uuid)
    first_pass = receiver.seqs()
    from_seq = sorted(first_pass)[4]
    webhooks.replay(sub.uuid, from_seq=from_seq, actor=ACTOR)
    assert webhooks.subscription_status(sub.uuid).delivered_seq == from_seq - 1
    webhooks.deliver(sub.uuid)
    again = receiver.requests[len(first_pass) :]
    assert sorted(r.seq for r in again) == [s for s in sorted(first_pass) if s >= from_seq]
    for subject in ("user:a", "user:b"):
        seqs = [r.seq for r in again if r.subject == subject]
        assert seqs == sorted(seqs)  # in order per subject again


def test_replay_from_zero_is_refused() -> None:
    sub = subscribe("http://127.0.0.1:9/hook")
    with pytest.raises(Invalid):
        webhooks.replay(sub.uuid, from_seq=0, actor=ACTOR)


def test_urls_are_checked(webhook_settings: dict[str, Any]) -> None:
    for url in ("ftp://example.com/x", "file:///etc/passwd", "http:///x", "javascript:x"):
        with pytest.raises(Invalid) as refused:
            subscribe(url)
        assert refused.value.code == "invalid_webhook_url"
    webhook_settings["ALLOW_PRIVATE"] = False
    for url in ("http://127.0.0.1:8000/x", "http://10.1.2.3/x", "http://[::1]/x",
                "http://169.254.169.254/latest"):  # fmt: skip
        with pytest.raises(Invalid) as refused:
            subscribe(url)
        assert refused.value.code == "webhook_private_address"


def test_a_private_address_is_refused_when_sending_too(
    receiver: Receiver, webhook_settings: dict[str, Any]
) -> None:
    sub = subscribe(receiver.url)
    webhook_settings["ALLOW_PRIVATE"] = False
    sender.close_connections()
    audit.record("user.updated", "user:mary", actor=ACTOR)
    webhooks.deliver(sub.uuid)
    assert receiver.requests == []
    assert "private" in webhooks.subscription_status(sub.uuid).last_error


def test_the_batch_costs_the_same_queries_whatever_its_size(receiver: Receiver) -> None:
    sub = subscribe(receiver.url)
    counts = []
    for n in (20, 200):
        emit([f"user:u{i}" for i in range(10)], n // 10)
        with CaptureQueriesContext(connection) as queries:
            assert webhooks.deliver(sub.uuid) == n
        counts.append(len(queries))
    assert counts[0] == counts[1]
    # Lock, subscription, pending, last_seq, numbering, events, record (savepoint, lock row,
    # aggregate, save), release, and the look for more after it.
    expected = 18 if connection.vendor == "postgresql" else 17
    assert counts[0] == expected, counts


def test_a_retry_is_never_scheduled_for_at_once(webhook_settings: dict[str, Any]) -> None:
    from django.core.cache import cache

    from rollbook.lib import clock
    from rollbook.webhooks import dispatcher

    webhook_settings["BACKOFF_BASE"] = 5.0
    now = clock.now().timestamp()
    dispatcher._schedule_retry(clock.now())  # a row "due" behind a held subject
    assert cache.get(dispatcher.RETRY_KEY) >= now + 5.0


def test_a_retried_dead_letter_goes_first_among_its_subjects_pending(receiver: Receiver) -> None:
    sub = subscribe(receiver.url, max_attempts=1)
    emit(["user:a"], 2)
    first = audit.last_seq() - 1
    receiver.answer = lambda request, times: 500  # both dead-lettered (max_attempts=1)
    webhooks.deliver(sub.uuid)
    assert webhooks.subscription_status(sub.uuid).dead_letters == 2
    receiver.answer = lambda request, times: 200
    webhooks.retry_dead_letter(sub.uuid, first + 1, actor=ACTOR)
    webhooks.retry_dead_letter(sub.uuid, first, actor=ACTOR)
    webhooks.deliver(sub.uuid)
    assert receiver.seqs()[-2:] == [first, first + 1]  # in order per subject again
    status = webhooks.subscription_status(sub.uuid)
    assert status.pending == 0
    assert status.dead_letters == 0
    assert status.lag == 0
