"""Drop safety on the live feed.

A burst of drops is how a broken SIS job shows itself (a term rolled back, a section
deleted by mistake). When the drops of one term applied within the window, with those at
hand, pass the threshold (ROLLBOOK_SIS_DROP_THRESHOLD of the term's SIS memberships, 10% by
default, and never fewer than ROLLBOOK_SIS_LIVE_DROP_MINIMUM), these and every further drop
of that term are held: their membership rows wait as held, the hold is recorded, audited and
mailed, and nothing is dropped until staff approve (the drops are applied) or discard them
(the enrollments stay). Adds are never held.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from dataclasses import dataclass

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Q, QuerySet

from rollbook.audit import api as audit
from rollbook.audit.data import Actor
from rollbook.lib import clock
from rollbook.lib.errors import NotFound
from rollbook.lib.pagination import Page, PageRequest, paginate
from rollbook.sis_import.config import SisConfig
from rollbook.sis_import.errors import MSG_NO_DROP_HOLD, SisErrorCode
from rollbook.sis_import.models import RowState, StagedGroup, StagedMembership, TermDropHold

log = logging.getLogger(__name__)

HELD_REASON = "drop held by live-feed drop safety for term {term}: approve or discard it"


@dataclass(frozen=True, slots=True)
class DropHold:
    term: str
    held_at: dt.datetime
    reason: str
    held_drops: int


class DropGuard:
    """Decides, a batch at a time, which terms' drops are held."""

    def __init__(self, config: SisConfig) -> None:
        self.config = config

    def held_terms(self, drops: Counter[str]) -> set[str]:
        """Of the terms with drops at hand (term -> how many), those whose drops are held."""
        if not drops:
            return set()
        holds = {hold.term: hold for hold in TermDropHold.objects.filter(term__in=list(drops))}
        held: set[str] = set()
        now = clock.now()
        window = dt.timedelta(minutes=self.config.live_drop_window_minutes)
        for term, count in drops.items():
            hold = holds.get(term)
            if hold is not None and hold.held_at is not None:
                held.add(term)
                continue
            since = now - window
            if hold is not None and hold.window_start and hold.window_start > since:
                since = hold.window_start  # drops approved before this moment are not counted
            sections = StagedGroup.objects.filter(term=term).values("sourcedid")
            rows = StagedMembership.objects.filter(group_sourcedid__in=sections)
            total = rows.count()
            recent = rows.filter(
                Q(status=0) | Q(recstatus=3),
                state=RowState.APPLIED,
                changed_at__gte=since,
                changed_by__startswith="lmb:",
            ).count()
            limit = max(self.config.drop_threshold * total, self.config.live_drop_minimum)
            if recent + count > limit:
                reason = (
                    f"{recent + count} drops of term {term} within "
                    f"{self.config.live_drop_window_minutes} minutes pass the threshold "
                    f"({limit:.0f} of {total} SIS memberships)"
                )
                _raise_hold(term, reason, now)
                held.add(term)
        return held


def _raise_hold(term: str, reason: str, now: dt.datetime) -> None:
    TermDropHold.objects.update_or_create(term=term, defaults={"held_at": now, "reason": reason})
    audit.record(
        "sis.drops_held",
        subject=f"term:{term}",
        actor=Actor.system("sis:drop-safety"),
        after={"reason": reason},
    )
    log.error("SIS drop safety: %s; further drops of the term are held", reason)
    recipients = list(getattr(settings, "SIS_MONITOR", {}).get("MAIL_TO", []) or [])
    if recipients:
        transaction.on_commit(
            lambda: send_mail(
                f"[rollbook] SIS drops held for term {term}",
                f"{reason}.\n\nApprove or discard them: POST /api/v1/sis/drop-holds/{term}/approve"
                f" (or /discard), or in the admin.",
                None,
                recipients,
                fail_silently=True,
            )
        )


def list_holds(*, page: PageRequest) -> Page[DropHold]:
    """The terms whose drops are held, oldest hold first."""
    held = TermDropHold.objects.filter(held_at__isnull=False).order_by("held_at", "id")
    return paginate(held, page, _hold)


def _hold(hold: TermDropHold) -> DropHold:
    return DropHold(
        hold.term, hold.held_at or clock.now(), hold.reason, _held_rows(hold.term).count()
    )


def _held_rows(term: str) -> QuerySet[StagedMembership]:
    sections = StagedGroup.objects.filter(term=term).values("sourcedid")
    return StagedMembership.objects.filter(
        group_sourcedid__in=sections, state=RowState.HELD, reason__startswith="drop held"
    )


def release(term: str, *, approve: bool, actor: Actor) -> int:
    """Approve (the held drops are applied) or discard (they are not; the enrollments stay)
    a term's held drops; counting starts afresh from now. Returns how many were held."""
    from rollbook.sis_import.apply import Applier

    with transaction.atomic():
        hold = (
            TermDropHold.objects.select_for_update()
            .filter(term=term, held_at__isnull=False)
            .first()
        )
        if hold is None:
            raise NotFound(SisErrorCode.NO_DROP_HOLD, MSG_NO_DROP_HOLD.format(term=term))
        rows = _held_rows(term)
        who = actor.username or actor.source
        if approve:
            count = rows.update(state=RowState.NEW, reason="")
        else:
            count = rows.update(state=RowState.SKIPPED, reason=f"drop discarded by {who}")
        hold.held_at = None
        hold.window_start = clock.now()
        hold.save(update_fields=["held_at", "window_start"])
        audit.record(
            "sis.drops_approved" if approve else "sis.drops_discarded",
            subject=f"term:{term}",
            actor=actor,
            before={"reason": hold.reason, "held_drops": count},
        )
        if approve:
            Applier(config=SisConfig.load(), actor=actor, live=True, drop_safety=False).apply_all()
    return int(count)
