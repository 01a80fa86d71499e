from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from rollbook.audit.data import Actor
from rollbook.jobs import api
from rollbook.jobs.data import JobState
from rollbook.jobs.models import Job
from rollbook.lib.errors import RollbookError


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = ("uuid", "kind", "state", "progress", "actor_username", "created", "finished_at")
    list_filter = ("state", "kind")
    search_fields = ("=uuid", "actor_username")
    readonly_fields = [field.name for field in Job._meta.fields]
    actions = ("approve", "cancel")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def _act(self, request: HttpRequest, queryset: QuerySet[Job], state: JobState) -> None:
        actor = Actor(request.user.pk, request.user.get_username(), "admin")
        for job in queryset.filter(state__in=[JobState.HELD, JobState.QUEUED]):
            try:
                if state is JobState.QUEUED:
                    api.approve_job(job.uuid, actor=actor)
                else:
                    api.cancel_job(job.uuid, actor=actor)
            except RollbookError as exc:
                self.message_user(request, f"{job.uuid}: {exc.message}", messages.ERROR)

    @admin.action(description="Approve the selected held jobs")
    def approve(self, request: HttpRequest, queryset: QuerySet[Job]) -> None:
        self._act(request, queryset, JobState.QUEUED)

    @admin.action(description="Cancel the selected queued or held jobs")
    def cancel(self, request: HttpRequest, queryset: QuerySet[Job]) -> None:
        self._act(request, queryset, JobState.CANCELLED)
