"""Content access over HTTP: structures and versions, each scheme, cohorts, the learner's
view and its explanation, permissions."""

from __future__ import annotations

import json
from typing import Any

import pytest

from rollbook.audit.data import Actor
from rollbook.content_access import api as content
from rollbook.content_access.models import RandomAssignment
from tests.factories import Make

pytestmark = pytest.mark.django_db

COURSE = "course-v1:UniX+Bio101+2026"
ACTOR = Actor.system("test")
PARTITIONS = [
    {
        "id": 1,
        "name": "Cohorts",
        "scheme": "cohort",
        "groups": [{"id": 10, "name": "Red"}, {"id": 11, "name": "Blue"}],
    },
    {
        "id": 2,
        "name": "Tracks",
        "scheme": "enrollment_track",
        "groups": [
            {"id": 20, "name": "Audit", "mode": "audit"},
            {"id": 21, "name": "Verified", "mode": "verified"},
        ],
    },
    {
        "id": 3,
        "name": "AB",
        "scheme": "random",
        "groups": [{"id": 30, "name": "A"}, {"id": 31, "name": "B"}],
    },
]


def block(block_id: str, *children: str, **fields: Any) -> dict[str, Any]:
    return {
        "id": block_id,
        "type": fields.pop("type", "vertical"),
        "display_name": block_id.title(),
        "children": list(children),
        **fields,
    }


STRUCTURE = {
    "root": "course",
    "blocks": [
        block("course", "week1", type="course"),
        block("week1", "red", "blue", "verified", "ab", "hidden", type="chapter"),
        block("red", group_access={"1": [10]}),
        block("blue", group_access={"1": [11]}),
        block("verified", group_access={"2": [21]}),
        block(
            "ab",
            "va",
            "vb",
            type="split_test",
            user_partition_id=3,
            group_id_to_child={"30": "va", "31": "vb"},
        ),
        block("va"),
        block("vb"),
        block("hidden", visible_to_staff_only=True),
    ],
    "user_partitions": PARTITIONS,
}


@pytest.fixture
def published(staff_api: Any) -> None:
    Make.course(COURSE, modes=["audit", "verified"], default_mode="audit")
    for name in ("ann", "bob"):
        Make.user(name)
        Make.enrollment(COURSE, name)
    response = staff_api.put(f"courses/{COURSE}/structure", STRUCTURE)
    assert response.status_code == 201, response.content


def ids(response: Any) -> set[str]:
    assert response.status_code == 200, response.content
    return set(response.json()["blocks"])


def test_publishing_versions_and_the_new_one_applies_at_once(
    published: None, staff_api: Any, api_as: Any
) -> None:
    ann = api_as("ann")
    assert "red" not in ids(ann.get(f"courses/{COURSE}/blocks"))  # no cohort yet
    changed = {
        **STRUCTURE,
        "blocks": [*STRUCTURE["blocks"][:2], block("red"), *STRUCTURE["blocks"][3:]],
    }
    response = staff_api.put(f"courses/{COURSE}/structure", changed)
    assert response.status_code == 200
    assert response.json()["version"] == 2
    assert "red" in ids(ann.get(f"courses/{COURSE}/blocks"))  # no stale window
    info = staff_api.get(f"courses/{COURSE}/structure").json()
    assert (info["version"], info["blocks"]) == (2, 9)


def test_cohort_scheme_through_the_cohort_endpoints(
    published: None, staff_api: Any, api_as: Any
) -> None:
    assert (
        staff_api.put(
            f"courses/{COURSE}/cohorts/Red team", {"partition_id": 1, "group_id": 10}
        ).status_code
        == 201
    )
    assert (
        staff_api.put(
            f"courses/{COURSE}/cohorts/Blue team", {"partition_id": 1, "group_id": 11}
        ).status_code
        == 201
    )
    response = staff_api.put(f"courses/{COURSE}/cohorts/Red team/members/ann")
    assert response.json()["changed"] is True
    seen = ids(api_as("ann").get(f"courses/{COURSE}/blocks"))
    assert "red" in seen
    assert "blue" not in seen
    # Moving to another cohort leaves the first (one cohort per course).
    staff_api.put(f"courses/{COURSE}/cohorts/Blue team/members/ann", {})
    seen = ids(api_as("ann").get(f"courses/{COURSE}/blocks"))
    assert ("red" in seen, "blue" in seen) == (False, True)
    listed = {
        c["name"]: c["members"] for c in staff_api.get(f"courses/{COURSE}/cohorts").json()["items"]
    }
    assert listed == {"Blue team": 1, "Red team": 0}
    assert staff_api.delete(f"courses/{COURSE}/cohorts/Blue team/members/ann").json()["changed"]
    assert "blue" not in ids(api_as("ann").get(f"courses/{COURSE}/blocks"))
    bad = staff_api.put(f"courses/{COURSE}/cohorts/Odd", {"partition_id": 2, "group_id": 20})
    assert bad.status_code == 422
    assert bad.json()["code"] == "not_a_cohort_group"


def test_a_default_cohort_takes_learners_without_one(published: None, api_as: Any) -> None:
    content.put_cohort(
        COURSE, "Everyone", partition_id=1, group_id=11, is_default=True, actor=ACTOR
    )
    assert "blue" in ids(api_as("bob").get(f"courses/{COURSE}/blocks"))


def test_enrollment_track_scheme_follows_the_mode(published: None, api_as: Any) -> None:
    assert "verified" not in ids(api_as("ann").get(f"courses/{COURSE}/blocks"))
    Make.enrollment(COURSE, "ann", mode="verified")
    assert "verified" in ids(api_as("ann").get(f"courses/{COURSE}/blocks"))


def test_random_scheme_is_stored_and_stable(published: None, api_as: Any) -> None:
    first = api_as("ann").get(f"courses/{COURSE}/blocks").json()
    children = first["blocks"]["week1"]["children"]
    shown = [kid for kid in children if kid in ("va", "vb")]
    assert len(shown) == 1  # the wrapper's place: one of its children
    assert "ab" not in first["blocks"]
    stored = RandomAssignment.objects.get()
    assert {"30": "va", "31": "vb"}[str(stored.group_id)] == shown[0]
    for _ in range(3):
        again = api_as("ann").get(f"courses/{COURSE}/blocks").json()
        assert again["blocks"]["week1"]["children"] == children
    assert RandomAssignment.objects.count() == 1


def test_staff_see_staff_only_and_learners_do_not(
    published: None, staff_api: Any, api_as: Any
) -> None:
    assert "hidden" not in ids(api_as("ann").get(f"courses/{COURSE}/blocks"))
    Make.user("tina")
    Make.grant("tina", "instructor", course_key=COURSE)
    assert "hidden" in ids(api_as("tina").get(f"courses/{COURSE}/blocks"))


def test_asking_for_another_user_needs_course_staff(published: None, api_as: Any) -> None:
    assert (
        api_as("bob").get(f"courses/{COURSE}/blocks", data={"username": "ann"}).status_code == 403
    )
    Make.user("tina")
    Make.grant("tina", "staff", course_key=COURSE)
    response = api_as("tina").get(f"courses/{COURSE}/blocks", data={"username": "ann"})
    assert "hidden" not in ids(response)  # as ann sees it
    assert api_as(None).get(f"courses/{COURSE}/blocks").status_code == 401


def test_the_explanation_names_partition_group_path_and_reasons(
    published: None, api_as: Any
) -> None:
    content.put_cohort(COURSE, "Blue team", partition_id=1, group_id=11, actor=ACTOR)
    content.add_cohort_member(COURSE, "Blue team", "ann", actor=ACTOR)
    response = api_as("ann").get(f"courses/{COURSE}/blocks/red/access")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["visible"] is False
    (check,) = body["partitions"]
    assert (check["partition_id"], check["user_group"], check["allowed_groups"]) == (1, 11, [10])
    assert "allows groups [10]" in body["reasons"][0]
    shown = api_as("ann").get(f"courses/{COURSE}/blocks/blue/access").json()
    assert shown["visible"] is True
    assert shown["path"] == ["course", "week1", "blue"]
    hidden = api_as("ann").get(f"courses/{COURSE}/blocks/hidden/access").json()
    assert hidden["staff_only"] is True
    assert "staff only" in hidden["reasons"][0]
    missing = api_as("ann").get(f"courses/{COURSE}/blocks/nope/access")
    assert missing.status_code == 404
    assert missing.json()["code"] == "unknown_block"


@pytest.mark.parametrize(
    ("blocks", "problem", "named"),
    [
        ([block("course", "ghost", type="course")], "unknown_child", "ghost"),
        ([block("course", "a", type="course"), block("a", "b"), block("b", "a")], "cycle", "a"),
        ([block("course", type="course"), block("lost")], "unreachable_block", "lost"),
    ],
)
def test_an_invalid_structure_is_422_naming_the_ids(
    staff_api: Any, blocks: list[dict[str, Any]], problem: str, named: str
) -> None:
    Make.course(COURSE)
    response = staff_api.put(
        f"courses/{COURSE}/structure", {"root": "course", "blocks": blocks, "user_partitions": []}
    )
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "invalid_structure"
    assert body["fields"]["problem"] == problem
    assert named in body["fields"]["ids"].split(",")


def test_only_global_staff_publish_and_unknown_courses_are_404(staff_api: Any, api_as: Any) -> None:
    Make.course(COURSE)
    Make.user("tina")
    Make.grant("tina", "staff", course_key=COURSE)
    assert api_as("tina").put(f"courses/{COURSE}/structure", STRUCTURE).status_code == 403
    assert staff_api.put("courses/course-v1:UniX+None+2026/structure", STRUCTURE).status_code == 404
    assert staff_api.get(f"courses/{COURSE}/blocks").json()["code"] == "no_structure"


def test_a_large_structure_is_accepted(staff_api: Any) -> None:
    """Over the default 10 MiB body limit: the structure route allows more."""
    Make.course(COURSE)
    leaves = [block(f"leaf-{n:06d}", display_name="x" * 900) for n in range(11_000)]
    body = {
        "root": "course",
        "blocks": [block("course", *(b["id"] for b in leaves), type="course"), *leaves],
        "user_partitions": [],
    }
    assert len(json.dumps(body)) > 10 * 1024 * 1024
    response = staff_api.put(f"courses/{COURSE}/structure", body)
    assert response.status_code == 201, response.content[:300]
    assert response.json()["blocks"] == 11_001


def test_the_collected_data_is_shared_through_redis(staff_api: Any) -> None:
    """With Redis as the cache (as in a multi-process deployment), a process that did not
    collect the version reads it from Redis instead of collecting again."""
    import os
    import uuid as uuid_module

    from django.core.cache import caches
    from django.test import override_settings

    from rollbook.content_access import api as content_api
    from rollbook.content_access import blocks as blocks_module

    url = os.environ.get("ROLLBOOK_TEST_REDIS_URL", "").strip() or "redis://127.0.0.1:6379/14"
    redis_cache = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": url,
            "KEY_PREFIX": f"rollbook-test-{uuid_module.uuid4().hex}",
        }
    }
    Make.course(COURSE, modes=["audit", "verified"], default_mode="audit")
    Make.user("ann")
    with override_settings(CACHES=redis_cache):
        caches.close_all()
        version = content.put_structure(COURSE, STRUCTURE, actor=ACTOR)
        content_api._local.clear()  # another process: nothing in its memory
        calls: list[int] = []
        original = blocks_module.collect

        def counting(structure: Any) -> Any:
            calls.append(1)
            return original(structure)

        content_api.collect = counting  # type: ignore[assignment]
        try:
            collected = content.get_collected(COURSE)
        finally:
            content_api.collect = original  # type: ignore[assignment]
        assert calls == []  # read from Redis
        assert len(collected.ids) == version.blocks == 9
        assert content.course_blocks(COURSE, "ann")["root"] == "course"
        caches["default"].delete(content_api._cache_key(COURSE, version.version))
    caches.close_all()
