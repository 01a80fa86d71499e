"""Content access in the admin: structure versions, cohorts and memberships (read-only;
changes go through the REST API, which validates and audits them)."""

from __future__ import annotations

from django.contrib import admin

from rollbook.content_access.models import (
    Cohort,
    CohortMembership,
    CourseStructure,
    RandomAssignment,
)
from rollbook.lib.admin import ReadOnlyAdmin


@admin.register(CourseStructure)
class CourseStructureAdmin(ReadOnlyAdmin):
    list_display = ("course_key", "version", "blocks", "created", "created_by")
    search_fields = ("=course_key",)
    exclude = ("body",)


@admin.register(Cohort)
class CohortAdmin(ReadOnlyAdmin):
    list_display = ("course_key", "name", "partition_id", "group_id", "is_default", "created")
    search_fields = ("=course_key", "name")


@admin.register(CohortMembership)
class CohortMembershipAdmin(ReadOnlyAdmin):
    list_display = ("course_key", "cohort", "user", "created")
    search_fields = ("=course_key", "user__username")
    list_select_related = ("cohort", "user")


@admin.register(RandomAssignment)
class RandomAssignmentAdmin(ReadOnlyAdmin):
    list_display = ("course_key", "user", "partition_id", "group_id", "created")
    search_fields = ("=course_key", "user__username")
    list_select_related = ("user",)
