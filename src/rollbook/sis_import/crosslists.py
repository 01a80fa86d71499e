"""Cross-listed sections: a parent course fed by its child sections.

A membership of an `XLS...` group (or a CrossListedSection) whose members have idtype 2 puts
sections in a cross-list; it is staged as a `StagedCrossListMember` per (cross-list, section).

- meta (default): the parent is created on the first child (key from a template, the child's
  term and dates) and its learners and instructors mirror every active child's. A parent
  enrollment or grant carries the child membership's own source ("sis:<section>/<roletype>"),
  so a child leaving takes out exactly what it brought: a person who also comes through
  another child keeps the other child's source and stays.
- merge: the children's SIS people move into the parent (their child source is dropped) and
  come back to the child when it leaves.
- The parent's title comes from a template (default "{xlsid} - {crn list}") and freezes once
  someone edits it by hand. A section is in at most one cross-list: a second is an error
  naming both. Removing every child restores the children and leaves the parent empty.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db import transaction

from rollbook.catalog import api as catalog
from rollbook.enrollments import api as enrollments
from rollbook.lib import clock
from rollbook.lib.errors import Conflict
from rollbook.lib.keys import CourseKey
from rollbook.people import api as people
from rollbook.roles import api as roles
from rollbook.sis_import.config import LEARNER
from rollbook.sis_import.errors import MSG_CROSSLIST_CONFLICT, SisErrorCode
from rollbook.sis_import.models import (
    CrossList,
    RowState,
    StagedCrossListMember,
    StagedGroup,
    StagedMembership,
    StagedPerson,
)

if TYPE_CHECKING:
    from rollbook.people.data import UserRef
    from rollbook.sis_import.apply import Applier

MERGE = "merge"


@dataclass(frozen=True, slots=True)
class Effect:
    """One enrollment or role to assert (active) or withdraw, in one course, by one source."""

    outcome: str  # LEARNER or a course role
    user: UserRef
    course: str
    source: str
    active: bool


def crn(section: str) -> str:
    return section.partition(".")[0]


def is_active(row: StagedCrossListMember | StagedMembership) -> bool:
    return row.status == 1 and row.recstatus != 3


class CrossLists:
    """The cross-list step of an apply: joins and departures of sections, and which parent a
    section's memberships are mirrored to."""

    def __init__(self, applier: Applier) -> None:
        self.applier = applier
        self.config = applier.config

    # ------------------------------------------------------------ memberships

    def parents_of(self, sections: set[str]) -> dict[str, CrossList]:
        """The cross-list each of these sections is in (joined and applied), by section."""
        joined = dict(
            StagedCrossListMember.objects.filter(
                section_sourcedid__in=sections, state=RowState.APPLIED, status=1
            )
            .exclude(recstatus=3)
            .values_list("section_sourcedid", "crosslist_sourcedid")
        )
        if not joined:
            return {}
        lists = {
            row.sourcedid: row
            for row in CrossList.objects.filter(sourcedid__in=set(joined.values()))
        }
        return {section: lists[xls] for section, xls in joined.items() if xls in lists}

    @staticmethod
    def mirrored(effect: Effect, parent: CrossList) -> tuple[Effect, list[Effect]]:
        """A child membership's effect as (the one its row stands for, the others): meta adds
        the same in the parent; merge puts it in the parent instead of the child."""
        in_parent = Effect(
            effect.outcome, effect.user, parent.course_key, effect.source, effect.active
        )
        if parent.mode == MERGE:
            in_child = Effect(effect.outcome, effect.user, effect.course, effect.source, False)
            return in_parent, [in_child]
        return effect, [in_parent]

    def apply_effects(self, effects: list[Effect]) -> None:
        """Learners per course in one batch, roles one by one; all in the caller's transaction."""
        learners: dict[str, list[enrollments.SourceChange]] = defaultdict(list)
        for effect in effects:
            if effect.outcome == LEARNER:
                change = enrollments.SourceChange(effect.user, effect.source, effect.active)
                learners[effect.course].append(change)
            elif effect.active:
                roles.grant_role(
                    effect.user.username,
                    effect.outcome,
                    actor=self.applier.actor,
                    course_key=effect.course,
                    source=effect.source,
                )
            else:
                roles.revoke_source(
                    effect.user.username,
                    effect.outcome,
                    source=effect.source,
                    actor=self.applier.actor,
                    course_key=effect.course,
                )
        for course, changes in learners.items():
            enrollments.apply_sources(course, changes, actor=self.applier.actor)

    # ------------------------------------------------------------ joins and departures

    def apply(self) -> int:
        done = 0
        states = (RowState.NEW, RowState.PENDING)
        rows = StagedCrossListMember.objects.filter(state__in=states).order_by("id")
        for row in rows:
            self.applier._one(row, "crosslist", self._apply_row)
            done += 1
        return done

    def _apply_row(self, row: StagedCrossListMember) -> tuple[str, str]:
        section = StagedGroup.objects.filter(sourcedid=row.section_sourcedid).first()
        parent = CrossList.objects.filter(sourcedid=row.crosslist_sourcedid).first()
        # Applied before: it joined then (a row first seen inactive never joined). Leaving
        # twice is harmless: withdrawing what is gone changes nothing.
        was_in = bool(row.applied_digest) and parent is not None
        if is_active(row):
            if section is None or not section.course_key:
                why = "has not arrived" if section is None else f"is {section.state}"
                self.applier.result.count("crosslist", "pending")
                return RowState.PENDING, f"waits for section {row.section_sourcedid}, which {why}"
            self._refuse_second_crosslist(row)
            parent = parent or self._create_parent(row.crosslist_sourcedid, section)
            self._sync(row.section_sourcedid, section.course_key, parent, joining=True)
            self._retitle(parent, row, section)
            self.applier.result.count("crosslist", "joined")
            self.applier.result.changes.append(
                _change("join", f"{row.section_sourcedid} -> {parent.course_key}")
            )
            return RowState.APPLIED, ""
        if was_in and parent is not None and section is not None and section.course_key:
            self._sync(row.section_sourcedid, section.course_key, parent, joining=False)
            self._retitle(parent, row, section)
            self.applier.result.count("crosslist", "left")
            self.applier.result.changes.append(
                _change("leave", f"{row.section_sourcedid} -> {parent.course_key}")
            )
        return RowState.APPLIED, ""

    def _refuse_second_crosslist(self, row: StagedCrossListMember) -> None:
        other = (
            StagedCrossListMember.objects.filter(
                section_sourcedid=row.section_sourcedid, state=RowState.APPLIED, status=1
            )
            .exclude(recstatus=3)
            .exclude(crosslist_sourcedid=row.crosslist_sourcedid)
            .values_list("crosslist_sourcedid", flat=True)
            .first()
        )
        if other:
            raise Conflict(
                SisErrorCode.CROSSLIST_CONFLICT,
                MSG_CROSSLIST_CONFLICT.format(
                    section=row.section_sourcedid, first=other, second=row.crosslist_sourcedid
                ),
                fields={
                    "section": row.section_sourcedid,
                    "crosslists": f"{other},{row.crosslist_sourcedid}",
                },
            )

    def _create_parent(self, xlsid: str, section: StagedGroup) -> CrossList:
        from rollbook.sis_import.apply import _moment, _render, section_tokens

        tokens = section_tokens(section, self.config.org)
        values = {"org": self.config.org, "xlsid": xlsid, "term": tokens["term"]}
        key = _render(self.config.crosslist_key_template, values, for_key=True)
        CourseKey.parse(key)
        parent = CrossList.objects.create(
            sourcedid=xlsid,
            course_key=key,
            term=tokens["term"],
            mode=self.config.crosslist_mode,
            created=clock.now(),
        )
        existing = catalog.courses_by_key([key]).get(key)
        fields: dict[str, Any] = {"sis_id": xlsid}
        if existing is None:
            fields.update(
                title=xlsid,  # the template's title follows in _retitle
                modes=list(self.config.modes),
                default_mode=self.config.default_mode,
                start=_moment(section.data.get("begin")),
                end=_moment(section.data.get("end"), end_of_day=True),
            )
        catalog.put_course(key, actor=self.applier.actor, **fields)
        if existing is None:
            parent.applied_title = xlsid
            parent.save(update_fields=["applied_title"])
            self.applier.result.changes.append(_change("create", key))
        return parent

    def _retitle(self, parent: CrossList, row: StagedCrossListMember, section: StagedGroup) -> None:
        """The title from the template over the active children, unless edited by hand."""
        from rollbook.sis_import.apply import _render

        children = set(
            StagedCrossListMember.objects.filter(
                crosslist_sourcedid=parent.sourcedid, state=RowState.APPLIED, status=1
            )
            .exclude(recstatus=3)
            .exclude(id=row.id)
            .values_list("section_sourcedid", flat=True)
        )
        if is_active(row):
            children.add(row.section_sourcedid)
        first = min(children, key=crn) if children else row.section_sourcedid
        first_row = (
            section
            if first == section.sourcedid
            else StagedGroup.objects.filter(sourcedid=first).first() or section
        )
        tokens = {
            "xlsid": parent.sourcedid,
            "crn list": ", ".join(sorted((crn(child) for child in children), key=_natural)),
            "term": parent.term,
            "prefix": self.config.crosslist_prefix,
            "short": str(first_row.data.get("short") or ""),
            "long": str(first_row.data.get("long") or ""),
            "full": str(first_row.data.get("full") or ""),
        }
        title = _render(self.config.crosslist_title_template, tokens, for_key=False).strip()
        title = title or parent.sourcedid
        course = catalog.courses_by_key([parent.course_key]).get(parent.course_key)
        if course is None or title == course.title:
            return
        edited = bool(parent.applied_title) and course.title != parent.applied_title
        if edited and not self.config.force_names:
            return  # someone named the parent by hand: it keeps that name
        catalog.put_course(parent.course_key, actor=self.applier.actor, title=title)
        parent.applied_title = title
        parent.save(update_fields=["applied_title"])

    def _sync(self, section: str, child_course: str, parent: CrossList, *, joining: bool) -> None:
        """Bring a child's SIS people into the parent (joining) or take them out (leaving);
        in merge mode they leave the child while it is in the cross-list."""
        rows = list(
            StagedMembership.objects.filter(group_sourcedid=section, state=RowState.APPLIED)
        )
        if not rows:
            return
        persons = dict(
            StagedPerson.objects.filter(
                sourcedid__in={row.person_sourcedid for row in rows}, user__isnull=False
            ).values_list("sourcedid", "user_id")
        )
        users = people.user_refs_by_id(persons.values())
        effects: list[Effect] = []
        from rollbook.sis_import.apply import membership_source

        for row in rows:
            outcome = self.config.role_map.get(row.roletype)
            user = users.get(persons.get(row.person_sourcedid, -1))
            if outcome is None or user is None or not is_active(row):
                continue
            source = membership_source(section, row.roletype)
            effects.append(Effect(outcome, user, parent.course_key, source, joining))
            if parent.mode == MERGE:
                effects.append(Effect(outcome, user, child_course, source, not joining))
        with transaction.atomic():
            self.apply_effects(effects)


def _natural(value: str) -> tuple[int, str]:
    return (int(value), "") if value.isdigit() else (1 << 62, value)


def _change(action: str, subject: str) -> Any:
    from rollbook.sis_import.apply import Change

    return Change("crosslist", action, subject)
