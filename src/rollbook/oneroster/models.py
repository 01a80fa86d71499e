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
