"""A bulk enrollment job run by a real Celery worker through the local Redis.

The worker runs in this process (a thread); its queue has a unique name, and only the keys
of that queue are removed from the Redis database afterwards. Redis down: the test fails.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import redis
from celery.contrib.testing.worker import start_worker
from celery.signals import task_postrun
from django.db import connection
from django.test import override_settings

from rollbook.jobs import tasks  # noqa: F401 (registers the task on the app)
from rollbook.jobs.celery_app import app
from tests.api.helpers import COURSE, query
from tests.api.world import World
from tests.factories import Make

REDIS_URL = os.environ.get("ROLLBOOK_TEST_REDIS_URL", "").strip() or "redis://127.0.0.1:6379/15"
FINISHED = {"succeeded", "failed", "cancelled"}


def _reset_broker_state() -> None:
    """Forget the broker connections and queue declarations made under the old settings."""
    if app._pool is not None:
        app._pool.force_close_all()
        app._pool = None
    app.__dict__.pop("amqp", None)


@contextmanager
def _app_on(queue: str) -> Iterator[None]:
    changes = {
        "broker_url": REDIS_URL,
        "task_default_queue": queue,
        "task_default_exchange": queue,
        "task_default_routing_key": queue,
        "worker_enable_remote_control": False,
        "worker_hijack_root_logger": False,
        "broker_connection_retry_on_startup": False,
    }
    saved = {name: app.conf[name] for name in changes}
    app.conf.update(changes)
    _reset_broker_state()
    try:
        yield
    finally:
        _reset_broker_state()
        app.conf.update(saved)


def _close_db(**_kwargs: Any) -> None:
    # The worker thread's connection: closed after each task, so the test database can be
    # flushed and dropped.
    connection.close()


def _wait_finished(staff_api: Any, job_id: str, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        job = staff_api.get(f"jobs/{job_id}").json()
        if job["state"] in FINISHED or time.monotonic() > deadline:
            return job
        time.sleep(0.05)


@pytest.mark.celery
@pytest.mark.django_db(transaction=True)
def test_a_bulk_enrollment_job_runs_on_a_celery_worker(world: World, staff_api: Any) -> None:
    broker = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3, socket_timeout=10)
    broker.ping()  # Redis down: this raises, and the test fails
    queue = f"rollbook-test-{uuid.uuid4().hex}"
    Make.user("carol")
    task_postrun.connect(_close_db, weak=False)
    try:
        with (
            override_settings(JOBS_RUNNER="celery"),
            _app_on(queue),
            start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=30),
        ):
            response = staff_api.post(
                f"courses/{COURSE}/bulk_enrollments", {"usernames": ["carol", "mary", "nobody"]}
            )
            assert response.status_code == 202, response.content
            job = _wait_finished(staff_api, response.json()["job_id"])
    finally:
        task_postrun.disconnect(_close_db)
        for key in broker.scan_iter(match=f"*{queue}*"):
            broker.delete(key)
        broker.close()

    assert job["state"] == "succeeded", job
    assert job["counts"] == {"total": 3, "enrolled": 1, "unchanged": 1, "errors": 1}
    assert [e["record"] for e in job["errors"]] == ["nobody"]
    enrolled = staff_api.get(query(f"courses/{COURSE}/enrollments", is_active="true")).json()
    assert "carol" in [e["username"] for e in enrolled["items"]]
