"""Course content access: structures (a version per PUT), cohorts, each learner's visible
course and why a block is (not) visible.

The collected data of a version is computed once (`blocks.collect`) and kept in the cache
(local memory embedded, Redis when configured) and in a small per-process table; every
request reads the course's current version first, so a new version takes effect at once.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import pickle
import threading
import zlib
from collections import OrderedDict
from typing import Any

from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.db.models import Count

from rollbook.audit import api as audit
from rollbook.audit.data import Actor
from rollbook.catalog import api as catalog
from rollbook.content_access.blocks import (
    Collected,
    StructureError,
    Viewer,
    collect,
    outline,
    outline_json,
    visible,
)
from rollbook.content_access.data import CohortData, StructureVersion
from rollbook.content_access.errors import (
    MSG_COHORT_NOT_FOUND,
    MSG_NO_STRUCTURE,
    MSG_NOT_A_COHORT_GROUP,
    MSG_UNKNOWN_BLOCK,
    ContentErrorCode,
)
from rollbook.content_access.models import (
    Cohort,
    CohortMembership,
    CourseStructure,
    RandomAssignment,
)
from rollbook.enrollments import api as enrollments
from rollbook.lib import clock
from rollbook.lib.errors import Invalid, NotFound
from rollbook.lib.pagination import Page, PageRequest, paginate
from rollbook.people import api as people
from rollbook.people.data import UserRef
from rollbook.roles import api as roles

__all__ = [
    "CohortData",
    "StructureError",
    "StructureVersion",
    "add_cohort_member",
    "course_blocks",
    "course_blocks_json",
    "explain_access",
    "get_collected",
    "list_cohorts",
    "put_cohort",
    "put_structure",
    "remove_cohort_member",
    "structure_version",
    "viewer_for",
]

_CACHE_SECONDS = 7 * 24 * 3600
_LOCAL_SIZE = 16
_local: OrderedDict[tuple[str, int], Collected] = OrderedDict()
_local_lock = threading.Lock()


# ---------------------------------------------------------------- structures


def _cache_key(course_key: str, version: int) -> str:
    digest = hashlib.sha256(course_key.encode()).hexdigest()[:24]
    return f"content:collected:{digest}:{version}"


def _pack(collected: Collected) -> bytes:
    bare = dataclasses.replace(collected, fragments=None)  # rebuilt where used
    return zlib.compress(pickle.dumps(bare, protocol=pickle.HIGHEST_PROTOCOL), 6)


def _unpack(blob: bytes) -> Collected:
    # Our own cache entry, written by _pack above: never data from a client.
    collected: Collected = pickle.loads(zlib.decompress(blob))  # noqa: S301
    return collected


def put_structure(course_key: str, structure: dict[str, Any], *, actor: Actor) -> StructureVersion:
    """Validate and collect a structure, store it as the course's next version, and cache
    the collected data. Invalid: 422 naming the offending ids."""
    catalog.get_course(course_key)  # 404 for an unknown course
    try:
        collected = collect(structure)
    except StructureError as exc:
        raise Invalid(
            ContentErrorCode.INVALID_STRUCTURE,
            f"{exc.code}: {exc.message}",
            fields={"problem": exc.code, "ids": ",".join(exc.ids[:100])},
        ) from exc
    body = zlib.compress(json.dumps(structure, separators=(",", ":")).encode(), 6)
    packed = _pack(collected)
    now = clock.now()
    for _attempt in range(3):
        try:
            with transaction.atomic():
                last = (
                    CourseStructure.objects.filter(course_key=course_key)
                    .order_by("-version")
                    .values_list("version", flat=True)
                    .first()
                )
                version = (last or 0) + 1
                CourseStructure.objects.create(
                    course_key=course_key,
                    version=version,
                    body=body,
                    blocks=len(collected.ids),
                    created=now,
                    created_by=actor.username or actor.source,
                )
                audit.record(
                    "content.structure_published",
                    f"course:{course_key}",
                    actor=actor,
                    after={"version": version, "blocks": len(collected.ids)},
                )
            break
        except IntegrityError:
            continue  # another PUT took this version number: take the next
    else:  # pragma: no cover
        raise RuntimeError("structure versions kept conflicting")
    cache.set(_cache_key(course_key, version), packed, _CACHE_SECONDS)
    _remember(course_key, version, collected)
    return StructureVersion(course_key, version, len(collected.ids), now, len(packed))


def structure_version(course_key: str) -> StructureVersion:
    row = (
        CourseStructure.objects.filter(course_key=course_key)
        .order_by("-version")
        .defer("body")
        .first()
    )
    if row is None:
        raise NotFound(
            ContentErrorCode.NO_STRUCTURE, MSG_NO_STRUCTURE.format(course_key=course_key)
        )
    collected = get_collected(course_key, version=row.version)
    return StructureVersion(course_key, row.version, row.blocks, row.created, len(_pack(collected)))


def _current_version(course_key: str) -> int:
    version = (
        CourseStructure.objects.filter(course_key=course_key)
        .order_by("-version")
        .values_list("version", flat=True)
        .first()
    )
    if version is None:
        raise NotFound(
            ContentErrorCode.NO_STRUCTURE, MSG_NO_STRUCTURE.format(course_key=course_key)
        )
    return version


def _remember(course_key: str, version: int, collected: Collected) -> None:
    with _local_lock:
        _local[(course_key, version)] = collected
        _local.move_to_end((course_key, version))
        while len(_local) > _LOCAL_SIZE:
            _local.popitem(last=False)


def get_collected(course_key: str, *, version: int | None = None) -> Collected:
    """The collected data of the course's current version (one query for the version; then
    this process's memory, the shared cache, or a collect from the stored body)."""
    version = version if version is not None else _current_version(course_key)
    with _local_lock:
        found = _local.get((course_key, version))
    if found is not None:
        return found
    blob = cache.get(_cache_key(course_key, version))
    if blob is not None:
        collected = _unpack(blob)
    else:
        body = (
            CourseStructure.objects.filter(course_key=course_key, version=version)
            .values_list("body", flat=True)
            .get()
        )
        collected = collect(json.loads(zlib.decompress(bytes(body))))
        cache.set(_cache_key(course_key, version), _pack(collected), _CACHE_SECONDS)
    _remember(course_key, version, collected)
    return collected


# ---------------------------------------------------------------- the viewer


def _random_group(course_key: str, partition_id: int, user_id: int, groups: tuple[int, ...]) -> int:
    digest = hashlib.sha256(f"{course_key}:{partition_id}:{user_id}".encode()).digest()
    return groups[int.from_bytes(digest[:8], "big") % len(groups)]


def viewer_for(course_key: str, user: UserRef, collected: Collected) -> Viewer:
    """The user's group in each active partition, by its scheme, and their access."""
    cache_roles = roles.role_cache(user)
    course = catalog.get_course(course_key)
    staff = roles.has_course_staff_access(user, course_key, cache_roles)
    beta = None
    if cache_roles.has_role("beta_testers", course_key, course.org) and course.days_early_for_beta:
        beta = course.days_early_for_beta
    groups: dict[int, int | None] = {}
    active = [p for p in collected.partitions.values() if p.active]
    schemes = {p.scheme for p in active}
    cohort = _cohort_of(course_key, user) if "cohort" in schemes else None
    mode = None
    if "enrollment_track" in schemes:
        try:
            enrollment = enrollments.get_enrollment(course_key, user.username)
            mode = enrollment.mode if enrollment.is_active else None
        except NotFound:
            mode = None
    assigned: dict[int, int] = {}
    if "random" in schemes:
        assigned = dict(
            RandomAssignment.objects.filter(course_key=course_key, user_id=user.id).values_list(
                "partition_id", "group_id"
            )
        )
    for partition in active:
        if partition.scheme == "cohort":
            groups[partition.id] = (
                cohort.group_id if cohort and cohort.partition_id == partition.id else None
            )
        elif partition.scheme == "enrollment_track":
            groups[partition.id] = partition.modes.get(mode) if mode else None
        elif partition.groups:
            group = assigned.get(partition.id)
            if group is None or group not in partition.groups:
                group = _assign(course_key, user, partition.id, partition.groups)
            groups[partition.id] = group
        else:
            groups[partition.id] = None
    return Viewer(groups, course_staff=staff, beta_days=beta)


def _assign(course_key: str, user: UserRef, partition_id: int, groups: tuple[int, ...]) -> int:
    """A random partition's group for the user: chosen once (deterministically), stored."""
    group = _random_group(course_key, partition_id, user.id, groups)
    try:
        with transaction.atomic():
            row, _created = RandomAssignment.objects.get_or_create(
                course_key=course_key,
                user_id=user.id,
                partition_id=partition_id,
                defaults={"group_id": group, "created": clock.now()},
            )
    except IntegrityError:  # assigned meanwhile by another request
        row = RandomAssignment.objects.get(
            course_key=course_key, user_id=user.id, partition_id=partition_id
        )
    if row.group_id not in groups:  # the partition's groups changed since: choose again
        row.group_id = group
        row.save(update_fields=["group_id"])
    return int(row.group_id)


def _cohort_of(course_key: str, user: UserRef) -> Cohort | None:
    membership = (
        CohortMembership.objects.filter(course_key=course_key, user_id=user.id)
        .select_related("cohort")
        .first()
    )
    if membership is not None:
        return membership.cohort
    default = Cohort.objects.filter(course_key=course_key, is_default=True).first()
    if default is None:
        return None
    try:  # learners without a cohort join the default one on first access
        with transaction.atomic():
            CohortMembership.objects.create(
                cohort=default, course_key=course_key, user_id=user.id, created=clock.now()
            )
    except IntegrityError:
        return _cohort_of(course_key, user)
    return default


# ---------------------------------------------------------------- views


def course_blocks(course_key: str, username: str) -> dict[str, Any]:
    """{root, blocks: {id: {type, display_name, children}}} as the user sees the course."""
    user = people.get_user_ref(username)
    collected = get_collected(course_key)
    viewer = viewer_for(course_key, user, collected)
    return outline(collected, visible(collected, viewer, clock.now().timestamp()))


def course_blocks_json(course_key: str, username: str) -> str:
    """`course_blocks` as JSON text, built without a dict per block (the REST answer)."""
    user = people.get_user_ref(username)
    collected = get_collected(course_key)
    viewer = viewer_for(course_key, user, collected)
    return outline_json(collected, visible(collected, viewer, clock.now().timestamp()))


def explain_access(course_key: str, block_id: str, username: str) -> dict[str, Any]:
    """Why the user sees the block or not: each restricted partition (the user's group, the
    allowed groups), the parent path that grants access, staff-only, the start date."""
    user = people.get_user_ref(username)
    collected = get_collected(course_key)
    index = collected.index.get(block_id)
    if index is None:
        raise NotFound(
            ContentErrorCode.UNKNOWN_BLOCK,
            MSG_UNKNOWN_BLOCK.format(course_key=course_key, block_id=block_id),
        )
    viewer = viewer_for(course_key, user, collected)
    now = clock.now().timestamp()
    seen = visible(collected, viewer, now)
    signature = collected.signatures[collected.signature_of[index]]
    partitions = []
    for pid, allowed in signature:
        partition = collected.partitions[pid]
        group = viewer.groups.get(pid)
        partitions.append(
            {
                "partition_id": pid,
                "partition": partition.name,
                "scheme": partition.scheme,
                "user_group": group,
                "user_group_name": partition.group_names.get(group, "")
                if group is not None
                else "",
                "allowed_groups": sorted(allowed),
                "allows": group in allowed,
            }
        )
    start = collected.start[index]
    horizon = now + (viewer.beta_days or 0) * 86400.0
    started = start is None or start <= horizon or viewer.course_staff
    staff_only = bool(collected.staff_only[index])
    reasons: list[str] = []
    for item in partitions:
        if not item["allows"]:
            who = (
                "has no group"
                if item["user_group"] is None
                else f"is in group {item['user_group']}"
            )
            reasons.append(
                f"partition {item['partition_id']} ({item['partition']}) allows groups "
                f"{item['allowed_groups']}; the user {who}"
            )
    if staff_only and not viewer.course_staff:
        reasons.append("staff only, and the user has no course staff access")
    if not started:
        reasons.append(f"starts {_iso(start)}")
    if not reasons and not seen[index]:
        reasons.append("no parent of the block is visible to the user")
    return {
        "block_id": block_id,
        "username": user.username,
        "visible": bool(seen[index]) and index not in collected.wrappers,
        "reasons": reasons,
        "partitions": partitions,
        "path": [collected.ids[i] for i in _granting_path(collected, index, seen)],
        "staff_only": staff_only,
        "course_staff": viewer.course_staff,
        "start": _iso(start),
        "started": started,
        "version": _current_version(course_key),
    }


def _granting_path(collected: Collected, index: int, seen: bytearray) -> list[int]:
    """A path of visible blocks from the root to the block (its last step may be the block
    itself even when hidden), or [] when none."""
    path = [index]
    current = index
    while current != collected.root:
        parents = [p for p in collected.parents[current] if seen[p]]
        if not parents:
            return []
        current = parents[0]
        path.append(current)
    return path[::-1]


def _iso(value: float | None) -> str | None:
    if value is None:
        return None
    return dt.datetime.fromtimestamp(value, tz=dt.UTC).isoformat()


# ---------------------------------------------------------------- cohorts


def _cohort_data(row: Cohort, members: int | None = None) -> CohortData:
    if members is None:
        members = CohortMembership.objects.filter(cohort=row).count()
    return CohortData(
        row.course_key, row.name, row.partition_id, row.group_id, row.is_default, members
    )


def put_cohort(
    course_key: str,
    name: str,
    *,
    partition_id: int,
    group_id: int,
    is_default: bool = False,
    actor: Actor,
) -> tuple[CohortData, bool]:
    """Create the cohort or change its group (a group of a cohort partition of the current
    structure, when there is one). At most one default cohort per course."""
    catalog.get_course(course_key)
    try:
        collected = get_collected(course_key)
    except NotFound:
        collected = None
    if collected is not None:
        partition = collected.partitions.get(partition_id)
        if partition is None or partition.scheme != "cohort" or group_id not in partition.groups:
            raise Invalid(
                ContentErrorCode.NOT_A_COHORT_GROUP,
                MSG_NOT_A_COHORT_GROUP.format(
                    partition_id=partition_id, course_key=course_key, group_id=group_id
                ),
                fields={"partition_id": str(partition_id), "group_id": str(group_id)},
            )
    with transaction.atomic():
        if is_default:
            Cohort.objects.filter(course_key=course_key, is_default=True).exclude(name=name).update(
                is_default=False
            )
        row = Cohort.objects.select_for_update().filter(course_key=course_key, name=name).first()
        before = None
        created = row is None
        if row is None:
            row = Cohort(course_key=course_key, name=name, created=clock.now())
        else:
            before = {
                "partition_id": row.partition_id,
                "group_id": row.group_id,
                "is_default": row.is_default,
            }
        row.partition_id, row.group_id, row.is_default = partition_id, group_id, is_default
        row.save()
        audit.record(
            "cohort.created" if created else "cohort.updated",
            f"cohort:{course_key}:{name}",
            actor=actor,
            before=before,
            after={"partition_id": partition_id, "group_id": group_id, "is_default": is_default},
        )
    return _cohort_data(row), created


def _cohort(course_key: str, name: str) -> Cohort:
    row = Cohort.objects.filter(course_key=course_key, name=name).first()
    if row is None:
        raise NotFound(
            ContentErrorCode.COHORT_NOT_FOUND,
            MSG_COHORT_NOT_FOUND.format(course_key=course_key, name=name),
        )
    return row


def list_cohorts(course_key: str, *, page: PageRequest) -> Page[CohortData]:
    rows = (
        Cohort.objects.filter(course_key=course_key)
        .annotate(n=Count("memberships"))
        .order_by("name", "id")
    )
    return paginate(rows, page, _counted_cohort)


def _counted_cohort(row: Any) -> CohortData:
    return _cohort_data(row, int(row.n))


def add_cohort_member(course_key: str, name: str, username: str, *, actor: Actor) -> bool:
    """Put the user in the cohort (out of any other cohort of the course). Returns whether
    anything changed."""
    cohort = _cohort(course_key, name)
    user = people.get_user_ref(username)
    with transaction.atomic():
        current = (
            CohortMembership.objects.select_for_update()
            .filter(course_key=course_key, user_id=user.id)
            .select_related("cohort")
            .first()
        )
        if current is not None and current.cohort_id == cohort.id:
            return False
        before = {"cohort": current.cohort.name} if current else None
        if current is not None:
            current.cohort = cohort
            current.save(update_fields=["cohort"])
        else:
            CohortMembership.objects.create(
                cohort=cohort, course_key=course_key, user_id=user.id, created=clock.now()
            )
        audit.record(
            "cohort.member_added",
            f"user:{user.username}",
            actor=actor,
            before=before,
            after={"course_key": course_key, "cohort": name},
        )
    return True


def remove_cohort_member(course_key: str, name: str, username: str, *, actor: Actor) -> bool:
    cohort = _cohort(course_key, name)
    user = people.get_user_ref(username)
    with transaction.atomic():
        deleted, _ = CohortMembership.objects.filter(cohort=cohort, user_id=user.id).delete()
        if deleted:
            audit.record(
                "cohort.member_removed",
                f"user:{user.username}",
                actor=actor,
                before={"course_key": course_key, "cohort": name},
            )
    return bool(deleted)
