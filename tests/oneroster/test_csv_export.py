"""The OneRoster 1.2 CSV bulk export: files, headers and value formats as the binding says,
the same values REST shows, a fixed number of queries per file, and who may download it."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from rollbook.lib import onerostercsv as spec
from rollbook.oneroster import api
from rollbook.oneroster.csvzip import EXPORTS, iter_zip
from rollbook.sis_import.models import StagedGroup
from tests.factories import ACTOR, Make
from tests.oneroster.csvzips import headers, members

pytestmark = pytest.mark.django_db
CS1 = "course-v1:OrgA+CS101+2026"
BIO = "course-v1:OrgB+BIO1+2026"


def school(size: int = 2) -> None:
    """Two orgs, courses with SIS terms, learners, a dropped learner, teaching staff, an
    inactive account; `size` learners more in CS1."""
    import datetime as dt

    from rollbook.people import api as people

    Make.course(CS1, title="Intro, to CS", sis_id="CS101-01")
    Make.course(BIO, title="Biology")
    now = dt.datetime(2026, 1, 5, tzinfo=dt.UTC)
    for sourcedid, key, term in (
        ("g1", CS1, "202610"),
        ("g2", CS1, "202620"),
        ("g3", BIO, "202610"),
    ):
        StagedGroup.objects.create(
            sourcedid=sourcedid, grouptype="CourseSection", term=term, course_key=key,
            changed_at=now, changed_by="t",
        )  # fmt: skip
    people.put_user("alice", actor=ACTOR, name="Alice Smith", sis_sourcedid="S-1", idnumber="42")
    Make.user("bob", name="Bob")
    Make.user("tina", name="Tina Teach")
    Make.user("sam", name="Sam Staff")
    Make.enrollment(CS1, "alice")
    Make.enrollment(BIO, "alice")
    Make.enrollment(CS1, "bob")
    Make.enrollment(CS1, "bob", is_active=False)
    Make.grant("tina", "instructor", course_key=CS1)
    Make.grant("sam", "staff", course_key=CS1)
    people.put_user("sam", actor=ACTOR, is_active=False)
    for n in range(size):
        Make.user(f"learner{n}", name=f"Learner {n}")
        Make.enrollment(CS1, f"learner{n}")


def export() -> bytes:
    out = io.BytesIO()
    api.write_zip(out)
    return out.getvalue()


def test_the_files_have_the_bindings_headers_in_order() -> None:
    school()
    found = headers(export())
    assert found.pop("manifest.csv") == ["propertyName", "value"]
    expected = {binding.member: list(binding.columns) for binding in spec.FILES}
    expected["classes.csv"] += ["metadata.startDate", "metadata.endDate"]
    assert found == expected
    assert expected["users.csv"][:6] == [
        "sourcedId", "status", "dateLastModified", "enabledUser", "username", "userIds"
    ]  # fmt: skip


def test_the_manifest_names_every_file_and_the_versions() -> None:
    school()
    manifest = {row["propertyName"]: row["value"] for row in members(export())["manifest.csv"]}
    assert manifest["manifest.version"] == "1.0"
    assert manifest["oneroster.version"] == "1.2"
    assert manifest["source.systemName"] == "rollbook"
    bulk = {"academicSessions", "orgs", "courses", "classes", "users", "enrollments"}
    for name in spec.ALL_FILE_NAMES:
        assert manifest[f"file.{name}"] == ("bulk" if name in bulk else "absent"), name


def test_an_empty_collection_is_absent_not_an_empty_file() -> None:
    data = export()
    manifest = {row["propertyName"]: row["value"] for row in members(data)["manifest.csv"]}
    assert all(manifest[f"file.{binding.name}"] == "absent" for binding in spec.FILES)
    assert list(members(data)) == ["manifest.csv"]


def test_values_are_written_as_the_binding_says() -> None:
    school()
    files = members(export())
    # bulk: status and dateLastModified are blank everywhere
    for name, rows in files.items():
        if name != "manifest.csv":
            assert all(row["status"] == row["dateLastModified"] == "" for row in rows), name
    users = {row["sourcedId"]: row for row in files["users.csv"]}
    assert users["alice"]["userIds"] == "{SIS:S-1},{idnumber:42}"
    assert (users["alice"]["givenName"], users["alice"]["familyName"]) == ("Alice", "Smith")
    assert users["alice"]["enabledUser"] == "true"
    assert users["sam"]["enabledUser"] == "false"  # inactive accounts stay, disabled
    classes = {row["sourcedId"]: row for row in files["classes.csv"]}
    assert classes[CS1]["termSourcedIds"] == "202610,202620"  # a list in one field
    assert classes[CS1]["title"] == "Intro, to CS"
    assert classes[CS1]["classCode"] == "CS101-01"
    assert classes[CS1]["courseSourcedId"] == "OrgA+CS101"
    assert classes[BIO]["classCode"] == BIO
    enrollments = {row["sourcedId"]: row for row in files["enrollments.csv"]}
    assert f"enr:{CS1}:bob:student" not in enrollments  # tobedeleted is not in a bulk file
    teacher = enrollments[f"enr:{CS1}:tina:instructor"]
    assert (teacher["role"], teacher["primary"], teacher["userSourcedId"]) == (
        "teacher", "true", "tina"
    )  # fmt: skip
    assert enrollments[f"enr:{CS1}:alice:student"]["beginDate"][:4].isdigit()
    sessions = {row["sourcedId"]: row["type"] for row in files["academicSessions.csv"]}
    assert sessions == {"202610": "term", "202620": "term"}


def test_each_row_shows_what_rest_shows() -> None:
    school()
    files = members(export())
    for name, key in (("orgs", "name"), ("courses", "title"), ("classes", "title"),
                      ("users", "username"), ("enrollments", "role")):  # fmt: skip
        shown = api.list_objects(name, api.Query(limit=1000), base="").objects
        rest = {obj["sourcedId"]: obj[key] for obj in shown if obj["status"] == "active"}
        if name == "users":
            rest = {obj["sourcedId"]: obj[key] for obj in shown}
        csv_rows = {row["sourcedId"]: row[key] for row in files[f"{name}.csv"]}
        assert csv_rows == rest, name


@pytest.mark.parametrize("size", [2, 40])
def test_each_file_costs_the_same_few_queries_whatever_its_size(size: int) -> None:
    school(size)
    expected = {
        "academicSessions": 1,
        "orgs": 1,
        "courses": 2,  # the runs, and the tombstones of runs and courses (ADR 0018)
        "classes": 2,
        "users": 1,
        "enrollments": 2,
    }
    for binding, _extra, objects, _flatten in EXPORTS:
        with CaptureQueriesContext(connection) as queries:
            rows = list(objects())
        assert rows
        assert len(queries) == expected[binding.name], (binding.name, queries.captured_queries)
    with CaptureQueriesContext(connection) as queries:
        data = b"".join(iter_zip())
    assert len(queries) == sum(expected.values())
    assert len(members(data)["users.csv"]) == 4 + size


def test_the_zip_streams_in_pieces(monkeypatch: pytest.MonkeyPatch) -> None:
    from rollbook.oneroster import csvzip

    monkeypatch.setattr(csvzip, "FLUSH_BYTES", 1024)
    school(3000)
    pieces = list(iter_zip())
    assert len(pieces) > 1
    with zipfile.ZipFile(io.BytesIO(b"".join(pieces))) as archive:
        assert archive.testzip() is None


def test_only_global_staff_download_the_zip(api_as: Any, staff_api: Any, anon_api: Any) -> None:
    school()
    response = staff_api.client.get(
        "/api/v1/oneroster/export.zip", headers={"Authorization": f"Bearer {staff_api.token}"}
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert "oneroster-bulk.zip" in response["Content-Disposition"]
    data = b"".join(response.streaming_content)
    assert "users.csv" in members(data)
    learner = api_as("alice")
    assert learner.get("oneroster/export.zip").status_code == 403
    assert anon_api.get("oneroster/export.zip").status_code == 401


ROLLBOOK = str(Path(sys.executable).parent / "rollbook")


def test_the_cli_writes_the_zip(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROLLBOOK_")}
    env["ROLLBOOK_DATA_DIR"] = str(tmp_path / "data")
    target = tmp_path / "roster.zip"
    done = subprocess.run(  # noqa: S603
        [ROLLBOOK, "oneroster", "export", str(target)],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "wrote" in done.stderr
    assert list(members(target.read_bytes())) == ["manifest.csv"]
    wrong = subprocess.run(  # noqa: S603
        [ROLLBOOK, "oneroster", "export", str(tmp_path / "roster.csv")],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert wrong.returncode == 2
    assert ".zip" in wrong.stderr


def test_terms_go_to_their_class_whatever_the_collation() -> None:
    """Classes and their SIS terms are merged in code-point order on every database: keys
    that a locale would sort differently (case, punctuation) still get their own terms."""
    import datetime as dt

    keys = ["course-v1:abc+X+1", "course-v1:ABD+X+1", "course-v1:Abc+X_1+1", "course-v1:a-b+X+1"]
    now = dt.datetime(2026, 1, 5, tzinfo=dt.UTC)
    for index, key in enumerate(keys):
        Make.course(key, title=f"Course {index}")
        StagedGroup.objects.create(
            sourcedid=f"g{index}", grouptype="CourseSection", term=f"T{index}", course_key=key,
            changed_at=now, changed_by="t",
        )  # fmt: skip
    with CaptureQueriesContext(connection) as queries:
        data = export()
    classes = {row["sourcedId"]: row["termSourcedIds"] for row in members(data)["classes.csv"]}
    assert classes == {key: f"T{index}" for index, key in enumerate(keys)}
    # Both streams sort by code points (this PostgreSQL may well collate as C already).
    merged = [q["sql"] for q in queries.captured_queries if "ORDER BY" in q["sql"]]
    collation = '"C"' if connection.vendor == "postgresql" else '"BINARY"'
    assert sum(f"COLLATE {collation}" in sql for sql in merged) >= 2


def test_a_bulk_file_leaves_out_what_was_deleted() -> None:
    """REST serves a deleted course run and its course as `tobedeleted` tombstones (ADR
    0018); a bulk file is what exists, so neither is in it."""
    from rollbook.catalog import api as catalog

    school()
    gone = "course-v1:OrgB+GONE1+2026"
    Make.course(gone, title="Withdrawn")
    catalog.delete_course(gone, actor=ACTOR)
    api.sync_tombstones()
    shown = api.list_objects("courses", api.Query(limit=1000), base="").objects
    assert {"OrgB+GONE1": "tobedeleted"}.items() <= {
        o["sourcedId"]: o["status"] for o in shown
    }.items()
    files = members(export())
    assert "OrgB+GONE1" not in {row["sourcedId"] for row in files["courses.csv"]}
    assert gone not in {row["sourcedId"] for row in files["classes.csv"]}
    assert {row["sourcedId"] for row in files["courses.csv"]} == {"OrgA+CS101", "OrgB+BIO1"}
