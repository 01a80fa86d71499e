"""REST: /api/v1/webhooks for global staff."""

from __future__ import annotations

from typing import Any

import pytest

from rollbook.audit import api as audit
from rollbook.audit.data import Actor
from rollbook.audit.models import AuditEvent
from rollbook.webhooks.models import DeadLetter, Subscription
from tests.webhooks.receiver import Receiver

pytestmark = pytest.mark.django_db


def test_anonymous_and_non_staff_are_refused(anon_api: Any, api_as: Any) -> None:
    assert anon_api.get("webhooks").status_code == 401
    assert anon_api.post("webhooks", {"url": "http://127.0.0.1/x"}).status_code == 401
    mary = api_as("mary")
    assert mary.get("webhooks").status_code == 403
    assert mary.post("webhooks", {"url": "http://127.0.0.1/x"}).status_code == 403
    assert Subscription.objects.count() == 0


def test_create_answers_the_secret_once(staff_api: Any) -> None:
    response = staff_api.post(
        "webhooks",
        {"url": "http://127.0.0.1:9/hook", "event_types": ["enrollment.*"], "orgs": ["OrgA"]},
    )
    assert response.status_code == 201, response.json()
    created = response.json()
    assert created["secret"].startswith("whsec_")
    assert created["event_types"] == ["enrollment.*"]
    assert created["orgs"] == ["OrgA"]
    sub_id = created["subscription_id"]
    got = staff_api.get(f"webhooks/{sub_id}").json()
    assert "secret" not in got
    listed = staff_api.get("webhooks").json()
    assert listed["count"] == 1
    assert "secret" not in listed["items"][0]
    (row,) = AuditEvent.objects.filter(event="webhook.created")
    assert "secret" not in (row.after or {})
    assert created["secret"] not in str(row.after)


def test_a_given_secret_is_kept_and_a_short_one_refused(staff_api: Any) -> None:
    response = staff_api.post("webhooks", {"url": "http://127.0.0.1:9/x", "secret": "short"})
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_webhook_secret"
    secret = "s" * 40
    response = staff_api.post("webhooks", {"url": "http://127.0.0.1:9/x", "secret": secret})
    assert response.json()["secret"] == secret
    assert Subscription.objects.get().secret == secret


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"url": "ftp://example.com/x"}, "invalid_webhook_url"),
        ({"url": "http://127.0.0.1:9/x", "event_types": ["Bad Type"]}, "invalid_event_type"),
        ({"url": "http://127.0.0.1:9/x", "orgs": ["no spaces"]}, "invalid_org"),
        ({"url": "http://127.0.0.1:9/x", "max_attempts": 0}, "invalid"),
        ({}, "invalid"),
    ],
)
def test_invalid_bodies_are_422(staff_api: Any, body: dict[str, Any], code: str) -> None:
    response = staff_api.post("webhooks", body)
    assert response.status_code == 422
    assert response.json()["code"] == code


def test_private_addresses_need_the_opt_in(staff_api: Any, webhook_settings: Any) -> None:
    webhook_settings["ALLOW_PRIVATE"] = False
    response = staff_api.post("webhooks", {"url": "http://127.0.0.1:9/x"})
    assert response.status_code == 422
    assert response.json()["code"] == "webhook_private_address"


def test_update_rotate_and_delete_are_audited(staff_api: Any) -> None:
    sub_id = staff_api.post("webhooks", {"url": "http://127.0.0.1:9/x"}).json()["subscription_id"]
    response = staff_api.call("patch", f"webhooks/{sub_id}", {"active": False, "orgs": ["OrgB"]})
    assert response.status_code == 200, response.json()
    assert response.json()["active"] is False
    assert response.json()["orgs"] == ["OrgB"]
    assert response.json()["secret"] is None
    rotated = staff_api.call("patch", f"webhooks/{sub_id}", {"rotate_secret": True}).json()
    assert rotated["secret"].startswith("whsec_")
    assert Subscription.objects.get().secret == rotated["secret"]
    deleted = staff_api.delete(f"webhooks/{sub_id}")
    assert deleted.status_code == 200
    assert deleted.json()["subscription_id"] == sub_id
    assert staff_api.get(f"webhooks/{sub_id}").status_code == 404
    rows = AuditEvent.objects.filter(subject=f"webhook:{sub_id}").order_by("id")
    events = list(rows.values_list("event", flat=True))
    assert events == ["webhook.created", "webhook.updated", "webhook.updated", "webhook.deleted"]


def test_status_dead_letters_retry_and_replay(staff_api: Any, receiver: Receiver) -> None:
    created = staff_api.post("webhooks", {"url": receiver.url, "max_attempts": 1}).json()
    sub_id = created["subscription_id"]
    receiver.answer = lambda request, times: 500
    audit.record("user.updated", "user:mary", actor=Actor.system("test"))
    audit.sequence_events()
    seq = audit.last_seq()
    from rollbook.webhooks import api as webhooks

    webhooks.deliver(sub_id)
    status = staff_api.get(f"webhooks/{sub_id}/status").json()
    assert status["dead_letters"] == 1
    assert status["lag"] == 0
    assert status["last_seq"] == seq
    assert "HTTP 500" in status["last_error"]
    letters = staff_api.get(f"webhooks/{sub_id}/dead-letters").json()
    assert [(d["seq"], d["type"], d["last_status"]) for d in letters["items"]] == [
        (seq, "user.updated", 500)
    ]
    receiver.answer = lambda request, times: 200
    response = staff_api.post(f"webhooks/{sub_id}/dead-letters/{seq}/retry")
    assert response.status_code == 200
    assert DeadLetter.objects.count() == 0
    webhooks.deliver(sub_id)
    assert receiver.seqs() == [seq, seq]
    assert staff_api.post(f"webhooks/{sub_id}/dead-letters/{seq}/retry").status_code == 404
    response = staff_api.post(f"webhooks/{sub_id}/replay", {"from_seq": seq})
    assert response.status_code == 200
    assert response.json()["delivered_seq"] == seq - 1
    webhooks.deliver(sub_id)
    assert receiver.seqs() == [seq, seq, seq]
    assert staff_api.post(f"webhooks/{sub_id}/replay", {"from_seq": 0}).status_code == 422
    assert AuditEvent.objects.filter(event="webhook.replayed").count() == 1


def test_unknown_subscription_is_404(staff_api: Any) -> None:
    missing = "00000000-0000-0000-0000-000000000000"
    assert staff_api.get(f"webhooks/{missing}").status_code == 404
    assert staff_api.get(f"webhooks/{missing}/status").json()["code"] == "subscription_not_found"
