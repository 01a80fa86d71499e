from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


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
    # The outbound event number: gapless and increasing, given after commit by the sequencer
    # (`api.sequence_events`, ADR 0013). NULL until then; the only update the service makes.
    seq = models.BigIntegerField(null=True, blank=True, unique=True)

    class Meta:
        indexes = [
            models.Index(fields=["subject", "id"], name="audit_subject_idx"),
            # The sequencer's work list: the few rows still without a number, in id order.
            models.Index(
                fields=["id"], condition=Q(seq__isnull=True), name="audit_unsequenced_idx"
            ),
        ]
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.time:%Y-%m-%d %H:%M:%S} {self.event} {self.subject}"
