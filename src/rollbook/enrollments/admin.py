"""Enrollments in the admin, saved through enrollments.api (validated and audited)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.http import HttpRequest

from rollbook.audit.data import Actor
from rollbook.enrollments import api
from rollbook.enrollments.models import CourseEnrollment
from rollbook.lib.errors import RollbookError


@admin.register(CourseEnrollment)
class CourseEnrollmentAdmin(admin.ModelAdmin):
    list_display = ("user", "course", "mode", "is_active", "created", "modified")
    list_filter = ("mode", "is_active")
    search_fields = ("user__username", "=course__key")
    raw_id_fields = ("user", "course")
    readonly_fields = ("created", "modified")
    list_select_related = ("user", "course")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        # Who and where are fixed once enrolled; mode and activity change.
        if obj is not None:
            return ("user", "course", "created", "modified")
        return self.readonly_fields

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # unenroll by deactivating: the history stays

    def save_model(
        self, request: HttpRequest, obj: CourseEnrollment, form: Any, change: bool
    ) -> None:
        actor = Actor(request.user.pk, request.user.get_username(), "admin")
        try:
            api.put_enrollment(
                obj.course.key,
                obj.user.username,
                actor=actor,
                mode=obj.mode,
                is_active=obj.is_active,
            )
        except RollbookError as exc:
            self.message_user(request, f"Not saved: {exc.message}", messages.ERROR)
