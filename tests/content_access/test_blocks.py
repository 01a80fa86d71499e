"""Collect and transform: the rules on hand-drawn DAGs, and a property test against the
brute-force definition over random DAGs."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rollbook.content_access.blocks import (
    StructureError,
    Viewer,
    collect,
    outline,
    outline_json,
    visible,
)

NOW = 1_800_000_000.0
PAST = "2020-01-01T00:00:00Z"
FUTURE = "2030-01-01T00:00:00Z"  # > NOW (2027-01-15)

COHORT = {
    "id": 1,
    "name": "Cohorts",
    "scheme": "cohort",
    "active": True,
    "groups": [{"id": 10, "name": "A"}, {"id": 11, "name": "B"}],
}
TRACK = {
    "id": 2,
    "name": "Tracks",
    "scheme": "enrollment_track",
    "active": True,
    "groups": [
        {"id": 20, "name": "Audit", "mode": "audit"},
        {"id": 21, "name": "Verified", "mode": "verified"},
    ],
}


def block(block_id: str, *children: str, **fields: Any) -> dict[str, Any]:
    return {
        "id": block_id,
        "type": fields.pop("type", "vertical"),
        "display_name": block_id,
        "children": list(children),
        **fields,
    }


def seen_ids(structure: dict[str, Any], viewer: Viewer, now: float = NOW) -> set[str]:
    collected = collect(structure)
    return set(outline(collected, visible(collected, viewer, now))["blocks"])


def course(
    *blocks: dict[str, Any], partitions: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    return {
        "root": "root",
        "blocks": list(blocks),
        "user_partitions": partitions or [COHORT, TRACK],
    }


A = Viewer({1: 10, 2: 20})
B = Viewer({1: 11, 2: 21})
NOBODY = Viewer({})


def test_two_parents_with_different_restrictions_union_then_intersect() -> None:
    # x has parents p (cohort A) and q (cohort B); x itself allows A only.
    structure = course(
        block("root", "p", "q", type="course"),
        block("p", "x", group_access={"1": [10]}),
        block("q", "x", group_access={"1": [11]}),
        block("x", group_access={"1": [10]}),
    )
    assert seen_ids(structure, A) == {"root", "p", "q", "x"} - {"q"}
    assert seen_ids(structure, B) == {"root", "q"}  # x allows A only


def test_a_parent_without_restriction_grants_everyone() -> None:
    structure = course(
        block("root", "p", "q", type="course"),
        block("p", "x", group_access={"1": [10]}),
        block("q", "x"),
        block("x"),
    )
    assert "x" in seen_ids(structure, B)
    assert "x" in seen_ids(structure, NOBODY)


def test_an_empty_or_null_own_restriction_is_none_but_an_empty_merge_is_nobody() -> None:
    structure = course(
        block("root", "p", "q", type="course"),
        block("p", "x", group_access={"1": []}),
        block("q", "y", group_access={"1": None}),
        block("x", group_access={"1": [10]}),
        block("y", "z", group_access={"1": [10]}),
        block("z", group_access={"1": [11]}),  # A and then B: nobody
    )
    assert seen_ids(structure, NOBODY) == {"root", "p", "q"}
    assert seen_ids(structure, A) == {"root", "p", "q", "x", "y"}
    assert "z" not in seen_ids(structure, B)


def test_an_inactive_partition_restricts_nothing() -> None:
    inactive = {**COHORT, "active": False}
    structure = course(
        block("root", "x", type="course"),
        block("x", group_access={"1": [10]}),
        partitions=[inactive, TRACK],
    )
    assert seen_ids(structure, NOBODY) == {"root", "x"}


def test_course_staff_are_not_exempt_from_partitions_but_see_staff_only_and_unstarted() -> None:
    structure = course(
        block("root", "a", "b", "c", type="course"),
        block("a", group_access={"2": [21]}),
        block("b", visible_to_staff_only=True),
        block("c", start=FUTURE),
    )
    staff = Viewer({2: 20}, course_staff=True)
    assert seen_ids(structure, staff) == {"root", "b", "c"}
    assert seen_ids(structure, Viewer({2: 21})) == {"root", "a"}


def test_staff_only_is_inherited_when_all_parents_are_staff_only() -> None:
    structure = course(
        block("root", "p", "q", "r", type="course"),
        block("p", "x", "y", visible_to_staff_only=True),
        block("q", "x", visible_to_staff_only=True),
        block("r", "y"),
        block("x"),
        block("y"),
    )
    assert seen_ids(structure, A) == {"root", "r", "y"}


def test_start_is_the_later_of_own_and_the_earliest_parent() -> None:
    soon = "2027-01-17T00:00:00Z"  # two days after NOW
    structure = course(
        block("root", "p", "q", "r", type="course"),
        block("p", "x", start=FUTURE),
        block("q", "x", start=PAST),
        block("x"),  # the earliest parent start is PAST: x has started
        block("r", "y", start=soon),
        block("y", start=PAST),  # its own start is earlier, its parent's later: soon
    )
    collected = collect(structure)
    assert collected.start[collected.index["x"]] == collected.start[collected.index["q"]]
    assert collected.start[collected.index["y"]] == collected.start[collected.index["r"]]
    assert seen_ids(structure, A) == {"root", "q", "x"}
    # A beta tester (three days early) sees r and y, not p.
    assert seen_ids(structure, Viewer({}, beta_days=3)) == {"root", "q", "x", "r", "y"}


def test_split_test_children_take_the_wrappers_place() -> None:
    split = {
        "id": 3,
        "name": "AB",
        "scheme": "random",
        "active": True,
        "groups": [{"id": 30, "name": "A"}, {"id": 31, "name": "B"}],
    }
    structure = course(
        block("root", "seq", type="course"),
        block("seq", "intro", "ab", "outro", type="sequential"),
        block("intro"),
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
        block("outro"),
        partitions=[COHORT, TRACK, split],
    )
    collected = collect(structure)
    view = outline(collected, visible(collected, Viewer({3: 31}), NOW))
    assert view["blocks"]["seq"]["children"] == ["intro", "vb", "outro"]
    seen = visible(collected, Viewer({3: 31}), NOW)
    assert json.loads(outline_json(collected, seen)) == view
    assert "ab" not in view["blocks"]
    assert "va" not in view["blocks"]
    assert set(outline(collected, visible(collected, Viewer({}), NOW))["blocks"]) == {
        "root",
        "seq",
        "intro",
        "outro",
    }


@pytest.mark.parametrize(
    ("structure", "code", "named"),
    [
        (course(block("root", "ghost", type="course")), "unknown_child", "ghost"),
        (course(block("root", "a", type="course"), block("a", "b"), block("b", "a")), "cycle", "a"),
        (course(block("root", type="course"), block("lost")), "unreachable_block", "lost"),
        (
            course(block("root", type="course"), partitions=[COHORT, {**TRACK, "id": 1}]),
            "duplicate_partition",
            "1",
        ),
        (
            course(block("root", "a", type="course"), block("a", group_access={"1": [99]})),
            "unknown_group",
            "a: group 99 of partition 1",
        ),
    ],
)
def test_invalid_structures_name_the_offending_ids(
    structure: dict[str, Any], code: str, named: str
) -> None:
    with pytest.raises(StructureError) as caught:
        collect(structure)
    assert caught.value.code == code
    assert named in caught.value.ids


# ---------------------------------------------------------------- the property


@st.composite
def dags(draw: Any) -> tuple[dict[str, Any], list[dict[int, int | None]]]:
    n = draw(st.integers(min_value=1, max_value=14))
    partitions = [
        {
            "id": pid,
            "name": f"p{pid}",
            "scheme": "cohort",
            "active": draw(st.booleans()) or pid == 1,
            "groups": [{"id": g, "name": str(g)} for g in range(groups)],
        }
        for pid, groups in ((1, 3), (2, 2))
    ]
    blocks = []
    for i in range(n):
        access: dict[str, Any] = {}
        for partition in partitions:
            if draw(st.integers(0, 3)) == 0:
                access[str(partition["id"])] = draw(
                    st.one_of(
                        st.none(),
                        st.lists(
                            st.sampled_from([g["id"] for g in partition["groups"]]), max_size=3
                        ),
                    )
                )
        blocks.append(
            {
                "id": f"b{i}",
                "type": "vertical",
                "display_name": "",
                "children": [],
                "group_access": access,
                "visible_to_staff_only": draw(st.integers(0, 6)) == 0,
            }
        )
    for i in range(1, n):  # every block has at least one earlier parent: a DAG rooted at b0
        parents = draw(st.sets(st.integers(0, i - 1), min_size=1, max_size=3))
        for parent in sorted(parents):
            blocks[parent]["children"].append(f"b{i}")
    structure = {"root": "b0", "blocks": blocks, "user_partitions": partitions}
    users = draw(
        st.lists(
            st.fixed_dictionaries(
                {
                    1: st.one_of(st.none(), st.integers(0, 2)),
                    2: st.one_of(st.none(), st.integers(0, 1)),
                }
            ),
            min_size=1,
            max_size=4,
        )
    )
    return structure, users


def brute_force(structure: dict[str, Any], groups: dict[int, int | None]) -> set[str]:
    blocks = {b["id"]: b for b in structure["blocks"]}
    active = [p["id"] for p in structure["user_partitions"] if p["active"]]

    def allows(block_id: str, pid: int) -> bool:
        own = (blocks[block_id].get("group_access") or {}).get(str(pid))
        return not own or groups.get(pid) in own

    def paths(block_id: str) -> list[list[str]]:
        parents = [b for b, blk in blocks.items() if block_id in blk["children"]]
        if block_id == structure["root"]:
            return [[block_id]]
        return [[*path, block_id] for parent in parents for path in paths(parent)]

    def passes(block_id: str) -> bool:
        return all(
            any(all(allows(b, pid) for b in path) for path in paths(block_id)) for pid in active
        )

    def staff_only(block_id: str) -> bool:
        if blocks[block_id].get("visible_to_staff_only"):
            return True
        parents = [b for b, blk in blocks.items() if block_id in blk["children"]]
        return bool(parents) and all(staff_only(p) for p in parents)

    kept = {b for b in blocks if passes(b) and not staff_only(b)}
    seen: set[str] = set()
    frontier = [structure["root"]] if structure["root"] in kept else []
    while frontier:
        current = frontier.pop()
        if current in seen:
            continue
        seen.add(current)
        frontier += [c for c in blocks[current]["children"] if c in kept]
    return seen


@settings(max_examples=300, deadline=None)
@given(dags())
def test_visible_equals_the_brute_force_definition(case: Any) -> None:
    structure, users = case
    collected = collect(structure)
    for groups in users:
        seen = visible(collected, Viewer(groups), NOW)
        got = {collected.ids[i] for i in range(len(seen)) if seen[i]}
        assert got == brute_force(structure, groups)
        assert json.loads(outline_json(collected, seen)) == outline(collected, seen)
