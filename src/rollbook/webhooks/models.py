from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

DEFAULT_MAX_ATTEMPTS = 8


class Subscription(models.Model):
    """A receiver of the change events (ADR 0014): where, which events, and how far it got."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    url = models.URLField(max_length=2000)
    # Kept as given: it signs every request. Shown once, when the subscription is created.
    secret = models.CharField(max_length=255)
    description = models.CharField(max_length=255, blank=True)
    event_types = models.JSONField(default=list, blank=True, help_text="Empty: every type.")
    orgs = models.JSONField(default=list, blank=True, help_text="Empty: every org.")
    active = models.BooleanField(default=True)
    max_attempts = models.PositiveSmallIntegerField(default=DEFAULT_MAX_ATTEMPTS)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_constraint=False,
    )
    created_by_username = models.CharField(max_length=150, blank=True)
    created = models.DateTimeField()
    updated = models.DateTimeField()
    # Every matching event with seq <= delivered_seq was delivered or dead-lettered.
    delivered_seq = models.BigIntegerField(default=0)
    # Every matching event with seq <= read_seq was delivered, dead-lettered or is pending.
    read_seq = models.BigIntegerField(default=0)
    # Bumped by replay: a dispatcher that read the subscription before drops its batch.
    generation = models.PositiveIntegerField(default=0)
    # SQLite's one-dispatcher-at-a-time lease (PostgreSQL uses an advisory lock).
    lease_until = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_failure_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.url} ({self.uuid})"


class PendingDelivery(models.Model):
    """An event not delivered yet: failed and waiting for its next attempt (attempts > 0), or
    waiting behind an earlier event of its subject (attempts == 0)."""

    subscription = models.ForeignKey(
        Subscription, on_delete=models.CASCADE, related_name="pending_deliveries"
    )
    seq = models.BigIntegerField()
    subject = models.CharField(max_length=255)
    event_type = models.CharField(max_length=100)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    last_status = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    # A dead letter sent again: out of the cursor's reckoning (it was dead-lettered before).
    redelivery = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["subscription", "seq"], name="webhooks_pending_seq")
        ]
        ordering = ["subscription_id", "seq"]
        verbose_name_plural = "pending deliveries"

    def __str__(self) -> str:
        return f"#{self.seq} {self.subject}"


class DeadLetter(models.Model):
    """An event given up on after the subscription's max_attempts."""

    subscription = models.ForeignKey(
        Subscription, on_delete=models.CASCADE, related_name="dead_letters"
    )
    seq = models.BigIntegerField()
    subject = models.CharField(max_length=255)
    event_type = models.CharField(max_length=100)
    attempts = models.PositiveSmallIntegerField()
    last_status = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["subscription", "seq"], name="webhooks_dead_seq")
        ]
        ordering = ["subscription_id", "seq"]

    def __str__(self) -> str:
        return f"#{self.seq} {self.subject}"
