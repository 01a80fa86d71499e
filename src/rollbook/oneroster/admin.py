from __future__ import annotations

from django.contrib import admin

from rollbook.oneroster.models import OAuthClient, OAuthToken, Tombstone


@admin.register(OAuthClient)
class OAuthClientAdmin(admin.ModelAdmin):
    """Clients are created with `rollbook oneroster client create` (the secret is shown once)."""

    list_display = ("name", "client_id", "scopes", "created", "revoked_at")
    readonly_fields = ("client_id", "secret_digest", "created")
    search_fields = ("name", "client_id")

    def has_add_permission(self, request: object) -> bool:
        return False


@admin.register(OAuthToken)
class OAuthTokenAdmin(admin.ModelAdmin):
    list_display = ("id", "client", "scope", "created", "expires_at")
    readonly_fields = ("client", "digest", "scope", "created", "expires_at")

    def has_add_permission(self, request: object) -> bool:
        return False


@admin.register(Tombstone)
class TombstoneAdmin(admin.ModelAdmin):
    """Derived from the audit log (ADR 0018): shown, never edited."""

    list_display = ("resource", "sourced_id", "deleted", "seq")
    list_filter = ("resource",)
    search_fields = ("sourced_id",)

    def has_add_permission(self, request: object) -> bool:
        return False

    def has_change_permission(self, request: object, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: object, obj: object = None) -> bool:
        return False
