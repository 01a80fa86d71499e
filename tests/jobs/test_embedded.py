"""The embedded runner: jobs run on a background thread once their transaction commits."""

from __future__ import annotations

import time

import pytest
from django.db import transaction

from rollbook.audit.data import Actor
from rollbook.jobs import api as jobs
from rollbook.lib.pagination import PageRequest
from tests.jobs.helpers import COUNTING, FAILING, Runs

pytestmark = pytest.mark.django_db(transaction=True)
ACTOR = Actor(None, "operator", "test")


def test_a_job_runs_after_commit(runs: Runs) -> None:
    job = jobs.start_job(COUNTING, {"echo": "after commit"}, actor=ACTOR)
    assert jobs.wait_for_embedded_jobs(timeout=30)
    done = jobs.get_job(job.uuid)
    assert done.state == "succeeded"
    assert done.result == {"echo": "after commit"}
    assert runs.params == [{"echo": "after commit"}]


def test_dispatching_again_runs_a_job_once(runs: Runs) -> None:
    job = jobs.start_job(COUNTING, {}, actor=ACTOR, hold="wait")
    assert jobs.dispatch_queued() == 0  # held jobs are not dispatched
    jobs.approve_job(job.uuid, actor=ACTOR)  # dispatched on commit...
    jobs.dispatch_queued()  # ...and again, as after a restart
    # The in-memory SQLite test database allows one writer at a time across threads (no
    # busy timeout in shared-cache mode), so the third attempt comes once the thread is idle.
    assert jobs.wait_for_embedded_jobs(timeout=30)
    jobs.run_job(job.uuid)  # and run here too
    assert len(runs.params) == 1
    assert jobs.get_job(job.uuid).state == "succeeded"


def test_a_failing_job_is_failed_with_its_message(runs: Runs) -> None:
    job = jobs.start_job(FAILING, {}, actor=ACTOR)
    assert jobs.wait_for_embedded_jobs(timeout=30)
    done = jobs.get_job(job.uuid)
    assert done.state == "failed"
    assert done.message == "ValueError: boom"


def test_a_job_rolled_back_is_never_run(runs: Runs) -> None:
    class Abort(Exception):
        pass

    def start_then_abort() -> None:
        with transaction.atomic():
            jobs.start_job(COUNTING, {}, actor=ACTOR)
            raise Abort

    with pytest.raises(Abort):
        start_then_abort()
    assert jobs.wait_for_embedded_jobs(timeout=30)
    assert runs.params == []
    assert jobs.list_jobs(page=PageRequest()).count == 0


def test_a_task_dispatched_with_a_countdown_runs_later() -> None:
    ran: list[float] = []
    jobs.register_task("test.countdown", lambda: ran.append(time.monotonic()))
    start = time.monotonic()
    jobs.dispatch_task("test.countdown", countdown=0.3)
    assert ran == []
    deadline = time.monotonic() + 10
    while not ran and time.monotonic() < deadline:
        time.sleep(0.02)
    assert jobs.wait_for_embedded_jobs(timeout=10)
    assert len(ran) == 1
    assert ran[0] - start >= 0.3
