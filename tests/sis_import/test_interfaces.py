"""The import's interfaces: the REST upload (202, then the job) and the CLI's exit codes."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings

from rollbook.jobs import api as jobs
from tests.sis_import.test_pipeline import BASIC, feed, member, membership, person, section

ROLLBOOK = str(Path(sys.executable).parent / "rollbook")


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path) -> Iterator[Path]:
    with override_settings(DATA_DIR=tmp_path):
        yield tmp_path


@pytest.mark.django_db(transaction=True)
def test_upload_answers_202_then_the_job_reports(staff_api: Any) -> None:
    upload = SimpleUploadedFile("term.xml", BASIC, content_type="application/xml")
    response = staff_api.client.post(
        "/api/v1/sis/imports",
        {"file": upload, "dry_run": "false"},
        headers={"Authorization": f"Bearer {staff_api.token}"},
    )
    assert response.status_code == 202, response.content
    job_id = response.json()["job_id"]
    assert jobs.wait_for_embedded_jobs(timeout=60)
    body = staff_api.get(f"jobs/{job_id}").json()
    assert body["state"] == "succeeded", body
    assert body["counts"]["person.created"] == 1
    assert body["result"]["errors_csv"] == f"/api/v1/sis/imports/{job_id}/errors.csv"
    csv = staff_api.get(f"sis/imports/{job_id}/errors.csv")
    assert csv.status_code == 200
    assert b"file,line,record_id,code,message" in b"".join(csv.streaming_content)
    again = staff_api.client.post(
        "/api/v1/sis/imports",
        {"file": SimpleUploadedFile("term.xml", BASIC)},
        headers={"Authorization": f"Bearer {staff_api.token}"},
    )
    assert again.status_code == 409
    assert again.json()["code"] == "already_imported"
    assert job_id in again.json()["message"]


@pytest.mark.django_db
def test_only_global_staff_may_import(api_as: Any) -> None:
    learner = api_as("mary")
    response = learner.client.post(
        "/api/v1/sis/imports",
        {"file": SimpleUploadedFile("term.xml", BASIC)},
        headers={"Authorization": f"Bearer {learner.token}"},
    )
    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"


def _cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROLLBOOK_")}
    env["ROLLBOOK_DATA_DIR"] = str(tmp_path / "cli-data")
    env["COLUMNS"] = "250"  # rich wraps messages to the terminal width
    return subprocess.run(  # noqa: S603
        [ROLLBOOK, "sis", *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def test_cli_exit_codes_done_unusable_and_held(tmp_path: Path) -> None:
    good = tmp_path / "term.xml"
    learners = range(1, 11)
    good.write_bytes(
        feed(
            *[person(f"P{i}", email=f"u{i}@example.edu") for i in learners],
            section(),
            membership(*[member(f"P{i}") for i in learners]),
        )
    )
    done = _cli(tmp_path, "import", str(good))
    assert done.returncode == 0, done.stderr
    assert "succeeded" in done.stderr
    same = _cli(tmp_path, "import", str(good))
    assert same.returncode == 0
    assert "already imported" in same.stderr

    broken = tmp_path / "broken.xml"
    broken.write_bytes(b"<enterprise><person><sourcedid><id>P1</id></person></enterprise>")
    unusable = _cli(tmp_path, "import", str(broken))
    assert unusable.returncode == 1
    assert "malformed_xml" in unusable.stderr

    half = tmp_path / "half.xml"
    half.write_bytes(feed(section(), membership(*[member(f"P{i}") for i in range(1, 6)])))
    held = _cli(tmp_path, "import", str(half), "--comprehensive")
    assert held.returncode == 2, held.stderr
    assert "rollbook sis approve" in held.stderr


@pytest.mark.django_db
def test_pending_and_collisions_are_listed_for_staff(staff_api: Any, api_as: Any) -> None:
    from rollbook.audit.data import Actor
    from rollbook.sis_import import api as sis

    def run(data: bytes) -> None:
        started = sis.start_import(
            io.BytesIO(data), filename="f.xml", actor=Actor.system("t"), foreground=True
        )
        assert started.job is not None
        jobs.run_job(started.job.uuid)

    run(feed(section(), membership(member("P9"))))
    run(feed(person("P1", email="ann@example.edu")))
    run(feed(person("P2", email="ann@example.edu")))
    waiting = staff_api.get("sis/pending").json()
    assert waiting["count"] == 1
    (item,) = waiting["items"]
    assert (item["person_sourcedid"], item["roletype"]) == ("P9", "01")
    assert "P9" in item["reason"]
    held = staff_api.get("sis/collisions").json()
    assert held["count"] == 1
    assert held["items"][0]["sourcedid"] == "P2"
    assert "P1" in held["items"][0]["reason"]
    assert api_as("mary").get("sis/pending").status_code == 403
