"""Jobs: long-running work as rows (state, progress, counts, errors), executed by Celery.

An app registers a handler for a job kind; `start_job` writes a queued row and, once the
transaction commits, dispatches it: through the broker to `rollbook worker` when
ROLLBOOK_REDIS_URL is set, or on a background thread of this process in the embedded
default. Both paths call `run_job`, which claims the row atomically (queued -> running), so a
job runs at most once even when it is dispatched twice.
"""

from __future__ import annotations

import logging
import threading
import uuid as uuid_module
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any

from django.conf import settings
from django.db import close_old_connections, connection, transaction
from django.db.models import F

from rollbook.audit import api as audit
from rollbook.audit.data import Actor
from rollbook.jobs.data import JobData, JobState
from rollbook.jobs.errors import (
    MAX_STORED_ERRORS,
    MSG_INVALID_JOB_STATE,
    MSG_JOB_NOT_FOUND,
    MSG_UNKNOWN_JOB_KIND,
    JobErrorCode,
)
from rollbook.jobs.locks import try_advisory_lock
from rollbook.jobs.models import Job
from rollbook.lib import clock
from rollbook.lib.errors import Conflict, Invalid, NotFound
from rollbook.lib.keys import parse_uuid
from rollbook.lib.pagination import Page, PageRequest, paginate

__all__ = [
    "WAKE_SECONDS",
    "HoldJob",
    "JobContext",
    "JobData",
    "JobState",
    "approve_job",
    "cancel_job",
    "dispatch_all_tasks",
    "dispatch_queued",
    "dispatch_task",
    "dispatch_task_once",
    "get_job",
    "list_jobs",
    "register_job_kind",
    "register_task",
    "run_job",
    "run_task",
    "start_job",
    "try_advisory_lock",
    "wait_for_embedded_jobs",
]

log = logging.getLogger(__name__)

# Progress is written at most every this many percent, so that a big job is not a write storm.
_PROGRESS_STEP = 5


class HoldJob(Exception):
    """Raised by a handler to end its job `held`: it waits for an operator's approval.

    `result` is kept on the job (what waits for approval). Approving queues the job again and
    the handler runs once more; it finds what it left and goes on from there.
    """

    def __init__(self, message: str, result: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.result = result or {}


Observer = Callable[[str, dict[str, Any]], None]


class JobContext:
    """What a handler gets: its params and actor, and ways to report progress and refusals."""

    def __init__(self, job: Job, observer: Observer | None = None) -> None:
        self.observer = observer
        self.attempt = job.attempts
        self.job_uuid = job.uuid
        self.kind = job.kind
        self.params: dict[str, Any] = dict(job.params)
        self.actor = Actor(job.actor_id, job.actor_username, f"job:{job.uuid}")
        # A job run again after approval goes on from what its first run counted.
        self.counts: dict[str, int] = dict(job.counts)
        self.errors: list[dict[str, Any]] = list(job.errors)
        self.held_result: dict[str, Any] = dict(job.result) if job.attempts > 1 else {}
        self._progress = 0

    def count(self, name: str, n: int = 1) -> None:
        self.counts[name] = self.counts.get(name, 0) + n

    def error(self, record: str, code: str, message: str) -> None:
        """A refused record: counted under "errors", kept (up to a limit) in the job's errors."""
        self.count("errors")
        if len(self.errors) < MAX_STORED_ERRORS:
            self.errors.append({"record": record, "code": code, "message": message})

    def notify(self, event: str, **data: Any) -> None:
        """Tell whoever runs the job in the foreground (a CLI progress bar) how it goes."""
        if self.observer is not None:
            self.observer(event, data)

    def progress(self, done: int, total: int) -> None:
        percent = 100 if total <= 0 else min(100, int(done * 100 / total))
        if percent >= self._progress + _PROGRESS_STEP or (percent == 100 and self._progress < 100):
            self._progress = percent
            Job.objects.filter(uuid=self.job_uuid).update(progress=percent, counts=self.counts)


JobHandler = Callable[[JobContext], "dict[str, Any] | None"]
_HANDLERS: dict[str, JobHandler] = {}


def register_job_kind(kind: str, handler: JobHandler) -> None:
    """Register the function that runs jobs of `kind` (called from an AppConfig.ready)."""
    _HANDLERS[kind] = handler


def _data(job: Job) -> JobData:
    return JobData(
        uuid=job.uuid,
        kind=job.kind,
        state=job.state,
        progress=job.progress,
        counts=dict(job.counts),
        errors=list(job.errors),
        result=dict(job.result),
        message=job.message,
        actor_username=job.actor_username,
        source=job.source,
        created=job.created,
        started_at=job.started_at,
        finished_at=job.finished_at,
        params=dict(job.params),
    )


def _get(job_id: uuid_module.UUID | str, *, lock: bool = False) -> Job:
    key = parse_uuid(job_id)
    rows = Job.objects.select_for_update() if lock else Job.objects.all()
    job = rows.filter(uuid=key).first() if key else None
    if job is None:
        raise NotFound(
            JobErrorCode.JOB_NOT_FOUND, MSG_JOB_NOT_FOUND.format(job_id=job_id), fields={}
        )
    return job


def start_job(
    kind: str,
    params: dict[str, Any],
    *,
    actor: Actor,
    hold: str | None = None,
    dispatch: bool = True,
) -> JobData:
    """Queue a job (or hold it for approval, with `hold` saying why) and dispatch it on commit.

    `dispatch=False` leaves it queued for the caller to `run_job` in the foreground (the CLI).
    """
    if kind not in _HANDLERS:
        raise Invalid(
            JobErrorCode.UNKNOWN_JOB_KIND, MSG_UNKNOWN_JOB_KIND.format(kind=kind), fields={}
        )
    with transaction.atomic():
        job = Job.objects.create(
            kind=kind,
            params=params,
            state=JobState.HELD if hold else JobState.QUEUED,
            message=hold or "",
            actor_id=actor.user_id,
            actor_username=actor.username,
            source=actor.source,
            created=clock.now(),
        )
        audit.record(
            "job.created",
            f"job:{job.uuid}",
            actor=actor,
            after={"kind": kind, "state": job.state},
        )
        if not hold and dispatch:
            _dispatch_on_commit(job.uuid)
    return _data(job)


def get_job(job_id: uuid_module.UUID | str) -> JobData:
    return _data(_get(job_id))


def list_jobs(
    *, page: PageRequest, state: str | None = None, kind: str | None = None
) -> Page[JobData]:
    rows = Job.objects.order_by("-id")
    if state:
        rows = rows.filter(state=state)
    if kind:
        rows = rows.filter(kind=kind)
    return paginate(rows, page, _data)


def _transition(
    job_id: uuid_module.UUID | str, expected: set[JobState], new: JobState, *, actor: Actor
) -> Job:
    with transaction.atomic():
        job = _get(job_id, lock=True)
        if job.state not in expected:
            raise Conflict(
                JobErrorCode.INVALID_JOB_STATE,
                MSG_INVALID_JOB_STATE.format(
                    job_id=job.uuid, state=job.state, expected=" or ".join(sorted(expected))
                ),
                fields={"state": job.state},
            )
        before = job.state
        job.state = new
        if new is JobState.QUEUED:
            job.message = ""  # the hold's reason is answered; the audit row keeps the story
        if new is JobState.CANCELLED:
            job.finished_at = clock.now()
        job.save(update_fields=["state", "message", "finished_at"])
        audit.record(
            f"job.{new.value}",
            f"job:{job.uuid}",
            actor=actor,
            before={"state": before},
            after={"state": new.value},
        )
        if new is JobState.QUEUED:
            _dispatch_on_commit(job.uuid)
    return job


def approve_job(job_id: uuid_module.UUID | str, *, actor: Actor) -> JobData:
    """A held job goes on: it is queued and dispatched."""
    return _data(_transition(job_id, {JobState.HELD}, JobState.QUEUED, actor=actor))


def cancel_job(job_id: uuid_module.UUID | str, *, actor: Actor) -> JobData:
    """A queued or held job will not run."""
    return _data(
        _transition(job_id, {JobState.QUEUED, JobState.HELD}, JobState.CANCELLED, actor=actor)
    )


def run_job(job_id: uuid_module.UUID | str, *, observer: Observer | None = None) -> JobData:
    """Run a queued job to its end. Claims the row first; a job already claimed is left alone.

    `observer` receives the handler's notifications (for a foreground run with a progress bar).
    """
    job = _get(job_id)
    claimed = Job.objects.filter(id=job.id, state=JobState.QUEUED).update(
        state=JobState.RUNNING, started_at=clock.now(), attempts=F("attempts") + 1
    )
    if not claimed:
        return _data(job)
    job.refresh_from_db()
    context = JobContext(job, observer)
    handler = _HANDLERS.get(job.kind)
    try:
        if handler is None:
            raise LookupError(MSG_UNKNOWN_JOB_KIND.format(kind=job.kind))
        with audit.numbering_batched():  # a job is a bulk path: its commits share numbering runs
            result = handler(context) or {}
    except HoldJob as hold:
        job.state = JobState.HELD
        job.message = hold.message
        job.result = hold.result
    except Exception as exc:
        log.exception("job %s (%s) failed", job.uuid, job.kind)
        job.state = JobState.FAILED
        job.message = f"{type(exc).__name__}: {exc}"
        job.result = {}
    else:
        job.state = JobState.SUCCEEDED
        job.progress = 100
        job.result = result
    job.counts = context.counts
    job.errors = context.errors
    job.finished_at = None if job.state == JobState.HELD else clock.now()
    job.save(
        update_fields=["state", "message", "result", "counts", "errors", "progress", "finished_at"]
    )
    audit.record(
        f"job.{job.state}",
        f"job:{job.uuid}",
        actor=context.actor,
        before={"state": JobState.RUNNING.value},
        after={"state": job.state, "counts": job.counts},
    )
    return _data(job)


# ---------------------------------------------------------------- dispatch

_executor: ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()
_futures: list[Future[None]] = []


def _embedded_executor() -> ThreadPoolExecutor:
    global _executor
    with _executor_lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rollbook-job")
        return _executor


def _in_thread(run: Callable[[str], object], arg: str) -> None:
    close_old_connections()
    try:
        run(arg)
    except Exception:
        log.exception("embedded %s(%s) failed", run.__name__, arg)
    finally:
        connection.close()


def _submit_embedded(run: Callable[[str], object], arg: str) -> None:
    """Run `run(arg)` on the embedded thread, tracked for `wait_for_embedded_jobs`."""
    future = _embedded_executor().submit(_in_thread, run, arg)
    with _executor_lock:
        _futures[:] = [f for f in _futures if not f.done()]
        _futures.append(future)


def _dispatch(job_uuid: uuid_module.UUID) -> None:
    if settings.JOBS_RUNNER == "celery":
        from rollbook.jobs.tasks import run_job_task

        run_job_task.delay(str(job_uuid))
    else:
        _submit_embedded(run_job, str(job_uuid))


_TASKS: dict[str, Callable[[], object]] = {}


def register_task(name: str, function: Callable[[], object]) -> None:
    """A background task without arguments or a Job row (drain a queue, say): run by the
    worker through the broker, or by the embedded thread, like jobs."""
    _TASKS[name] = function


def run_task(name: str) -> None:
    _TASKS[name]()


def dispatch_task(name: str, *, countdown: float | None = None) -> None:
    """Run the task in the background once the current transaction commits; with `countdown`,
    not before that many seconds (Celery's `apply_async(countdown=...)`, or a timer thread in
    the embedded runner: a timer still waiting when the process ends is lost, so a task that
    uses it must also be dispatched at start-up, as `dispatch_all_tasks` does)."""

    def dispatch() -> None:
        if settings.JOBS_RUNNER == "celery":
            from rollbook.jobs.tasks import run_task_task

            if countdown:
                run_task_task.apply_async((name,), countdown=countdown)
            else:
                run_task_task.delay(name)
        elif countdown:
            timer = threading.Timer(countdown, _submit_embedded, (run_task, name))
            timer.daemon = True
            timer.start()
        else:
            _submit_embedded(run_task, name)

    transaction.on_commit(dispatch)


# A task dispatched and not started yet, or at work, keeps its wake key: further requests
# need no other dispatch (`dispatch_task_once`). Expires, so that a dispatch lost with a
# dead worker holds nothing up for long.
WAKE_SECONDS = 10


def wake_key(name: str) -> str:
    """The cache key `dispatch_task_once` holds for the task."""
    return f"jobs:wake:{name}"


def dispatch_task_once(name: str) -> None:
    """Dispatch the task (after commit) unless its wake key is held: one was dispatched and
    has not cleared the key yet. For a task that drains whatever is waiting: under a stream
    of requests, one task a request would cost more than the work. The task clears the key
    (`clear_wake`) when it starts, and again just before its last look for work, so that a
    request made after that look dispatches anew. Any error of the cache dispatches anyway."""
    from django.core.cache import cache

    try:
        first = cache.add(wake_key(name), 1, timeout=WAKE_SECONDS)
    except Exception:
        log.warning("the cache failed; dispatching %s anyway", name, exc_info=True)
        first = True
    if first:
        dispatch_task(name)


def clear_wake(name: str) -> None:
    """Let the next `dispatch_task_once` of the task dispatch again (cache errors ignored)."""
    from django.core.cache import cache

    try:
        cache.delete(wake_key(name))
    except Exception:
        log.warning("the cache failed clearing the wake key of %s", name, exc_info=True)


def dispatch_all_tasks() -> int:
    """Dispatch every registered task once (at start-up: whatever they drain, they drain)."""
    for name in list(_TASKS):
        dispatch_task(name)
    return len(_TASKS)


def _dispatch_on_commit(job_uuid: uuid_module.UUID) -> None:
    transaction.on_commit(lambda: _dispatch(job_uuid))


def dispatch_queued() -> int:
    """Dispatch every queued job again (after a restart); the claim keeps each to one run."""
    queued = list(
        Job.objects.filter(state=JobState.QUEUED).order_by("id").values_list("uuid", flat=True)
    )
    for job_uuid in queued:
        _dispatch(job_uuid)
    return len(queued)


def wait_for_embedded_jobs(timeout: float = 30.0) -> bool:
    """Wait until the embedded runner has nothing left; True when it is idle."""
    with _executor_lock:
        pending = list(_futures)
    _done, not_done = wait(pending, timeout=timeout)
    return not not_done
