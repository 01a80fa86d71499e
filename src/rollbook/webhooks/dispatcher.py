"""The delivery engine (ADR 0014): the events after each subscription's cursor, POSTed in order
per subject, concurrently across subjects, retried with backoff, dead-lettered after
`max_attempts`.

One dispatcher at a time per subscription: a PostgreSQL advisory lock keyed by the
subscription's id; on SQLite a lease on the subscription's row (`lease_until`), which also
holds across the embedded runners of several processes. A dispatcher works in rounds: it
sends what is due (pending deliveries whose time has come, and the next events after
`read_seq`), then records the outcome of the round in one transaction. A crash between the
POSTs and that transaction sends the round again: at least once, with the same seq.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import re
import threading
import uuid as uuid_module
from collections import defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Min, Q

from rollbook.audit import api as audit
from rollbook.audit.data import EventData
from rollbook.jobs import api as jobs
from rollbook.lib import clock
from rollbook.webhooks import sender
from rollbook.webhooks.models import DeadLetter, PendingDelivery, Subscription

log = logging.getLogger(__name__)

DELIVER_TASK = "webhooks.deliver"
# Held while a dispatched delivery has not started yet: newly numbered events then dispatch
# no other one (jobs.api.dispatch_task_once, the LMB inbox's pattern, ADR 0007).
WAKE_KEY = jobs.wake_key(DELIVER_TASK)
# Whether any subscription is active, cached so that an audited commit costs no query when
# none is (with a per-process cache, a new subscription is seen within this many seconds).
ACTIVE_KEY = "webhooks:active"
ACTIVE_SECONDS = 30
# The time (unix) of the retry already scheduled, so that rounds do not pile up timers.
RETRY_KEY = "webhooks:retry-at"
OWN_EVENTS = "webhook."  # the webhooks app's own audit rows are never delivered
LEASE = dt.timedelta(minutes=5)
_ADVISORY_CLASS = 0x5742  # "WB": pg_try_advisory_lock(class, subscription id)
_ORG_IN_KEY = re.compile(r"(?:course-v1|ccx-v1|block-v1):([\w\-~.]+)\+|(?<![\w-])lib:([\w\-~.]+):")
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


# ---------------------------------------------------------------- waking up


def on_events_numbered(count: int) -> None:
    """audit's listener: events were numbered; deliver them if anyone listens."""
    if any_active():
        request_delivery()


def any_active() -> bool:
    try:
        cached = cache.get(ACTIVE_KEY)
    except Exception:
        cached = None
    if cached is None:
        cached = Subscription.objects.filter(active=True).exists()
        with suppress(Exception):
            cache.set(ACTIVE_KEY, cached, ACTIVE_SECONDS)
    return bool(cached)


def forget_active() -> None:
    with suppress(Exception):
        cache.delete(ACTIVE_KEY)


def request_delivery() -> None:
    """Dispatch the delivery task after commit, unless one is dispatched and not started."""
    jobs.dispatch_task_once(DELIVER_TASK)


def _clear_wake() -> None:
    jobs.clear_wake(DELIVER_TASK)


def _schedule_retry(at: dt.datetime) -> None:
    """Dispatch the task again at `at`, unless a retry is already due by then."""
    now = clock.now()
    # Never at once: a failed row waiting behind a retried dead letter of its subject can be
    # "due" while its subject is held, and an immediate dispatch would find nothing to do.
    wanted = max(at.timestamp(), now.timestamp() + float(settings.WEBHOOKS["BACKOFF_BASE"]))
    try:
        scheduled = cache.get(RETRY_KEY)
    except Exception:
        scheduled = None
    if scheduled is not None and now.timestamp() < scheduled <= wanted + 0.01:
        return
    countdown = max(0.0, wanted - now.timestamp())
    with suppress(Exception):
        cache.set(RETRY_KEY, wanted, timeout=int(countdown) + 60)
    jobs.dispatch_task(DELIVER_TASK, countdown=countdown or None)


def backoff(attempts: int) -> float:
    """Seconds before attempt `attempts + 1`: base * 2^(attempts - 1), capped, with +-20%
    jitter (so that many failures do not come back at the same moment)."""
    base = float(settings.WEBHOOKS["BACKOFF_BASE"])
    cap = float(settings.WEBHOOKS["BACKOFF_CAP"])
    delay = min(cap, base * 2 ** max(0, attempts - 1))
    return delay * random.uniform(0.8, 1.2)  # noqa: S311 - jitter, not a secret


# ---------------------------------------------------------------- matching


def event_org(event: EventData) -> str | None:
    """The org an event is about: the org of a course or library key in its subject
    (`enrollment:course-v1:Org+X+Y:mary`, `library:lib:Org:slug`), an `org:` subject, the
    `org` of its after/before state, or a course or library key among their values. None
    when there is none (a user's events): those go only to subscriptions without orgs."""
    found = _ORG_IN_KEY.search(event.subject)
    if found:
        return found[1] or found[2]
    if event.subject.startswith("org:"):
        return event.subject[4:]
    for state in (event.after, event.before):
        if not state:
            continue
        org = state.get("org")
        if isinstance(org, str) and org:
            return org
        for value in state.values():
            if isinstance(value, str) and (found := _ORG_IN_KEY.search(value)):
                return found[1] or found[2]
    return None


def matches(event: EventData, orgs: list[str]) -> bool:
    """Types are matched by the query; here the webhooks' own events and the org filter."""
    if event.event.startswith(OWN_EVENTS):
        return False
    if not orgs:
        return True
    org = event_org(event)
    return org is not None and org.casefold() in {o.casefold() for o in orgs}


# ---------------------------------------------------------------- one at a time


@contextmanager
def _single_dispatcher(subscription_id: int) -> Iterator[bool]:
    if connection.vendor == "postgresql":
        with jobs.try_advisory_lock(_ADVISORY_CLASS, subscription_id) as held:
            yield held
        return
    now = clock.now()
    got = bool(
        Subscription.objects.filter(id=subscription_id)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .update(lease_until=now + LEASE)
    )
    try:
        yield got
    finally:
        if got:
            Subscription.objects.filter(id=subscription_id).update(lease_until=None)


# ---------------------------------------------------------------- the task


def deliver_all() -> int:
    """The task `webhooks.deliver`: every active subscription, each by one dispatcher."""
    _clear_wake()
    # This run may be the scheduled retry the key remembers (Celery can start it a moment
    # early, before the rows it was for are due): what this run still needs, it schedules
    # anew, rather than count on itself.
    with suppress(Exception):
        cache.delete(RETRY_KEY)
    done = 0
    ids = list(Subscription.objects.filter(active=True).order_by("id").values_list("id", flat=True))
    for subscription_id in ids:
        try:
            done += deliver(subscription_id)
        except Exception:
            log.exception("webhook subscription %s: delivery failed", subscription_id)
    return done


def deliver(subscription_id: int) -> int:
    """Deliver what is due for one subscription; returns how many events were delivered. A
    caller that finds another dispatcher at work returns at once: that one looks again for
    new events after it lets go."""
    delivered = 0
    while True:
        with _single_dispatcher(subscription_id) as mine:
            if not mine:
                return delivered
            _clear_wake()
            outcome = _drain(subscription_id)
            delivered += outcome.delivered
        if outcome.retry_at is not None:
            _schedule_retry(outcome.retry_at)  # the failed deliveries' next attempts
        if outcome.stalled or not _has_unread(subscription_id):
            return delivered


def _has_unread(subscription_id: int) -> bool:
    row = Subscription.objects.filter(id=subscription_id, active=True).values("read_seq").first()
    return row is not None and audit.last_seq() > row["read_seq"]


# ---------------------------------------------------------------- rounds


@dataclass
class _Item:
    event: EventData
    pending: PendingDelivery | None  # None: a new event, read after read_seq


@dataclass
class _Result:
    delivered: list[_Item] = field(default_factory=list)
    failed: list[tuple[_Item, sender.Outcome]] = field(default_factory=list)
    waiting: list[_Item] = field(default_factory=list)  # behind a failure: not sent


@dataclass
class DrainOutcome:
    delivered: int = 0
    # Stopped with work left that must wait: every send failed (the receiver is down, say),
    # or the pending deliveries reached MAX_PENDING. The scheduled retry goes on from there.
    stalled: bool = False
    retry_at: dt.datetime | None = None


@dataclass
class _Recorded:
    dead_lettered: bool = False
    retry_at: dt.datetime | None = None


def _executor() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(
                max_workers=int(settings.WEBHOOKS["CONCURRENCY"]),
                thread_name_prefix="rollbook-webhook",
            )
        return _pool


def _drain(subscription_id: int) -> DrainOutcome:
    total = DrainOutcome()
    while True:
        subscription = Subscription.objects.filter(id=subscription_id, active=True).first()
        if subscription is None:
            return total
        more = _round(subscription, total)
        if total.stalled or not more:
            return total


def _round(subscription: Subscription, total: DrainOutcome) -> bool:
    """One round: send what is due, record the outcome (added to `total`); whether more is
    due at once (a full batch was read, or a dead letter let its subject's next events go)."""
    now = clock.now()
    batch = int(settings.WEBHOOKS["BATCH"])
    max_pending = int(settings.WEBHOOKS["MAX_PENDING"])
    pending = list(
        PendingDelivery.objects.filter(subscription=subscription).order_by("seq")[:max_pending]
    )
    queues: dict[str, list[_Item]] = defaultdict(list)
    held: set[str] = set()  # subjects whose first pending delivery is not due yet
    if pending:
        events = audit.events_by_seq([row.seq for row in pending])
        for row in pending:
            event = events.get(row.seq)
            if event is None:  # pragma: no cover - audit rows are never deleted
                continue
            if row.subject not in queues and row.subject not in held and row.next_attempt_at > now:
                held.add(row.subject)
            if row.subject not in held:
                queues[row.subject].append(_Item(event, row))
    read_seq = subscription.read_seq
    full = False
    behind_held: list[_Item] = []
    if len(pending) < max_pending:
        last = audit.last_seq()
        types = list(subscription.event_types) or None
        new = audit.events_after(read_seq, types=types, limit=batch)
        full = len(new) == batch
        # A short page holds every matching event up to `last` (read before it): the cursor
        # passes the events of other types too.
        read_seq = new[-1].seq if full else max(last, new[-1].seq if new else read_seq)
        for event in new:
            if not matches(event, subscription.orgs):
                continue
            if event.subject in held:
                behind_held.append(_Item(event, None))
            else:
                queues[event.subject].append(_Item(event, None))
    else:
        total.stalled = True  # too many pending: no reading ahead until they drain
    result = _send(subscription, queues)
    result.waiting.extend(behind_held)
    recorded = _record(subscription, result, read_seq)
    if recorded is None:  # replayed or deleted meanwhile: the round is dropped, read again
        return True
    total.delivered += len(result.delivered)
    total.retry_at = recorded.retry_at
    if result.failed and not result.delivered and not recorded.dead_lettered:
        total.stalled = True  # the receiver is down, say: the scheduled retry goes on
    return full or recorded.dead_lettered


def _send(subscription: Subscription, queues: dict[str, list[_Item]]) -> _Result:
    """Each subject's items in order on the pool, subjects side by side; a subject stops at
    its first failure."""
    result = _Result()
    if not queues:
        return result
    lock = threading.Lock()
    url, secret, sub_uuid = subscription.url, subscription.secret, subscription.uuid

    def run(items: list[_Item]) -> None:
        for index, item in enumerate(items):
            event = item.event
            got = sender.post(
                url,
                sender.body_of(event, sub_uuid),
                secret=secret,
                seq=event.seq,
                event_type=event.event,
                delivery=str(uuid_module.uuid5(sub_uuid, str(event.seq))),
            )
            if not got.ok:
                with lock:
                    result.failed.append((item, got))
                    result.waiting.extend(items[index + 1 :])
                return
            with lock:
                result.delivered.append(item)

    futures = [_executor().submit(run, items) for items in queues.values()]
    for future in futures:
        future.result()
    return result


def _record(subscription: Subscription, result: _Result, read_seq: int) -> _Recorded | None:
    """The round's outcome in one transaction; None when the subscription was replayed (or
    deleted) meanwhile."""
    now = clock.now()
    recorded = _Recorded()
    with transaction.atomic():
        current = (
            Subscription.objects.select_for_update()
            .filter(id=subscription.id, generation=subscription.generation)
            .first()
        )
        if current is None:
            return None
        done_ids = [item.pending.id for item in result.delivered if item.pending is not None]
        retry: list[PendingDelivery] = []
        create: list[PendingDelivery] = []
        dead: list[DeadLetter] = []
        last_error = ""
        for item, got in result.failed:
            row = item.pending or PendingDelivery(
                subscription=current,
                seq=item.event.seq,
                subject=item.event.subject,
                event_type=item.event.event,
            )
            row.attempts += 1
            row.last_status = got.status
            row.last_error = got.error
            last_error = got.error
            if row.attempts >= current.max_attempts:
                dead.append(
                    DeadLetter(
                        subscription=current,
                        seq=row.seq,
                        subject=row.subject,
                        event_type=row.event_type,
                        attempts=row.attempts,
                        last_status=row.last_status,
                        last_error=row.last_error,
                        created=now,
                    )
                )
                if row.pk is not None:
                    done_ids.append(row.pk)
                recorded.dead_lettered = True
                continue
            row.next_attempt_at = now + dt.timedelta(seconds=backoff(row.attempts))
            (retry if row.pk is not None else create).append(row)
        create.extend(
            PendingDelivery(
                subscription=current,
                seq=item.event.seq,
                subject=item.event.subject,
                event_type=item.event.event,
                next_attempt_at=now,  # waits behind its subject's first pending delivery
            )
            for item in result.waiting
            if item.pending is None
        )
        if done_ids:
            PendingDelivery.objects.filter(id__in=done_ids).delete()
        if retry:
            PendingDelivery.objects.bulk_update(
                retry, ["attempts", "next_attempt_at", "last_status", "last_error"]
            )
        if create:
            PendingDelivery.objects.bulk_create(create)
        if dead:
            DeadLetter.objects.bulk_create(dead)
        left = PendingDelivery.objects.filter(subscription=current).aggregate(
            first=Min("seq", filter=Q(redelivery=False)),
            retry_at=Min("next_attempt_at", filter=Q(attempts__gt=0)),
        )
        current.read_seq = read_seq
        current.delivered_seq = left["first"] - 1 if left["first"] is not None else read_seq
        fields = ["read_seq", "delivered_seq"]
        if result.delivered:
            current.last_success_at = now
            fields.append("last_success_at")
        if result.failed:
            current.last_failure_at = now
            current.last_error = last_error
            fields += ["last_failure_at", "last_error"]
        if connection.vendor != "postgresql":
            current.lease_until = now + LEASE
            fields.append("lease_until")
        current.save(update_fields=fields)
    recorded.retry_at = left["retry_at"]
    return recorded
