"""Tombstones: what rollbook deleted outright, derived from the audit log (ADR 0018).

OneRoster delta clients must learn of deletions (`status: tobedeleted`), but course runs,
orgs, users and role grants are deleted rows in rollbook. Their deletions are in the audit
log, numbered (ADR 0013); `sync` reads the events numbered since its last run and keeps one
row per deleted object in `models.Tombstone` (its sourcedId, the deletion's time and number,
its last known fields), and drops it when the object comes back:

- `org.deleted`: the org (back: `org.created`).
- `course.deleted`: the class; its course (`ORG+NUMBER`, served only while no run of it is
  left); the teaching enrollments of the grants left on the run (back: `course.created`,
  with those grants).
- `user.deleted`: the user; its teaching enrollments (the database cascades its grants
  without an event: they are replayed from its `role.*` events) (back: `user.created`).
- `role.revoked` of instructor, staff or limited_staff on a course run: the teaching
  enrollment (back: `role.granted`).

Learner enrollments are never deleted (they protect their user and course run): an ended one
is already `tobedeleted`. The table is derived, never written by another app, and can be
emptied and rebuilt from the log (`feed.seq = 0`). Tombstones older than the retention
(`settings.ONEROSTER["TOMBSTONE_RETENTION_DAYS"]`) are not served and are pruned.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction

from rollbook.audit import api as audit
from rollbook.audit.data import EventData
from rollbook.lib import clock
from rollbook.lib.keys import CourseKey
from rollbook.oneroster.models import Tombstone, TombstoneFeed
from rollbook.oneroster.resources import (
    ENROLLMENT_ROLE_OF,
    TEACHING_ROLES,
    course_id,
    enrollment_id,
    retention,
)
from rollbook.roles import api as roles

__all__ = ["EVENT_TYPES", "prune", "sync"]

EVENT_TYPES = (
    "org.created",
    "org.deleted",
    "course.created",
    "course.deleted",
    "user.created",
    "user.deleted",
    "role.granted",
    "role.revoked",
)
BATCH = 1000
PRUNE_EVERY = dt.timedelta(hours=1)
_FEED = 1  # the one TombstoneFeed row


@dataclass(slots=True)
class _Last:
    """The last word, so far, on one object: deleted (with its fields) or back again."""

    seq: int
    deleted: dt.datetime | None
    fields: dict[str, Any] = field(default_factory=dict)


class _Changes:
    def __init__(self, cutoff: dt.datetime) -> None:
        self.cutoff = cutoff
        self.last: dict[tuple[str, str], _Last] = {}
        # Course runs deleted or created (the latest event each): their teaching grants
        # follow them, read in one query at the end.
        self.runs: dict[str, EventData] = {}

    def deleted(self, resource: str, sourced_id: str, event: EventData, **fields: Any) -> None:
        self.last[(resource, sourced_id)] = _Last(event.seq, event.time, fields)

    def back(self, resource: str, sourced_id: str, seq: int) -> None:
        self.last[(resource, sourced_id)] = _Last(seq, None)

    def later_than(self, resource: str, sourced_id: str, seq: int) -> bool:
        known = self.last.get((resource, sourced_id))
        return known is not None and known.seq > seq


def _teaching(before_or_after: dict[str, Any] | None) -> tuple[str, str, str] | None:
    """(course key, org, role) of a teaching grant on a course run, else None."""
    grant = before_or_after or {}
    role, key = grant.get("role", ""), grant.get("course_key", "")
    if role in TEACHING_ROLES and key.startswith("course-v1:"):
        return key, grant.get("org", ""), role
    return None


def _teaching_fields(course_key: str, username: str, org: str, role: str) -> dict[str, Any]:
    return {
        "enrollment_role": ENROLLMENT_ROLE_OF[role],
        "user_ref": username,
        "class_id": course_key,
        "school": org,
    }


def _org_of(course_key: str) -> str:
    try:
        return CourseKey.parse(course_key).org
    except Exception:
        return ""


def _grants_before(username: str, seq: int) -> dict[tuple[str, str, str], None]:
    """The teaching grants the user held just before event `seq` (its deletion), replayed
    from its `role.*` events since its previous deletion: one query a page of 1000."""
    held: dict[tuple[str, str, str], None] = {}
    after = 0
    while True:
        events = audit.events_after(
            after,
            types=["role.granted", "role.revoked", "user.deleted"],
            subject=f"user:{username}",
            upto=seq - 1,
            limit=BATCH,
        )
        for event in events:
            if event.event == "user.deleted":
                held.clear()
            elif event.event == "role.granted" and (grant := _teaching(event.after)):
                held[grant] = None
            elif event.event == "role.revoked" and (grant := _teaching(event.before)):
                held.pop(grant, None)
        if len(events) < BATCH:
            return held
        after = events[-1].seq


def _apply(event: EventData, changes: _Changes) -> None:
    name = event.subject.partition(":")[2]
    before = event.before or {}
    match event.event:
        case "org.created":
            changes.back("orgs", name, event.seq)
        case "org.deleted":
            changes.deleted("orgs", name, event, org_name=before.get("name", ""))
        case "course.created":
            changes.back("classes", name, event.seq)
            changes.back("courses", course_id(name), event.seq)
            changes.runs[name] = event
        case "course.deleted":
            org = _org_of(name)
            changes.deleted(
                "classes",
                name,
                event,
                class_title=before.get("title", ""),
                classCode=before.get("sis_id") or name,
                school=org,
            )
            changes.deleted("courses", course_id(name), event, title=before.get("title", ""))
            changes.runs[name] = event
        case "user.created":
            changes.back("users", name, event.seq)
        case "user.deleted":
            changes.deleted(
                "users",
                name,
                event,
                mail=before.get("email", ""),
                identifier=before.get("idnumber", ""),
                sis=before.get("sis_sourcedid", ""),
                fullname=before.get("name", ""),
            )
            for key, org, role in _grants_before(name, event.seq):
                sourced_id = enrollment_id(key, name, role)
                changes.deleted(
                    "enrollments", sourced_id, event, **_teaching_fields(key, name, org, role)
                )
        case "role.granted":
            if grant := _teaching(event.after):
                key, _org, role = grant
                changes.back("enrollments", enrollment_id(key, name, role), event.seq)
        case "role.revoked":
            if grant := _teaching(event.before):
                key, org, role = grant
                changes.deleted(
                    "enrollments",
                    enrollment_id(key, name, role),
                    event,
                    **_teaching_fields(key, name, org, role),
                )


def _follow_runs(changes: _Changes) -> None:
    """The teaching grants left on a deleted course run end with it; those on a run created
    again come back (unless a later event in this batch said otherwise)."""
    for key, username, org, role in _grants_on(changes.runs):
        event = changes.runs[key]
        sourced_id = enrollment_id(key, username, role)
        if changes.later_than("enrollments", sourced_id, event.seq):
            continue
        if event.event == "course.deleted":
            fields = _teaching_fields(key, username, org, role)
            changes.deleted("enrollments", sourced_id, event, **fields)
        else:
            changes.back("enrollments", sourced_id, event.seq)


def _grants_on(runs: Iterable[str]) -> list[tuple[str, str, str, str]]:
    """(course key, username, org, role) of the teaching grants on these course runs, whether
    the runs exist or not: one query per 500 runs."""
    keys = sorted(runs)
    found: list[tuple[str, str, str, str]] = []
    for start in range(0, len(keys), 500):
        found += (
            roles.course_role_rows(TEACHING_ROLES)
            .filter(course_key__in=keys[start : start + 500])
            .values_list("course_key", "username", "org", "role")
        )
    return found


def _write(changes: _Changes) -> None:
    """Apply the last word on each object: a few statements whatever the batch's size."""
    if not changes.last:
        return
    by_resource: dict[str, list[str]] = {}
    for resource, sourced_id in changes.last:
        by_resource.setdefault(resource, []).append(sourced_id)
    for resource, sourced_ids in by_resource.items():
        for start in range(0, len(sourced_ids), 500):
            Tombstone.objects.filter(
                resource=resource, sourced_id__in=sourced_ids[start : start + 500]
            ).delete()
    Tombstone.objects.bulk_create(
        [
            Tombstone(
                resource=resource,
                sourced_id=sourced_id,
                deleted=last.deleted,
                seq=last.seq,
                fields=last.fields,
            )
            for (resource, sourced_id), last in changes.last.items()
            if last.deleted is not None and last.deleted >= changes.cutoff
        ],
        batch_size=500,
    )


def _derive(after: int, upto: int, cutoff: dt.datetime) -> int:
    changes = _Changes(cutoff)
    read = 0
    while True:
        events: Sequence[EventData] = audit.events_after(
            after, types=EVENT_TYPES, upto=upto, limit=BATCH
        )
        for event in events:
            _apply(event, changes)
        read += len(events)
        if len(events) < BATCH:
            break
        after = events[-1].seq
    _follow_runs(changes)
    _write(changes)
    return read


def prune(*, now: dt.datetime | None = None) -> int:
    """Delete the tombstones past the retention; returns how many."""
    cutoff = (now or clock.now()) - retention()
    deleted, _ = Tombstone.objects.filter(deleted__lt=cutoff).delete()
    return deleted


def sync(*, now: dt.datetime | None = None) -> int:
    """Bring the tombstones up to date with the audit log: the events numbered since the last
    run (numbering the committed ones first), and a prune at most once an hour. Returns the
    number of events read.

    Up to date (the usual case): the numbering run, the highest number and the feed row, and
    no write. Otherwise one transaction that locks the feed row, so that concurrent readers
    derive each event once. Call it outside a transaction (it numbers the audit rows)."""
    now = now or clock.now()
    audit.sequence_events()
    top = audit.last_seq()
    feed = TombstoneFeed.objects.filter(pk=_FEED).values_list("seq", "pruned").first()
    if feed is not None and feed[0] >= top and feed[1] and now - feed[1] < PRUNE_EVERY:
        return 0
    with transaction.atomic():
        TombstoneFeed.objects.get_or_create(pk=_FEED)
        row = TombstoneFeed.objects.select_for_update().get(pk=_FEED)
        read = 0
        if row.seq < top:
            read = _derive(row.seq, top, now - retention())
            row.seq = top
        if row.pruned is None or now - row.pruned >= PRUNE_EVERY:
            prune(now=now)
            row.pruned = now
        row.save()
    return read
