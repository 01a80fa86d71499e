"""The OneRoster rostering provider: collections, single and nested reads, paging, sorting,
filters, field selection and errors."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import connection

from rollbook.catalog import api as catalog
from rollbook.oneroster.resources import iso
from rollbook.roles import api as roles
from tests.factories import ACTOR, Make
from tests.oneroster.conftest import BASE, RosterClient

CS1 = "course-v1:OrgA+CS101+2026"
CS2 = "course-v1:OrgA+CS101+2027"
BIO = "course-v1:OrgB+BIO1+2026"


@pytest.fixture
def school(db: None) -> None:
    Make.course(CS1, title="Intro to CS", sis_id="CS101-01")
    Make.course(CS2, title="Intro to CS (2027)")
    Make.course(BIO, title="Biology")
    Make.user("alice", name="Alice Smith")
    Make.user("bob", name="Bob Jones")
    Make.user("tina", name="Tina Teach")
    Make.user("sam", name="Sam Staff")
    Make.enrollment(CS1, "alice")
    Make.enrollment(BIO, "alice")
    Make.enrollment(CS1, "bob")
    Make.enrollment(CS1, "bob", is_active=False)  # unenrolled
    Make.grant("tina", "instructor", course_key=CS1)
    Make.grant("sam", "staff", course_key=CS1)
    Make.grant("sam", "beta_testers", course_key=BIO)  # not a roster role


def ids(response: Any, key: str) -> list[str]:
    assert response.status_code == 200, response.content
    return [obj["sourcedId"] for obj in response.json()[key]]


def minor(response: Any) -> str:
    body = response.json()
    assert body["imsx_codeMajor"] == "failure"
    assert body["imsx_severity"] == "error"
    assert body["imsx_description"]
    field = body["imsx_CodeMinor"]["imsx_codeMinorField"][0]
    assert field["imsx_codeMinorFieldName"] == "TargetEndSystem"
    return str(field["imsx_codeMinorFieldValue"])


# -- collections and single reads --------------------------------------------------------------


def test_orgs(roster: RosterClient, school: None) -> None:
    response = roster.get("orgs")
    assert ids(response, "orgs") == ["OrgA", "OrgB"]
    assert response["X-Total-Count"] == "2"
    org = response.json()["orgs"][0]
    assert org["status"] == "active"
    assert org["type"] == "school"
    assert org["dateLastModified"].endswith("Z")
    assert roster.get("orgs/OrgB").json()["org"]["sourcedId"] == "OrgB"


def test_academic_sessions_come_from_sis_terms(roster: RosterClient, db: None) -> None:
    from rollbook.sis_import.models import StagedGroup

    now = dt.datetime(2026, 1, 5, tzinfo=dt.UTC)
    for sourcedid, term in (("g1", "202610"), ("g2", "202610"), ("g3", "202620")):
        StagedGroup.objects.create(
            sourcedid=sourcedid,
            grouptype="CourseSection",
            term=term,
            changed_at=now,
            changed_by="t",
        )
    response = roster.get("academicSessions")
    assert ids(response, "academicSessions") == ["202610", "202620"]
    session = roster.get("academicSessions/202620").json()["academicSession"]
    assert session["type"] == "term"
    assert session["dateLastModified"] == "2026-01-05T00:00:00.000Z"
    assert ids(roster.get("academicSessions", filter="title~'620'"), "academicSessions") == [
        "202620"
    ]


def test_a_terms_title_dates_and_school_year_come_from_its_term_group(
    roster: RosterClient, db: None
) -> None:
    """OneRoster 1.2 requires an academic session's startDate, endDate and schoolYear: they
    come from the feed's own Term group (IMS `<group>` of type Term, or academicSessions.csv),
    else from the span of the term's sections."""
    from rollbook.sis_import.models import StagedGroup

    now = dt.datetime(2026, 1, 5, tzinfo=dt.UTC)

    def group(sourcedid: str, kind: str, term: str, at: dt.datetime, **data: Any) -> None:
        StagedGroup.objects.create(
            sourcedid=sourcedid, grouptype=kind, term=term, data=data, changed_at=at, changed_by="t"
        )

    renamed = now + dt.timedelta(days=3)
    group("202610", "Term", "", renamed, full="Spring 2026", begin="2026-01-12", end="2026-05-08")
    group("s1", "CourseSection", "202610", now, begin="2026-01-19", end="2026-04-30")
    group("s2", "CourseSection", "202620", now, begin="2026-06-01", end="2026-07-31")
    group("s3", "CourseSection", "202620", now, begin="2026-05-18", end="2026-07-24")
    group("s4", "CourseSection", "202640", now, begin=None, end=None)
    sessions = {
        obj["sourcedId"]: obj for obj in roster.get("academicSessions").json()["academicSessions"]
    }
    spring = sessions["202610"]
    assert (spring["title"], spring["startDate"], spring["endDate"], spring["schoolYear"]) == (
        "Spring 2026", "2026-01-12", "2026-05-08", "2026"
    )  # fmt: skip
    assert spring["dateLastModified"] == "2026-01-08T00:00:00.000Z"  # the term's own change
    summer = sessions["202620"]  # no Term group: its sections' span, titled by its code
    assert (summer["title"], summer["startDate"], summer["endDate"], summer["schoolYear"]) == (
        "202620", "2026-05-18", "2026-07-31", "2026"
    )  # fmt: skip
    fall = sessions["202640"]
    assert (fall["startDate"], fall["endDate"], fall["schoolYear"]) == (None, None, None)


def test_courses_group_runs_by_course_number(roster: RosterClient, school: None) -> None:
    response = roster.get("courses")
    assert ids(response, "courses") == ["OrgA+CS101", "OrgB+BIO1"]
    course = roster.get("courses/OrgA+CS101").json()["course"]
    assert course["courseCode"] == "CS101"
    assert course["org"]["sourcedId"] == "OrgA"
    assert course["org"]["href"].endswith(f"{BASE}/orgs/OrgA")
    filtered = roster.get("courses", filter="org.sourcedId='OrgB'")
    assert ids(filtered, "courses") == ["OrgB+BIO1"]
    assert ids(roster.get("courses", sort="title", orderBy="desc"), "courses") == [
        "OrgA+CS101",
        "OrgB+BIO1",
    ]


def test_classes(roster: RosterClient, school: None) -> None:
    assert ids(roster.get("classes"), "classes") == [CS1, CS2, BIO]
    cls = roster.get(f"classes/{CS1}").json()["class"]
    assert cls["title"] == "Intro to CS"
    assert cls["classCode"] == "CS101-01"
    assert cls["course"]["sourcedId"] == "OrgA+CS101"
    assert cls["school"]["sourcedId"] == "OrgA"
    assert cls["terms"] == []
    assert ids(roster.get("classes", filter="school.sourcedId='OrgB'"), "classes") == [BIO]


def test_users(roster: RosterClient, school: None) -> None:
    response = roster.get("users", filter="username!='admin'")
    assert ids(response, "users") == ["alice", "bob", "sam", "tina"]
    alice = roster.get("users/alice").json()["user"]
    assert alice["givenName"] == "Alice"
    assert alice["familyName"] == "Smith"
    assert alice["email"] == "alice@example.com"
    assert alice["enabledUser"] == "true"
    assert [(role["role"], role["org"]["sourcedId"]) for role in alice["roles"]] == [
        ("student", "OrgA"),
        ("student", "OrgB"),
    ]
    assert alice["roles"][0]["roleType"] == "primary"
    tina = roster.get("users/tina").json()["user"]
    assert [role["role"] for role in tina["roles"]] == ["teacher"]
    sam = roster.get("users/sam").json()["user"]
    assert [role["role"] for role in sam["roles"]] == ["aide"]


def test_enrollments(roster: RosterClient, school: None) -> None:
    response = roster.get("enrollments")
    assert ids(response, "enrollments") == [
        f"enr:{CS1}:alice:student",
        f"enr:{CS1}:bob:student",
        f"enr:{CS1}:sam:staff",
        f"enr:{CS1}:tina:instructor",
        f"enr:{BIO}:alice:student",
    ]
    tina = roster.get(f"enrollments/enr:{CS1}:tina:instructor").json()["enrollment"]
    assert tina["role"] == "teacher"
    assert tina["primary"] == "true"
    assert tina["class"]["sourcedId"] == CS1
    assert tina["user"]["sourcedId"] == "tina"
    assert tina["school"]["sourcedId"] == "OrgA"
    sam = roster.get(f"enrollments/enr:{CS1}:sam:staff").json()["enrollment"]
    assert (sam["role"], sam["primary"]) == ("teacher", "false")  # 1.2 has no aide enrollment
    teachers = roster.get("enrollments", filter="role='teacher'")
    assert ids(teachers, "enrollments") == [f"enr:{CS1}:sam:staff", f"enr:{CS1}:tina:instructor"]
    assert ids(roster.get("enrollments", filter="role='administrator'"), "enrollments") == []


def test_an_ended_enrollment_is_tobedeleted(roster: RosterClient, school: None) -> None:
    bob = roster.get(f"enrollments/enr:{CS1}:bob:student").json()["enrollment"]
    assert bob["status"] == "tobedeleted"
    deleted = roster.get("enrollments", filter="status='tobedeleted'")
    assert ids(deleted, "enrollments") == [f"enr:{CS1}:bob:student"]
    # Not a student of the class any more.
    assert ids(roster.get(f"classes/{CS1}/students"), "users") == ["alice"]


def test_nested_reads(roster: RosterClient, school: None) -> None:
    assert ids(roster.get(f"classes/{CS1}/students"), "users") == ["alice"]
    assert ids(roster.get(f"classes/{CS1}/teachers"), "users") == ["sam", "tina"]
    assert ids(roster.get(f"classes/{BIO}/teachers"), "users") == []
    assert ids(roster.get("users/alice/classes"), "classes") == [CS1, BIO]
    assert ids(roster.get("users/tina/classes"), "classes") == [CS1]
    assert minor(roster.get("classes/course-v1:No+Such+Run/students")) == "unknownobject"
    assert roster.get("users/nobody/classes").status_code == 404


@pytest.mark.parametrize(
    "path",
    [
        "orgs/Nope",
        "users/nobody",
        "classes/course-v1:No+Such+Run",
        "courses/No+X",
        "academicSessions/999",
        "enrollments/enr:x",
        "schools",
    ],
)
def test_unknown_objects_are_404(roster: RosterClient, school: None, path: str) -> None:
    response = roster.get(path)
    assert response.status_code == 404
    assert minor(response) == "unknownobject"


# -- paging --------------------------------------------------------------------------------------


def test_default_page_is_100_with_total_and_links(roster: RosterClient, db: None) -> None:
    for n in range(105):
        catalog.ensure_org(f"Org{n:03d}", actor=ACTOR)
    response = roster.get("orgs", filter="sourcedId~'Org'")
    assert len(response.json()["orgs"]) == 100
    assert response["X-Total-Count"] == "105"
    links = response["Link"]
    assert 'offset=100>; rel="next"' in links
    assert 'offset=100>; rel="last"' in links
    assert 'offset=0>; rel="first"' in links
    assert 'rel="prev"' not in links
    assert "filter=sourcedId~'Org'" in links  # other parameters are kept
    second = roster.get("orgs", filter="sourcedId~'Org'", offset="100")
    assert ids(second, "orgs") == [f"Org{n:03d}" for n in range(100, 105)]
    assert 'offset=0>; rel="prev"' in second["Link"]
    assert 'rel="next"' not in second["Link"]


def test_limit_and_offset(roster: RosterClient, school: None) -> None:
    response = roster.get("classes", limit="1", offset="1")
    assert ids(response, "classes") == [CS2]
    assert response["X-Total-Count"] == "3"
    assert 'limit=1&offset=2>; rel="next"' in response["Link"]
    assert 'limit=1&offset=0>; rel="prev"' in response["Link"]
    assert ids(roster.get("classes", offset="10"), "classes") == []
    bad = roster.get("classes", limit="ten")
    assert bad.status_code == 400
    assert minor(bad) == "invaliddata"


def test_an_unexpected_failure_is_a_500_status_info_that_names_no_internals(
    roster: RosterClient, school: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rollbook.oneroster import api as oneroster

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("database on fire: secret detail")

    monkeypatch.setattr(oneroster, "list_objects", broken)
    response = roster.get("classes")
    assert response.status_code == 500
    assert minor(response) == "internal_server_error"
    assert b"secret detail" not in response.content


def test_a_list_page_is_a_constant_number_of_queries(
    roster: RosterClient, school: None, django_assert_num_queries: Any
) -> None:
    for n in range(5):
        Make.user(f"extra{n}")
        Make.enrollment(CS2, f"extra{n}")
    roster.get("orgs")  # the tombstones are derived up to here, and pruned
    # Every read first brings the tombstones up to date (ADR 0018); up to date, that is the
    # numbering run (in a savepoint here; with its advisory lock on PostgreSQL), the highest
    # number and the feed row.
    tombstones = 6 if connection.vendor == "postgresql" else 5
    # token, count, page, roles of the page's users (learners, teachers)
    with django_assert_num_queries(5 + tombstones):
        assert roster.get("users").status_code == 200
    # token, count, page, terms of the page's classes
    with django_assert_num_queries(4 + tombstones):
        assert roster.get("classes").status_code == 200
    # token, count, page (a union of enrollments, course roles and tombstones)
    with django_assert_num_queries(3 + tombstones):
        assert roster.get("enrollments", limit="3").status_code == 200
    # the same with deleted objects among them
    Make.grant("bob", "staff", course_key=CS2)
    roles.revoke_role("bob", "staff", course_key=CS2, actor=ACTOR)
    roster.get("orgs")
    with django_assert_num_queries(3 + tombstones):
        page = roster.get("enrollments", filter="status='tobedeleted'")
    assert f"enr:{CS2}:bob:staff" in ids(page, "enrollments")


# -- sorting -------------------------------------------------------------------------------------


def test_sort_asc_desc_and_several_keys(roster: RosterClient, school: None) -> None:
    assert ids(roster.get("classes", sort="title"), "classes") == [BIO, CS1, CS2]
    assert ids(roster.get("classes", sort="title", orderBy="desc"), "classes") == [CS2, CS1, BIO]
    both = roster.get("enrollments", sort="class.sourcedId,role", orderBy="desc")
    assert ids(both, "enrollments") == [  # ties in sourcedId order
        f"enr:{BIO}:alice:student",
        f"enr:{CS1}:sam:staff",
        f"enr:{CS1}:tina:instructor",
        f"enr:{CS1}:alice:student",
        f"enr:{CS1}:bob:student",
    ]
    mixed = roster.get("enrollments", sort="role,-user.sourcedId")
    assert ids(mixed, "enrollments") == [
        f"enr:{CS1}:bob:student",
        f"enr:{CS1}:alice:student",
        f"enr:{BIO}:alice:student",
        f"enr:{CS1}:tina:instructor",
        f"enr:{CS1}:sam:staff",
    ]
    bad = roster.get("classes", sort="colour")
    assert bad.status_code == 400
    assert minor(bad) == "invalid_sort_field"


# -- filters -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("sourcedId='OrgB+BIO1'", []),
        (f"sourcedId='{CS2}'", [CS2]),
        (f"sourcedId!='{CS2}'", [CS1, BIO]),
        ("title>'C'", [CS1, CS2]),
        ("title>='Intro to CS (2027)'", [CS2]),
        ("title<'Intro'", [BIO]),
        ("title<='Intro to CS'", [CS1, BIO]),
        ("title~'intro'", [CS1, CS2]),
        ("school.sourcedId='OrgA' AND title~'2027'", [CS2]),
        ("school.sourcedId='OrgB' OR title~'2027'", [CS2, BIO]),
        ("title~'x' AND school.sourcedId='OrgA' OR classCode='CS101-01'", [CS1]),
    ],
)
def test_filter_comparisons(
    roster: RosterClient, school: None, text: str, expected: list[str]
) -> None:
    assert ids(roster.get("classes", filter=text), "classes") == expected


def test_date_last_modified_deltas(roster: RosterClient, school: None) -> None:
    everything = roster.get("enrollments").json()["enrollments"]
    stamps = sorted(obj["dateLastModified"] for obj in everything)
    newest = stamps[-1]
    after = roster.get("enrollments", filter=f"dateLastModified>='{newest}'")
    assert {obj["dateLastModified"] for obj in after.json()["enrollments"]} == {newest}
    assert (
        ids(
            roster.get("enrollments", filter="dateLastModified>'2999-01-01T00:00:00Z'"),
            "enrollments",
        )
        == []
    )
    assert (
        len(ids(roster.get("enrollments", filter="dateLastModified>'2000-01-01'"), "enrollments"))
        == 5
    )
    # A change shows up in the delta: an unenrolment moves dateLastModified on.
    Make.enrollment(BIO, "alice", is_active=False)
    changed = roster.get("enrollments", filter=f"dateLastModified>'{newest}'")
    assert ids(changed, "enrollments") == [f"enr:{BIO}:alice:student"]
    assert changed.json()["enrollments"][0]["status"] == "tobedeleted"


def test_iso_has_milliseconds_and_z() -> None:
    stamp = dt.datetime(2026, 3, 4, 5, 6, 7, 891011, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    assert iso(stamp) == "2026-03-04T03:06:07.891Z"


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("colour='red'", "invalid_filter_field"),
        ("title='x", "invalid_filter_field"),  # no closing quote
        ("title = 'x' and status='active'", "invalid_filter_field"),  # lower-case operator
        ("dateLastModified>'yesterday'", "invalid_filter_field"),
        ("dateLastModified~'2026'", "invalid_filter_field"),
        ("status='deleted'", "invalid_filter_field"),
        ("", "invalid_filter_field"),
    ],
)
def test_bad_filters_are_400_with_imsx_body(
    roster: RosterClient, school: None, text: str, code: str
) -> None:
    response = roster.get("classes", filter=text)
    assert response.status_code == 400
    assert minor(response) == code


def test_bad_filter_on_a_python_resource(roster: RosterClient, school: None) -> None:
    response = roster.get("courses", filter="colour='red'")
    assert response.status_code == 400
    assert minor(response) == "invalid_filter_field"


# -- fields --------------------------------------------------------------------------------------


def test_fields_projects_objects(roster: RosterClient, school: None) -> None:
    response = roster.get("users", fields="sourcedId,email", filter="sourcedId='alice'")
    assert response.json()["users"] == [{"sourcedId": "alice", "email": "alice@example.com"}]
    one = roster.get(f"classes/{BIO}", fields="title").json()
    assert one == {"class": {"title": "Biology"}}


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ("sourcedId,colour", "invalid_selection_field"),
        (" , ", "invalid_blank_selection_field"),
        ("a-b", "invalid_selection_field"),
    ],
)
def test_bad_fields(roster: RosterClient, school: None, fields: str, code: str) -> None:
    response = roster.get("orgs", fields=fields)
    assert response.status_code == 400
    assert minor(response) == code
