"""GET /api/v1/events: the numbered change events, oldest first, paged with after/limit."""

from __future__ import annotations

from typing import Any

import pytest

from rollbook.api import api
from tests.api.helpers import COURSE, assert_error, query
from tests.api.world import World

EVENT_KEYS = {"seq", "type", "subject", "time", "actor", "source", "before", "after"}


def events(client: Any, **params: object) -> dict[str, Any]:
    response = client.get(query("events", **params))
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"events", "next_after", "last_seq"}
    return body


def test_only_global_staff_read_the_events(api_as: Any, anon_api: Any) -> None:
    assert_error(anon_api.get("events"), 401, "not_authenticated")
    assert_error(api_as("mary").get("events"), 403, "forbidden")


def test_pages_through_the_changes_in_commit_order(staff_api: Any) -> None:
    for name in ("ann", "bob", "cyd"):
        staff_api.put(f"users/{name}", {"name": name.title()})
    staff_api.put("users/ann", {"name": "Ann Avery"})

    everything = events(staff_api)
    seqs = [e["seq"] for e in everything["events"]]
    assert seqs == list(range(1, len(seqs) + 1))
    assert everything["next_after"] == everything["last_seq"] == seqs[-1]
    mine = [e for e in everything["events"] if e["subject"] in {"user:ann", "user:bob", "user:cyd"}]
    assert [(e["type"], e["subject"]) for e in mine] == [
        ("user.created", "user:ann"),
        ("user.created", "user:bob"),
        ("user.created", "user:cyd"),
        ("user.updated", "user:ann"),
    ]
    update = mine[-1]
    assert set(update) == EVENT_KEYS
    assert update["actor"] == "admin"
    assert update["source"] == "api"
    assert update["before"]["name"] == "Ann"
    assert update["after"]["name"] == "Ann Avery"

    start = mine[0]["seq"] - 1
    first = events(staff_api, after=start, limit=2)
    assert [e["subject"] for e in first["events"]] == ["user:ann", "user:bob"]
    assert first["next_after"] == first["events"][-1]["seq"]
    assert first["last_seq"] == seqs[-1]
    second = events(staff_api, after=first["next_after"], limit=2)
    assert [e["subject"] for e in second["events"]] == ["user:cyd", "user:ann"]
    done = events(staff_api, after=second["next_after"], limit=2)
    assert done["events"] == []
    assert done["next_after"] == second["next_after"]  # nothing new: stay where you are

    staff_api.put("users/bob", {"name": "Bob Bell"})
    new = events(staff_api, after=done["next_after"])
    assert [(e["type"], e["subject"]) for e in new["events"]] == [("user.updated", "user:bob")]
    assert new["last_seq"] == new["next_after"] == done["last_seq"] + 1


def test_filters_by_type_exactly_or_by_prefix(world: World, staff_api: Any) -> None:
    staff_api.put(f"courses/{COURSE}/enrollments/mary", {"mode": "verified"})
    staff_api.post("roles/grants", {"username": "mary", "role": "staff", "course_key": COURSE})
    staff_api.put("users/mary", {"name": "Mary Major"})

    def types(value: str) -> list[str]:
        return [e["type"] for e in events(staff_api, types=value, limit=1000)["events"]]

    assert set(types("enrollment.updated")) == {"enrollment.updated"}
    assert set(types("enrollment.*")) >= {"enrollment.updated"}
    assert {t.split(".")[0] for t in types("enrollment.*")} == {"enrollment"}
    both = types("role.granted, user.updated")
    assert set(both) == {"role.granted", "user.updated"}
    assert types("no.such_event") == []
    assert len(types("*")) == len(types("")) == len(events(staff_api, limit=1000)["events"])
    filtered = events(staff_api, types="role.granted", limit=1000)
    assert filtered["next_after"] == filtered["events"][-1]["seq"]
    assert filtered["last_seq"] >= filtered["next_after"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 1001}, "limit"),
        ({"limit": "many"}, "limit"),
        ({"after": -1}, "after"),
        ({"after": "x"}, "after"),
        ({"types": "enrollment created"}, "types"),
        ({"types": "enroll*ment"}, "types"),
    ],
)
def test_bad_parameters_answer_422(staff_api: Any, params: dict[str, object], field: str) -> None:
    body = assert_error(staff_api.get(query("events", **params)), 422, "invalid")
    assert field in body["fields"]


def test_the_events_are_documented() -> None:
    operation = api.get_openapi_schema()["paths"]["/api/v1/events"]["get"]
    assert {p["name"] for p in operation["parameters"]} == {"after", "types", "limit"}
    schema = operation["responses"][200]["content"]["application/json"]["schema"]
    assert schema["$ref"].endswith("/EventsOut")
