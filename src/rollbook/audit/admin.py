from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from rollbook.audit.models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ("time", "event", "subject", "actor_username", "source")
    list_filter = ("event",)
    search_fields = ("=subject", "actor_username", "source")
    date_hierarchy = "time"
    readonly_fields = ("time", "event", "subject", "actor_username", "source", "before", "after")
    exclude = ("actor",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: AuditEvent | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: AuditEvent | None = None) -> bool:
        return False
