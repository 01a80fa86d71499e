from __future__ import annotations

import uuid

from django.http import HttpRequest
from ninja import Query, Router, Status

from rollbook.audit.data import Actor
from rollbook.lib.pagination import PageOut, PageQuery
from rollbook.lib.rest import require_staff
from rollbook.webhooks import api
from rollbook.webhooks.data import SubscriptionData, SubscriptionStatus
from rollbook.webhooks.schemas import (
    DeadLetterOut,
    ReplayIn,
    StatusOut,
    SubscriptionCreatedOut,
    SubscriptionIn,
    SubscriptionOut,
    SubscriptionPatch,
)

router = Router(tags=["webhooks"])


@router.post("/webhooks", response={201: SubscriptionCreatedOut})
def create_subscription(request: HttpRequest, body: SubscriptionIn) -> Status[SubscriptionData]:
    """A new subscription, from the next event on (global staff). The answer holds its
    secret, which is never shown again."""
    principal = require_staff(request)
    return Status(
        201,
        api.create_subscription(
            body.url,
            actor=Actor.of(principal),
            secret=body.secret,
            event_types=body.event_types,
            orgs=body.orgs,
            description=body.description,
            active=body.active,
            max_attempts=body.max_attempts,
        ),
    )


@router.get("/webhooks", response=PageOut[SubscriptionOut])
def list_subscriptions(request: HttpRequest, paging: Query[PageQuery]) -> object:
    """Every subscription (global staff)."""
    require_staff(request)
    return api.list_subscriptions(page=paging.request())


@router.get("/webhooks/{subscription_id}", response=SubscriptionOut)
def get_subscription(request: HttpRequest, subscription_id: uuid.UUID) -> SubscriptionData:
    require_staff(request)
    return api.get_subscription(subscription_id)


@router.patch("/webhooks/{subscription_id}", response=SubscriptionCreatedOut)
def update_subscription(
    request: HttpRequest, subscription_id: uuid.UUID, body: SubscriptionPatch
) -> SubscriptionData:
    """Change what is given (global staff); `rotate_secret` answers the new secret."""
    principal = require_staff(request)
    changes = body.model_dump(exclude_none=True, exclude={"rotate_secret"})
    return api.update_subscription(
        subscription_id, actor=Actor.of(principal), rotate_secret=body.rotate_secret, **changes
    )


@router.delete("/webhooks/{subscription_id}", response=SubscriptionOut)
def delete_subscription(request: HttpRequest, subscription_id: uuid.UUID) -> SubscriptionData:
    """Delete it, with its pending deliveries and dead letters; answers what it was."""
    principal = require_staff(request)
    return api.delete_subscription(subscription_id, actor=Actor.of(principal))


@router.get("/webhooks/{subscription_id}/status", response=StatusOut)
def subscription_status(request: HttpRequest, subscription_id: uuid.UUID) -> SubscriptionStatus:
    """Lag, pending and failing deliveries, dead letters, the last error (global staff)."""
    require_staff(request)
    return api.subscription_status(subscription_id)


@router.get("/webhooks/{subscription_id}/dead-letters", response=PageOut[DeadLetterOut])
def list_dead_letters(
    request: HttpRequest, subscription_id: uuid.UUID, paging: Query[PageQuery]
) -> object:
    require_staff(request)
    return api.list_dead_letters(subscription_id, page=paging.request())


@router.post("/webhooks/{subscription_id}/dead-letters/{seq}/retry", response=SubscriptionOut)
def retry_dead_letter(request: HttpRequest, subscription_id: uuid.UUID, seq: int) -> object:
    """Send a dead-lettered event again (global staff)."""
    principal = require_staff(request)
    return api.retry_dead_letter(subscription_id, seq, actor=Actor.of(principal))


@router.post("/webhooks/{subscription_id}/replay", response=SubscriptionOut)
def replay(request: HttpRequest, subscription_id: uuid.UUID, body: ReplayIn) -> object:
    """Deliver again every matching event from `from_seq` on (global staff)."""
    principal = require_staff(request)
    return api.replay(subscription_id, from_seq=body.from_seq, actor=Actor.of(principal))
