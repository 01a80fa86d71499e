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
