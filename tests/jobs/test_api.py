"""Jobs: states and their transitions, the claim that runs a job once, failures."""

from __future__ import annotations

import uuid

import pytest

from rollbook.audit import api as audit
from rollbook.audit.data import Actor
from rollbook.jobs import api as jobs
from rollbook.jobs.errors import MAX_STORED_ERRORS
from rollbook.lib.errors import Conflict, Invalid, NotFound
from rollbook.lib.pagination import PageRequest
from tests.jobs.helpers import COUNTING, FAILING, Runs

ACTOR = Actor(None, "operator", "test")

pytestmark = pytest.mark.django_db


def _events(job: jobs.JobData) -> list[str]:
    page = audit.list_events(subject=f"job:{job.uuid}", page=PageRequest())
    return [event.event for event in reversed(page.items)]


def test_start_queues_a_job(runs: Runs) -> None:
    job = jobs.start_job(COUNTING, {"echo": 1}, actor=ACTOR)
    assert job.state == "queued"
    assert job.params == {"echo": 1}
    assert job.actor_username == "operator"
    assert job.source == "test"
    assert (job.progress, job.counts, job.errors, job.started_at) == (0, {}, [], None)
    assert jobs.get_job(job.uuid) == job
    assert jobs.get_job(str(job.uuid)) == job
    assert _events(job) == ["job.created"]
    assert runs.params == []  # dispatched on commit, which this test's transaction never does


def test_an_unknown_kind_is_refused() -> None:
    with pytest.raises(Invalid) as raised:
        jobs.start_job("no.such.kind", {}, actor=ACTOR)
    assert raised.value.code == "unknown_job_kind"


def test_an_unknown_job_is_not_found() -> None:
    for job_id in (uuid.uuid4(), "not-a-uuid"):
        with pytest.raises(NotFound) as raised:
            jobs.get_job(job_id)
        assert raised.value.code == "job_not_found"


def test_run_job_runs_the_handler_once(runs: Runs) -> None:
    job = jobs.start_job(COUNTING, {"echo": "hi"}, actor=ACTOR)
    first = jobs.run_job(job.uuid)
    second = jobs.run_job(job.uuid)
    assert runs.params == [{"echo": "hi"}]
    assert first.state == second.state == "succeeded"
    assert second == first
    assert first.result == {"echo": "hi"}
    assert first.counts == {"done": 2}
    assert first.progress == 100
    assert first.started_at is not None
    assert first.finished_at is not None
    assert _events(job) == ["job.created", "job.succeeded"]


def test_refused_records_leave_the_job_succeeded(runs: Runs) -> None:
    job = jobs.start_job(COUNTING, {"refuse": ["a", "b"]}, actor=ACTOR)
    done = jobs.run_job(job.uuid)
    assert done.state == "succeeded"
    assert done.counts == {"done": 2, "errors": 2}
    assert done.errors == [
        {"record": "a", "code": "refused", "message": "a was refused"},
        {"record": "b", "code": "refused", "message": "b was refused"},
    ]


def test_errors_beyond_the_limit_are_counted_not_kept(runs: Runs) -> None:
    refused = [f"r{i}" for i in range(MAX_STORED_ERRORS + 5)]
    done = jobs.run_job(jobs.start_job(COUNTING, {"refuse": refused}, actor=ACTOR).uuid)
    assert done.counts["errors"] == MAX_STORED_ERRORS + 5
    assert len(done.errors) == MAX_STORED_ERRORS


def test_a_raising_handler_fails_the_job(runs: Runs) -> None:
    job = jobs.start_job(FAILING, {}, actor=ACTOR)
    done = jobs.run_job(job.uuid)
    assert done.state == "failed"
    assert done.message == "ValueError: boom"
    assert done.result == {}
    assert done.counts == {"done": 1, "errors": 1}  # what it did before failing is kept
    assert done.errors == [
        {"record": "r1", "code": "refused", "message": "refused before the failure"}
    ]
    assert done.finished_at is not None
    assert jobs.get_job(job.uuid) == done
    assert _events(job) == ["job.created", "job.failed"]
    assert jobs.run_job(job.uuid).state == "failed"  # a failed job is not run again


def test_a_held_job_waits_for_approval(runs: Runs) -> None:
    job = jobs.start_job(COUNTING, {}, actor=ACTOR, hold="more than 10% drops")
    assert job.state == "held"
    assert job.message == "more than 10% drops"
    assert jobs.run_job(job.uuid).state == "held"
    assert runs.params == []

    approved = jobs.approve_job(job.uuid, actor=ACTOR)
    assert approved.state == "queued"
    assert approved.message == ""  # the hold's reason is answered
    assert jobs.run_job(job.uuid).state == "succeeded"
    assert len(runs.params) == 1
    assert _events(job) == ["job.created", "job.queued", "job.succeeded"]


@pytest.mark.parametrize("hold", [None, "check it"])
def test_a_queued_or_held_job_may_be_cancelled(runs: Runs, hold: str | None) -> None:
    job = jobs.start_job(COUNTING, {}, actor=ACTOR, hold=hold)
    cancelled = jobs.cancel_job(job.uuid, actor=ACTOR)
    assert cancelled.state == "cancelled"
    assert cancelled.finished_at is not None
    assert jobs.run_job(job.uuid).state == "cancelled"
    assert runs.params == []
    assert _events(job) == ["job.created", "job.cancelled"]


def _in_state(state: str) -> jobs.JobData:
    if state == "held":
        return jobs.start_job(COUNTING, {}, actor=ACTOR, hold="why")
    job = jobs.start_job(FAILING if state == "failed" else COUNTING, {}, actor=ACTOR)
    if state in {"succeeded", "failed"}:
        jobs.run_job(job.uuid)
    elif state == "cancelled":
        jobs.cancel_job(job.uuid, actor=ACTOR)
    return jobs.get_job(job.uuid)


@pytest.mark.parametrize(
    ("state", "action"),
    [
        ("queued", "approve"),
        ("succeeded", "approve"),
        ("failed", "approve"),
        ("cancelled", "approve"),
        ("succeeded", "cancel"),
        ("failed", "cancel"),
        ("cancelled", "cancel"),
    ],
)
def test_other_transitions_are_conflicts(runs: Runs, state: str, action: str) -> None:
    job = _in_state(state)
    assert job.state == state
    with pytest.raises(Conflict) as raised:
        getattr(jobs, f"{action}_job")(job.uuid, actor=ACTOR)
    assert raised.value.code == "invalid_job_state"
    assert raised.value.fields == {"state": state}
    assert jobs.get_job(job.uuid).state == state


def test_a_running_job_cannot_be_cancelled(runs: Runs) -> None:
    job = jobs.start_job(COUNTING, {}, actor=ACTOR)
    states: list[str] = []

    def handler(context: jobs.JobContext) -> None:
        states.append(jobs.get_job(context.job_uuid).state)
        with pytest.raises(Conflict):
            jobs.cancel_job(context.job_uuid, actor=ACTOR)

    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(jobs._HANDLERS, COUNTING, handler)
        assert jobs.run_job(job.uuid).state == "succeeded"
    assert states == ["running"]


def test_progress_is_written_while_running(runs: Runs) -> None:
    seen: list[tuple[int, dict[str, int]]] = []

    def handler(context: jobs.JobContext) -> None:
        for done in range(1, 11):
            context.count("done")
            context.progress(done, 10)
            current = jobs.get_job(context.job_uuid)
            seen.append((current.progress, current.counts))

    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(jobs._HANDLERS, COUNTING, handler)
        jobs.run_job(jobs.start_job(COUNTING, {}, actor=ACTOR).uuid)
    assert seen[0] == (10, {"done": 1})
    assert seen[-1] == (100, {"done": 10})


def test_list_jobs_newest_first_with_filters(runs: Runs) -> None:
    first = jobs.start_job(COUNTING, {}, actor=ACTOR)
    second = jobs.start_job(FAILING, {}, actor=ACTOR)
    jobs.run_job(second.uuid)
    page = jobs.list_jobs(page=PageRequest())
    assert [job.uuid for job in page.items] == [second.uuid, first.uuid]
    assert [j.uuid for j in jobs.list_jobs(page=PageRequest(), state="failed").items] == [
        second.uuid
    ]
    assert [j.uuid for j in jobs.list_jobs(page=PageRequest(), kind=COUNTING).items] == [first.uuid]


HOLDING = "test.holding"


def _holding_handler(seen: list[dict[str, object]]) -> jobs.JobHandler:
    """Holds on its first run; on the run after approval, finishes with what it held."""

    def handler(context: jobs.JobContext) -> dict[str, object]:
        seen.append(dict(context.held_result))
        if not context.held_result:
            context.count("first_run")
            raise jobs.HoldJob("3 drops over the threshold", {"drops": ["a", "b", "c"]})
        context.count("second_run")
        return {"dropped": context.held_result["drops"]}

    return handler


def test_a_handler_may_hold_its_job_until_approval(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[dict[str, object]] = []
    monkeypatch.setitem(jobs._HANDLERS, HOLDING, _holding_handler(seen))
    job = jobs.start_job(HOLDING, {}, actor=ACTOR, dispatch=False)
    held = jobs.run_job(job.uuid)
    assert held.state == "held"
    assert held.message == "3 drops over the threshold"
    assert held.result == {"drops": ["a", "b", "c"]}
    assert held.finished_at is None
    jobs.approve_job(job.uuid, actor=ACTOR)
    done = jobs.run_job(job.uuid)
    assert done.state == "succeeded"
    assert done.result == {"dropped": ["a", "b", "c"]}
    assert done.counts == {"first_run": 1, "second_run": 1}
    assert seen == [{}, {"drops": ["a", "b", "c"]}]


def test_a_job_started_without_dispatch_waits_for_its_caller(runs: Runs) -> None:
    job = jobs.start_job(COUNTING, {"echo": 1}, actor=ACTOR, dispatch=False)
    assert jobs.get_job(job.uuid).state == "queued"
    observed: list[tuple[str, dict[str, object]]] = []
    done = jobs.run_job(job.uuid, observer=lambda event, data: observed.append((event, data)))
    assert done.state == "succeeded"
    assert runs.params == [{"echo": 1}]
