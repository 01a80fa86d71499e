"""The Celery application: broker and settings from Django's settings (CELERY_*)."""

from __future__ import annotations

from celery import Celery

app = Celery("rollbook", include=["rollbook.jobs.tasks"])
app.config_from_object("django.conf:settings", namespace="CELERY")
