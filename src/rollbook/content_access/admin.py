"""Content access in the admin: structure versions, cohorts and memberships (read-only;
changes go through the REST API, which validates and audits them)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from rollbook.content_access.models import (
    Cohort,
    CohortMembership,
    CourseStructure,
    RandomAssignment,
)


class _ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(CourseStructure)
class CourseStructureAdmin(_ReadOnly):
    list_display = ("course_key", "version", "blocks", "created", "created_by")
    search_fields = ("=course_key",)
    exclude = ("body",)


@admin.register(Cohort)
class CohortAdmin(_ReadOnly):
    list_display = ("course_key", "name", "partition_id", "group_id", "is_default", "created")
    search_fields = ("=course_key", "name")


@admin.register(CohortMembership)
class CohortMembershipAdmin(_ReadOnly):
    list_display = ("course_key", "cohort", "user", "created")
    search_fields = ("=course_key", "user__username")
    list_select_related = ("cohort", "user")


@admin.register(RandomAssignment)
class RandomAssignmentAdmin(_ReadOnly):
    list_display = ("course_key", "user", "partition_id", "group_id", "created")
    search_fields = ("=course_key", "user__username")
    list_select_related = ("user",)
