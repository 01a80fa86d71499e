"""The SIS import job kind."""

from __future__ import annotations

from rollbook.jobs import api as jobs
from rollbook.sis_import.api import IMPORT_JOB_KIND, run_import


def register() -> None:
    jobs.register_job_kind(IMPORT_JOB_KIND, run_import)
