"""Program CSV uploads as jobs: enroll (student_key,status,curriculum_uuid) and link
(external_user_key,username), with progress and per-row errors."""

from __future__ import annotations

from typing import Any

from rollbook.jobs import api as jobs

ENROLL_JOB_KIND = "programs.enroll"
LINK_JOB_KIND = "programs.link"


def run_enroll(context: jobs.JobContext) -> dict[str, Any]:
    from rollbook.programs import api

    return api.run_enroll_job(context)


def run_link(context: jobs.JobContext) -> dict[str, Any]:
    from rollbook.programs import api

    return api.run_link_job(context)


def register() -> None:
    jobs.register_job_kind(ENROLL_JOB_KIND, run_enroll)
    jobs.register_job_kind(LINK_JOB_KIND, run_link)
