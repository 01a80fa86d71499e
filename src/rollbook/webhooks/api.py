"""Webhooks: subscriptions to the change events (ADR 0013), delivered by Celery (ADR 0014).

A subscription names a URL, a secret that signs every request, the event types and orgs it
wants (empty: all), and how many attempts an event gets before it is dead-lettered. It
starts at the end of the event stream (`last_seq` when it is created); `replay` goes back.
"""

from __future__ import annotations

import secrets
import uuid as uuid_module
from collections.abc import Sequence
from typing import Any

from django.db import transaction
from django.db.models import Count, F, Q

from rollbook.audit import api as audit
from rollbook.audit.data import Actor
from rollbook.lib import clock
from rollbook.lib.errors import Invalid, NotFound
from rollbook.lib.keys import parse_uuid, validate_org
from rollbook.lib.pagination import Page, PageRequest, paginate
from rollbook.webhooks import dispatcher, sender
from rollbook.webhooks.data import DeadLetterData, SubscriptionData, SubscriptionStatus
from rollbook.webhooks.errors import (
    MSG_DEAD_LETTER_NOT_FOUND,
    MSG_INVALID_EVENT_TYPE,
    MSG_INVALID_MAX_ATTEMPTS,
    MSG_INVALID_SECRET,
    MSG_INVALID_SEQ,
    MSG_SUBSCRIPTION_NOT_FOUND,
    WebhookErrorCode,
)
from rollbook.webhooks.models import (
    DEFAULT_MAX_ATTEMPTS,
    DeadLetter,
    PendingDelivery,
    Subscription,
)

__all__ = [
    "DEFAULT_MAX_ATTEMPTS",
    "MAX_ATTEMPTS_LIMIT",
    "MIN_SECRET_LENGTH",
    "DeadLetterData",
    "SubscriptionData",
    "SubscriptionStatus",
    "create_subscription",
    "delete_subscription",
    "deliver",
    "event_org",
    "get_subscription",
    "list_dead_letters",
    "list_subscriptions",
    "replay",
    "retry_dead_letter",
    "subscription_status",
    "update_subscription",
    "verify_signature",
]

MIN_SECRET_LENGTH = 32
MAX_ATTEMPTS_LIMIT = 50
_TYPE_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789._-")
_UNSET: Any = object()

event_org = dispatcher.event_org
verify_signature = sender.verify


def _data(row: Subscription, *, secret: str | None = None) -> SubscriptionData:
    return SubscriptionData(
        uuid=row.uuid,
        url=row.url,
        description=row.description,
        event_types=list(row.event_types),
        orgs=list(row.orgs),
        active=row.active,
        max_attempts=row.max_attempts,
        created_by=row.created_by_username,
        created=row.created,
        updated=row.updated,
        delivered_seq=row.delivered_seq,
        secret=secret,
    )


def _public(row: Subscription) -> dict[str, Any]:
    """What the audit log keeps of a subscription: everything but the secret."""
    return {
        "url": row.url,
        "description": row.description,
        "event_types": list(row.event_types),
        "orgs": list(row.orgs),
        "active": row.active,
        "max_attempts": row.max_attempts,
    }


def _get(subscription_id: uuid_module.UUID | str, *, lock: bool = False) -> Subscription:
    key = parse_uuid(subscription_id)
    rows = Subscription.objects.select_for_update() if lock else Subscription.objects.all()
    row = rows.filter(uuid=key).first() if key else None
    if row is None:
        raise NotFound(
            WebhookErrorCode.SUBSCRIPTION_NOT_FOUND,
            MSG_SUBSCRIPTION_NOT_FOUND.format(uuid=subscription_id),
        )
    return row


def _valid_url(url: str) -> str:
    url = url.strip()
    _scheme, host, port = sender.check_url(url)
    sender.resolve(host, port)  # refuses private addresses (unless allowed)
    return url


def _valid_types(event_types: Sequence[str]) -> list[str]:
    names = []
    for name in (str(n).strip() for n in event_types):
        stem = name.removesuffix("*")
        if not name or not set(stem) <= _TYPE_CHARS:
            raise Invalid(
                WebhookErrorCode.INVALID_EVENT_TYPE,
                MSG_INVALID_EVENT_TYPE.format(name=name),
                fields={"event_types": name},
            )
        names.append(name)
    return sorted(set(names))


def _valid_orgs(orgs: Sequence[str]) -> list[str]:
    return sorted({validate_org(str(org).strip()) for org in orgs})


def _valid_attempts(max_attempts: int) -> int:
    if not 1 <= max_attempts <= MAX_ATTEMPTS_LIMIT:
        raise Invalid(
            WebhookErrorCode.INVALID_MAX_ATTEMPTS,
            MSG_INVALID_MAX_ATTEMPTS.format(limit=MAX_ATTEMPTS_LIMIT),
            fields={"max_attempts": max_attempts},
        )
    return max_attempts


def create_subscription(
    url: str,
    *,
    actor: Actor,
    secret: str | None = None,
    event_types: Sequence[str] = (),
    orgs: Sequence[str] = (),
    description: str = "",
    active: bool = True,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
) -> SubscriptionData:
    """A new subscription, from the next event on. Its secret (generated when not given) is
    in the answer, and never again."""
    if secret is not None and len(secret) < MIN_SECRET_LENGTH:
        raise Invalid(
            WebhookErrorCode.INVALID_SECRET,
            MSG_INVALID_SECRET.format(min=MIN_SECRET_LENGTH),
            fields={"secret": "too short"},
        )
    secret = secret or "whsec_" + secrets.token_urlsafe(32)
    now = clock.now()
    audit.sequence_events()  # changes committed before this one are before its start
    with transaction.atomic():
        start = audit.last_seq()
        row = Subscription.objects.create(
            url=_valid_url(url),
            secret=secret,
            description=description,
            event_types=_valid_types(event_types),
            orgs=_valid_orgs(orgs),
            active=active,
            max_attempts=_valid_attempts(max_attempts),
            created_by_id=actor.user_id,
            created_by_username=actor.username,
            created=now,
            updated=now,
            delivered_seq=start,
            read_seq=start,
        )
        audit.record("webhook.created", f"webhook:{row.uuid}", actor=actor, after=_public(row))
        transaction.on_commit(dispatcher.forget_active)
    return _data(row, secret=secret)


def update_subscription(
    subscription_id: uuid_module.UUID | str,
    *,
    actor: Actor,
    url: str = _UNSET,
    event_types: Sequence[str] = _UNSET,
    orgs: Sequence[str] = _UNSET,
    description: str = _UNSET,
    active: bool = _UNSET,
    max_attempts: int = _UNSET,
    rotate_secret: bool = False,
) -> SubscriptionData:
    """Change what is given. `rotate_secret`: a new secret, in the answer (and only there)."""
    with transaction.atomic():
        row = _get(subscription_id, lock=True)
        before = _public(row)
        if url is not _UNSET:
            row.url = _valid_url(url)
        if event_types is not _UNSET:
            row.event_types = _valid_types(event_types)
        if orgs is not _UNSET:
            row.orgs = _valid_orgs(orgs)
        if description is not _UNSET:
            row.description = description
        if active is not _UNSET:
            row.active = active
        if max_attempts is not _UNSET:
            row.max_attempts = _valid_attempts(max_attempts)
        secret = None
        if rotate_secret:
            secret = row.secret = "whsec_" + secrets.token_urlsafe(32)
        row.updated = clock.now()
        row.save()
        after = _public(row) | ({"secret": "rotated"} if rotate_secret else {})
        audit.record(
            "webhook.updated", f"webhook:{row.uuid}", actor=actor, before=before, after=after
        )
        transaction.on_commit(dispatcher.forget_active)
        if row.active:
            dispatcher.request_delivery()
    return _data(row, secret=secret)


def delete_subscription(
    subscription_id: uuid_module.UUID | str, *, actor: Actor
) -> SubscriptionData:
    """Gone, with its pending deliveries and dead letters (the audit row keeps what it was)."""
    with transaction.atomic():
        row = _get(subscription_id, lock=True)
        audit.record("webhook.deleted", f"webhook:{row.uuid}", actor=actor, before=_public(row))
        data = _data(row)
        row.delete()
        transaction.on_commit(dispatcher.forget_active)
    return data


def get_subscription(subscription_id: uuid_module.UUID | str) -> SubscriptionData:
    return _data(_get(subscription_id))


def list_subscriptions(*, page: PageRequest) -> Page[SubscriptionData]:
    return paginate(Subscription.objects.order_by("id"), page, _data)


def subscription_status(subscription_id: uuid_module.UUID | str) -> SubscriptionStatus:
    """How far behind it is: `lag` is the events numbered after its cursor (of every type:
    the cursor passes the others as it goes)."""
    row = _get(subscription_id)
    counts = PendingDelivery.objects.filter(subscription=row).aggregate(
        pending=Count("id"), failing=Count("id", filter=Q(attempts__gt=0))
    )
    last = audit.last_seq()
    return SubscriptionStatus(
        uuid=row.uuid,
        active=row.active,
        last_seq=last,
        delivered_seq=row.delivered_seq,
        lag=max(0, last - row.delivered_seq),
        pending=counts["pending"],
        failing=counts["failing"],
        dead_letters=DeadLetter.objects.filter(subscription=row).count(),
        last_error=row.last_error,
        last_success_at=row.last_success_at,
        last_failure_at=row.last_failure_at,
    )


def _dead_data(row: DeadLetter) -> DeadLetterData:
    return DeadLetterData(
        seq=row.seq,
        subject=row.subject,
        event_type=row.event_type,
        attempts=row.attempts,
        last_status=row.last_status,
        last_error=row.last_error,
        created=row.created,
    )


def list_dead_letters(
    subscription_id: uuid_module.UUID | str, *, page: PageRequest
) -> Page[DeadLetterData]:
    row = _get(subscription_id)
    return paginate(DeadLetter.objects.filter(subscription=row).order_by("seq"), page, _dead_data)


def retry_dead_letter(
    subscription_id: uuid_module.UUID | str, seq: int, *, actor: Actor
) -> SubscriptionData:
    """Send a dead-lettered event again (attempts from zero). Its subject's later events went
    on without it: the receiver gets it after them, with its own seq to tell."""
    with transaction.atomic():
        row = _get(subscription_id, lock=True)
        dead = DeadLetter.objects.filter(subscription=row, seq=seq).first()
        if dead is None:
            raise NotFound(
                WebhookErrorCode.DEAD_LETTER_NOT_FOUND,
                MSG_DEAD_LETTER_NOT_FOUND.format(seq=seq, uuid=row.uuid),
            )
        PendingDelivery.objects.create(
            subscription=row,
            seq=dead.seq,
            subject=dead.subject,
            event_type=dead.event_type,
            next_attempt_at=clock.now(),
            redelivery=True,
        )
        dead.delete()
        # Bumped: a dispatcher at work drops its round rather than miss the new row.
        Subscription.objects.filter(id=row.id).update(generation=F("generation") + 1)
        audit.record(
            "webhook.dead_letter_retried",
            f"webhook:{row.uuid}",
            actor=actor,
            after={"seq": seq},
        )
        dispatcher.request_delivery()
    return _data(row)


def replay(
    subscription_id: uuid_module.UUID | str, *, from_seq: int, actor: Actor
) -> SubscriptionData:
    """Deliver again every matching event from `from_seq` on, with their own seq. The cursor
    goes to from_seq - 1; pending deliveries and dead letters at or after from_seq are
    dropped (they are sent again, and dead-lettered again if they fail again); those before
    it stay."""
    if from_seq < 1:
        raise Invalid(WebhookErrorCode.INVALID_SEQ, MSG_INVALID_SEQ, fields={"from_seq": from_seq})
    with transaction.atomic():
        row = _get(subscription_id, lock=True)
        before = {"delivered_seq": row.delivered_seq, "read_seq": row.read_seq}
        dropped_pending, _ = PendingDelivery.objects.filter(
            subscription=row, seq__gte=from_seq
        ).delete()
        dropped_dead, _ = DeadLetter.objects.filter(subscription=row, seq__gte=from_seq).delete()
        earliest = (
            PendingDelivery.objects.filter(subscription=row, redelivery=False)
            .order_by("seq")
            .values_list("seq", flat=True)
            .first()
        )
        row.read_seq = from_seq - 1
        row.delivered_seq = min(row.read_seq, earliest - 1) if earliest else row.read_seq
        row.generation += 1
        row.updated = clock.now()
        row.save(update_fields=["read_seq", "delivered_seq", "generation", "updated"])
        audit.record(
            "webhook.replayed",
            f"webhook:{row.uuid}",
            actor=actor,
            before=before,
            after={
                "from_seq": from_seq,
                "delivered_seq": row.delivered_seq,
                "dropped_pending": dropped_pending,
                "dropped_dead_letters": dropped_dead,
            },
        )
        dispatcher.request_delivery()
    return _data(row)


def deliver(subscription_id: uuid_module.UUID | str | None = None) -> int:
    """Deliver what is due now, here (what the task does): one subscription, or all of them.
    Returns how many events were delivered."""
    if subscription_id is None:
        return dispatcher.deliver_all()
    return dispatcher.deliver(_get(subscription_id).id)
