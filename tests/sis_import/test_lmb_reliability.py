"""The live LMB endpoint under load, through crashes and against hostile input, on real
processes: `rollbook serve --workers 2` (gunicorn) and, with Redis, `rollbook worker`.

The processes run on this test's database (hence `transaction=True`); see servers.py. The
final state is checked against a model computed here from the messages alone: the last
status posted for each (section, person, roletype) wins, roletype 01 makes a learner
enrollment and 02 an instructor role, and a status-0 message drops it.

The concurrency test posts 20,000 messages with a Celery worker applying them (the issue's
number, and the deployed shape), and 2,000 with the embedded processor (the same code in the
web processes); ROLLBOOK_TEST_LMB_MESSAGES sets both.
"""

from __future__ import annotations

import json
import os
import random
import re
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from rollbook.enrollments.models import CourseEnrollment
from rollbook.people.models import User
from rollbook.roles.models import RoleGrant
from rollbook.sis_import.models import InboxMessage
from tests.sis_import.servers import LmbClient, Rollbook, basic_auth, request, running_rollbook
from tests.sis_import.test_pipeline import member, membership, person, section

pytestmark = pytest.mark.django_db(transaction=True)

_MESSAGES = os.environ.get("ROLLBOOK_TEST_LMB_MESSAGES", "")
MESSAGES = {"celery": int(_MESSAGES or 20_000), "embedded": int(_MESSAGES or 2_000)}
KILL_MESSAGES = 400
CLIENTS = 16
TERM = "201740"
ROLES = {"01": "learner", "02": "instructor"}
DRAIN_SECONDS = 600.0  # the whole inbox applied within this ...
STALL_SECONDS = 60.0  # ... and never this long without one more message applied
GATE_SECONDS = 180.0  # the longest a client waits at a gate
# Live-feed drop safety would hold the feed's many drops (it has tests of its own): off here.
NO_DROP_SAFETY = {"ROLLBOOK_SIS_LIVE_DROP_MINIMUM": "1000000000"}


# ---------------------------------------------------------------- the messages


def section_id(n: int) -> str:
    return f"{30000 + n}.{TERM}"


def course_key(section_sourcedid: str) -> str:
    crn, term = section_sourcedid.split(".")
    return f"course-v1:SIS+{crn}+{term}"


def person_id(n: int) -> str:
    return f"P{n:05d}"


def username(person_sourcedid: str) -> str:
    return f"lmb{person_sourcedid[1:]}"  # the email's local part (ROLLBOOK_SIS_USERNAME_SOURCE)


def xml(part: str) -> bytes:
    return f"<enterprise>{part}</enterprise>".encode()


MemberKey = tuple[str, str, str]  # (section sourcedid, person sourcedid, roletype)


@dataclass(frozen=True)
class Message:
    message_id: str
    body: bytes
    key: MemberKey | None = None  # memberships: what it is about ...
    status: int = 1  # ... and the status it posts


def section_message(n: int) -> Message:
    return Message(f"sec-{n}", xml(section(section_id(n), long=f"LMB-{n:03d}-01")))


def person_message(n: int) -> Message:
    sourcedid = person_id(n)
    return Message(f"per-{n}", xml(person(sourcedid, email=f"{username(sourcedid)}@example.edu")))


def membership_message(number: int, key: MemberKey, status: int) -> Message:
    group, sourcedid, roletype = key
    body = xml(membership(member(sourcedid, roletype, status=status), group=group))
    return Message(f"mem-{number}", body, key, status)


# What happens to one (section, person, roletype) over the stream, by share of the keys.
SEQUENCES: tuple[tuple[float, tuple[int, ...]], ...] = (
    (0.50, (1,)),  # enrolled
    (0.22, (1, 0)),  # enrolled, then dropped
    (0.15, (1, 0, 1)),  # dropped and enrolled again
    (0.05, (0,)),  # a drop of what was never there
    (0.08, (1, 1)),  # the same status twice (two distinct messages)
)


@dataclass
class Feed:
    """Messages in phases; within a phase, one queue per client, posted in order. The
    messages about one key are all in one client's queue, in their order, so that the order
    in which they arrive is the order they were written in."""

    sections: int
    persons: int
    phases: list[list[list[Message]]] = field(default_factory=list)
    distinct: list[Message] = field(default_factory=list)  # every message id once, in order

    @property
    def posts(self) -> int:
        return sum(len(queue) for phase in self.phases for queue in phase)

    def expected(self) -> tuple[set[tuple[str, str]], set[tuple[str, str]], set[tuple[str, str]]]:
        """(active learner enrollments, dropped learner keys, instructor grants), as
        (course key, username), from the last status of each key."""
        last: dict[MemberKey, int] = {}
        for message in self.distinct:
            if message.key is not None:
                last[message.key] = message.status
        active: set[tuple[str, str]] = set()
        dropped: set[tuple[str, str]] = set()
        instructors: set[tuple[str, str]] = set()
        for (group, sourcedid, roletype), status in last.items():
            pair = (course_key(group), username(sourcedid))
            if ROLES[roletype] == "learner":
                (active if status == 1 else dropped).add(pair)
            elif status == 1:
                instructors.add(pair)
        return active, dropped, instructors


def _interleave(rng: random.Random, runs: list[list[Message]]) -> list[Message]:
    """The runs merged at random, each run's own order kept."""
    runs = [list(run) for run in runs if run]
    merged: list[Message] = []
    while runs:
        i = rng.randrange(len(runs))
        merged.append(runs[i].pop(0))
        if not runs[i]:
            runs.pop(i)
    return merged


def build_feed(total: int, *, clients: int = CLIENTS, seed: int = 7) -> Feed:
    """About `total` posts: sections, persons (a quarter of them after all memberships), and
    memberships with drops and re-enrolments; about 5% of the posts are duplicates, half
    posted at the same time as the original from another client (they race), half re-posted
    at the end, long after a later message about the same key (applying one again would
    show)."""
    rng = random.Random(seed)
    sections = max(8, total // 250)
    persons = max(20, total // 10)
    duplicates = total // 20
    memberships_wanted = total - sections - persons - duplicates
    feed = Feed(sections=sections, persons=persons)

    # Keys and their runs of messages.
    weights = [share for share, _seq in SEQUENCES]
    pairs = rng.sample(range(sections * persons), k=min(sections * persons, memberships_wanted))
    runs: list[list[Message]] = []
    count = 0
    for pair in pairs:
        if count >= memberships_wanted:
            break
        group, who = section_id(pair % sections), person_id(pair // sections)
        roletype = "02" if rng.random() < 0.04 else "01"
        statuses = rng.choices([seq for _share, seq in SEQUENCES], weights=weights)[0]
        run = []
        for status in statuses:
            run.append(membership_message(count, (group, who, roletype), status))
            count += 1
        runs.append(run)

    person_messages = [person_message(n) for n in range(persons)]
    rng.shuffle(person_messages)
    early, middle, late = (
        person_messages[: persons // 2],
        person_messages[persons // 2 : persons * 3 // 4],
        person_messages[persons * 3 // 4 :],
    )
    late_sections = [section_message(n) for n in range(sections - 2, sections)]
    early_sections = [section_message(n) for n in range(sections - 2)]

    # Phase 1: sections and half the persons. Phase 2: memberships and a quarter of the
    # persons. Phase 3: the last persons and two sections (their memberships waited).
    phase1: list[list[Message]] = [[] for _ in range(clients)]
    for i, message in enumerate(early_sections + early):
        phase1[i % clients].append(message)
    per_client: list[list[list[Message]]] = [[] for _ in range(clients)]
    for i, run in enumerate(runs):
        per_client[i % clients].append(run)
    for i, message in enumerate(middle):
        per_client[i % clients].append([message])
    phase2 = [_interleave(rng, client_runs) for client_runs in per_client]
    phase3: list[list[Message]] = [[] for _ in range(clients)]
    for i, message in enumerate(late + late_sections):
        phase3[i % clients].append(message)
    feed.distinct = [m for q in phase1 for m in q] + [m for run in runs for m in run]
    feed.distinct += middle + late + late_sections

    # Duplicates. Racing: a message that is alone about its key (a person, a one-message
    # membership) also goes into another client's queue of the same phase.
    singles = [(1, m) for m in early] + [(2, m) for m in middle]
    singles += [(2, run[0]) for run in runs if len(run) == 1]
    for phase_number, message in rng.sample(singles, k=min(len(singles), duplicates // 2)):
        phase = phase1 if phase_number == 1 else phase2
        queue = phase[rng.randrange(clients)]
        queue.insert(rng.randrange(len(queue) + 1), message)
    # Late: earlier messages of keys that changed since, again after everything.
    changed = [m for run in runs if len(run) > 1 for m in run[:-1]]
    for i, message in enumerate(rng.sample(changed, k=min(len(changed), duplicates // 2))):
        phase3[i % clients].append(message)
    feed.phases = [phase1, phase2, phase3]
    return feed


# ---------------------------------------------------------------- posting


@dataclass
class Outcome:
    message_id: str
    status: int
    body: dict[str, Any]
    acked_at: float


@dataclass
class Tally:
    """Every answer, by message id; the failures (connection errors, non-200) by kind."""

    answers: dict[str, list[Outcome]] = field(default_factory=lambda: defaultdict(list))
    failures: Counter[str] = field(default_factory=Counter)
    retries: int = 0
    ok_answers: int = 0  # 200s, a message posted twice counted twice
    lock: threading.Lock = field(default_factory=threading.Lock)

    def acked(self) -> set[str]:
        with self.lock:
            return {mid for mid, outs in self.answers.items() if any(o.status == 200 for o in outs)}

    def acked_count(self) -> int:
        with self.lock:
            return sum(1 for outs in self.answers.values() if any(o.status == 200 for o in outs))


def post_queues(
    rollbook: Rollbook,
    queues: list[list[Message]],
    tally: Tally,
    *,
    retry_until: float | None = None,
    gates: tuple[tuple[float, threading.Event], ...] = (),
) -> None:
    """One thread per queue, each posting its messages in order on its own connection. At
    each gate (a share of its queue), a client waits for the gate's event: a test can then act
    when every client is at the same point of its stream, and let them go on.

    Without `retry_until`, a failed request is recorded and the client goes on. With it, the
    client posts the same message again (as LMB does) until it is answered 200 or the
    deadline passes; the next message of the queue waits for that."""

    def client(queue: list[Message]) -> None:
        lmb = LmbClient(rollbook.base_url)
        stops = {int(len(queue) * share): event for share, event in gates}
        try:
            for position, message in enumerate(queue):
                if position in stops:
                    stops[position].wait(timeout=GATE_SECONDS)
                while True:
                    try:
                        status, body = lmb.post(message.body, message.message_id)
                    except OSError as exc:
                        status, body = 0, {"error": f"{type(exc).__name__}: {exc}"}
                    except Exception as exc:  # http.client.HTTPException and the like
                        status, body = 0, {"error": f"{type(exc).__name__}: {exc}"}
                    with tally.lock:
                        tally.answers[message.message_id].append(
                            Outcome(message.message_id, status, body, time.monotonic())
                        )
                        if status == 200:
                            tally.ok_answers += 1
                        else:
                            tally.failures[f"{status} {body.get('code') or body.get('error')}"] += 1
                    if status == 200 or retry_until is None:
                        break
                    if time.monotonic() > retry_until:
                        return
                    with tally.lock:
                        tally.retries += 1
                    time.sleep(0.05)
        finally:
            lmb.close()

    threads = [threading.Thread(target=client, args=(q,), daemon=True) for q in queues]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def wait_applied(rollbook: Rollbook, expected_rows: int) -> dict[str, int]:
    """Poll the inbox until `expected_rows` rows are there and none is pending; fail when the
    processor makes no progress for STALL_SECONDS or DRAIN_SECONDS pass."""
    start = time.monotonic()
    last_change, last_left = start, -1
    while True:
        counts = Counter(InboxMessage.objects.values_list("state", flat=True))
        left = counts.get("pending", 0) + max(0, expected_rows - sum(counts.values()))
        now = time.monotonic()
        if left == 0:
            return dict(counts)
        if left != last_left:
            last_change, last_left = now, left
        if now - last_change > STALL_SECONDS or now - start > DRAIN_SECONDS:
            waiting = list(
                InboxMessage.objects.filter(state="pending")
                .order_by("id")
                .values_list("id", "message_id")[:10]
            )
            pytest.fail(
                f"inbox not drained: {dict(counts)} of {expected_rows} expected rows after "
                f"{now - start:.0f}s ({now - last_change:.0f}s without progress); first "
                f"pending: {waiting}\n{rollbook.logs()}"
            )
        time.sleep(0.2)


def assert_state_matches(feed: Feed) -> None:
    """The database holds exactly what the model says: every enrollment and instructor
    grant, no other, one row per (course, user), each with its one SIS source."""
    active, dropped, instructors = feed.expected()
    rows = list(
        CourseEnrollment.objects.values_list(
            "course__key", "user__username", "is_active", "sources"
        )
    )
    pairs = Counter((course, user) for course, user, _active, _sources in rows)
    assert [pair for pair, n in pairs.items() if n > 1] == []
    got_active = {(course, user) for course, user, is_active, _sources in rows if is_active}
    got_inactive = {(course, user) for course, user, is_active, _sources in rows if not is_active}
    assert sorted(got_active - active) == [], "enrolled, but the last message dropped or is none"
    assert sorted(active - got_active) == [], "the last message enrolled, but not active"
    assert sorted(got_inactive - dropped) == [], "inactive rows the feed never dropped"
    for course, user, is_active, sources in rows:
        group = f"{course.split('+')[1]}.{course.split('+')[2]}"
        want = [f"sis:{group}/01"] if is_active else []
        assert sources == want, (course, user, is_active, sources)

    grants = list(
        RoleGrant.objects.filter(role="instructor").values_list(
            "course_key", "user__username", "sources"
        )
    )
    assert [pair for pair, n in Counter((c, u) for c, u, _s in grants).items() if n > 1] == []
    assert {(c, u) for c, u, _s in grants} == instructors
    for course, _user, sources in grants:
        group = f"{course.split('+')[1]}.{course.split('+')[2]}"
        assert sources == [f"sis:{group}/02"]
    assert not RoleGrant.objects.exclude(role="instructor").exists()
    assert User.objects.filter(username__startswith="lmb").count() == feed.persons


def assert_each_id_recorded_once(feed: Feed, tally: Tally, *, processed_once: bool) -> None:
    """One inbox row per distinct message id; every answer about an id names that row; at
    most one answer per id said `accepted`. With `processed_once`, no message was applied
    twice (`attempts` counts how many times it was; no message of the feed fails)."""
    rows = dict(InboxMessage.objects.values_list("message_id", "id"))
    assert len(rows) == len(feed.distinct)
    assert set(rows) == {m.message_id for m in feed.distinct}
    for message_id, outcomes in tally.answers.items():
        ok = [o for o in outcomes if o.status == 200]
        assert {o.body["seq"] for o in ok} <= {rows[message_id]}, (message_id, ok)
        assert [o.body["status"] for o in ok].count("accepted") <= 1, (message_id, ok)
    if processed_once:
        again = InboxMessage.objects.filter(attempts__gt=1).order_by("id")
        assert list(again.values_list("id", "message_id", "attempts")[:20]) == []


# ---------------------------------------------------------------- the tests


@pytest.mark.celery
@pytest.mark.parametrize("runner", ["celery", "embedded"])
def test_concurrent_clients_with_duplicates_and_late_persons_apply_once_in_order(
    runner: str, tmp_path: Path
) -> None:
    feed = build_feed(MESSAGES[runner])
    tally = Tally()
    with running_rollbook(
        tmp_path, with_worker=runner == "celery", extra_env=NO_DROP_SAFETY
    ) as rollbook:
        for phase in feed.phases:
            post_queues(rollbook, phase, tally)
        assert dict(tally.failures) == {}
        assert sum(len(o) for o in tally.answers.values()) == feed.posts
        counts = wait_applied(rollbook, len(feed.distinct))
        assert counts == {"applied": len(feed.distinct)}, rollbook.logs()
        assert rollbook.gunicorn_boots() == rollbook.workers  # no gunicorn worker died
    assert_each_id_recorded_once(feed, tally, processed_once=True)
    for message_id, outcomes in tally.answers.items():
        assert [o.body["status"] for o in outcomes].count("accepted") == 1, message_id
    assert_state_matches(feed)


def _pending() -> int:
    return InboxMessage.objects.filter(state="pending").count()


@pytest.mark.celery
@pytest.mark.parametrize("runner", ["celery", "embedded"])
def test_every_acknowledged_message_is_applied_after_sigkill_and_restart(
    runner: str, tmp_path: Path
) -> None:
    """SIGKILL to every process mid-stream, twice; the clients post again what was not
    answered 200 (as LMB does). With a worker, the first time it dies first and the server
    goes on acknowledging messages nobody applies; then the server dies too."""
    feed = build_feed(KILL_MESSAGES, clients=8, seed=11)
    tally = Tally()
    deadline = time.monotonic() + 300
    celery = runner == "celery"
    with running_rollbook(tmp_path, with_worker=celery, extra_env=NO_DROP_SAFETY) as rollbook:
        post_queues(rollbook, feed.phases[0], tally, retry_until=deadline)
        kills: list[str] = []
        queues = feed.phases[1]
        # Each client stops at a quarter and at 60% of its queue until the killer lets it
        # go: the kills land mid-stream however fast or slow the machine is.
        first_gate, second_gate = threading.Event(), threading.Event()
        gates = ((0.25, first_gate), (0.6, second_gate))

        def at_gate(share: float) -> int:
            return sum(int(len(queue) * share) for queue in queues)

        def wait_ok(count: int) -> bool:
            while tally.ok_answers < count:
                if time.monotonic() > deadline:
                    return False
                time.sleep(0.01)
            return True

        def restart() -> None:
            time.sleep(0.3)
            rollbook.start_server()
            if celery:
                rollbook.start_worker()

        def kill_all() -> None:
            backlog = _pending()
            rollbook.kill("server")
            rollbook.kill("worker")
            kills.append(f"at {tally.acked_count()} acknowledged, {backlog} pending")

        def kill_midstream() -> None:
            from django.db import connection

            try:
                base = tally.ok_answers
                if not wait_ok(base + at_gate(0.25)):
                    return
                if celery:  # the worker first: a backlog of acknowledged messages builds up
                    rollbook.kill("worker")
                first_gate.set()
                if celery:
                    while _pending() < 25 and time.monotonic() < deadline:
                        time.sleep(0.01)
                else:
                    wait_ok(tally.ok_answers + 10)
                kill_all()
                restart()  # meanwhile the clients' posts are refused, and posted again
                if not wait_ok(base + at_gate(0.6)):
                    return
                second_gate.set()
                wait_ok(tally.ok_answers + 10)
                kill_all()
                restart()
            finally:
                first_gate.set()
                second_gate.set()
                connection.close()

        killer = threading.Thread(target=kill_midstream, daemon=True)
        killer.start()
        post_queues(rollbook, queues, tally, retry_until=deadline, gates=gates)
        killer.join()
        post_queues(rollbook, feed.phases[2], tally, retry_until=deadline)
        assert len(kills) == 2, (kills, rollbook.logs())
        assert rollbook.server is not None
        assert rollbook.server.starts == 3
        if celery:
            assert int(kills[0].split(", ")[1].split()[0]) >= 25, kills
        assert tally.retries > 0, kills  # the kills did cut requests off
        assert tally.acked() == {m.message_id for m in feed.distinct}, dict(tally.failures)
        counts = wait_applied(rollbook, len(feed.distinct))
        assert counts == {"applied": len(feed.distinct)}, rollbook.logs()
    # A batch is marked applied in the transaction that applies it: a kill mid-batch rolls
    # both back, so nothing is applied twice.
    assert_each_id_recorded_once(feed, tally, processed_once=True)
    assert_state_matches(feed)


BILLION_LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'
        for i in range(1, 10)
    )
    + "]><enterprise><comments>&lol9;</comments></enterprise>"
)
EXTERNAL_ENTITY = (
    '<?xml version="1.0"?><!DOCTYPE enterprise [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    "<enterprise><comments>&xxe;</comments></enterprise>"
)
GOOD = xml(person("P99999", email="lmb99999@example.edu"))


def _post(rollbook: Rollbook, body: bytes, *, auth: str | None, message_id: str = "bad") -> Any:
    headers = {"RDI-Message-Id": message_id, "Content-Type": "application/xml"}
    if auth is not None:
        headers["Authorization"] = auth
    return request(rollbook.base_url, "POST", "/api/v1/sis/lmb", body=body, headers=headers)


REFUSALS: list[tuple[str, Callable[[], tuple[bytes, str | None]], int, str]] = [
    ("malformed", lambda: (b"<enterprise><person><sourcedid>", basic_auth()), 400, "malformed_xml"),
    ("not xml", lambda: (b"\x00\x01 not xml at all", basic_auth()), 400, "malformed_xml"),
    ("billion laughs", lambda: (BILLION_LAUGHS.encode(), basic_auth()), 400, "hostile_xml"),
    ("external entity", lambda: (EXTERNAL_ENTITY.encode(), basic_auth()), 400, "hostile_xml"),
    (
        "over 1 MiB",
        lambda: (xml("<comments>" + "x" * (1024 * 1024) + "</comments>"), basic_auth()),
        413,
        "body_too_large",
    ),
    ("no credentials", lambda: (GOOD, None), 401, "not_authenticated"),
    ("wrong password", lambda: (GOOD, basic_auth(password="wrong")), 401, "not_authenticated"),
    ("wrong user", lambda: (GOOD, basic_auth(username="someone")), 401, "not_authenticated"),
]


def test_hostile_malformed_oversized_and_unauthenticated_posts_are_refused(
    tmp_path: Path,
) -> None:
    with running_rollbook(tmp_path) as rollbook:
        for name, make, want_status, want_code in REFUSALS:
            body, auth = make()
            status, headers, raw = _post(rollbook, body, auth=auth, message_id=f"bad-{name}")
            assert status == want_status, (name, raw[:300])
            assert json.loads(raw)["code"] == want_code, (name, raw[:300])
            if want_status == 401:
                assert headers["WWW-Authenticate"].startswith('Basic realm="rollbook LMB"'), name
            assert not InboxMessage.objects.exists(), name
            status, _headers, _raw = request(rollbook.base_url, "GET", "/health")
            assert status == 200, (name, rollbook.logs())
        status, _headers, raw = _post(rollbook, GOOD, auth=basic_auth(), message_id="good")
        assert status == 200, raw
        wait_applied(rollbook, 1)
        assert rollbook.gunicorn_boots() == rollbook.workers  # no gunicorn worker died
        assert rollbook.server is not None
        server_log = rollbook.server.log_path
    # The access log has every refusal and the other requests, not the accepted message
    # (which the LMB message log records).
    access = server_log.read_text(errors="replace")
    refused = re.findall(r'"POST /api/v1/sis/lmb HTTP/1\.1" (\d{3})', access)
    assert sorted(refused) == sorted(str(status) for _name, _make, status, _code in REFUSALS)
    assert access.count('"GET /health HTTP/1.1" 200') >= len(REFUSALS)
    assert list(InboxMessage.objects.values_list("message_id", "state")) == [("good", "applied")]
    assert list(User.objects.values_list("username", flat=True)) == ["lmb99999"]
    assert not CourseEnrollment.objects.exists()
