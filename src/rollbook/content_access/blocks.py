"""A course's block DAG: validation, the collect phase (once per course version) and the
transform phase (once per learner). Pure functions over plain data; no database.

Collect, per active partition: a block's merged access is its own restriction intersected
with the union of its parents' merged access; a parent chain with no restriction for the
partition grants everyone; an own value that is missing, null or [] is no restriction; an
empty merged set means nobody. A block is staff-only when marked or when all its parents are;
its start is the later of its own and the earliest merged start of its parents. A split_test
restricts each child to the groups that map to it (unmapped children: nobody).

Transform for a user: a block goes when a restricted partition does not allow the user's
group (no group: not allowed; course staff are not exempt), when it is staff-only and the
user lacks course staff access, or when it has not started (course staff see it; beta
testers see it the course's days-early earlier). A block none of whose parents remains
visible goes too. split_test wrappers are not shown: their visible children take their place
in their parents' children.

Merged sets are interned as "signatures" (the tuple of restricted partitions and allowed
groups): a course has few of them, so a user's pass/fail is computed once per signature, and
the per-block work is a table look-up over a topological order.
"""

from __future__ import annotations

import datetime as dt
import gc
import json
from collections import deque
from dataclasses import dataclass, field
from typing import Any

SPLIT_TEST = "split_test"
SCHEMES = ("cohort", "enrollment_track", "random")
Signature = tuple[tuple[int, frozenset[int]], ...]  # (partition id, allowed groups), sorted


class StructureError(ValueError):
    """The structure is refused; `problems` name the offending ids."""

    def __init__(self, code: str, message: str, ids: list[str]) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.ids = ids


@dataclass(frozen=True, slots=True)
class Partition:
    id: int
    name: str
    scheme: str
    active: bool
    groups: tuple[int, ...]
    group_names: dict[int, str] = field(default_factory=dict)
    modes: dict[str, int] = field(default_factory=dict)  # enrollment_track: mode -> group


@dataclass(slots=True)
class Collected:
    """What every learner's view of one course version is computed from."""

    root: int
    ids: list[str]  # in topological order (parents before children); index = position
    types: list[str]
    names: list[str]
    children: list[tuple[int, ...]]  # in the author's order
    parents: list[tuple[int, ...]]
    signature_of: list[int]  # per block: index into signatures (0: unrestricted)
    signatures: list[Signature]
    own: list[Signature]  # per block: its own restriction (for explanations)
    staff_only: bytearray
    start: list[float | None]  # merged start, Unix time
    own_start: list[float | None]
    own_staff_only: bytearray
    wrappers: frozenset[int]  # split_test blocks: not shown
    partitions: dict[int, Partition]
    index: dict[str, int] = field(default_factory=dict)
    # Each block's JSON, ready to join: built on first use in a process, never stored.
    fragments: tuple[list[str], list[str]] | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if not self.index:
            self.index = {block_id: i for i, block_id in enumerate(self.ids)}


# ---------------------------------------------------------------- validation + collect


def _partitions(raw: list[dict[str, Any]]) -> dict[int, Partition]:
    partitions: dict[int, Partition] = {}
    duplicates: list[str] = []
    for item in raw:
        pid = int(item["id"])
        if pid in partitions:
            duplicates.append(str(pid))
            continue
        scheme = str(item.get("scheme", ""))
        if scheme not in SCHEMES:
            raise StructureError(
                "unknown_scheme",
                f"Partition {pid}: the scheme must be one of {', '.join(SCHEMES)}.",
                [str(pid)],
            )
        groups = item.get("groups") or []
        gids = tuple(int(group["id"]) for group in groups)
        if len(set(gids)) != len(gids):
            raise StructureError(
                "duplicate_group", f"Partition {pid} names a group twice.", [str(pid)]
            )
        modes = {
            str(group["mode"]): int(group["id"])
            for group in groups
            if scheme == "enrollment_track" and group.get("mode")
        }
        partitions[pid] = Partition(
            pid,
            str(item.get("name", "")),
            scheme,
            bool(item.get("active", True)),
            gids,
            {int(group["id"]): str(group.get("name", "")) for group in groups},
            modes,
        )
    if duplicates:
        raise StructureError(
            "duplicate_partition", f"Duplicate partition ids: {', '.join(duplicates)}.", duplicates
        )
    return partitions


def _timestamp(value: Any) -> float | None:
    if value in (None, ""):
        return None
    if isinstance(value, dt.datetime):
        moment = value
    else:
        moment = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.timestamp()


def collect(structure: dict[str, Any]) -> Collected:
    """Validate a structure ({root, blocks, user_partitions}) and collect it. Raises
    StructureError naming the offending ids."""
    # Collecting makes tens of thousands of small objects that all live on: the cyclic
    # garbage collector would scan them over and over (half the time) and find nothing.
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _collect(structure)
    finally:
        if enabled:
            gc.enable()


def _collect(structure: dict[str, Any]) -> Collected:
    partitions = _partitions(structure.get("user_partitions") or [])
    raw_blocks: list[dict[str, Any]] = structure.get("blocks") or []
    by_id: dict[str, dict[str, Any]] = {}
    for block in raw_blocks:
        block_id = str(block["id"])
        if block_id in by_id:
            raise StructureError("duplicate_block", f"Duplicate block id {block_id}.", [block_id])
        by_id[block_id] = block
    root_id = str(structure.get("root", ""))
    if root_id not in by_id:
        raise StructureError("unknown_root", f"The root {root_id!r} is not a block.", [root_id])
    # Children as positions in the input (each child once, in the author's order).
    position = {block_id: k for k, block_id in enumerate(by_id)}
    input_kids: list[tuple[int, ...]] = []
    unknown: set[str] = set()
    for block in by_id.values():
        kids = block.get("children")
        if not kids:
            input_kids.append(())
            continue
        try:
            input_kids.append(tuple(position[child] for child in dict.fromkeys(kids)))
        except KeyError:
            unknown.update(str(child) for child in kids if child not in position)
            input_kids.append(())
    if unknown:
        missing = sorted(unknown)
        raise StructureError(
            "unknown_child", f"Unknown child ids: {', '.join(missing[:20])}.", missing
        )
    _check_groups(raw_blocks, partitions)
    names = list(by_id)
    topo = _topological(position[root_id], input_kids, names)
    order = [names[k] for k in topo]
    new_index = [0] * len(names)
    for i, k in enumerate(topo):
        new_index[k] = i
    index = {block_id: i for i, block_id in enumerate(order)}
    n = len(order)
    children = [tuple(new_index[kid] for kid in input_kids[k]) for k in topo]
    parents_lists: list[list[int]] = [[] for _ in range(n)]
    for parent, kids in enumerate(children):
        for kid in kids:
            parents_lists[kid].append(parent)
    parents = [tuple(items) for items in parents_lists]
    active = {pid: p for pid, p in partitions.items() if p.active}
    own = [_own(by_id[block_id], active) for block_id in order]
    wrappers = _apply_split_tests(order, by_id, children, own, active)
    own_signature = [tuple(sorted(item.items())) for item in own]

    # Merged access in topological order. A block with one parent and no restriction of its
    # own (most of them) shares its parent's merged table and signature: no work at all.
    merged: list[dict[int, frozenset[int]]] = [{} for _ in range(n)]
    interned: dict[Signature, int] = {(): 0}
    signatures: list[Signature] = [()]
    signature_of = [0] * n
    staff_only = bytearray(n)
    own_staff = bytearray(n)
    start: list[float | None] = [None] * n
    own_start: list[float | None] = [None] * n
    for i, block_id in enumerate(order):
        block = by_id[block_id]
        mine = own[i]
        ps = parents[i]
        if block.get("visible_to_staff_only"):
            own_staff[i] = 1
        mine_start = _timestamp(block["start"]) if block.get("start") else None
        own_start[i] = mine_start
        if len(ps) == 1:
            parent = ps[0]
            staff_only[i] = own_staff[i] or staff_only[parent]
            inherited = start[parent]
            if not mine:
                merged[i] = merged[parent]
                signature_of[i] = signature_of[parent]
                start[i] = _later(mine_start, inherited)
                continue
            result = dict(merged[parent])
        else:
            staff_only[i] = own_staff[i] or (1 if ps and all(staff_only[p] for p in ps) else 0)
            parent_starts = [start[p] for p in ps]
            inherited = (
                None if not ps or None in parent_starts else min(parent_starts)  # type: ignore[type-var]
            )
            result = _union(merged, ps)
        start[i] = _later(mine_start, inherited)
        for pid, allowed in mine.items():
            current = result.get(pid)
            result[pid] = allowed if current is None else allowed & current
        merged[i] = result
        signature = tuple(sorted(result.items()))
        slot = interned.get(signature)
        if slot is None:
            slot = interned[signature] = len(signatures)
            signatures.append(signature)
        signature_of[i] = slot
    return Collected(
        root=index[root_id],
        ids=order,
        types=[str(by_id[block_id].get("type", "")) for block_id in order],
        names=[str(by_id[block_id].get("display_name", "")) for block_id in order],
        children=children,
        parents=parents,
        signature_of=signature_of,
        signatures=signatures,
        own=own_signature,
        staff_only=staff_only,
        start=start,
        own_start=own_start,
        own_staff_only=own_staff,
        wrappers=frozenset(wrappers),
        partitions=partitions,
        index=index,
    )


def _later(own: float | None, inherited: float | None) -> float | None:
    if own is None:
        return inherited
    if inherited is None:
        return own
    return own if own > inherited else inherited


def _union(
    merged: list[dict[int, frozenset[int]]], parents: tuple[int, ...]
) -> dict[int, frozenset[int]]:
    """The union of the parents' merged access: a partition stays restricted only when every
    parent restricts it (a parent without restriction grants everyone)."""
    if not parents:
        return {}
    tables = [merged[p] for p in parents]
    result: dict[int, frozenset[int]] = {}
    for pid in tables[0]:
        if all(pid in table for table in tables[1:]):
            result[pid] = frozenset().union(*(table[pid] for table in tables))
    return result


def _check_groups(raw_blocks: list[dict[str, Any]], partitions: dict[int, Partition]) -> None:
    bad: list[str] = []
    for block in raw_blocks:
        access = block.get("group_access") or {}
        for pid_text, gids in access.items():
            partition = partitions.get(int(pid_text))
            if partition is None:
                bad.append(f"{block['id']}: partition {pid_text}")
                continue
            for gid in gids or []:
                if int(gid) not in partition.groups:
                    bad.append(f"{block['id']}: group {gid} of partition {pid_text}")
        if block.get("type") == SPLIT_TEST:
            pid = block.get("user_partition_id")
            partition = partitions.get(int(pid)) if pid is not None else None
            if partition is None:
                bad.append(f"{block['id']}: split_test partition {pid}")
                continue
            mapping = block.get("group_id_to_child") or {}
            kids = {str(child) for child in block.get("children") or []}
            for gid, child in mapping.items():
                if int(gid) not in partition.groups:
                    bad.append(f"{block['id']}: group {gid} of partition {pid}")
                if str(child) not in kids:
                    bad.append(f"{block['id']}: group {gid} maps to {child}, not a child")
    if bad:
        raise StructureError(
            "unknown_group",
            f"Groups or partitions that do not exist: {'; '.join(bad[:20])}.",
            bad,
        )


def _topological(root: int, kids: list[tuple[int, ...]], names: list[str]) -> list[int]:
    """Block positions reachable from the root, parents before children (Kahn). A cycle or
    a block the root does not reach is refused, naming them."""
    n = len(kids)
    reachable = bytearray(n)
    reachable[root] = 1
    stack = [root]
    while stack:
        for child in kids[stack.pop()]:
            if not reachable[child]:
                reachable[child] = 1
                stack.append(child)
    if not all(reachable):
        lost = sorted(names[k] for k in range(n) if not reachable[k])
        raise StructureError(
            "unreachable_block", f"Blocks the root does not reach: {', '.join(lost[:20])}.", lost
        )
    indegree = [0] * n
    for children in kids:
        for child in children:
            indegree[child] += 1
    order: list[int] = []
    ready = deque([root] if indegree[root] == 0 else [])
    while ready:
        current = ready.popleft()
        order.append(current)
        for child in kids[current]:
            indegree[child] -= 1
            if indegree[child] == 0:
                ready.append(child)
    if len(order) != n:
        cycle = sorted(names[k] for k in range(n) if indegree[k] > 0)
        raise StructureError("cycle", f"The blocks form a cycle: {', '.join(cycle[:20])}.", cycle)
    return order


def _own(block: dict[str, Any], active: dict[int, Partition]) -> dict[int, frozenset[int]]:
    own: dict[int, frozenset[int]] = {}
    for pid_text, gids in (block.get("group_access") or {}).items():
        pid = int(pid_text)
        if pid in active and gids:
            own[pid] = frozenset(int(gid) for gid in gids)
    return own


def _apply_split_tests(
    order: list[str],
    by_id: dict[str, dict[str, Any]],
    children: list[tuple[int, ...]],
    own: list[dict[int, frozenset[int]]],
    active: dict[int, Partition],
) -> list[int]:
    """Each split_test child is restricted to the groups that map to it; returns the
    wrappers (split_test blocks)."""
    wrappers: list[int] = []
    index = {block_id: i for i, block_id in enumerate(order)}
    for i, block_id in enumerate(order):
        block = by_id[block_id]
        if block.get("type") != SPLIT_TEST:
            continue
        wrappers.append(i)
        pid = int(block["user_partition_id"])
        if pid not in active:
            continue  # an inactive partition restricts nothing
        groups_of: dict[int, set[int]] = {kid: set() for kid in children[i]}
        for gid, child in (block.get("group_id_to_child") or {}).items():
            groups_of[index[str(child)]].add(int(gid))
        for kid, groups in groups_of.items():
            mine = frozenset(groups)
            own[kid][pid] = own[kid][pid] & mine if pid in own[kid] else mine
    return wrappers


# ---------------------------------------------------------------- transform


@dataclass(frozen=True, slots=True)
class Viewer:
    """Who looks: their group in each partition (None: no group), and their access."""

    groups: dict[int, int | None]
    course_staff: bool = False
    beta_days: int | None = None  # days early, for beta testers


def visible(collected: Collected, viewer: Viewer, now: float) -> bytearray:
    """1 for each block the viewer sees (in `collected.ids` order); wrappers included (their
    visibility carries their children; `outline` leaves them out)."""
    n = len(collected.ids)
    groups = viewer.groups
    passes = bytearray(len(collected.signatures))
    for slot, signature in enumerate(collected.signatures):
        passes[slot] = all(groups.get(pid) in allowed for pid, allowed in signature)
    staff = viewer.course_staff
    horizon = now + (viewer.beta_days or 0) * 86400.0
    signature_of = collected.signature_of
    staff_only = collected.staff_only
    start = collected.start
    parents = collected.parents
    seen = bytearray(n)
    root = collected.root
    for i in range(n):
        if not passes[signature_of[i]]:
            continue
        if not staff:
            if staff_only[i]:
                continue
            begins = start[i]
            if begins is not None and begins > horizon:
                continue
        ps = parents[i]
        if i == root:
            seen[i] = 1
        elif len(ps) == 1:
            seen[i] = seen[ps[0]]
        else:
            for p in ps:
                if seen[p]:
                    seen[i] = 1
                    break
    return seen


def outline(collected: Collected, seen: bytearray) -> dict[str, Any]:
    """{root, blocks: {id: {type, display_name, children}}} of the visible blocks, with
    split_test wrappers replaced by their visible children."""
    ids, types, names = collected.ids, collected.types, collected.names
    children, wrappers = collected.children, collected.wrappers
    blocks: dict[str, Any] = {}
    for i, block_id in enumerate(ids):
        if not seen[i] or i in wrappers:
            continue
        kids: list[str] = []
        _visible_children(children[i], seen, wrappers, ids, children, kids)
        blocks[block_id] = {"type": types[i], "display_name": names[i], "children": kids}
    return {"root": ids[collected.root], "blocks": blocks}


def _visible_children(
    kids: tuple[int, ...],
    seen: bytearray,
    wrappers: frozenset[int],
    ids: list[str],
    children: list[tuple[int, ...]],
    out: list[str],
) -> None:
    for kid in kids:
        if not seen[kid]:
            continue
        if kid in wrappers:
            _visible_children(children[kid], seen, wrappers, ids, children, out)
        elif ids[kid] not in out:
            out.append(ids[kid])


def _fragments(collected: Collected) -> tuple[list[str], list[str]]:
    """Per block: its id as JSON, and `"id":{"type":...,"display_name":...,"children":[`."""
    if collected.fragments is None:
        dumps = json.JSONEncoder(ensure_ascii=False).encode
        keys = [dumps(block_id) for block_id in collected.ids]
        heads = [
            f'{key}:{{"type":{dumps(kind)},"display_name":{dumps(name)},"children":['
            for key, kind, name in zip(keys, collected.types, collected.names, strict=True)
        ]
        collected.fragments = (keys, heads)
    return collected.fragments


def outline_json(collected: Collected, seen: bytearray) -> str:
    """`outline` as JSON text, joined from pre-encoded pieces (no dict per block)."""
    keys, heads = _fragments(collected)
    children, wrappers = collected.children, collected.wrappers
    parts: list[str] = []
    for i in range(len(keys)):
        if not seen[i] or i in wrappers:
            continue
        kids = children[i]
        if not wrappers.isdisjoint(kids):
            names: list[str] = []
            _visible_children(kids, seen, wrappers, collected.ids, children, names)
            shown = ",".join(keys[collected.index[name]] for name in names)
        else:
            shown = ",".join(keys[kid] for kid in kids if seen[kid])
        parts.append(f"{heads[i]}{shown}]}}")
    return f'{{"root":{keys[collected.root]},"blocks":{{{",".join(parts)}}}}}'
