"""The LMB feed's health: its status (is it stale?) and its Prometheus metrics.

Stale: in business hours (ROLLBOOK_SIS_MONITOR_DAYS and _HOURS, in _TIME_ZONE), the feed has
sent nothing for more than _GRACE_MINUTES *of business hours*: a quiet night or weekend does
not count, so Monday morning is not stale because Friday evening was the last message.
Outside business hours, more than _OFF_HOURS_GRACE_MINUTES of plain silence (0: never stale
then). A feed that never sent a message is stale whenever the rule in force is on.
`judge` is that rule as a pure function.

Counters never go back: applied and failed attempts are running totals the processor keeps
in `InboxTally`; accepted is the inbox's rows plus those `inbox.prune` deleted. No loops over
rows: the counters and gauges are index look-ups (the primary key, (state, id), the staged
rows' state) and one-row reads.
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db.models import Count

from rollbook.lib import clock
from rollbook.lib.errors import Invalid
from rollbook.sis_import.errors import MSG_NO_ALERT_RECIPIENTS, SisErrorCode
from rollbook.sis_import.inbox import APPLIED, FAILED_ATTEMPTS, PRUNED_ACCEPTED
from rollbook.sis_import.models import (
    InboxMessage,
    InboxState,
    InboxTally,
    RowState,
    StagedMembership,
    StagedPerson,
)

METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_FULL_DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_HHMM = re.compile(r"^(\d{1,2})(?::(\d{2}))?$")
_DAY = dt.timedelta(days=1)
_WAITING = (InboxState.PENDING, InboxState.BLOCKED)  # the inbox depth


# ---------------------------------------------------------------- settings


def _bad(variable: str, value: object, hint: str) -> ImproperlyConfigured:
    return ImproperlyConfigured(f"ROLLBOOK_SIS_MONITOR_{variable}={value!r}: {hint}")


def parse_days(raw: str) -> frozenset[int]:
    """`mon-fri`, `mon,tue,sat`, `mon-wed,sat`, `fri-mon` (wraps): weekdays, Monday = 0."""
    days: set[int] = set()
    for part in str(raw).lower().replace(" ", "").split(","):
        if not part:
            continue
        first, dash, last = part.partition("-")
        start = _day(first, raw)
        end = _day(last, raw) if dash else start
        days.update((start + step) % 7 for step in range((end - start) % 7 + 1))
    if not days:
        raise _bad("DAYS", raw, "name at least one day, e.g. mon-fri or mon,tue,sat")
    return frozenset(days)


def _day(name: str, raw: str) -> int:
    for names in (DAY_NAMES, _FULL_DAY_NAMES):
        if name in names:
            return names.index(name)
    raise _bad("DAYS", raw, f"{name!r} is not a day; use mon tue wed thu fri sat sun")


def parse_hours(raw: str) -> tuple[int, int]:
    """`07:00-19:00` as minutes after midnight (start, end). The end may be 24:00; an end at
    or before the start passes midnight (`22:00-06:00` is a night shift)."""
    start_text, dash, end_text = str(raw).replace(" ", "").partition("-")
    if not dash:
        raise _bad("HOURS", raw, "give a range HH:MM-HH:MM, e.g. 07:00-19:00")
    start, end = _minutes(start_text, raw), _minutes(end_text, raw)
    if start == 24 * 60:
        raise _bad("HOURS", raw, "business hours cannot start at 24:00")
    if start == end:
        raise _bad("HOURS", raw, "start and end are the same; use 00:00-24:00 for whole days")
    return start, end if end > start else end + 24 * 60


def _minutes(text: str, raw: str) -> int:
    match = _HHMM.match(text)
    hours, minutes = (int(match.group(1)), int(match.group(2) or 0)) if match else (-1, 0)
    if not (0 <= hours <= 24 and 0 <= minutes < 60) or (hours == 24 and minutes):
        raise _bad("HOURS", raw, f"{text!r} is not a time of day (HH:MM, 00:00 to 24:00)")
    return hours * 60 + minutes


def _grace(variable: str, raw: object) -> dt.timedelta:
    try:
        minutes = int(str(raw).strip())
    except ValueError:
        minutes = -1
    if minutes < 0:
        raise _bad(variable, raw, "give a whole number of minutes (0 or more)")
    return dt.timedelta(minutes=minutes)


def _time_zone(raw: str) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(raw)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise _bad("TIME_ZONE", raw, "not a known time zone, e.g. America/Chicago") from None


def _addresses(raw: str | list[str] | tuple[str, ...]) -> tuple[str, ...]:
    parts = raw.split(",") if isinstance(raw, str) else raw
    addresses = tuple(part.strip() for part in parts if part.strip())
    for address in addresses:
        try:
            validate_email(address)
        except ValidationError:
            raise _bad("MAIL_TO", raw, f"{address!r} is not an email address") from None
    return addresses


@dataclass(frozen=True, slots=True)
class MonitorConfig:
    """settings.SIS_MONITOR, parsed; `load` names the variable at fault when one is wrong."""

    days: frozenset[int]  # weekdays whose business hours count, Monday = 0
    start: int  # business hours, in minutes after the local midnight of a business day
    end: int  # after `start`; past 24 * 60 when the hours pass midnight
    grace: dt.timedelta
    off_hours_grace: dt.timedelta  # zero: no check outside business hours
    tz: zoneinfo.ZoneInfo
    mail_to: tuple[str, ...] = ()

    @classmethod
    def load(cls, **overrides: Any) -> MonitorConfig:
        raw: dict[str, Any] = dict(settings.SIS_MONITOR)
        raw.update({key.upper(): value for key, value in overrides.items()})
        start, end = parse_hours(raw["HOURS"])
        return cls(
            days=parse_days(raw["DAYS"]),
            start=start,
            end=end,
            grace=_grace("GRACE_MINUTES", raw["GRACE_MINUTES"]),
            off_hours_grace=_grace("OFF_HOURS_GRACE_MINUTES", raw["OFF_HOURS_GRACE_MINUTES"]),
            tz=_time_zone(str(raw["TIME_ZONE"] or settings.TIME_ZONE)),
            mail_to=_addresses(raw.get("MAIL_TO", ())),
        )

    def _window(self, day: dt.date) -> tuple[dt.datetime, dt.datetime]:
        """The business hours that start on `day` (a business day), in UTC. Wall-clock
        arithmetic in the zone, so a day with a DST change has its hours one longer or shorter."""
        midnight = dt.datetime.combine(day, dt.time(), tzinfo=self.tz)
        start = (midnight + dt.timedelta(minutes=self.start)).astimezone(dt.UTC)
        end = (midnight + dt.timedelta(minutes=self.end)).astimezone(dt.UTC)
        return start, max(start, end)

    def _windows_back(
        self, since: dt.date, until: dt.date
    ) -> Iterator[tuple[dt.datetime, dt.datetime]]:
        """Business hours starting on the days from `until` back to `since`, newest first."""
        day = until
        while day >= since:
            if day.weekday() in self.days:
                yield self._window(day)
            day -= _DAY

    def _local_date(self, when: dt.datetime) -> dt.date:
        return when.astimezone(self.tz).date()

    def in_business_hours(self, when: dt.datetime) -> bool:
        today = self._local_date(when)
        # Yesterday's hours may pass midnight into today.
        windows = self._windows_back(today - _DAY, today)
        return any(start <= when < end for start, end in windows)

    def business_time(
        self, since: dt.datetime, until: dt.datetime, *, stop_over: dt.timedelta | None = None
    ) -> dt.timedelta:
        """How much of [since, until) lies in business hours. With `stop_over`, counting
        stops as soon as the total is past it (the caller only asks whether it is)."""
        total = dt.timedelta()
        if until <= since:
            return total
        first = self._local_date(since) - _DAY  # hours that began the day before
        for start, end in self._windows_back(first, self._local_date(until)):
            overlap = min(end, until) - max(start, since)
            if overlap > dt.timedelta():
                total += overlap
            if stop_over is not None and total > stop_over:
                break
        return total


# ---------------------------------------------------------------- the rule


@dataclass(frozen=True, slots=True)
class Verdict:
    stale: bool
    in_business_hours: bool
    reason: str  # why stale; empty when not


def judge(last_message_at: dt.datetime | None, now: dt.datetime, config: MonitorConfig) -> Verdict:
    """Whether the feed is stale at `now`, its last message having come at `last_message_at`
    (None: never). Pure: the same answer for the same arguments."""
    if config.in_business_hours(now):
        if last_message_at is None:
            return Verdict(True, True, "no LMB message has ever been received")
        silent = config.business_time(last_message_at, now, stop_over=config.grace)
        if silent > config.grace:
            return Verdict(
                True,
                True,
                f"no LMB message for more than {_minutes_text(config.grace)} of business hours "
                f"(the last came at {_local(last_message_at, config)})",
            )
        return Verdict(False, True, "")
    if not config.off_hours_grace:
        return Verdict(False, False, "")
    if last_message_at is None:
        return Verdict(True, False, "no LMB message has ever been received")
    if now - last_message_at > config.off_hours_grace:
        return Verdict(
            True,
            False,
            f"no LMB message for more than {_minutes_text(config.off_hours_grace)} outside "
            f"business hours (the last came at {_local(last_message_at, config)})",
        )
    return Verdict(False, False, "")


def _minutes_text(span: dt.timedelta) -> str:
    minutes = int(span.total_seconds() // 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


def _local(when: dt.datetime, config: MonitorConfig) -> str:
    return when.astimezone(config.tz).strftime("%Y-%m-%d %H:%M %Z")


# ---------------------------------------------------------------- status


@dataclass(frozen=True, slots=True)
class FeedStatus:
    checked_at: dt.datetime
    last_message_at: dt.datetime | None
    messages_last_hour: int
    pending: int  # memberships waiting for a person or a section (GET /api/v1/sis/pending)
    failed: int  # inbox messages that failed (`rollbook sis retry`)
    collisions: int  # SIS persons held by an identity collision (GET /api/v1/sis/collisions)
    stale: bool
    reason: str  # why stale; empty when not
    in_business_hours: bool
    inbox_depth: int  # messages waiting to be applied: pending and blocked
    apply_lag_seconds: float  # age of the oldest pending message; 0 when none

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (times in ISO 8601)."""
        data = asdict(self)
        for key in ("checked_at", "last_message_at"):
            data[key] = data[key].isoformat() if data[key] else None
        return data


def tally(name: str) -> int:
    """A running total kept in InboxTally (0 while it has no row)."""
    return InboxTally.objects.filter(name=name).values_list("value", flat=True).first() or 0


def _last_message_at() -> dt.datetime | None:
    # Ids grow with arrival: the newest row by primary key, not a scan of received_at.
    return InboxMessage.objects.order_by("-id").values_list("received_at", flat=True).first()


def _apply_lag(now: dt.datetime) -> float:
    oldest = (
        InboxMessage.objects.filter(state=InboxState.PENDING)
        .order_by("id")
        .values_list("received_at", flat=True)
        .first()
    )
    return max((now - oldest).total_seconds(), 0.0) if oldest else 0.0


def received_since(cutoff: dt.datetime) -> int:
    """Messages received at or after `cutoff`.

    received_at has no index, and ids grow with arrival: a binary search on the primary key
    finds the first message since the cutoff (one index probe a step, some 25 steps for
    millions of rows), and the rows from it on are counted by id.
    """
    rows = InboxMessage.objects.values_list("id", "received_at")
    newest = rows.order_by("-id").first()
    if newest is None or newest[1] < cutoff:
        return 0
    low, high = 0, newest[0]  # no row up to `low` is since the cutoff; row `high` is
    while high - low > 1:
        middle = (low + high) // 2
        probe = rows.filter(id__gt=low, id__lte=middle).order_by("-id").first()
        if probe is not None and probe[1] >= cutoff:
            high = probe[0]
        else:  # nothing in (low, middle], or only older messages
            low = middle
    return InboxMessage.objects.filter(id__gte=high).count()


def _pending_memberships() -> int:
    return StagedMembership.objects.filter(state=RowState.PENDING).count()


def _collisions() -> int:
    return StagedPerson.objects.filter(state=RowState.HELD).count()


def feed_status(*, now: dt.datetime | None = None) -> FeedStatus:
    """The feed as an operator sees it: when it last spoke, what waits, and whether it is stale.
    Raises ImproperlyConfigured when a ROLLBOOK_SIS_MONITOR_* setting is wrong."""
    now = now or clock.now()
    config = MonitorConfig.load()
    last = _last_message_at()
    verdict = judge(last, now, config)
    waiting = dict(
        InboxMessage.objects.filter(state__in=(*_WAITING, InboxState.FAILED))
        .values_list("state")
        .annotate(rows=Count("id"))
        .order_by()
    )
    return FeedStatus(
        checked_at=now,
        last_message_at=last,
        messages_last_hour=received_since(now - dt.timedelta(hours=1)),
        pending=_pending_memberships(),
        failed=waiting.get(InboxState.FAILED, 0),
        collisions=_collisions(),
        stale=verdict.stale,
        reason=verdict.reason,
        in_business_hours=verdict.in_business_hours,
        inbox_depth=sum(waiting.get(state, 0) for state in _WAITING),
        apply_lag_seconds=_apply_lag(now),
    )


def alert_recipients() -> tuple[str, ...]:
    """ROLLBOOK_SIS_MONITOR_MAIL_TO, checked."""
    return MonitorConfig.load().mail_to


def send_stale_alert(status: FeedStatus) -> tuple[str, ...]:
    """One mail about a stale feed to ROLLBOOK_SIS_MONITOR_MAIL_TO, through Django's mail
    backend (settings.EMAIL_*). Returns the recipients; Invalid when there are none."""
    recipients = alert_recipients()
    if not recipients:
        raise Invalid(SisErrorCode.NO_ALERT_RECIPIENTS, MSG_NO_ALERT_RECIPIENTS)
    lines = [
        f"The LMB feed is stale: {status.reason}.",
        "",
        *(f"{key}: {value}" for key, value in status.as_dict().items() if key != "reason"),
        "",
        "Check that Luminis Message Broker still posts to /api/v1/sis/lmb; "
        "GET /api/v1/sis/status shows the same, and `rollbook sis monitor` checks again.",
    ]
    send_mail(
        "[rollbook] The LMB feed is stale",
        "\n".join(lines) + "\n",
        settings.DEFAULT_FROM_EMAIL,
        list(recipients),
        fail_silently=False,
    )
    return recipients


# ---------------------------------------------------------------- metrics


@dataclass(frozen=True, slots=True)
class FeedMetrics:
    accepted_total: int  # messages ever recorded (duplicates of an id not counted)
    applied_total: int  # messages applied
    failed_total: int  # attempts to apply a message that failed (a retry that fails again: 2)
    apply_lag_seconds: float
    inbox_depth: int
    last_message_timestamp: float  # Unix time; 0 when no message
    pending_memberships: int
    collisions: int
    stale: bool


def feed_metrics(*, now: dt.datetime | None = None) -> FeedMetrics:
    """The counters and gauges of /metrics, in seven small queries whatever the inbox holds."""
    now = now or clock.now()
    # Counting the rows reads the primary key index only; the inbox depth reads the (state,
    # id) index over the waiting rows; the rest are running totals (one row each).
    rows = InboxMessage.objects.count()
    depth = InboxMessage.objects.filter(state__in=_WAITING).count()
    tallies = dict(
        InboxTally.objects.filter(name__in=(APPLIED, FAILED_ATTEMPTS, PRUNED_ACCEPTED)).values_list(
            "name", "value"
        )
    )
    last = _last_message_at()
    return FeedMetrics(
        accepted_total=rows + tallies.get(PRUNED_ACCEPTED, 0),
        applied_total=tallies.get(APPLIED, 0),
        failed_total=tallies.get(FAILED_ATTEMPTS, 0),
        apply_lag_seconds=_apply_lag(now),
        inbox_depth=depth,
        last_message_timestamp=last.timestamp() if last else 0.0,
        pending_memberships=_pending_memberships(),
        collisions=_collisions(),
        stale=judge(last, now, MonitorConfig.load()).stale,
    )


# name, type, help, value
_METRICS: tuple[tuple[str, str, str, Any], ...] = (
    (
        "rollbook_lmb_messages_accepted_total",
        "counter",
        "LMB messages accepted (recorded in the inbox; a repeated message id is not counted).",
        lambda m: m.accepted_total,
    ),
    (
        "rollbook_lmb_messages_applied_total",
        "counter",
        "LMB messages applied to rollbook.",
        lambda m: m.applied_total,
    ),
    (
        "rollbook_lmb_messages_failed_total",
        "counter",
        "Failed attempts to apply an LMB message (each retry that fails counts again).",
        lambda m: m.failed_total,
    ),
    (
        "rollbook_lmb_apply_lag_seconds",
        "gauge",
        "Age of the oldest LMB message waiting to be applied (0 when none waits).",
        lambda m: m.apply_lag_seconds,
    ),
    (
        "rollbook_lmb_inbox_depth",
        "gauge",
        "LMB messages waiting to be applied (pending, or blocked behind a failed one).",
        lambda m: m.inbox_depth,
    ),
    (
        "rollbook_lmb_last_message_timestamp_seconds",
        "gauge",
        "Unix time of the last LMB message received (0 when none).",
        lambda m: m.last_message_timestamp,
    ),
    (
        "rollbook_sis_pending_memberships",
        "gauge",
        "SIS memberships waiting for their person or section.",
        lambda m: m.pending_memberships,
    ),
    (
        "rollbook_sis_collisions",
        "gauge",
        "SIS persons held by an identity collision.",
        lambda m: m.collisions,
    ),
    (
        "rollbook_lmb_stale",
        "gauge",
        "1 when the LMB feed is stale (ROLLBOOK_SIS_MONITOR_* rules), else 0.",
        lambda m: int(m.stale),
    ),
)


def _number(value: float) -> str:
    return str(value) if isinstance(value, int) else repr(float(value))


def metrics_text(*, now: dt.datetime | None = None) -> str:
    """The metrics in the Prometheus text exposition format 0.0.4."""
    metrics = feed_metrics(now=now)
    lines: list[str] = []
    for name, kind, text, value in _METRICS:
        lines += [f"# HELP {name} {text}", f"# TYPE {name} {kind}"]
        lines.append(f"{name} {_number(value(metrics))}")
    return "\n".join(lines) + "\n"
