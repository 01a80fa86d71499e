"""Batch certificate generation as a job."""

from __future__ import annotations

from typing import Any

from rollbook.jobs import api as jobs

GENERATE_JOB_KIND = "certificates.generate"


def run(context: jobs.JobContext) -> dict[str, Any]:
    from rollbook.certificates import api

    return api.run_generation(context)


def register() -> None:
    jobs.register_job_kind(GENERATE_JOB_KIND, run)
