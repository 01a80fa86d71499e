from __future__ import annotations

from rollbook.jobs import api
from rollbook.jobs.celery_app import app


@app.task(name="rollbook.jobs.run", acks_late=True, ignore_result=True)
def run_job_task(job_uuid: str) -> None:
    api.run_job(job_uuid)


@app.task(name="rollbook.jobs.task", acks_late=True, ignore_result=True)
def run_task_task(name: str) -> None:
    api.run_task(name)
