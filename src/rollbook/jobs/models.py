from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from rollbook.jobs.data import JobState


class Job(models.Model):
    """Long-running work: its state, progress, counts and errors, run by Celery."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    kind = models.CharField(max_length=64)
    state = models.CharField(
        max_length=16, choices=[(s.value, s.value) for s in JobState], default=JobState.QUEUED.value
    )
    progress = models.PositiveSmallIntegerField(default=0)
    params = models.JSONField(default=dict, blank=True)
    counts = models.JSONField(default=dict, blank=True)
    errors = models.JSONField(default=list, blank=True)
    result = models.JSONField(default=dict, blank=True)
    message = models.TextField(blank=True, help_text="Why it failed or is held.")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_constraint=False,
    )
    actor_username = models.CharField(max_length=150, blank=True)
    source = models.CharField(max_length=255, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    created = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["state", "id"], name="jobs_state_idx")]
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.kind} {self.uuid} ({self.state})"
