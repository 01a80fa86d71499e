from __future__ import annotations

from django.conf import settings
from django.db import models


class AuditEvent(models.Model):
    """One state change: append-only. Rows are never updated or deleted by the service."""

    time = models.DateTimeField(db_index=True)
    event = models.CharField(max_length=64)
    # "<kind>:<natural key>", e.g. "user:mary", "enrollment:course-v1:edX+toy+2012:mary".
    subject = models.CharField(max_length=512)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_constraint=False,
    )
    actor_username = models.CharField(max_length=150, blank=True)
    source = models.CharField(max_length=255)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["subject", "id"], name="audit_subject_idx")]
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.time:%Y-%m-%d %H:%M:%S} {self.event} {self.subject}"
