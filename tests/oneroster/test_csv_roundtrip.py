"""Export a roster as a OneRoster 1.2 CSV zip, import it into an emptied database through the
SIS pipeline, and find the same OneRoster objects."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import override_settings

from rollbook.audit.data import Actor
from rollbook.oneroster import api
from rollbook.oneroster.resources import RESOURCES
from tests.factories import Make
from tests.oneroster.csvzips import import_feed
from tests.sis_import.test_pipeline import feed, member, membership, person, section

pytestmark = pytest.mark.django_db(transaction=False)
ACTOR = Actor.system("test")


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path) -> Iterator[Path]:
    with override_settings(DATA_DIR=tmp_path):
        yield tmp_path


def views() -> dict[str, list[dict[str, Any]]]:
    """Every OneRoster collection as REST shows it, less what a bulk file does not carry:
    modification times, the enrollments' begin dates (the day the row was made), and the
    `tobedeleted` enrollments (a bulk file lists what is, not what was)."""
    found = {}
    for name in RESOURCES:
        objects = api.list_objects(name, api.Query(limit=1000), base="").objects
        for obj in objects:
            obj.pop("dateLastModified")
            obj.pop("beginDate", None)
        if name == "enrollments":
            objects = [obj for obj in objects if obj["status"] == "active"]
        found[name] = objects
    return found


def empty_the_database() -> None:
    """Every table emptied (inside the test's transaction: PostgreSQL checks the deferred
    foreign keys first, or TRUNCATE refuses)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    call_command("flush", interactive=False, verbosity=0)


def banner_roster() -> None:
    """A roster as an SIS feed leaves it: two terms, learners, a dropped learner, an
    instructor, staff; then a manual grant and a disabled account."""
    data = feed(
        person("P1", email="ann.lee@example.edu", sctid="900001", given="Ann", family="Lee"),
        person("P2", email="bo.chen@example.edu", sctid="900002", given="Bo", family="Chen"),
        person("P3", email="tina.t@example.edu", given="Tina Maria", family="Teach"),
        person("P4", email="sam.s@example.edu", given="Sam", family="Staff"),
        person("P5", email="gone@example.edu", given="Gone", family="Away"),
        section("10001.201740", full="Writing, Part 1"),
        section("10002.201740", full="Algebra"),
        section("20001.201810", full="Biology", begin="2018-01-08", end="2018-05-04"),
        membership(
            member("P1"),
            member("P2", status=0),
            member("P3", "02"),
            member("P4", "03"),
            group="10001.201740",
        ),
        membership(member("P1"), member("P5"), group="10002.201740"),
        membership(member("P2"), member("P3", "02"), group="20001.201810"),
    )
    assert import_feed(data, "banner.xml").state == "succeeded"
    Make.grant("ann.lee", "staff", course_key="course-v1:SIS+20001+201810")


def test_export_then_import_into_an_empty_database_shows_the_same_roster() -> None:
    banner_roster()
    from rollbook.people import api as people

    people.put_user("gone", actor=ACTOR, is_active=False)
    before = views()
    assert {name: len(objects) for name, objects in before.items()} == {
        "orgs": 1,
        "academicSessions": 2,
        "courses": 3,
        "classes": 3,
        "users": 5,
        "enrollments": 8,
    }
    out = io.BytesIO()
    api.write_zip(out)

    empty_the_database()
    assert all(not objects for objects in views().values())

    job = import_feed(out.getvalue(), "roster.zip")
    assert job.state == "succeeded", job.message
    assert views() == before
