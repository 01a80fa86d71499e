"""REST of jobs: GET a job (staff, or who started it), list, approve and cancel."""

from __future__ import annotations

from typing import Any

import pytest

from rollbook.audit.data import Actor
from rollbook.jobs import api as jobs
from rollbook.people import api as people
from tests.api.helpers import assert_error, assert_page, query
from tests.jobs.helpers import COUNTING, FAILING, Runs

pytestmark = pytest.mark.django_db

JOB_KEYS = {
    "job_id",
    "kind",
    "state",
    "progress",
    "counts",
    "errors",
    "result",
    "message",
    "actor",
    "source",
    "created",
    "started_at",
    "finished_at",
}
SYSTEM = Actor.system("test")


def test_get_a_job(runs: Runs, staff_api: Any) -> None:
    job = jobs.start_job(COUNTING, {"refuse": ["x"]}, actor=SYSTEM)
    jobs.run_job(job.uuid)
    body = staff_api.get(f"jobs/{job.uuid}").json()
    assert set(body) == JOB_KEYS
    assert body["job_id"] == str(job.uuid)
    assert body["state"] == "succeeded"
    assert body["counts"] == {"done": 2, "errors": 1}
    assert body["errors"] == [{"record": "x", "code": "refused", "message": "x was refused"}]
    assert body["source"] == "test"


def test_who_started_a_job_may_read_it(runs: Runs, api_as: Any) -> None:
    mary = api_as("mary")
    bob = api_as("bob")
    ref = people.get_user_ref("mary")
    job = jobs.start_job(COUNTING, {}, actor=Actor(ref.id, ref.username, "cli"))
    assert mary.get(f"jobs/{job.uuid}").status_code == 200
    assert_error(bob.get(f"jobs/{job.uuid}"), 403, "forbidden")
    assert_error(mary.get("jobs"), 403, "forbidden")
    assert_error(mary.post(f"jobs/{job.uuid}/cancel"), 403, "forbidden")
    assert jobs.get_job(job.uuid).state == "queued"


def test_approve_and_cancel(runs: Runs, staff_api: Any) -> None:
    held = jobs.start_job(COUNTING, {}, actor=SYSTEM, hold="check it")
    approved = staff_api.post(f"jobs/{held.uuid}/approve")
    assert approved.status_code == 200, approved.content
    assert set(approved.json()) == JOB_KEYS
    assert approved.json()["state"] == "queued"

    body = assert_error(staff_api.post(f"jobs/{held.uuid}/approve"), 409, "invalid_job_state")
    assert body["fields"] == {"state": "queued"}

    cancelled = staff_api.post(f"jobs/{held.uuid}/cancel")
    assert cancelled.status_code == 200
    assert cancelled.json()["state"] == "cancelled"
    assert cancelled.json()["finished_at"] is not None
    body = assert_error(staff_api.post(f"jobs/{held.uuid}/cancel"), 409, "invalid_job_state")
    assert body["fields"] == {"state": "cancelled"}

    other = jobs.start_job(COUNTING, {}, actor=SYSTEM, hold="check it")
    assert staff_api.post(f"jobs/{other.uuid}/cancel").json()["state"] == "cancelled"
    assert_error(staff_api.post(f"jobs/{other.uuid}/approve"), 409, "invalid_job_state")

    events = staff_api.get(query("audit", subject=f"job:{held.uuid}")).json()["items"]
    assert [(e["event"], e["actor"], e["source"]) for e in events] == [
        ("job.cancelled", "admin", "api"),
        ("job.queued", "admin", "api"),
        ("job.created", "", "test"),
    ]
    assert events[0]["before"] == {"state": "queued"}
    assert events[0]["after"] == {"state": "cancelled"}


def test_list_jobs(runs: Runs, staff_api: Any) -> None:
    first = jobs.start_job(COUNTING, {}, actor=SYSTEM)
    second = jobs.start_job(FAILING, {}, actor=SYSTEM)
    jobs.run_job(second.uuid)
    everything = staff_api.get("jobs").json()
    assert [j["job_id"] for j in assert_page(everything, count=2)] == [
        str(second.uuid),
        str(first.uuid),
    ]
    failed = staff_api.get(query("jobs", state="failed")).json()
    assert [(j["job_id"], j["message"]) for j in assert_page(failed, count=1)] == [
        (str(second.uuid), "ValueError: boom")
    ]
    by_kind = staff_api.get(query("jobs", kind=COUNTING)).json()
    assert [j["job_id"] for j in assert_page(by_kind, count=1)] == [str(first.uuid)]


def test_a_job_shows_its_first_25_errors_and_counts_them_all(staff_api: Any, runs: Any) -> None:
    from rollbook.jobs import api as jobs_api
    from tests.factories import ACTOR
    from tests.jobs.helpers import COUNTING

    job = jobs_api.start_job(
        COUNTING, {"refuse": [f"r{i}" for i in range(40)]}, actor=ACTOR, dispatch=False
    )
    jobs_api.run_job(job.uuid)
    body = staff_api.get(f"jobs/{job.uuid}").json()
    assert len(body["errors"]) == 25
    assert body["errors"][0]["record"] == "r0"
    assert body["counts"]["errors"] == 40
