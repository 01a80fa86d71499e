from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from rollbook.audit.data import Actor
from rollbook.people.models import User
from rollbook.webhooks import api as webhooks
from tests import factories

pytestmark = pytest.mark.django_db


def test_the_admin_lists_subscriptions_with_lag_and_failures() -> None:
    sub = webhooks.create_subscription("http://127.0.0.1:9/hook", actor=Actor.system("test"))
    factories.Make.user("root", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(User.objects.get(username="root"))
    page = client.get("/admin/webhooks/subscription/")
    assert page.status_code == 200
    text = page.content.decode().lower()
    assert "127.0.0.1:9/hook" in text
    assert "lag" in text
    assert "dead letters" in text
    detail = client.get(f"/admin/webhooks/subscription/{Subscription_id(sub)}/change/")
    assert detail.status_code == 200
    assert (sub.secret or "") not in detail.content.decode()
    for path in ("pendingdelivery", "deadletter"):
        assert client.get(f"/admin/webhooks/{path}/").status_code == 200


def Subscription_id(sub: Any) -> int:
    from rollbook.webhooks.models import Subscription

    return Subscription.objects.get(uuid=sub.uuid).id


def test_the_admin_replays_from_a_seq_and_retries_dead_letters() -> None:
    from rollbook.lib import clock
    from rollbook.webhooks.models import DeadLetter, PendingDelivery, Subscription

    actor = Actor.system("test")
    sub = webhooks.create_subscription("http://127.0.0.1:9/hook", actor=actor)
    row = Subscription.objects.get(uuid=sub.uuid)
    DeadLetter.objects.create(
        subscription=row, seq=7, subject="user:mary", event_type="user.updated", attempts=8,
        created=clock.now(),
    )  # fmt: skip
    factories.Make.user("root", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(User.objects.get(username="root"))
    url = "/admin/webhooks/subscription/"
    form = client.post(url, {"action": "replay", "_selected_action": [row.pk]})
    assert form.status_code == 200
    assert b"from_seq" in form.content
    done = client.post(
        url, {"action": "replay", "_selected_action": [row.pk], "apply": "1", "from_seq": "3"}
    )
    assert done.status_code == 302
    row.refresh_from_db()
    assert row.read_seq == 2
    assert not DeadLetter.objects.exists()  # at or after from_seq: dropped by the replay
    DeadLetter.objects.create(
        subscription=row, seq=1, subject="user:mary", event_type="user.updated", attempts=8,
        created=clock.now(),
    )  # fmt: skip
    client.post(url, {"action": "retry_dead_letters", "_selected_action": [row.pk]})
    assert not DeadLetter.objects.exists()
    assert PendingDelivery.objects.get().redelivery
