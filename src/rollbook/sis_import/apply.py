"""Apply staged SIS records to the domain: persons to users, sections to courses, memberships
to enrollments and roles. Works on dirty rows (new, changed, pending), persons and groups
first, so that a membership that was waiting for either is applied in the same pass.

Every change goes through the apps' APIs, so it is validated and audited with the import as
its source, and enrollments and grants remember "sis:<section>/<roletype>" as their source.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

from django.db import IntegrityError, connection, transaction

from rollbook.audit.data import Actor
from rollbook.catalog import api as catalog
from rollbook.enrollments import api as enrollments
from rollbook.lib import sources
from rollbook.lib.errors import RollbookError
from rollbook.lib.keys import CourseKey
from rollbook.people import api as people
from rollbook.people.data import UserRef
from rollbook.programs import api as programs
from rollbook.roles import api as roles
from rollbook.sis_import.config import LEARNER, SisConfig
from rollbook.sis_import.crosslists import CrossLists, Effect
from rollbook.sis_import.dropsafety import HELD_REASON, DropGuard
from rollbook.sis_import.models import (
    CollisionKind,
    RowState,
    StagedCrossListMember,
    StagedGroup,
    StagedMembership,
    StagedPerson,
)
from rollbook.sis_import.onerostercsv import SOURCE as ONEROSTER
from rollbook.sis_import.onerostercsv import course_key as oneroster_course_key

DIRTY = (RowState.NEW, RowState.PENDING, RowState.ERROR)
BATCH = 500

# Outcome names, counted per kind in the summary.
CREATED = "created"
UPDATED = "updated"
UNCHANGED = "unchanged"
DROPPED = "dropped"
COLLISIONS = "collisions"
PENDING = "pending"
ERRORS = "errors"
SKIPPED = "skipped"
FILTERED = "filtered"

_KIND_TEXT = {"username": "username", "email": "email", "sctid": "SCTID"}
_SECTION_LONG = re.compile(r"^\s*(?P<dept>[A-Za-z0-9]+)[-\s](?P<num>[A-Za-z0-9]+)[-\s](?P<sec>\w+)")
_KEY_UNSAFE = re.compile(r"[^\w\-~.:]")


def membership_source(group: str, roletype: str) -> str:
    return sources.sis(f"{group}/{roletype}")


# A membership's effect: a learner enrollment or a role, asserted or dropped.
_Membership = Effect


@dataclass(frozen=True, slots=True)
class Change:
    """One change apply made (or, in a dry run, would make): for reports and previews."""

    kind: str  # person, course, enrollment, role
    action: str  # create, update, drop, hold, ...
    subject: str
    detail: str = ""

    @property
    def destructive(self) -> bool:
        return self.action in {"drop", "deactivate", "revoke", "close"}

    def as_row(self) -> list[str]:
        return [self.kind, self.action, self.subject, self.detail]


@dataclass
class ApplyResult:
    counts: dict[str, Counter[str]] = field(
        default_factory=lambda: {
            k: Counter() for k in ("person", "group", "crosslist", "membership")
        }
    )
    changes: list[Change] = field(default_factory=list)
    errors: list[tuple[str, str, str]] = field(default_factory=list)  # (record, code, message)

    def count(self, kind: str, outcome: str) -> None:
        self.counts[kind][outcome] += 1

    def summary(self) -> dict[str, dict[str, int]]:
        return {kind: dict(counter) for kind, counter in self.counts.items()}


def _tokens(value: str) -> str:
    return _KEY_UNSAFE.sub("_", value)


def section_tokens(row: StagedGroup, org: str) -> dict[str, str]:
    data = row.data
    crn, _, term = row.sourcedid.partition(".")
    match = _SECTION_LONG.match(data.get("long", "") or "")
    return {
        "org": org,
        "crn": crn,
        "term": term or row.term,
        "dept": match["dept"] if match else "",
        "num": match["num"] if match else "",
        "section": match["sec"] if match else "",
        "long": data.get("long", "") or "",
        "short": data.get("short", "") or "",
        "full": data.get("full", "") or "",
        "sourcedid": row.sourcedid,
    }


def _render(template: str, tokens: dict[str, str], *, for_key: bool) -> str:
    values = {name: _tokens(value) if for_key else value for name, value in tokens.items()}
    return template.format_map(_Missing(values))


class _Missing(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return ""


def _from_oneroster(data: dict[str, Any]) -> bool:
    return data.get("source") == ONEROSTER


def username_for(data: dict[str, Any], sourcedid: str, config: SisConfig) -> str:
    """The username a person gets, by the configured source, lower-cased; "" when none.
    A OneRoster user's source is ROLLBOOK_SIS_ONEROSTER_USERNAME_SOURCE."""
    userids: dict[str, str] = data.get("userids", {})
    email = (data.get("email") or "").strip()
    by_source = {
        "email_local": email.split("@", 1)[0] if "@" in email else "",
        "email": email,
        "logon_id": userids.get("Logon ID", ""),
        "sctid": userids.get("SCTID", ""),
        "email_id": userids.get("Email ID", ""),
        "username": userids.get("Logon ID", ""),
        "identifier": userids.get("SCTID", ""),
        "sourcedid": sourcedid,
    }
    source = config.oneroster_username_source if _from_oneroster(data) else config.username_source
    username = by_source[source].strip()
    if not username and config.username_fallback_sourcedid:
        username = sourcedid
    return username.lower()


def _sis_sourcedid(row: StagedPerson) -> str:
    """What the account keeps as its SIS id: the sourcedid; for a OneRoster user its `SIS`
    userId when it has one (rollbook's own export writes the account's SIS id there)."""
    if _from_oneroster(row.data):
        return str(row.data.get("userids", {}).get("OneRoster:SIS") or row.sourcedid)
    return row.sourcedid


def _full_name(data: dict[str, Any]) -> str:
    if data.get("full_name"):
        return str(data["full_name"])
    parts = [data.get("given", ""), data.get("partname", ""), data.get("family", "")]
    return " ".join(part for part in parts if part)


_Row = TypeVar("_Row", StagedPerson, StagedGroup, StagedMembership, StagedCrossListMember)


def _batches(rows: Any, size: int = BATCH) -> Iterable[list[Any]]:
    """Dirty rows in id order, a batch at a time (rows applied leave the dirty set)."""
    last = 0
    while True:
        batch = list(rows.filter(id__gt=last).order_by("id")[:size])
        if not batch:
            return
        yield batch
        last = batch[-1].id


class Applier:
    def __init__(
        self,
        *,
        config: SisConfig,
        actor: Actor,
        passwords: dict[str, str] | None = None,
        result: ApplyResult | None = None,
        live: bool = False,
        drop_safety: bool | None = None,
    ) -> None:
        self.config = config
        self.actor = actor
        self.passwords = passwords or {}
        self.result = result or ApplyResult()
        # A file import revisits everything dirty (new, pending, in error); the live feed
        # applies what its messages staged and wakes only the memberships that waited for a
        # person or a section applied now, so a message costs the same however much waits.
        self.live = live
        # Drop safety guards the live feed (not files, nor drops someone approved).
        self.drop_safety = live if drop_safety is None else drop_safety
        self.states: tuple[str, ...] = (RowState.NEW,) if live else DIRTY
        self.applied_persons: set[str] = set()
        self.applied_groups: set[str] = set()
        self.crosslists = CrossLists(self)

    # ------------------------------------------------------------ entry points

    def apply_all(self, *, progress: Callable[[str, int], None] | None = None) -> ApplyResult:
        for kind, step in (
            ("person", self.apply_persons),
            ("group", self.apply_groups),
            ("crosslist", self.crosslists.apply),
            ("membership", self.apply_memberships),
        ):
            if kind == "membership" and self.live:
                wake_memberships(persons=self.applied_persons, groups=self.applied_groups)
            done = step()
            if progress:
                progress(kind, done)
        return self.result

    def apply_persons(self) -> int:
        """Persons a batch at a time. New people who match no account and collide with nothing
        are created together (`people.create_users`: three INSERTs for the batch); the others
        (updates, links to existing accounts, collisions, deletes) go one by one."""
        done = 0
        for batch in _batches(StagedPerson.objects.filter(state__in=self.states)):
            done += len(batch)
            created = self._create_new_persons(batch)
            for row in batch:
                if row.id not in created:
                    self._one(row, "person", self._apply_person)
                if row.state == RowState.APPLIED:
                    self.applied_persons.add(row.sourcedid)
        return done

    def _create_new_persons(self, batch: list[StagedPerson]) -> set[int]:
        planned = self._plan_new_persons(batch)
        if not planned:
            return set()
        try:
            with transaction.atomic():
                refs = people.create_users([spec for _row, spec in planned], actor=self.actor)
                for row, spec in planned:
                    row.user_id = refs[spec.username.lower()].id
                    row.state, row.reason = RowState.APPLIED, ""
                _save_states(StagedPerson, [row for row, _spec in planned], with_user=True)
        except (RollbookError, IntegrityError):
            for row, _spec in planned:  # one at a time instead, so that one refusal fails alone
                row.user_id = None
            return set()
        for row, spec in planned:
            self.result.count("person", CREATED)
            self.result.changes.append(Change("person", "create", spec.username))
            self._program_key(row, spec.username)
        return {row.id for row, _spec in planned}

    def _program_key(self, row: StagedPerson, username: str) -> None:
        """With ROLLBOOK_SIS_EXTERNAL_ID_ORG set, the person's SCTID (or sourcedid) becomes
        the account's key in that org, and the org's programs waiting for that key link."""
        org = self.config.external_id_org
        if not org:
            return
        if self.config.external_id_source == "sourcedid":
            key = row.sourcedid
        else:
            key = row.data.get("userids", {}).get("SCTID", "")
        if not key:
            return
        try:
            with transaction.atomic():
                changed = people.set_external_ids(username, {org: key}, actor=self.actor)
        except RollbookError as exc:
            self.result.errors.append((row.sourcedid, exc.code, exc.message))
            return
        if changed:
            for where, message in programs.link_by_external_ids(
                username, changed, actor=self.actor
            ).items():
                self.result.errors.append(
                    (row.sourcedid, "program_link_failed", f"{where}: {message}")
                )

    def _plan_new_persons(self, batch: list[StagedPerson]) -> list[tuple[StagedPerson, Any]]:
        """The rows that surely make a new account: unlinked, not deleted, with a username, no
        password to set, and no account or other row of the batch holding their username,
        email or SCTID (those need the one-by-one matching and collision rules)."""
        candidates = []
        for row in batch:
            if (
                row.user_id
                or row.recstatus == 3
                or row.sourcedid in self.passwords
                or row.data.get("enabled") is False
            ):
                continue
            username = username_for(row.data, row.sourcedid, self.config)
            if not username:
                continue
            email = (row.data.get("email") or "").strip()
            sctid = row.data.get("userids", {}).get("SCTID", "")
            candidates.append((row, username, email, sctid))
        if not candidates:
            return []
        taken_names = people.user_refs([c[1] for c in candidates])
        taken_emails = people.user_refs_by_email([c[2] for c in candidates])
        taken_sctids = people.user_refs_by_idnumber([c[3] for c in candidates])
        claimed: set[str] = set()
        planned: list[tuple[StagedPerson, Any]] = []
        for row, username, email, sctid in candidates:
            keys = {f"u:{username}", f"e:{email.lower()}" if email else "", f"s:{sctid}"} - {
                "",
                "s:",
            }
            if (
                username in taken_names
                or (email and email.lower() in taken_emails)
                or (sctid and sctid in taken_sctids)
                or keys & claimed
            ):
                continue
            claimed |= keys
            planned.append(
                (
                    row,
                    people.NewUser(
                        username=username,
                        email=email,
                        name=_full_name(row.data),
                        idnumber=sctid,
                        sis_sourcedid=_sis_sourcedid(row),
                    ),
                )
            )
        return planned

    def apply_groups(self) -> int:
        done = 0
        for batch in _batches(StagedGroup.objects.filter(state__in=self.states)):
            for row in batch:
                self._one(row, "group", self._apply_group)
                if row.state == RowState.APPLIED:
                    self.applied_groups.add(row.sourcedid)
                done += 1
        return done

    def apply_memberships(self) -> int:
        """Memberships a batch at a time: what waits or is skipped is decided from the batch's
        persons and sections (two queries); learner enrollments are written per course with
        `enrollments.api.apply_sources` (a handful of queries for the whole course); roles go
        one by one through the roles API; the rows' new states are written in one UPDATE."""
        done = 0
        for batch in _batches(StagedMembership.objects.filter(state__in=self.states)):
            persons = {
                p.sourcedid: p
                for p in StagedPerson.objects.filter(
                    sourcedid__in={row.person_sourcedid for row in batch}
                )
            }
            groups = {
                g.sourcedid: g
                for g in StagedGroup.objects.filter(
                    sourcedid__in={row.group_sourcedid for row in batch}
                )
            }
            users = people.user_refs_by_id(p.user_id for p in persons.values() if p.user_id)
            parents = self.crosslists.parents_of(set(groups))
            learners: dict[str, list[tuple[StagedMembership, enrollments.SourceChange]]] = {}
            settled: list[StagedMembership] = []
            mirrors: list[Effect] = []
            verdicts = [(row, self._triage(row, persons, groups, users)) for row in batch]
            held_terms = self._held_terms(verdicts, groups) if self.drop_safety else set()
            for row, verdict in verdicts:
                done += 1
                term = groups[row.group_sourcedid].term if row.group_sourcedid in groups else ""
                if not isinstance(verdict, tuple) and not verdict.active and term in held_terms:
                    self.result.count("membership", "held")
                    verdict = (RowState.HELD, HELD_REASON.format(term=term))
                if isinstance(verdict, tuple):
                    row.state, row.reason = verdict
                    settled.append(row)
                    continue
                parent = parents.get(row.group_sourcedid)
                if parent is not None:  # a cross-listed section: the parent follows
                    verdict, more = self.crosslists.mirrored(verdict, parent)
                    mirrors += more
                if verdict.outcome == LEARNER:
                    change = enrollments.SourceChange(verdict.user, verdict.source, verdict.active)
                    learners.setdefault(verdict.course, []).append((row, change))
                else:
                    self._one(row, "membership", partial(self._apply_role, verdict=verdict))
            settled += self._apply_all_learners(learners)
            if mirrors:
                self._apply_mirrors(mirrors)
            _save_states(StagedMembership, settled)
        return done

    def _held_terms(
        self,
        verdicts: list[tuple[StagedMembership, tuple[str, str] | Effect]],
        groups: dict[str, StagedGroup],
    ) -> set[str]:
        """Live feed: the terms whose drops at hand are held by drop safety."""
        drops: Counter[str] = Counter(
            groups[row.group_sourcedid].term
            for row, verdict in verdicts
            if not isinstance(verdict, tuple) and not verdict.active
        )
        return DropGuard(self.config).held_terms(drops)

    def _apply_mirrors(self, effects: list[Effect]) -> None:
        """A cross-listed child's memberships in its parent (or, merged, out of the child)."""
        try:
            with transaction.atomic():
                self.crosslists.apply_effects(effects)
        except RollbookError:
            for effect in effects:  # one at a time, so that one refusal fails alone
                try:
                    with transaction.atomic():
                        self.crosslists.apply_effects([effect])
                except RollbookError as exc:
                    subject = f"{effect.course}:{effect.user.username}"
                    self.result.errors.append((subject, exc.code, exc.message))

    def _triage(
        self,
        row: StagedMembership,
        persons: dict[str, StagedPerson],
        groups: dict[str, StagedGroup],
        users: dict[int, UserRef],
    ) -> tuple[str, str] | _Membership:
        """What to do with a membership: a (state, reason) when nothing is written (it waits,
        is filtered or skipped), or the enrollment or role change to make."""
        person = persons.get(row.person_sourcedid)
        group = groups.get(row.group_sourcedid)
        if group is not None and group.state == RowState.FILTERED:
            self.result.count("membership", FILTERED)
            return RowState.FILTERED, f"term {group.term} is filtered out"
        user = users.get(person.user_id) if person and person.user_id else None
        if person is None or user is None:
            why = "has not arrived" if person is None else f"is {person.state}"
            self.result.count("membership", PENDING)
            return RowState.PENDING, f"waits for person {row.person_sourcedid}, which {why}"
        if group is None or not group.course_key:
            why = "has not arrived" if group is None else f"is {group.state}"
            self.result.count("membership", PENDING)
            return RowState.PENDING, f"waits for section {row.group_sourcedid}, which {why}"
        outcome = self.config.role_map.get(row.roletype)
        if outcome is None:
            self.result.count("membership", SKIPPED)
            self.result.errors.append(
                (self._record_id(row), "unmapped_roletype", f"roletype {row.roletype} is unmapped")
            )
            return RowState.SKIPPED, f"roletype {row.roletype} is unmapped"
        return _Membership(
            outcome=outcome,
            user=user,
            course=group.course_key,
            source=membership_source(row.group_sourcedid, row.roletype),
            active=row.status == 1 and row.recstatus != 3,
        )

    def _count_membership(self, row: StagedMembership, active: bool) -> None:
        if not active:
            self.result.count("membership", DROPPED)
        elif row.applied_digest:
            self.result.count("membership", UPDATED)
        else:
            self.result.count("membership", CREATED)

    def _apply_all_learners(
        self, learners: dict[str, list[tuple[StagedMembership, enrollments.SourceChange]]]
    ) -> list[StagedMembership]:
        """The batch's learner enrollments in every course in one go (a live feed touches a
        different course with nearly every message); when that is refused, course by course,
        so that one bad course or record fails alone."""

        def course_by_course() -> list[StagedMembership]:
            return [
                row
                for course, items in learners.items()
                for row in self._apply_learners(course, items)
            ]

        if len(learners) < 2:
            return course_by_course()
        try:
            with transaction.atomic():
                changed = enrollments.apply_sources_many(
                    {
                        course: [change for _row, change in items]
                        for course, items in learners.items()
                    },
                    actor=self.actor,
                )
        except RollbookError:
            return course_by_course()
        settled: list[StagedMembership] = []
        for course, items in learners.items():
            settled += self._learners_applied(course, items, changed[course])
        return settled

    def _apply_learners(
        self, course: str, items: list[tuple[StagedMembership, enrollments.SourceChange]]
    ) -> list[StagedMembership]:
        """One course's learner enrollments in one go; when the batch is refused as a whole,
        each is tried alone so that one bad record fails alone."""
        try:
            with transaction.atomic():
                changed = enrollments.apply_sources(
                    course, [change for _row, change in items], actor=self.actor
                )
        except RollbookError:
            for row, change in items:
                verdict = _Membership(LEARNER, change.user, course, change.source, change.active)
                self._one(row, "membership", partial(self._apply_learner, verdict=verdict))
            return []
        return self._learners_applied(course, items, changed)

    def _learners_applied(
        self,
        course: str,
        items: list[tuple[StagedMembership, enrollments.SourceChange]],
        changed: dict[tuple[int, str], bool],
    ) -> list[StagedMembership]:
        for row, change in items:
            if changed.get((change.user.id, change.source)):
                action = "enroll" if change.active else "drop"
                self.result.changes.append(
                    Change("enrollment", action, f"{course}:{change.user.username}")
                )
            self._count_membership(row, change.active)
            row.state, row.reason = RowState.APPLIED, ""
        return [row for row, _change in items]

    def _apply_learner(self, row: StagedMembership, verdict: _Membership) -> tuple[str, str]:
        username = verdict.user.username
        if verdict.active:
            _, changed = enrollments.enroll_from_source(
                verdict.course, username, source=verdict.source, actor=self.actor
            )
        else:
            after = enrollments.drop_source(
                verdict.course, username, source=verdict.source, actor=self.actor
            )
            changed = after is not None and not after.is_active
        if changed:
            action = "enroll" if verdict.active else "drop"
            self.result.changes.append(Change("enrollment", action, f"{verdict.course}:{username}"))
        self._count_membership(row, verdict.active)
        return RowState.APPLIED, ""

    def _apply_role(self, row: StagedMembership, verdict: _Membership) -> tuple[str, str]:
        username = verdict.user.username
        subject = f"{verdict.course}:{username}:{verdict.outcome}"
        if verdict.active:
            _, changed = roles.grant_role(
                username,
                verdict.outcome,
                actor=self.actor,
                course_key=verdict.course,
                source=verdict.source,
            )
            if changed:
                self.result.changes.append(Change("role", "grant", subject))
        else:
            _, changed = roles.revoke_source(
                username,
                verdict.outcome,
                source=verdict.source,
                actor=self.actor,
                course_key=verdict.course,
            )
            if changed:
                self.result.changes.append(Change("role", "revoke", subject))
        self._count_membership(row, verdict.active)
        return RowState.APPLIED, ""

    # ------------------------------------------------------------ one row

    def _one(self, row: _Row, kind: str, apply: Callable[[_Row], tuple[str, str]]) -> None:
        """Apply one row in its own savepoint; its state, reason and applied digest follow."""
        try:
            with transaction.atomic():
                state, reason = apply(row)
        except RollbookError as exc:
            state, reason = RowState.ERROR, f"{exc.code}: {exc.message}"
            self.result.errors.append((self._record_id(row), exc.code, exc.message))
            self.result.count(kind, ERRORS)
        row.state = state
        row.reason = reason
        row.applied_digest = row.digest if state == RowState.APPLIED else row.applied_digest
        row.save(update_fields=["state", "reason", "applied_digest"])

    @staticmethod
    def _record_id(row: Any) -> str:
        if isinstance(row, StagedMembership):
            return f"{row.group_sourcedid}/{row.person_sourcedid}/{row.roletype}"
        if isinstance(row, StagedCrossListMember):
            return f"{row.crosslist_sourcedid}/{row.section_sourcedid}"
        return str(row.sourcedid)

    # ------------------------------------------------------------ persons

    def _apply_person(self, row: StagedPerson) -> tuple[str, str]:
        data = row.data
        linked = row.user_id
        if row.recstatus == 3:
            return self._delete_person(row)
        username = username_for(data, row.sourcedid, self.config)
        if not username:
            self.result.count("person", ERRORS)
            self.result.errors.append((row.sourcedid, "no_username", "no username source"))
            return RowState.ERROR, "no username: the configured source is empty"
        sctid = data.get("userids", {}).get("SCTID", "")
        email = data.get("email", "") or ""
        user: UserRef | None = None
        if linked:
            user = people.get_user_ref_by_id(linked)
        else:
            collision = self._collision(row, username=username, email=email, sctid=sctid)
            if collision:
                kind, account, other = collision
                reason = (
                    f"identity collision: the {_KIND_TEXT[kind]} of SIS person {row.sourcedid} "
                    f"belongs to account '{account.username}', already linked to SIS person "
                    f"{other}"
                )
                row.collision_kind, row.collision_user_id, row.collision_person = (
                    kind,
                    account.id,
                    other,
                )
                row.save(update_fields=["collision_kind", "collision_user", "collision_person"])
                self.result.count("person", COLLISIONS)
                self.result.changes.append(Change("person", "hold", row.sourcedid, reason))
                return RowState.HELD, reason
            if sctid:
                matches = people.user_refs_matching(idnumber=sctid)
                user = matches[0] if matches else None
            if user is None and self.config.match_by_username:
                try:
                    user = people.get_user_ref(username)
                except RollbookError:
                    user = None
        if row.collision_kind:  # held before, resolved or gone since
            row.collision_kind, row.collision_user_id, row.collision_person = "", None, ""
            row.save(update_fields=["collision_kind", "collision_user", "collision_person"])
        fields: dict[str, Any] = {
            "name": _full_name(data),
            "email": email or None,
            "sis_sourcedid": _sis_sourcedid(row),
        }
        if sctid:
            fields["idnumber"] = sctid
        if data.get("enabled") is not None:
            fields["is_active"] = bool(data["enabled"])
        target = user.username if user else username
        data_after, created = people.put_user(target, actor=self.actor, **fields)
        password = self.passwords.get(row.sourcedid)
        if password and self.config.local_passwords:
            people.set_password(data_after.username, password, actor=self.actor)
        if row.user_id != data_after.id:
            row.user_id = data_after.id
            row.save(update_fields=["user"])
        self._program_key(row, data_after.username)
        if created:
            self.result.count("person", CREATED)
            self.result.changes.append(Change("person", "create", data_after.username))
        elif row.applied_digest and row.applied_digest != row.digest:
            self.result.count("person", UPDATED)
            self.result.changes.append(Change("person", "update", data_after.username))
        elif not linked:
            self.result.count("person", "linked")
            self.result.changes.append(Change("person", "link", data_after.username))
        else:
            self.result.count("person", UNCHANGED)
        return RowState.APPLIED, ""

    def _collision(
        self, row: StagedPerson, *, username: str, email: str, sctid: str
    ) -> tuple[str, UserRef, str] | None:
        """Why this person may not take an account: (what collided, the account, the other SIS
        person it is linked to), or None."""
        candidates: list[tuple[str, UserRef]] = []
        with contextlib.suppress(RollbookError):
            candidates.append((CollisionKind.USERNAME, people.get_user_ref(username)))
        if email:
            candidates += [
                (CollisionKind.EMAIL, ref) for ref in people.user_refs_matching(email=email)
            ]
        if sctid:
            candidates += [
                (CollisionKind.SCTID, ref) for ref in people.user_refs_matching(idnumber=sctid)
            ]
        for what, ref in candidates:
            other = (
                StagedPerson.objects.filter(user_id=ref.id)
                .exclude(sourcedid=row.sourcedid)
                .values_list("sourcedid", flat=True)
                .first()
            )
            if other:
                return str(what), ref, other
        return None

    def _delete_person(self, row: StagedPerson) -> tuple[str, str]:
        action = self.config.person_delete
        if row.user_id and action != "nothing":
            user = people.get_user_ref_by_id(row.user_id)
            if action == "deactivate" and user.is_active:
                people.put_user(user.username, actor=self.actor, is_active=False)
                self.result.changes.append(Change("person", "deactivate", user.username))
            elif action == "unenroll":
                for membership in StagedMembership.objects.filter(
                    person_sourcedid=row.sourcedid
                ).exclude(status=0):
                    membership.status = 0
                    membership.state = RowState.NEW
                    membership.save(update_fields=["status", "state"])
        self.result.count("person", DROPPED)
        return RowState.APPLIED, f"deleted in the SIS ({action})"

    # ------------------------------------------------------------ groups

    def _apply_group(self, row: StagedGroup) -> tuple[str, str]:
        if row.grouptype != "CourseSection":
            # Terms are kept as staged (id, name, dates); courses and cross-lists: part 2.
            self.result.count("group", UNCHANGED)
            return RowState.APPLIED, ""
        term = row.term
        if term and not self.config.term_allowed(term):
            self.result.count("group", FILTERED)
            return RowState.FILTERED, f"term {term} is filtered out"
        tokens = section_tokens(row, self.config.org)
        data = row.data
        if _from_oneroster(data):  # the class's own title and code (ADR 0016)
            key = row.course_key or oneroster_course_key(row.sourcedid, data, term, self.config)
            title = str(data.get("full") or row.sourcedid)
            sis_id = str(data.get("short") or row.sourcedid)
        else:
            key = row.course_key or _render(self.config.course_key_template, tokens, for_key=True)
            title = _render(self.config.course_title_template, tokens, for_key=False).strip()
            title = title or tokens["long"] or tokens["short"] or row.sourcedid
            sis_id = row.sourcedid
        CourseKey.parse(key)
        existing = catalog.courses_by_key([key]).get(key)
        fields: dict[str, Any] = {
            "sis_id": sis_id,
            "start": _moment(data.get("begin")),
            "end": _moment(data.get("end"), end_of_day=True),
        }
        if existing is None:
            fields.update(
                title=title, modes=list(self.config.modes), default_mode=self.config.default_mode
            )
        elif self.config.force_names or existing.title == (row.applied_title or existing.title):
            fields["title"] = title
        if row.recstatus == 3:
            fields["enrollment_open"] = False
        course, created = catalog.put_course(key, actor=self.actor, **fields)
        row.course_key = key
        row.applied_title = fields.get("title", row.applied_title)
        row.save(update_fields=["course_key", "applied_title"])
        if created:
            self.result.count("group", CREATED)
            self.result.changes.append(Change("course", "create", key, course.title))
        elif row.recstatus == 3:
            self.result.count("group", DROPPED)
            self.result.changes.append(Change("course", "close", key))
        else:
            self.result.count("group", UPDATED if row.applied_digest else UNCHANGED)
        return RowState.APPLIED, ""

    # ------------------------------------------------------------ memberships


def wake_memberships(*, persons: Iterable[str] = (), groups: Iterable[str] = ()) -> int:
    """Memberships that wait for one of these persons or sections go back in line (new)."""
    woken = 0
    for field_name, keys in (
        ("person_sourcedid", list(persons)),
        ("group_sourcedid", list(groups)),
    ):
        for start in range(0, len(keys), BATCH):
            woken += StagedMembership.objects.filter(
                state=RowState.PENDING, **{f"{field_name}__in": keys[start : start + BATCH]}
            ).update(state=RowState.NEW)
    return woken


def _save_states(model: type[Any], rows: list[Any], *, with_user: bool = False) -> None:
    """Write the rows' state and reason (and, once applied, the applied digest) with one
    executemany: Django's bulk_update builds a CASE per row and costs more than the writes."""
    if not rows:
        return
    table = connection.ops.quote_name(model._meta.db_table)
    params: list[tuple[Any, ...]] = []
    for row in rows:
        if row.state == RowState.APPLIED:
            row.applied_digest = row.digest
        values: tuple[Any, ...] = (row.state, row.reason, row.applied_digest)
        params.append((*values, row.user_id, row.id) if with_user else (*values, row.id))
    link = ", user_id = %s" if with_user else ""
    # The table name comes from the model, never from input; every value is a parameter.
    sql = f"UPDATE {table} SET state = %s, reason = %s, applied_digest = %s{link} WHERE id = %s"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)


def _moment(value: str | None, *, end_of_day: bool = False) -> dt.datetime | None:
    """A timeframe date (YYYY-MM-DD) as the start (or the end) of that day in UTC, or None."""
    if not value:
        return None
    day = dt.date.fromisoformat(value[:10])
    moment = dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
    return moment + dt.timedelta(days=1, microseconds=-1) if end_of_day else moment
