"""Every list answers {"items", "count", "page", "page_size"} and pages the same way."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings

from rollbook.audit.data import Actor
from rollbook.enrollments import api as enrollments
from tests.api.helpers import (
    COURSE,
    PAGE_KEYS,
    PATH_VALUES,
    Operation,
    assert_error,
    assert_page,
    list_operations,
)
from tests.api.world import World
from tests.factories import Make

LISTS = list_operations()


# The lists the fixture below fills with two items or more.
KNOWN_LISTS = {
    "/users",
    "/courses",
    "/users/{username}/roles",
    "/courses/{course_key}/roles",
    "/users/{username}/libraries",
    "/courses/{course_key}/enrollments",
    "/users/{username}/enrollments",
    "/jobs",
    "/audit",
    "/webhooks",
    "/webhooks/{subscription_id}/dead-letters",
}


def test_the_lists_found_in_the_schema() -> None:
    # A superset: a list added later is paged by the tests below too.
    assert {operation.path.removeprefix("/api/v1") for operation in LISTS} >= KNOWN_LISTS


@pytest.fixture
def lists_world(world: World) -> World:
    """At least two items in every list, for the path values the operations use."""
    Make.library("lib:edX:lib2")
    Make.grant("mary", "library_user", course_key="lib:edX:lib1")
    Make.grant("mary", "library_user", course_key="lib:edX:lib2")
    Make.grant("mary", "data_researcher", org="edX")
    Make.grant("bob", "staff", course_key=COURSE)
    Make.grant("mary", "beta_testers", course_key=COURSE)
    actor = Actor.system("test")
    enrollments.start_bulk_enrollment(COURSE, ["mary"], actor=actor)
    enrollments.start_bulk_enrollment(COURSE, ["bob"], actor=actor)
    _webhooks_with_dead_letters(actor)
    return world


def _webhooks_with_dead_letters(actor: Actor) -> None:
    from django.test import override_settings

    from rollbook.lib import clock
    from rollbook.webhooks import api as webhooks
    from rollbook.webhooks.models import DeadLetter, Subscription

    with override_settings(WEBHOOKS={**settings.WEBHOOKS, "ALLOW_PRIVATE": True}):
        for _ in range(2):
            webhooks.create_subscription("http://127.0.0.1:9/hook", actor=actor)
    first = Subscription.objects.order_by("id").first()
    assert first is not None
    first.uuid = PATH_VALUES["subscription_id"]
    first.save(update_fields=["uuid"])
    for seq in (1, 2):
        DeadLetter.objects.create(
            subscription=first,
            seq=seq,
            subject="user:mary",
            event_type="user.updated",
            attempts=8,
            created=clock.now(),
        )


@pytest.mark.parametrize("operation", LISTS, ids=lambda op: op.id)
def test_a_list_pages(lists_world: World, staff_api: Any, operation: Operation) -> None:
    url = operation.url()
    whole = staff_api.get(url)
    assert whole.status_code == 200, whole.content
    items = assert_page(whole.json(), count=whole.json()["count"])
    assert whole.json()["count"] == len(items)
    if operation.path.removeprefix("/api/v1") in KNOWN_LISTS:
        assert len(items) >= 2

    second = staff_api.get(f"{url}?page=2&page_size=1").json()
    assert assert_page(second, count=len(items), page=2, page_size=1) == items[1:2]

    beyond = staff_api.get(f"{url}?page=1000&page_size=1000").json()
    assert assert_page(beyond, count=len(items), page=1000, page_size=1000) == []


BAD_PAGING = [
    ("page_size=1001", "page_size"),
    ("page_size=0", "page_size"),
    ("page=0", "page"),
    ("page=-1", "page"),
    ("page=one", "page"),
]


@pytest.mark.parametrize("operation", LISTS, ids=lambda op: op.id)
def test_a_list_refuses_bad_paging(
    lists_world: World, staff_api: Any, operation: Operation
) -> None:
    for params, field in BAD_PAGING:
        body = assert_error(staff_api.get(f"{operation.url()}?{params}"), 422, "invalid")
        assert list(body["fields"]) == [field], params


@pytest.mark.parametrize("operation", LISTS, ids=lambda op: op.id)
def test_a_list_takes_the_largest_page_size(
    lists_world: World, staff_api: Any, operation: Operation
) -> None:
    body = staff_api.get(f"{operation.url()}?page_size=1000").json()
    assert set(body) == PAGE_KEYS
    assert body["page_size"] == 1000
