"""The bulk enrollment job end to end: POST answers 202, the embedded runner runs it after
commit, GET /jobs/{id} shows the outcome (refused users are errors of a succeeded job)."""

from __future__ import annotations

from typing import Any

import pytest

from rollbook.enrollments import jobs as bulk_jobs
from rollbook.jobs import api as jobs
from tests.api.helpers import COURSE, assert_page, query
from tests.api.world import World
from tests.factories import Make

pytestmark = pytest.mark.django_db(transaction=True)


def _run(staff_api: Any, body: dict[str, Any]) -> dict[str, Any]:
    response = staff_api.post(f"courses/{COURSE}/bulk_enrollments", body)
    assert response.status_code == 202, response.content
    job_id = response.json()["job_id"]
    assert jobs.wait_for_embedded_jobs(timeout=30)
    job = staff_api.get(f"jobs/{job_id}")
    assert job.status_code == 200
    assert job.json()["job_id"] == job_id
    return job.json()


def test_a_bulk_enrollment_job_succeeds_with_counts_and_errors(
    world: World, staff_api: Any
) -> None:
    Make.user("carol")
    Make.user("dave")
    job = _run(staff_api, {"usernames": ["carol", "DAVE", "mary", "nobody", "ghost"]})
    assert job["state"] == "succeeded", job
    assert job["progress"] == 100
    assert job["counts"] == {"total": 5, "enrolled": 2, "unchanged": 1, "errors": 2}
    assert [(e["record"], e["code"]) for e in job["errors"]] == [
        ("nobody", "user_not_found"),
        ("ghost", "user_not_found"),
    ]
    assert all(e["message"] for e in job["errors"])
    assert job["result"] == {"course_key": COURSE, "action": "enroll"}
    assert job["actor"] == "admin"
    assert job["message"] == ""
    assert job["started_at"] is not None
    assert job["finished_at"] >= job["started_at"]

    enrolled = staff_api.get(query(f"courses/{COURSE}/enrollments", is_active="true")).json()
    assert [e["username"] for e in assert_page(enrolled, count=4)] == [
        "bob",
        "carol",
        "dave",
        "mary",
    ]
    # The job's changes are audited with the job as their source.
    events = staff_api.get(query("audit", subject=f"enrollment:{COURSE}:carol")).json()["items"]
    assert [(e["event"], e["actor"], e["source"]) for e in events] == [
        ("enrollment.created", "admin", f"job:{job['job_id']}")
    ]
    job_events = staff_api.get(query("audit", subject=f"job:{job['job_id']}")).json()["items"]
    assert [e["event"] for e in job_events] == ["job.succeeded", "job.created"]


def test_a_bulk_unenrollment_job(world: World, staff_api: Any) -> None:
    job = _run(staff_api, {"usernames": ["mary", "bob", "admin"], "action": "unenroll"})
    assert job["state"] == "succeeded"
    assert job["counts"] == {"total": 3, "unenrolled": 2, "unchanged": 1}
    assert job["errors"] == []
    active = staff_api.get(query(f"courses/{COURSE}/enrollments", is_active="true")).json()
    assert active["count"] == 0


def test_a_job_of_only_refusals_still_succeeds(world: World, staff_api: Any) -> None:
    job = _run(staff_api, {"usernames": ["nobody"]})
    assert job["state"] == "succeeded"
    assert job["counts"] == {"total": 1, "errors": 1}


def test_a_big_job_runs_in_chunks(
    world: World, staff_api: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bulk_jobs, "CHUNK", 2)
    names = [f"learner{i}" for i in range(5)]
    for name in names:
        Make.user(name)
    job = _run(staff_api, {"usernames": [*names, "nobody"], "mode": "verified"})
    assert job["state"] == "succeeded"
    assert job["counts"] == {"total": 6, "enrolled": 5, "errors": 1}
    verified = staff_api.get(query(f"courses/{COURSE}/enrollments", mode="verified")).json()
    assert verified["count"] == 6  # bob and the five
