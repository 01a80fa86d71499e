"""Programs in the admin, to look things up: programs with their curricula, program
enrollments (waiting or linked), program course enrollments and pending course roles.

Nothing is edited here: programs change through `PUT /api/v1/programs/{uuid}`, enrollments
through the REST writes, CSV uploads or `rollbook programs ...`, so that every change is
validated and audited. The one action, cancelling program enrollments, goes through
programs.api as a PATCH would.
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html_join

from rollbook.audit.data import Actor
from rollbook.lib.admin import ReadOnlyAdmin
from rollbook.lib.errors import RollbookError
from rollbook.programs import api
from rollbook.programs.data import EnrollmentStatus, RecordError
from rollbook.programs.models import (
    Curriculum,
    PendingCourseRole,
    Program,
    ProgramCourseEnrollment,
    ProgramEnrollment,
)


@admin.register(Program)
class ProgramAdmin(ReadOnlyAdmin):
    list_display = ("title", "uuid", "org", "type", "modified")
    list_filter = ("org", "type")
    search_fields = ("=uuid", "title", "=org")
    fields = ("uuid", "title", "org", "type", "created", "modified", "curricula_display")
    readonly_fields = fields
    ordering = ("title",)

    @admin.display(description="curricula")
    def curricula_display(self, obj: Program) -> str:
        rows = Curriculum.objects.filter(program_id=obj.id).order_by("id")
        return format_html_join(
            "\n",
            "<p><code>{}</code>: {}</p>",
            ((row.uuid, ", ".join(row.courses) or "no courses") for row in rows),
        )


class LinkedFilter(admin.SimpleListFilter):
    title = "account"
    parameter_name = "linked"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "linked"), ("no", "waiting")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "yes":
            return queryset.filter(user__isnull=False)
        if self.value() == "no":
            return queryset.filter(user__isnull=True)
        return queryset


@admin.register(ProgramEnrollment)
class ProgramEnrollmentAdmin(ReadOnlyAdmin):
    list_display = ("program", "external_user_key", "user", "status", "curriculum", "created")
    list_filter = ("status", LinkedFilter, "program")
    # "=": case-insensitive exact match, as keys are compared everywhere.
    search_fields = ("=external_user_key", "=user__username")
    list_select_related = ("program", "curriculum", "user")
    fields = (
        "program",
        "curriculum",
        "external_user_key",
        "user",
        "status",
        "created",
        "modified",
    )
    readonly_fields = fields
    ordering = ("-id",)
    actions = ("cancel",)

    @admin.action(description="Cancel the selected program enrollments")
    def cancel(self, request: HttpRequest, queryset: QuerySet[ProgramEnrollment]) -> None:
        actor = Actor(request.user.pk, request.user.get_username(), "admin")
        # One write per (program, curriculum): a key is in a request once.
        batches: dict[tuple[Any, Any], list[api.EnrollmentRequest]] = defaultdict(list)
        for row in queryset.select_related("program", "curriculum").order_by("id"):
            batches[(row.program.uuid, row.curriculum.uuid)].append(
                api.EnrollmentRequest(
                    row.external_user_key, EnrollmentStatus.CANCELED, row.curriculum.uuid
                )
            )
        done, failed = 0, dict[str, str]()
        for (program_uuid, _curriculum), records in batches.items():
            try:
                results = api.write_program_enrollments(
                    program_uuid, records, create=False, update=True, actor=actor
                )
            except RollbookError as exc:
                failed.update({r.student_key: exc.message for r in records})
                continue
            for key, outcome in results.items():
                if outcome in RecordError.__members__.values():
                    failed[key] = str(outcome)
                else:
                    done += 1
        self.message_user(request, f"{done} program enrollment(s) cancelled.", messages.SUCCESS)
        if failed:
            self.message_user(
                request, f"Not cancelled: {json.dumps(failed)[:1000]}", messages.ERROR
            )


@admin.register(ProgramCourseEnrollment)
class ProgramCourseEnrollmentAdmin(ReadOnlyAdmin):
    list_display = ("key", "program", "course_key", "status", "course_enrollment", "modified")
    list_filter = ("status",)
    search_fields = ("=program_enrollment__external_user_key", "=course_key")
    list_select_related = ("program_enrollment__program",)
    fields = (
        "program_enrollment",
        "course_key",
        "status",
        "course_enrollment",
        "created",
        "modified",
    )
    readonly_fields = fields
    ordering = ("-id",)

    @admin.display(description="student key")
    def key(self, obj: ProgramCourseEnrollment) -> str:
        return obj.program_enrollment.external_user_key

    @admin.display(description="program")
    def program(self, obj: ProgramCourseEnrollment) -> str:
        return str(obj.program_enrollment.program)


@admin.register(PendingCourseRole)
class PendingCourseRoleAdmin(ReadOnlyAdmin):
    list_display = ("key", "course_key", "role")
    list_filter = ("role",)
    search_fields = (
        "=program_course_enrollment__program_enrollment__external_user_key",
        "=program_course_enrollment__course_key",
    )
    list_select_related = ("program_course_enrollment__program_enrollment",)
    fields = ("program_course_enrollment", "role")
    readonly_fields = fields

    @admin.display(description="student key")
    def key(self, obj: PendingCourseRole) -> str:
        return obj.program_course_enrollment.program_enrollment.external_user_key

    @admin.display(description="course")
    def course_key(self, obj: PendingCourseRole) -> str:
        return obj.program_course_enrollment.course_key
