from __future__ import annotations

from django.contrib import admin

from rollbook.enrollments.models import CourseEnrollment


@admin.register(CourseEnrollment)
class CourseEnrollmentAdmin(admin.ModelAdmin):
    list_display = ("user", "course", "mode", "is_active", "created", "modified")
    list_filter = ("mode", "is_active")
    search_fields = ("user__username", "=course__key")
    raw_id_fields = ("user", "course")
    readonly_fields = ("created", "modified")
    list_select_related = ("user", "course")
