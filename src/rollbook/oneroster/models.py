"""OAuth 2 clients of the OneRoster provider and the access tokens issued to them."""

from __future__ import annotations

from django.db import models


class OAuthClient(models.Model):
    """A system that pulls rosters. Its secret is stored as a SHA-256 digest only."""

    client_id = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=100)
    secret_digest = models.CharField(max_length=64)
    scopes = models.CharField(max_length=500, help_text="Scopes it may ask for, space-separated.")
    created = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "OAuth client"

    def __str__(self) -> str:
        return f"{self.name} ({self.client_id})"


class OAuthToken(models.Model):
    """An access token (its SHA-256 digest) with its scope and expiry."""

    client = models.ForeignKey(OAuthClient, on_delete=models.CASCADE, related_name="tokens")
    digest = models.CharField(max_length=64, unique=True)
    scope = models.CharField(max_length=500)
    created = models.DateTimeField()
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        verbose_name = "OAuth access token"

    def __str__(self) -> str:
        return f"token {self.id} of client {self.client_id}"


class Tombstone(models.Model):
    """A OneRoster object that rollbook deleted outright (a course run, an org, a user, a
    teaching role grant), served as `tobedeleted` until the retention ends (ADR 0018).

    Derived from the audit log's `*.deleted` / `role.revoked` events by `tombstones.sync`,
    never written by the other apps: the table can be emptied and rebuilt from the log."""

    resource = models.CharField(max_length=32)  # "users", "orgs", "classes", ...
    sourced_id = models.CharField(max_length=800)
    deleted = models.DateTimeField()  # the deleting event's time: dateLastModified
    seq = models.BigIntegerField()  # the deleting event's number
    # The object's last known fields, by projection column (`login`, `class_title`, ...).
    fields = models.JSONField(default=dict)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["resource", "sourced_id"], name="oneroster_tombstone_uniq"
            )
        ]
        indexes = [models.Index(fields=["resource", "deleted"], name="oneroster_tomb_time_idx")]

    def __str__(self) -> str:
        return f"{self.resource}/{self.sourced_id} deleted {self.deleted:%Y-%m-%d %H:%M}"


class TombstoneFeed(models.Model):
    """One row: the audit event number up to which the tombstones are derived, and when they
    were last pruned."""

    seq = models.BigIntegerField(default=0)
    pruned = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"tombstones derived up to event {self.seq}"
