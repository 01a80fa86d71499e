"""Course content access: collect, transform and GET .../blocks on the reference course.

Targets (issue "Course content access"): collect at most 100 ms and the collected data at most
256 KiB compressed; the transform for one user at most 5 ms; GET /api/v1/courses/{key}/blocks
at most 100 ms p95 warm, JSON included, measured by a client on the same machine against a
real `rollbook serve`; and at least 3x faster than a per-block implementation of the Open edX
algorithm on the same course.

Reference course (seeded): 10,000 blocks: root, 20 chapters, 200 sequences, 1,800 verticals,
7,979 leaves, 5% of leaves with a second parent; 5 partitions with 4, 3, 2, 2 and 2 groups
(cohort, enrollment track, three random); 10% of blocks restricted on one or two partitions.

    .venv/bin/python bench/bench_content.py [--db sqlite|postgres|both] [--json PATH] [--quick]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import pickle
import random
import socket
import subprocess
import sys
import time
import zlib
from typing import Any

import common

TARGET_COLLECT_MS = 100.0
TARGET_COLLECTED_KIB = 256.0
TARGET_TRANSFORM_MS = 5.0
TARGET_GET_P95_MS = 100.0
TARGET_RATIO = 3.0
COURSE = "course-v1:BenchX+Big101+2026"
PARTITIONS = [
    ("cohort", [0, 1, 2, 3]),
    ("enrollment_track", [0, 1, 2]),
    ("random", [0, 1]),
    ("random", [0, 1]),
    ("random", [0, 1]),
]
MODES = ("audit", "verified", "masters")


def reference_course(seed: int = 7) -> dict[str, Any]:
    rng = random.Random(seed)
    partitions = []
    for pid, (scheme, groups) in enumerate(PARTITIONS, start=1):
        partitions.append(
            {
                "id": pid,
                "name": f"{scheme} {pid}",
                "scheme": scheme,
                "active": True,
                "groups": [
                    {
                        "id": pid * 100 + g,
                        "name": f"g{g}",
                        **({"mode": MODES[g]} if scheme == "enrollment_track" else {}),
                    }
                    for g in groups
                ],
            }
        )
    blocks: list[dict[str, Any]] = []

    def add(block_id: str, kind: str) -> dict[str, Any]:
        block: dict[str, Any] = {
            "id": block_id,
            "type": kind,
            "display_name": f"{kind.title()} {block_id}",
            "children": [],
        }
        blocks.append(block)
        return block

    root = add("root", "course")
    chapters = [add(f"ch{c}", "chapter") for c in range(20)]
    root["children"] = [c["id"] for c in chapters]
    sequences = []
    for s in range(200):
        seq = add(f"seq{s}", "sequential")
        chapters[s // 10]["children"].append(seq["id"])
        sequences.append(seq)
    verticals = []
    for v in range(1800):
        vert = add(f"vert{v}", "vertical")
        sequences[v // 9]["children"].append(vert["id"])
        verticals.append(vert)
    leaves = 10_000 - len(blocks)
    for n in range(leaves):
        leaf = add(f"leaf{n}", rng.choice(("problem", "html", "video")))
        parent = verticals[min(n * len(verticals) // leaves, len(verticals) - 1)]
        parent["children"].append(leaf["id"])
        if rng.random() < 0.05:
            other = rng.choice(verticals)
            if other is not parent:
                other["children"].append(leaf["id"])
    for block in rng.sample(blocks[1:], len(blocks) // 10):
        restricted = rng.sample(partitions, rng.choice((1, 2)))
        block["group_access"] = {
            str(p["id"]): sorted(
                rng.sample([g["id"] for g in p["groups"]], rng.randint(1, len(p["groups"]) - 1))
            )
            for p in restricted
        }
    for block in rng.sample(blocks[1:], 40):
        block["visible_to_staff_only"] = True
    for block in rng.sample(blocks[1:], 40):
        block["start"] = "2030-01-01T00:00:00Z"
    return {"root": "root", "blocks": blocks, "user_partitions": partitions}


# ---------------------------------------------------------------- the per-block baseline


def baseline_collect(structure: dict[str, Any]) -> dict[str, Any]:
    """Open edX's collect, per block: each block's merged group access (a dict of partition
    to allowed set or None), staff-only and start, computed from its parents' and stored per
    block (as UserPartitionTransformer and friends keep transformer data per block)."""
    from rollbook.content_access.blocks import _timestamp

    by_id = {b["id"]: b for b in structure["blocks"]}
    parents: dict[str, list[str]] = {b["id"]: [] for b in structure["blocks"]}
    for b in structure["blocks"]:
        for child in b["children"]:
            if b["id"] not in parents[child]:
                parents[child].append(b["id"])
    pids = [p["id"] for p in structure["user_partitions"] if p.get("active", True)]
    order: list[str] = []
    seen: set[str] = set()
    stack = [(structure["root"], False)]
    while stack:  # depth-first post-order, reversed below: a topological order
        current, done = stack.pop()
        if done:
            order.append(current)
            continue
        if current in seen:
            continue
        seen.add(current)
        stack.append((current, True))
        for child in reversed(by_id[current]["children"]):
            if child not in seen:
                stack.append((child, False))
    order.reverse()
    merged: dict[str, dict[int, set[int] | None]] = {}
    staff_only: dict[str, bool] = {}
    starts: dict[str, float | None] = {}
    for block_id in order:
        block = by_id[block_id]
        own = block.get("group_access") or {}
        access: dict[int, set[int] | None] = {}
        ps = parents[block_id]
        for pid in pids:
            union: set[int] | None = None if not ps else set()
            for parent in ps:
                value = merged[parent][pid]
                if value is None:
                    union = None
                    break
                union = union | value  # type: ignore[operator]
            mine = own.get(str(pid))
            if mine:
                access[pid] = set(mine) if union is None else set(mine) & union
            else:
                access[pid] = union
        merged[block_id] = access
        staff_only[block_id] = bool(block.get("visible_to_staff_only")) or (
            bool(ps) and all(staff_only[p] for p in ps)
        )
        own_start = _timestamp(block.get("start"))
        inherited = [starts[p] for p in ps]
        earliest = None if not inherited or None in inherited else min(inherited)  # type: ignore[type-var]
        starts[block_id] = max(filter(None, (own_start, earliest)), default=None)
    return {
        "order": order,
        "parents": parents,
        "merged": merged,
        "staff_only": staff_only,
        "starts": starts,
        "root": structure["root"],
    }


def baseline_transform(data: dict[str, Any], groups: dict[int, int | None], now: float) -> set[str]:
    """Open edX's transform, per block: check each partition of each block against the
    user's groups, then keep the blocks some kept parent reaches."""
    removed = set()
    for block_id in data["order"]:
        for pid, allowed in data["merged"][block_id].items():
            if allowed is not None and groups.get(pid) not in allowed:
                removed.add(block_id)
                break
        else:
            begins = data["starts"][block_id]
            if data["staff_only"][block_id] or (begins is not None and begins > now):
                removed.add(block_id)
    visible: set[str] = set()
    parents = data["parents"]
    for block_id in data["order"]:
        if block_id in removed:
            continue
        if block_id == data["root"] or any(p in visible for p in parents[block_id]):
            visible.add(block_id)
    return visible


# ---------------------------------------------------------------- measuring


def _multi_parent(blocks: list[dict[str, Any]]) -> int:
    counts: dict[str, int] = {}
    for block in blocks:
        for child in set(block["children"]):
            counts[child] = counts.get(child, 0) + 1
    return sum(1 for count in counts.values() if count > 1)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve(port: int) -> subprocess.Popen[bytes]:
    binary = os.path.join(os.path.dirname(sys.executable), "rollbook")
    env = {**os.environ, "ROLLBOOK_ALLOWED_HOSTS": "127.0.0.1,localhost"}
    process = subprocess.Popen(  # noqa: S603 (our own command)
        [binary, "serve", "--port", str(port), "--workers", "2", "--threads", "2"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/health")
            if connection.getresponse().status == 200:
                return process
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("the server did not start")


def main(db: str, args: argparse.Namespace) -> dict[str, Any]:
    repeats = 20 if args.quick else 100
    result: dict[str, Any] = {"machine": common.machine()}
    with common.django_on(db):
        from rollbook.audit.data import Actor
        from rollbook.catalog import api as catalog
        from rollbook.content_access import api as content
        from rollbook.content_access.blocks import Viewer, collect, outline_json, visible
        from rollbook.enrollments import api as enrollments
        from rollbook.people import api as people

        result["database"] = common.database_version()
        actor = Actor.system("bench")
        structure = reference_course()
        blocks = structure["blocks"]
        result["data"] = {
            "blocks": len(blocks),
            "multi_parent_leaves": _multi_parent(blocks),
            "restricted": sum(1 for b in blocks if b.get("group_access")),
            "partitions": [len(groups) for _scheme, groups in PARTITIONS],
        }
        collect_ns = common.time_calls(
            lambda: collect(structure), repeats=max(5, repeats // 5), warmup=1
        )
        collected = collect(structure)
        packed = zlib.compress(pickle.dumps(collected), 6)
        result["collect"] = common.summarize_ms(collect_ns)
        result["collected_kib"] = len(packed) / 1024
        result["signatures"] = len(collected.signatures)
        now = time.time()
        rng = random.Random(3)
        viewers = [
            Viewer(
                {
                    pid: rng.choice([None, *[pid * 100 + g for g in groups]])
                    for pid, (_scheme, groups) in enumerate(PARTITIONS, start=1)
                }
            )
            for _ in range(50)
        ]
        transform_ns: list[int] = []
        for viewer in viewers:
            transform_ns += common.time_calls(
                lambda viewer=viewer: visible(collected, viewer, now),
                repeats=repeats // 10 or 1,
                warmup=1,
            )
        result["transform"] = common.summarize_ms(transform_ns)
        outline_ns = common.time_calls(
            lambda: outline_json(collected, visible(collected, viewers[0], now)),
            repeats=repeats // 5,
            warmup=1,
        )
        result["transform_outline_json"] = common.summarize_ms(outline_ns)
        # The baseline, on the same viewers; its answers must agree with ours.
        result["baseline_collect"] = common.summarize_ms(
            common.time_calls(lambda: baseline_collect(structure), repeats=5, warmup=1)
        )
        base = baseline_collect(structure)
        baseline_ns: list[int] = []
        for viewer in viewers[:20]:
            expected = baseline_transform(base, viewer.groups, now)
            got = visible(collected, viewer, now)
            ours = {collected.ids[i] for i in range(len(got)) if got[i]}
            assert ours == expected, "the baseline and the transform disagree"
            baseline_ns += common.time_calls(
                lambda viewer=viewer: baseline_transform(base, viewer.groups, now),
                repeats=3,
                warmup=1,
            )
        result["baseline_transform"] = common.summarize_ms(baseline_ns)
        result["ratio_vs_baseline"] = (
            result["baseline_transform"]["p50"] / result["transform"]["p50"]
        )
        result["collect_ratio_vs_baseline"] = (
            result["baseline_collect"]["p50"] / result["collect"]["p50"]
        )

        # The service: a real server, a learner with a cohort, a track and random groups.
        catalog.put_course(
            COURSE, actor=actor, title="Big", modes=list(MODES), default_mode="audit"
        )
        people.put_user("learner", actor=actor, email="learner@example.com")
        enrollments.put_enrollment(COURSE, "learner", actor=actor, mode="verified")
        version = content.put_structure(COURSE, structure, actor=actor)
        result["stored_collected_kib"] = version.collected_bytes / 1024
        content.put_cohort(COURSE, "c1", partition_id=1, group_id=101, actor=actor)
        content.add_cohort_member(COURSE, "c1", "learner", actor=actor)
        token = people.create_token("learner", actor=actor)
        common.settle()
        port = free_port()
        server = serve(port)
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            headers = {"Authorization": f"Bearer {token}"}
            path = f"/api/v1/courses/{COURSE}/blocks"

            def get() -> None:
                connection.request("GET", path, headers=headers)
                response = connection.getresponse()
                body = response.read()
                assert response.status == 200, body[:200]

            get_ns = common.time_calls(get, repeats=repeats * 2, warmup=10)
            connection.request("GET", path, headers=headers)
            response = connection.getresponse()
            answer = json.loads(response.read())
            result["get_blocks"] = common.summarize_ms(get_ns)
            result["get_blocks_visible"] = len(answer["blocks"])
        finally:
            server.terminate()
            server.wait(timeout=30)
        result["target"] = {
            "collect_ms": [result["collect"]["p50"], TARGET_COLLECT_MS],
            "collected_kib": [result["collected_kib"], TARGET_COLLECTED_KIB],
            "transform_ms_p95": [result["transform"]["p95"], TARGET_TRANSFORM_MS],
            "get_p95_ms": [result["get_blocks"]["p95"], TARGET_GET_P95_MS],
            "ratio": [result["ratio_vs_baseline"], TARGET_RATIO],
        }
        common.log(
            json.dumps(
                {
                    k: result[k]
                    for k in (
                        "collect",
                        "collected_kib",
                        "transform",
                        "transform_outline_json",
                        "baseline_transform",
                        "ratio_vs_baseline",
                        "baseline_collect",
                        "collect_ratio_vs_baseline",
                        "get_blocks",
                        "get_blocks_visible",
                    )
                },
                indent=1,
            )
        )
    return result


if __name__ == "__main__":
    common.run(main, __doc__ or "")
