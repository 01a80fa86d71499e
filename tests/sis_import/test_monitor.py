"""The LMB feed monitor: the staleness rule, GET /api/v1/sis/status, /metrics and
`rollbook sis monitor`."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import zoneinfo
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from rollbook import cli
from rollbook.lib import clock
from rollbook.sis_import import inbox, monitor
from rollbook.sis_import.models import (
    InboxMessage,
    InboxTally,
    RowState,
    StagedMembership,
    StagedPerson,
)
from rollbook.sis_import.monitor import MonitorConfig, judge, parse_days, parse_hours
from tests.factories import Make
from tests.sis_import.test_pipeline import person

UTC = dt.UTC
NEW_YORK = zoneinfo.ZoneInfo("America/New_York")
# Wednesday 4 March 2026, 10:00 in New York (EST, UTC-5).
NOW = dt.datetime(2026, 3, 4, 15, 0, tzinfo=UTC)
MINUTE = dt.timedelta(minutes=1)
_ids = itertools.count(1)


def ny(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=NEW_YORK)  # type: ignore[misc]


def config(**overrides: Any) -> MonitorConfig:
    raw = {
        "DAYS": "mon-fri",
        "HOURS": "07:00-19:00",
        "GRACE_MINUTES": 30,
        "OFF_HOURS_GRACE_MINUTES": 0,
        "TIME_ZONE": "America/New_York",
        "MAIL_TO": [],
    }
    raw.update(overrides)
    return MonitorConfig.load(**raw)


def stale(last: dt.datetime | None, now: dt.datetime, **overrides: Any) -> bool:
    return judge(last, now, config(**overrides)).stale


# ---------------------------------------------------------------- settings


@pytest.mark.parametrize(
    ("raw", "days"),
    [
        ("mon-fri", {0, 1, 2, 3, 4}),
        ("mon,tue,sat", {0, 1, 5}),
        ("Monday, wed-thu", {0, 2, 3}),
        ("fri-mon", {4, 5, 6, 0}),
        ("sun", {6}),
        ("mon-sun", set(range(7))),
    ],
)
def test_days_are_ranges_and_lists(raw: str, days: set[int]) -> None:
    assert parse_days(raw) == days


@pytest.mark.parametrize(
    ("raw", "minutes"),
    [
        ("07:00-19:00", (420, 1140)),
        ("7-19", (420, 1140)),
        ("00:00-24:00", (0, 1440)),
        ("22:00-06:00", (1320, 1800)),  # passes midnight
        ("08:30 - 17:15", (510, 1035)),
    ],
)
def test_hours_are_a_range_of_times(raw: str, minutes: tuple[int, int]) -> None:
    assert parse_hours(raw) == minutes


@pytest.mark.parametrize(
    ("setting", "value", "says"),
    [
        ("DAYS", "mon-fry", "'fry' is not a day"),
        ("DAYS", " , ", "at least one day"),
        ("HOURS", "07:00", "HH:MM-HH:MM"),
        ("HOURS", "07:00-25:00", "'25:00' is not a time of day"),
        ("HOURS", "7:60-19:00", "'7:60' is not a time of day"),
        ("HOURS", "07:00-07:00", "the same"),
        ("HOURS", "24:00-06:00", "cannot start at 24:00"),
        ("GRACE_MINUTES", "half an hour", "whole number of minutes"),
        ("OFF_HOURS_GRACE_MINUTES", "-5", "whole number of minutes"),
        ("TIME_ZONE", "Mars/Olympus_Mons", "not a known time zone"),
        ("MAIL_TO", "ops@example.edu,not-an-address", "'not-an-address' is not an email"),
    ],
)
def test_a_wrong_setting_is_named_with_its_variable(setting: str, value: str, says: str) -> None:
    with pytest.raises(ImproperlyConfigured) as caught:
        config(**{setting: value})
    assert str(caught.value).startswith(f"ROLLBOOK_SIS_MONITOR_{setting}=")
    assert says in str(caught.value)


def test_the_defaults() -> None:
    loaded = MonitorConfig.load(TIME_ZONE="")  # the rest as the environment left them
    assert settings.SIS_MONITOR["DAYS"] == "mon-fri"
    assert loaded.days == frozenset(range(5))
    assert (loaded.start, loaded.end) == (7 * 60, 19 * 60)
    assert loaded.grace == 30 * MINUTE
    assert not loaded.off_hours_grace
    assert loaded.tz == zoneinfo.ZoneInfo(settings.TIME_ZONE)  # TIME_ZONE when not set
    assert config(MAIL_TO="a@example.edu, b@example.edu").mail_to == (
        "a@example.edu",
        "b@example.edu",
    )


# ---------------------------------------------------------------- the rule


def test_in_business_hours_a_silence_over_the_grace_is_stale() -> None:
    now = ny(2026, 3, 4, 10, 0)
    assert not stale(now - 15 * MINUTE, now)
    assert not stale(now - 30 * MINUTE, now)  # exactly the grace: not yet
    assert stale(now - 31 * MINUTE, now)
    verdict = judge(now - 31 * MINUTE, now, config())
    assert verdict.in_business_hours
    assert "more than 30 minutes of business hours" in verdict.reason
    assert "2026-03-04 09:29 EST" in verdict.reason


def test_nights_and_weekends_do_not_count_towards_the_grace() -> None:
    friday_evening = ny(2026, 3, 6, 18, 50)  # 10 minutes of Friday's hours left
    # Monday 9 March, the day after the clocks changed: 10 + 20 minutes of business hours.
    assert not stale(friday_evening, ny(2026, 3, 9, 7, 20))
    assert stale(friday_evening, ny(2026, 3, 9, 7, 21))
    overnight = ny(2026, 3, 4, 18, 45)  # Wednesday: 15 minutes, then Thursday from 07:00
    assert not stale(overnight, ny(2026, 3, 5, 7, 15))
    assert stale(overnight, ny(2026, 3, 5, 7, 16))


def test_outside_business_hours_nothing_is_stale_when_the_off_hours_grace_is_0() -> None:
    long_ago = ny(2026, 2, 1, 12, 0)
    assert stale(long_ago, ny(2026, 3, 4, 18, 59))
    assert not stale(long_ago, ny(2026, 3, 4, 19, 0))  # the hours end at 19:00
    assert not stale(long_ago, ny(2026, 3, 4, 6, 59))
    assert not stale(long_ago, ny(2026, 3, 7, 12, 0))  # a Saturday
    assert not stale(None, ny(2026, 3, 7, 12, 0))
    assert stale(None, ny(2026, 3, 4, 12, 0))  # never a message, in business hours


def test_outside_business_hours_the_off_hours_grace_counts_plain_silence() -> None:
    four_hours = {"OFF_HOURS_GRACE_MINUTES": "240"}
    assert not stale(ny(2026, 3, 4, 19, 30), ny(2026, 3, 4, 23, 30), **four_hours)
    assert stale(ny(2026, 3, 4, 20, 29), ny(2026, 3, 5, 0, 30), **four_hours)
    verdict = judge(ny(2026, 3, 7, 1, 0), ny(2026, 3, 7, 12, 0), config(**four_hours))
    assert verdict.stale
    assert not verdict.in_business_hours
    assert "more than 240 minutes outside business hours" in verdict.reason
    assert stale(None, ny(2026, 3, 7, 12, 0), **four_hours)


def test_business_hours_are_those_of_the_configured_time_zone() -> None:
    instant = dt.datetime(2026, 3, 4, 13, 0, tzinfo=UTC)  # 08:00 in New York, 22:00 in Tokyo
    long_ago = instant - dt.timedelta(days=3)
    assert stale(long_ago, instant, TIME_ZONE="America/New_York")
    assert not stale(long_ago, instant, TIME_ZONE="Asia/Tokyo")
    # Friday 20:00 in Los Angeles is Saturday 04:00 UTC: a business day there, not in UTC.
    friday_night = dt.datetime(2026, 3, 7, 4, 0, tzinfo=UTC)
    whole_days = {"HOURS": "00:00-24:00"}
    assert stale(long_ago, friday_night, TIME_ZONE="America/Los_Angeles", **whole_days)
    assert not stale(long_ago, friday_night, TIME_ZONE="UTC", **whole_days)


def test_hours_past_midnight_belong_to_the_day_they_start() -> None:
    night = config(DAYS="mon", HOURS="22:00-06:00")
    assert night.in_business_hours(ny(2026, 3, 2, 23, 0))  # Monday night
    assert night.in_business_hours(ny(2026, 3, 3, 5, 59))  # Tuesday morning, Monday's shift
    assert not night.in_business_hours(ny(2026, 3, 3, 6, 0))
    assert not night.in_business_hours(ny(2026, 3, 2, 3, 0))  # Sunday's shift: not a day


def test_a_day_with_a_clock_change_has_its_real_length() -> None:
    every_hour = config(DAYS="mon-sun", HOURS="00:00-24:00")
    spring, autumn = ny(2026, 3, 8, 0, 0), ny(2026, 11, 1, 0, 0)
    assert every_hour.business_time(spring, spring + dt.timedelta(days=2)) == dt.timedelta(hours=47)
    assert every_hour.business_time(autumn, autumn + dt.timedelta(days=2)) == dt.timedelta(hours=49)
    office = config()  # 07:00-19:00 on Monday 9 March (EDT) is 11:00-23:00 UTC
    monday = dt.datetime(2026, 3, 9, 0, 0, tzinfo=UTC)
    assert office.business_time(monday, monday + dt.timedelta(days=1)) == dt.timedelta(hours=12)
    assert office.in_business_hours(dt.datetime(2026, 3, 9, 11, 0, tzinfo=UTC))
    assert not office.in_business_hours(dt.datetime(2026, 3, 9, 10, 59, tzinfo=UTC))


ZONES = ["UTC", "America/New_York", "Europe/Berlin", "Asia/Kolkata", "Australia/Lord_Howe"]
configs = st.builds(
    MonitorConfig,
    days=st.frozensets(st.integers(0, 6), min_size=1),
    start=st.integers(0, 24 * 60 - 1),
    end=st.integers(1, 24 * 60 - 1),
    grace=st.integers(0, 24 * 60).map(lambda m: m * MINUTE),
    off_hours_grace=st.one_of(st.just(0), st.integers(1, 48 * 60)).map(lambda m: m * MINUTE),
    tz=st.sampled_from(ZONES).map(zoneinfo.ZoneInfo),
).map(
    # As parse_hours leaves them: the end after the start, at most a day later.
    lambda c: c if c.end > c.start else MonitorConfig(**{**_fields(c), "end": c.end + 24 * 60})
)
moments = st.datetimes(
    min_value=dt.datetime(2025, 1, 1),  # noqa: DTZ001 (hypothesis wants naive bounds)
    max_value=dt.datetime(2027, 12, 31),  # noqa: DTZ001
    timezones=st.just(UTC),
)
silences = st.integers(0, 21 * 24 * 60).map(lambda m: m * MINUTE)


def _fields(c: MonitorConfig) -> dict[str, Any]:
    return {name: getattr(c, name) for name in MonitorConfig.__dataclass_fields__}


@hypothesis_settings(deadline=None)
@given(configs, moments, silences)
def test_property_with_off_hours_grace_0_nothing_is_stale_outside_business_hours(
    c: MonitorConfig, now: dt.datetime, silence: dt.timedelta
) -> None:
    c = MonitorConfig(**{**_fields(c), "off_hours_grace": dt.timedelta()})
    if not c.in_business_hours(now):
        assert not judge(now - silence, now, c).stale
        assert not judge(None, now, c).stale


@hypothesis_settings(deadline=None)
@given(configs, moments, silences)
def test_property_a_message_within_the_grace_is_never_stale(
    c: MonitorConfig, now: dt.datetime, silence: dt.timedelta
) -> None:
    within_off_hours_grace = not c.off_hours_grace or silence <= c.off_hours_grace
    if silence <= c.grace and within_off_hours_grace:
        assert not judge(now - silence, now, c).stale


@hypothesis_settings(deadline=None)
@given(configs, moments, silences, silences)
def test_property_stale_is_monotone_in_the_silence(
    c: MonitorConfig, now: dt.datetime, shorter: dt.timedelta, longer: dt.timedelta
) -> None:
    shorter, longer = sorted((shorter, longer))
    if judge(now - shorter, now, c).stale:
        assert judge(now - longer, now, c).stale
        assert judge(None, now, c).stale  # never a message: the longest silence


@hypothesis_settings(deadline=None)
@given(configs, moments, silences)
def test_property_business_time_is_at_most_the_silence(
    c: MonitorConfig, now: dt.datetime, silence: dt.timedelta
) -> None:
    assert dt.timedelta() <= c.business_time(now - silence, now) <= silence


# ---------------------------------------------------------------- rows


@pytest.fixture
def fixed_clock(monkeypatch: pytest.MonkeyPatch) -> dt.datetime:
    monkeypatch.setattr(clock, "now", lambda: NOW)
    return NOW


@pytest.fixture(autouse=True)
def monitor_settings(tmp_path: Path) -> Iterator[None]:
    conf = {
        **settings.SIS_MONITOR,
        "TIME_ZONE": "America/New_York",
        "MAIL_TO": ["ops@example.edu"],
        "METRICS_TOKEN": "",
    }
    with override_settings(SIS_MONITOR=conf, DATA_DIR=tmp_path):
        yield


def message(
    ago: dt.timedelta, state: str = "applied", attempts: int = 1, *, now: dt.datetime = NOW
) -> InboxMessage:
    return InboxMessage.objects.create(
        message_id=f"m{next(_ids)}",
        received_at=now - ago,
        body=b"<enterprise/>",
        state=state,
        attempts=attempts,
        applied_at=now if state == "applied" else None,
    )


def staged_membership(state: str) -> None:
    n = next(_ids)
    StagedMembership.objects.create(
        group_sourcedid="10001.201740",
        person_sourcedid=f"P{n}",
        roletype="01",
        digest="d",
        state=state,
        changed_by="lmb:m1",
        changed_at=NOW,
    )


def staged_person(state: str) -> None:
    StagedPerson.objects.create(
        sourcedid=f"P{next(_ids)}", digest="d", state=state, changed_by="lmb:m1", changed_at=NOW
    )


@pytest.fixture
def feed(db: None) -> None:
    """Six messages (five in the last hour), two memberships waiting, one collision."""
    message(3 * 60 * MINUTE)  # applied at the first attempt, three hours ago
    message(50 * MINUTE, attempts=2)  # applied at the second attempt
    message(40 * MINUTE, "failed")
    message(30 * MINUTE, "blocked", attempts=0)  # waits behind the failed one
    message(20 * MINUTE, "pending", attempts=0)  # the oldest waiting: 20 minutes of lag
    message(10 * MINUTE, "pending", attempts=1)  # retried after a failure
    staged_membership(RowState.PENDING)
    staged_membership(RowState.PENDING)
    staged_membership(RowState.APPLIED)
    staged_person(RowState.HELD)
    staged_person(RowState.APPLIED)


EXPECTED_STATUS = {
    "checked_at": "2026-03-04T15:00:00Z",
    "last_message_at": "2026-03-04T14:50:00Z",
    "messages_last_hour": 5,
    "pending": 2,
    "failed": 1,
    "collisions": 1,
    "stale": False,
    "reason": "",
    "in_business_hours": True,
    "inbox_depth": 3,
    "apply_lag_seconds": 1200.0,
}


@pytest.mark.usefixtures("feed", "fixed_clock")
def test_the_status_counts_the_rows(staff_api: Any) -> None:
    response = staff_api.get("sis/status")
    assert response.status_code == 200, response.content
    body = response.json()
    expected = dict(EXPECTED_STATUS)
    for key in ("checked_at", "last_message_at"):
        body[key] = dt.datetime.fromisoformat(body[key])
        expected[key] = dt.datetime.fromisoformat(str(expected[key]))
    assert body == expected


@pytest.mark.django_db
def test_the_status_of_a_silent_feed_says_why_it_is_stale(
    staff_api: Any, fixed_clock: dt.datetime
) -> None:
    message(45 * MINUTE)
    body = staff_api.get("sis/status").json()
    assert body["stale"] is True
    assert body["reason"] == (
        "no LMB message for more than 30 minutes of business hours "
        "(the last came at 2026-03-04 09:15 EST)"
    )
    assert body["messages_last_hour"] == 1
    assert body["inbox_depth"] == 0
    assert body["apply_lag_seconds"] == 0


@pytest.mark.django_db
def test_the_status_is_for_global_staff(anon_api: Any, api_as: Any) -> None:
    anonymous = anon_api.get("sis/status")
    assert anonymous.status_code == 401
    assert anonymous.json()["code"] == "not_authenticated"
    refused = api_as("mary").get("sis/status")
    assert refused.status_code == 403
    assert refused.json()["code"] == "forbidden"


@pytest.mark.django_db
def test_messages_received_since_are_found_with_few_queries_despite_gaps() -> None:
    rows = [message(dt.timedelta(minutes=minutes)) for minutes in range(300, 0, -1)]
    InboxMessage.objects.filter(id__in=[row.id for row in rows[100:200:3]]).delete()
    kept = list(InboxMessage.objects.values_list("received_at", flat=True))
    for minutes in (0, 1, 60, 61, 150, 199, 200, 299, 300, 301, 1000):
        cutoff = NOW - dt.timedelta(minutes=minutes)
        with CaptureQueriesContext(connection) as queries:
            found = monitor.received_since(cutoff)
        assert found == sum(received >= cutoff for received in kept), minutes
        assert len(queries) <= 12  # log2 of the ids, not the rows
    assert monitor.received_since(NOW + MINUTE) == 0
    InboxMessage.objects.all().delete()
    assert monitor.received_since(NOW) == 0


# ---------------------------------------------------------------- metrics


def parse_metrics(text: str) -> dict[str, float]:
    """The samples of a Prometheus text exposition (0.0.4), checking its shape: each metric
    has one HELP and one TYPE line before its samples, counters end in _total."""
    assert text.endswith("\n")
    helped: set[str] = set()
    types: dict[str, str] = {}
    samples: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("# HELP "):
            name, _, help_text = line.removeprefix("# HELP ").partition(" ")
            assert help_text, line
            assert name not in helped, line
            helped.add(name)
        elif line.startswith("# TYPE "):
            name, _, kind = line.removeprefix("# TYPE ").partition(" ")
            assert kind in {"counter", "gauge"}, line
            assert name in helped, f"TYPE before HELP: {line}"
            assert name not in types, line
            types[name] = kind
        else:
            name, value = line.split(" ")
            assert name in types, f"a sample without TYPE: {line}"
            assert name not in samples, line
            samples[name] = float(value)
    assert set(samples) == set(types)
    for name, kind in types.items():
        assert name.startswith("rollbook_")
        assert name.endswith("_total") == (kind == "counter"), name
    return samples


def add_tally(name: str, value: int) -> None:
    InboxTally.objects.update_or_create(name=name, defaults={"value": value})


@pytest.mark.usefixtures("feed")
def test_metrics_count_rows_and_running_totals() -> None:
    add_tally(inbox.PRUNED_ACCEPTED, 10)
    add_tally(inbox.APPLIED, 12)
    add_tally(inbox.FAILED_ATTEMPTS, 6)
    add_tally("last_pruned_at", 1_700_000_000)  # another tally: not a counter
    with CaptureQueriesContext(connection) as queries:
        text = monitor.metrics_text(now=NOW)
    assert len(queries) <= 7  # each an index look-up or a one-row read
    assert parse_metrics(text) == {
        "rollbook_lmb_messages_accepted_total": 6 + 10,
        "rollbook_lmb_messages_applied_total": 12,  # running totals, kept by the processor
        "rollbook_lmb_messages_failed_total": 6,
        "rollbook_lmb_apply_lag_seconds": 1200.0,
        "rollbook_lmb_inbox_depth": 3,
        "rollbook_lmb_last_message_timestamp_seconds": (NOW - 10 * MINUTE).timestamp(),
        "rollbook_sis_pending_memberships": 2,
        "rollbook_sis_collisions": 1,
        "rollbook_lmb_stale": 0,
    }


@pytest.mark.django_db
def test_metrics_of_an_empty_inbox() -> None:
    samples = parse_metrics(monitor.metrics_text(now=NOW))
    assert samples["rollbook_lmb_messages_accepted_total"] == 0
    assert samples["rollbook_lmb_apply_lag_seconds"] == 0
    assert samples["rollbook_lmb_last_message_timestamp_seconds"] == 0
    assert samples["rollbook_lmb_stale"] == 1  # in business hours, never a message
    assert monitor.tally("no such tally") == 0


def enterprise(*parts: str) -> bytes:
    return ("<enterprise>" + "".join(parts) + "</enterprise>").encode()


@pytest.mark.django_db
def test_counters_do_not_go_back_when_the_inbox_is_pruned_or_retried() -> None:
    inbox.accept_message(enterprise(person("P1", email="ann@example.edu")), message_id="good")
    bad = enterprise("<person><name><fn>No id</fn></name></person>")
    inbox.accept_message(bad, message_id="bad")
    inbox.process_inbox()
    inbox.retry_failed(["bad"])
    inbox.process_inbox()  # fails again
    first = parse_metrics(monitor.metrics_text())
    assert first["rollbook_lmb_messages_accepted_total"] == 2
    assert first["rollbook_lmb_messages_applied_total"] == 1
    assert first["rollbook_lmb_messages_failed_total"] == 2
    inbox.accept_message(enterprise(person("P2", email="bo@example.edu")), message_id="later")
    inbox.process_inbox()
    InboxMessage.objects.exclude(message_id="later").update(
        received_at=dt.datetime(2020, 1, 1, tzinfo=UTC)
    )
    InboxMessage.objects.filter(message_id="bad").update(state="applied", attempts=3)  # fixed
    before = parse_metrics(monitor.metrics_text())
    assert inbox.prune() == 2  # "good" and "bad", applied long ago
    assert set(InboxMessage.objects.values_list("message_id", flat=True)) == {"later"}
    after = parse_metrics(monitor.metrics_text())
    for counter in (
        "rollbook_lmb_messages_accepted_total",
        "rollbook_lmb_messages_applied_total",
        "rollbook_lmb_messages_failed_total",
    ):
        assert after[counter] == before[counter], counter
    assert after["rollbook_lmb_messages_accepted_total"] == 3
    assert after["rollbook_lmb_messages_failed_total"] == 2


@pytest.mark.django_db
def test_metrics_need_a_bearer_token_of_staff_or_the_metrics_token() -> None:
    client = Client()
    for headers in ({}, {"Authorization": "Bearer rb_unknown"}, {"Authorization": "Basic x"}):
        response = client.get("/metrics", headers=headers)
        assert response.status_code == 401, headers
        assert response.json() == {
            "code": "not_authenticated",
            "message": "Authentication required: send 'Authorization: Bearer <token>'.",
            "fields": {},
        }
        assert response["WWW-Authenticate"].startswith("Bearer")
    learner = {"Authorization": f"Bearer {Make.token('mary')}"}
    assert client.get("/metrics", headers=learner).status_code == 403
    assert client.get("/metrics", headers=learner).json()["code"] == "forbidden"
    staff = {"Authorization": f"Bearer {Make.token('admin', staff=True)}"}
    response = client.get("/metrics", headers=staff)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert parse_metrics(response.content.decode())["rollbook_lmb_inbox_depth"] == 0
    assert client.post("/metrics", headers=staff).status_code == 405


@pytest.mark.django_db
def test_metrics_accept_the_configured_scraper_token() -> None:
    client = Client()
    conf = {**settings.SIS_MONITOR, "METRICS_TOKEN": "scrape-me-" + "x" * 30}
    with override_settings(SIS_MONITOR=conf):
        good = client.get("/metrics", headers={"Authorization": f"Bearer {conf['METRICS_TOKEN']}"})
        wrong = client.get("/metrics", headers={"Authorization": "Bearer scrape-me-wrong"})
    assert good.status_code == 200
    assert "rollbook_lmb_messages_accepted_total 0" in good.content.decode()
    assert wrong.status_code == 401
    # Without a configured token, an empty one does not match it.
    assert client.get("/metrics", headers={"Authorization": "Bearer "}).status_code == 401


# ---------------------------------------------------------------- the command


def run_monitor(*args: str) -> int:
    return cli.main(["sis", "monitor", *args])


@pytest.mark.usefixtures("feed", "fixed_clock")
def test_the_command_exits_0_when_the_feed_is_fine(
    capsys: pytest.CaptureFixture[str], mailoutbox: list[Any]
) -> None:
    assert run_monitor("--mail") == 0
    out = capsys.readouterr().out
    assert "LMB feed: ok" in out
    assert "messages in the last hour" in out
    assert not mailoutbox
    assert run_monitor("--json") == 0
    body = json.loads(capsys.readouterr().out)
    assert body["stale"] is False
    assert body["inbox_depth"] == 3
    assert body["last_message_at"] == "2026-03-04T14:50:00+00:00"


@pytest.mark.django_db
def test_the_command_exits_2_when_stale_and_mails_once(
    capsys: pytest.CaptureFixture[str], mailoutbox: list[Any], fixed_clock: dt.datetime
) -> None:
    message(2 * 60 * MINUTE)
    assert run_monitor() == 2
    assert "LMB feed: STALE" in capsys.readouterr().out
    assert not mailoutbox
    assert run_monitor("--mail", "--json") == 2
    captured = capsys.readouterr()
    assert json.loads(captured.out)["stale"] is True
    assert "mailed ops@example.edu" in captured.err
    (mail,) = mailoutbox
    assert mail.to == ["ops@example.edu"]
    assert mail.from_email == settings.DEFAULT_FROM_EMAIL
    assert mail.subject == "[rollbook] The LMB feed is stale"
    assert "no LMB message for more than 30 minutes of business hours" in mail.body
    assert "messages_last_hour: 0" in mail.body


@pytest.mark.django_db
def test_the_command_exits_1_when_it_cannot_check(
    capsys: pytest.CaptureFixture[str], mailoutbox: list[Any], fixed_clock: dt.datetime
) -> None:
    with override_settings(SIS_MONITOR={**settings.SIS_MONITOR, "MAIL_TO": []}):
        assert run_monitor("--mail") == 1  # stale or not: nobody to mail is a mistake
    assert "ROLLBOOK_SIS_MONITOR_MAIL_TO" in capsys.readouterr().err
    with override_settings(SIS_MONITOR={**settings.SIS_MONITOR, "HOURS": "9 to 5"}):
        assert run_monitor() == 1
    assert "ROLLBOOK_SIS_MONITOR_HOURS='9 to 5'" in capsys.readouterr().err
    assert not mailoutbox
