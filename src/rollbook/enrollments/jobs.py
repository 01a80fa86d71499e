"""The bulk enrollment job: `bulk_enroll` over chunks of usernames, with progress."""

from __future__ import annotations

from typing import Any

from rollbook.enrollments.api import BULK_JOB_KIND, bulk_enroll
from rollbook.enrollments.data import BulkAction, BulkOutcome
from rollbook.jobs import api as jobs

CHUNK = 500


def run_bulk_enrollment(context: jobs.JobContext) -> dict[str, Any]:
    params = context.params
    usernames: list[str] = list(params["usernames"])
    action = BulkAction(params.get("action", BulkAction.ENROLL.value))
    context.count("total", 0)
    for start in range(0, len(usernames), CHUNK):
        results = bulk_enroll(
            params["course_key"],
            usernames[start : start + CHUNK],
            actor=context.actor,
            action=action,
            mode=params.get("mode"),
        )
        for username, result in results.items():
            context.count("total")
            if result.outcome is BulkOutcome.ERROR:
                context.error(username, result.code, result.message)
            else:
                context.count(result.outcome.value)
        context.progress(min(start + CHUNK, len(usernames)), len(usernames))
    return {"course_key": params["course_key"], "action": action.value}


def register() -> None:
    jobs.register_job_kind(BULK_JOB_KIND, run_bulk_enrollment)
