"""OneRoster deltas (ADR 0018): `dateLastModified>'...'` answers every object changed since,
deleted ones too (`tobedeleted`, from the tombstones derived from the audit log)."""

from __future__ import annotations

import datetime as dt
import importlib
from typing import Any

import pytest
from django.apps import apps as django_apps
from django.db import transaction
from django.test import override_settings
from hypothesis import HealthCheck, example, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from rollbook.audit import api as audit
from rollbook.catalog import api as catalog
from rollbook.enrollments import api as enrollments
from rollbook.lib import clock
from rollbook.oneroster import tombstones
from rollbook.oneroster.models import Tombstone
from rollbook.oneroster.resources import iso
from rollbook.people import api as people
from rollbook.people.models import Profile, User
from rollbook.roles import api as roles
from tests.factories import ACTOR, Make
from tests.oneroster.conftest import RosterClient, issue

CS1 = "course-v1:OrgA+CS101+2026"
CS2 = "course-v1:OrgA+CS101+2027"
BIO = "course-v1:OrgB+BIO1+2026"
START = dt.datetime(2026, 12, 1, 10, 0, tzinfo=dt.UTC)


class Clock:
    """rollbook's clock, moved by hand: each step is a whole second later."""

    def __init__(self) -> None:
        self.moment = START

    def __call__(self) -> dt.datetime:
        return self.moment

    def step(self, seconds: float = 1) -> str:
        """Move on; returns the moment before, as a client would have written it."""
        before = iso(self.moment)
        self.moment += dt.timedelta(seconds=seconds)
        assert before is not None
        return before


@pytest.fixture
def now(monkeypatch: pytest.MonkeyPatch) -> Clock:
    moment = Clock()
    monkeypatch.setattr(clock, "now", moment)
    return moment


@pytest.fixture
def school(db: None, now: Clock) -> None:
    Make.course(CS1, title="Intro to CS", sis_id="CS101-01")
    Make.course(CS2, title="Intro to CS (2027)")
    Make.course(BIO, title="Biology")
    Make.user("alice", name="Alice Smith")
    Make.user("tina", name="Tina Teach")
    Make.user("sam", name="Sam Staff")
    Make.enrollment(CS1, "alice")
    Make.grant("tina", "instructor", course_key=CS1)
    Make.grant("sam", "staff", course_key=CS2)
    now.step()


def delta(roster: RosterClient, resource: str, since: str, **params: Any) -> dict[str, Any]:
    """{sourcedId: (status, dateLastModified)} of what changed after `since`."""
    response = roster.get(resource, filter=f"dateLastModified>'{since}'", **params)
    assert response.status_code == 200, response.content
    return {
        obj["sourcedId"]: (obj["status"], obj["dateLastModified"])
        for obj in response.json()[resource]
    }


# -- each resource: a change, then a hard delete ------------------------------------------------


def test_orgs(roster: RosterClient, school: None, now: Clock) -> None:
    Make.course("course-v1:OrgC+X1+2026", title="X")
    catalog.delete_course("course-v1:OrgC+X1+2026", actor=ACTOR)
    since = now.step()
    assert delta(roster, "orgs", since) == {}
    assert catalog.rename_org("OrgA", name="Org A University", actor=ACTOR)
    changed = iso(now.moment)
    assert delta(roster, "orgs", since) == {"OrgA": ("active", changed)}
    assert roster.get("orgs/OrgA").json()["org"]["name"] == "Org A University"

    since = now.step()
    catalog.delete_org("OrgC", actor=ACTOR)
    gone = iso(now.moment)
    assert delta(roster, "orgs", since) == {"OrgC": ("tobedeleted", gone)}
    org = roster.get("orgs/OrgC").json()["org"]
    assert (org["status"], org["dateLastModified"]) == ("tobedeleted", gone)
    assert org["identifier"] == "OrgC"
    assert not catalog.rename_org("OrgA", name="Org A University", actor=ACTOR)  # no change


def test_classes_and_courses(roster: RosterClient, school: None, now: Clock) -> None:
    since = now.step()
    catalog.put_course(CS2, actor=ACTOR, title="Intro to CS, again")
    changed = iso(now.moment)
    assert delta(roster, "classes", since) == {CS2: ("active", changed)}
    assert delta(roster, "courses", since) == {"OrgA+CS101": ("active", changed)}

    # One run of two deleted: the class is a tombstone, the course changed.
    since = now.step()
    catalog.delete_course(CS2, actor=ACTOR)
    gone = iso(now.moment)
    assert delta(roster, "classes", since) == {CS2: ("tobedeleted", gone)}
    assert delta(roster, "courses", since) == {"OrgA+CS101": ("active", gone)}
    # Sam's staff grant on it ended with it.
    assert delta(roster, "enrollments", since) == {f"enr:{CS2}:sam:staff": ("tobedeleted", gone)}
    cls = roster.get(f"classes/{CS2}").json()["class"]
    assert (cls["status"], cls["title"], cls["school"]["sourcedId"]) == (
        "tobedeleted",
        "Intro to CS, again",
        "OrgA",
    )

    # The last run of a course deleted: the course is a tombstone too.
    since = now.step()
    catalog.delete_course(BIO, actor=ACTOR)
    gone = iso(now.moment)
    assert delta(roster, "classes", since) == {BIO: ("tobedeleted", gone)}
    assert delta(roster, "courses", since) == {"OrgB+BIO1": ("tobedeleted", gone)}
    assert roster.get("courses/OrgB+BIO1").json()["course"]["status"] == "tobedeleted"

    # Created again: live, changed, and its grants are back.
    since = now.step()
    Make.course(CS2, title="Intro to CS (2027)")
    back = iso(now.moment)
    assert delta(roster, "classes", since) == {CS2: ("active", back)}
    assert delta(roster, "enrollments", since) == {f"enr:{CS2}:sam:staff": ("active", back)}
    assert ids_of(roster, "classes") == [CS1, CS2, BIO]


def ids_of(roster: RosterClient, resource: str, **params: Any) -> list[str]:
    response = roster.get(resource, **params)
    assert response.status_code == 200, response.content
    return [obj["sourcedId"] for obj in response.json()[resource]]


def test_users(roster: RosterClient, school: None, now: Clock) -> None:
    since = now.step()
    assert delta(roster, "users", since) == {}
    people.put_user("alice", actor=ACTOR, name="Alice Smith-Jones")
    renamed = iso(now.moment)
    assert delta(roster, "users", since) == {"alice": ("active", renamed)}

    since = now.step()
    people.put_user("tina", actor=ACTOR, sis_sourcedid="SIS-77")  # a profile field only
    assert delta(roster, "users", since) == {"tina": ("active", iso(now.moment))}

    since = now.step()
    people.put_user("tina", actor=ACTOR, sis_sourcedid="SIS-77")  # no change: no delta
    assert delta(roster, "users", since) == {}

    # The admin's form: the profile inline saved, then the change recorded.
    before = people.audit_snapshot(people.get_user_ref("sam").id)
    Profile.objects.filter(user__username="sam").update(idnumber="900123")
    people.record_admin_change(people.get_user_ref("sam").id, before=before, actor=ACTOR)
    assert delta(roster, "users", since) == {"sam": ("active", iso(now.moment))}

    # Deleted: a tombstone with its last known fields; its teaching grant cascaded with it.
    since = now.step()
    people.delete_user(people.get_user_ref("tina").id, actor=ACTOR)
    gone = iso(now.moment)
    assert delta(roster, "users", since) == {"tina": ("tobedeleted", gone)}
    assert delta(roster, "enrollments", since) == {
        f"enr:{CS1}:tina:instructor": ("tobedeleted", gone)
    }
    user = roster.get("users/tina").json()["user"]
    assert user["status"] == "tobedeleted"
    assert user["enabledUser"] == "false"
    assert user["userIds"] == [{"type": "SIS", "identifier": "SIS-77"}]
    assert (user["givenName"], user["familyName"], user["roles"]) == ("Tina", "Teach", [])
    # Not a teacher of the class any more; nested reads answer live users only.
    assert roster.get(f"classes/{CS1}/teachers").json()["users"] == []
    assert roster.get("users/tina/classes").status_code == 404

    # Created again: the tombstone gives way.
    since = now.step()
    Make.user("tina", name="Tina Again")
    assert delta(roster, "users", since) == {"tina": ("active", iso(now.moment))}
    assert Tombstone.objects.filter(resource="users").count() == 0


def test_enrollments(roster: RosterClient, school: None, now: Clock) -> None:
    since = now.step()
    Make.enrollment(CS1, "alice", is_active=False)  # ended: already tobedeleted, not deleted
    ended = iso(now.moment)
    assert delta(roster, "enrollments", since) == {
        f"enr:{CS1}:alice:student": ("tobedeleted", ended)
    }

    since = now.step()
    roles.revoke_role("tina", "instructor", course_key=CS1, actor=ACTOR)
    gone = iso(now.moment)
    assert delta(roster, "enrollments", since) == {
        f"enr:{CS1}:tina:instructor": ("tobedeleted", gone)
    }
    enrollment = roster.get(f"enrollments/enr:{CS1}:tina:instructor").json()["enrollment"]
    assert enrollment["role"] == "teacher"
    assert enrollment["primary"] == "true"
    assert enrollment["user"]["sourcedId"] == "tina"
    assert enrollment["class"]["sourcedId"] == CS1
    assert enrollment["school"]["sourcedId"] == "OrgA"

    since = now.step()
    Make.grant("tina", "instructor", course_key=CS1)
    assert delta(roster, "enrollments", since) == {
        f"enr:{CS1}:tina:instructor": ("active", iso(now.moment))
    }
    # Roles that are not roster roles leave no tombstone.
    since = now.step()
    Make.grant("alice", "beta_testers", course_key=CS1)
    roles.revoke_role("alice", "beta_testers", course_key=CS1, actor=ACTOR)
    assert delta(roster, "enrollments", since) == {}


def test_academic_sessions_change_with_their_groups(roster: RosterClient, db: None) -> None:
    from rollbook.sis_import.models import StagedGroup

    for sourcedid, changed in (("g1", START), ("g2", START + dt.timedelta(hours=1))):
        StagedGroup.objects.create(
            sourcedid=sourcedid,
            grouptype="CourseSection",
            term="202610",
            changed_at=changed,
            changed_by="t",
        )
    since = iso(START)
    assert delta(roster, "academicSessions", str(since)) == {
        "202610": ("active", iso(START + dt.timedelta(hours=1)))
    }


# -- tombstones in filters, sorts, pages and fields -----------------------------------------------


def test_tombstones_filter_sort_page_and_select(
    roster: RosterClient, school: None, now: Clock
) -> None:
    for n in range(3):
        Make.user(f"gone{n}", name=f"Gone {n}")
        now.step()
        people.delete_user(people.get_user_ref(f"gone{n}").id, actor=ACTOR)
        now.step()
    deleted = ids_of(roster, "users", filter="status='tobedeleted'")
    assert deleted == ["gone0", "gone1", "gone2"]
    page = roster.get("users", limit="2", offset="1", sort="dateLastModified", orderBy="desc")
    assert page["X-Total-Count"] == "6"
    assert [obj["sourcedId"] for obj in page.json()["users"]] == ["gone1", "gone0"]
    both = ids_of(roster, "users", filter="username~'gone' OR status='active'", sort="-username")
    assert both == ["tina", "sam", "gone2", "gone1", "gone0", "alice"]
    email = ids_of(roster, "users", filter="email='gone1@example.com'")
    assert email == ["gone1"]
    picked = roster.get("users/gone2", fields="sourcedId,status").json()["user"]
    assert picked == {"sourcedId": "gone2", "status": "tobedeleted"}
    roles.revoke_role("sam", "staff", course_key=CS2, actor=ACTOR)
    teachers = ids_of(roster, "enrollments", filter="role='teacher' AND class.sourcedId~'2027'")
    assert teachers == [f"enr:{CS2}:sam:staff"]


# -- retention -------------------------------------------------------------------------------------


@override_settings(ONEROSTER={"TOMBSTONE_RETENTION_DAYS": 10})
def test_tombstones_are_served_for_the_retention_then_pruned(
    roster: RosterClient, school: None, now: Clock
) -> None:
    roles.revoke_role("sam", "staff", course_key=CS2, actor=ACTOR)
    assert ids_of(roster, "enrollments", filter="status='tobedeleted'") == [f"enr:{CS2}:sam:staff"]
    now.step(10 * 86400 - 1)  # the last second of the retention
    roster.token = issue()  # tokens live an hour
    assert ids_of(roster, "enrollments", filter="status='tobedeleted'") == [f"enr:{CS2}:sam:staff"]
    now.step(2)
    roster.token = issue()
    assert ids_of(roster, "enrollments", filter="status='tobedeleted'") == []
    assert roster.get(f"enrollments/enr:{CS2}:sam:staff").status_code == 404
    assert Tombstone.objects.count() == 1  # not served any more; pruned within the hour
    now.step(3600)
    roster.token = issue()
    assert roster.get("orgs").status_code == 200
    assert Tombstone.objects.count() == 0


@override_settings(ONEROSTER={"TOMBSTONE_RETENTION_DAYS": 10})
def test_deletions_older_than_the_retention_leave_no_tombstone(db: None, now: Clock) -> None:
    Make.course(CS1, title="Intro")
    catalog.delete_course(CS1, actor=ACTOR)
    assert tombstones.prune(now=now.moment + dt.timedelta(days=11)) == 0
    assert tombstones.sync(now=now.moment + dt.timedelta(days=11)) > 0
    assert Tombstone.objects.count() == 0
    assert tombstones.sync(now=now.moment) == 0  # derived already


def test_sync_reads_the_log_once_and_in_batches(
    db: None, now: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tombstones, "BATCH", 3)
    Make.course(CS1, title="Intro")
    for n in range(4):
        Make.user(f"u{n}")
        Make.grant(f"u{n}", "staff", course_key=CS1)
        roles.revoke_role(f"u{n}", "staff", course_key=CS1, actor=ACTOR)
    read = tombstones.sync()
    assert read == 2 + 4 * 3  # org and course, then per user: created, granted, revoked
    assert sorted(Tombstone.objects.values_list("sourced_id", flat=True)) == [
        f"enr:{CS1}:u{n}:staff" for n in range(4)
    ]
    assert tombstones.sync() == 0
    assert audit.last_seq() >= read


# -- users' modification time, from the migration on ----------------------------------------


def test_the_migration_gives_existing_users_their_last_change(db: None, now: Clock) -> None:
    migration = importlib.import_module("rollbook.people.migrations.0004_user_modified")
    Make.user("old", name="Old")
    now.step(3600)
    people.put_user("old", actor=ACTOR, name="Older")
    changed = now.moment
    now.step(3600)
    people.set_password("old", "a long enough password", actor=ACTOR)  # not a change shown
    User.objects.create(username="quiet", date_joined=START - dt.timedelta(days=9))  # no audit
    User.objects.update(modified=now.moment + dt.timedelta(days=1))
    migration.backfill(django_apps, None)
    modified = dict(User.objects.values_list("username", "modified"))
    assert modified == {"old": changed, "quiet": START - dt.timedelta(days=9)}


def test_bulk_created_users_have_a_modified_time(db: None, now: Clock) -> None:
    made = people.create_users([people.NewUser("bulk1"), people.NewUser("bulk2")], actor=ACTOR)
    assert len(made) == 2
    assert set(User.objects.values_list("modified", flat=True)) == {now.moment}
    assert people.get_user("bulk1").modified == now.moment


def test_enrollment_writes_move_modified(db: None, now: Clock) -> None:
    Make.course(CS1, title="Intro")
    Make.user("ann")
    enrollments.put_enrollment(CS1, "ann", actor=ACTOR)
    now.step()
    enrollments.put_enrollment(CS1, "ann", actor=ACTOR, is_active=False)
    assert enrollments.get_enrollment(CS1, "ann").modified == now.moment


# -- the delta since any point is what was touched after it ---------------------------------------

USERS = ("u0", "u1")
RUNS = ("course-v1:OrgA+C1+1", "course-v1:OrgA+C1+2", "course-v1:OrgB+C2+1")
TEACHING = ("instructor", "staff")


class Rollback(Exception):
    pass


class Expected:
    """What OneRoster should show, by (resource, sourcedId): (status, last change)."""

    def __init__(self) -> None:
        self.users: dict[str, int] = {}  # username -> name
        self.runs: dict[str, str] = {}  # key -> title
        self.orgs: dict[str, str] = {}  # short name -> name
        self.grants: set[tuple[str, str, str]] = set()  # (user, run, role), runs maybe gone
        self.shown: dict[tuple[str, str], tuple[str, dt.datetime]] = {}

    def touch(self, resource: str, sourced_id: str, status: str, when: dt.datetime) -> None:
        self.shown[(resource, sourced_id)] = (status, when)

    def enrollment(self, user: str, run: str, role: str, status: str, when: dt.datetime) -> None:
        self.touch("enrollments", f"enr:{run}:{user}:{role}", status, when)

    def course(self, run: str, when: dt.datetime) -> None:
        group = run.removeprefix("course-v1:").rsplit("+", 1)[0]
        alive = any(key.startswith(f"course-v1:{group}+") for key in self.runs)
        self.touch("courses", group, "active" if alive else "tobedeleted", when)


def _step(op: tuple[Any, ...], model: Expected, when: dt.datetime) -> None:
    match op:
        case ("put_user", user, name):
            people.put_user(user, actor=ACTOR, name=f"Name {name}")
            if model.users.get(user) != name:
                model.touch("users", user, "active", when)
            model.users[user] = name
        case ("delete_user", user) if user in model.users:
            people.delete_user(people.get_user_ref(user).id, actor=ACTOR)
            del model.users[user]
            model.touch("users", user, "tobedeleted", when)
            for held in sorted(g for g in model.grants if g[0] == user):
                model.enrollment(*held, "tobedeleted", when)
                model.grants.discard(held)
        case ("put_run", run, title):
            created = run not in model.runs
            if created or model.runs[run] != f"T{title}":
                org = run.removeprefix("course-v1:").split("+")[0]
                if org not in model.orgs:  # its first course makes it
                    model.touch("orgs", org, "active", when)
                    model.orgs[org] = ""
                catalog.put_course(run, actor=ACTOR, title=f"T{title}")
                model.runs[run] = f"T{title}"
                model.touch("classes", run, "active", when)
                model.course(run, when)
                if created:
                    for held in sorted(g for g in model.grants if g[1] == run):
                        model.enrollment(*held, "active", when)
        case ("delete_run", run) if run in model.runs:
            catalog.delete_course(run, actor=ACTOR)
            del model.runs[run]
            model.touch("classes", run, "tobedeleted", when)
            model.course(run, when)
            for held in sorted(g for g in model.grants if g[1] == run):
                model.enrollment(*held, "tobedeleted", when)
        case ("grant", user, run, role) if user in model.users and run in model.runs:
            if (user, run, role) not in model.grants:
                Make.grant(user, role, course_key=run)
                model.grants.add((user, run, role))
                model.enrollment(user, run, role, "active", when)
        case ("revoke", user, run, role) if (user, run, role) in model.grants:
            roles.revoke_role(user, role, course_key=run, actor=ACTOR)
            model.grants.discard((user, run, role))
            model.enrollment(user, run, role, "tobedeleted", when)
        case ("rename_org", org, name) if org in model.orgs:
            catalog.rename_org(org, name=f"N{name}", actor=ACTOR)
            if model.orgs[org] != f"N{name}":
                model.touch("orgs", org, "active", when)
            model.orgs[org] = f"N{name}"
        case ("delete_org", org) if org in model.orgs:
            if not any(run.startswith(f"course-v1:{org}+") for run in model.runs):
                catalog.delete_org(org, actor=ACTOR)
                del model.orgs[org]
                model.touch("orgs", org, "tobedeleted", when)
        case ("sync",):
            tombstones.sync()


_users = st.sampled_from(USERS)
_runs = st.sampled_from(RUNS)
_orgs = st.sampled_from(("OrgA", "OrgB"))
OPERATIONS = st.one_of(
    st.tuples(st.just("put_user"), _users, st.integers(0, 2)),
    st.tuples(st.just("delete_user"), _users),
    st.tuples(st.just("put_run"), _runs, st.integers(0, 2)),
    st.tuples(st.just("delete_run"), _runs),
    st.tuples(st.just("grant"), _users, _runs, st.sampled_from(TEACHING)),
    st.tuples(st.just("revoke"), _users, _runs, st.sampled_from(TEACHING)),
    st.tuples(st.just("rename_org"), _orgs, st.integers(0, 1)),
    st.tuples(st.just("delete_org"), _orgs),
    st.tuples(st.just("sync")),
)


@hypothesis_settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(st.lists(OPERATIONS, min_size=1, max_size=16))
@example(  # a user deleted with its grants: the database cascades them without an event
    [
        ("put_user", "u0", 1),
        ("put_run", RUNS[0], 1),
        ("grant", "u0", RUNS[0], "staff"),
        ("sync",),
        ("delete_user", "u0"),
    ]
)
@example(  # a course run deleted and created again: its grants end and come back
    [
        ("put_user", "u1", 0),
        ("put_run", RUNS[1], 0),
        ("grant", "u1", RUNS[1], "instructor"),
        ("delete_run", RUNS[1]),
        ("sync",),
        ("put_run", RUNS[1], 2),
        ("delete_run", RUNS[0]),
    ]
)
def test_the_delta_since_any_point_is_what_was_touched_after_it(
    db: None, monkeypatch: pytest.MonkeyPatch, steps: list[tuple[Any, ...]]
) -> None:
    now = Clock()
    monkeypatch.setattr(clock, "now", now)
    try:
        with transaction.atomic():
            roster = RosterClient(issue())
            model = Expected()
            points = [now.moment]
            for op in steps:
                now.step()
                _step(op, model, now.moment)
                points.append(now.moment)
            for resource in ("orgs", "courses", "classes", "users", "enrollments"):
                for point in points:
                    since = iso(point)
                    assert since is not None
                    wanted = {
                        sourced_id: (status, iso(when))
                        for (kind, sourced_id), (status, when) in model.shown.items()
                        if kind == resource and when > point
                    }
                    assert delta(roster, resource, since) == wanted, (resource, since)
            raise Rollback
    except Rollback:
        pass
