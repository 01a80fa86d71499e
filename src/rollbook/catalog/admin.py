"""Catalog in the admin. Changes go through catalog.api, so they are validated and audited;
courses and libraries are created through the API (their keys are fixed at creation)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from rollbook.audit.data import Actor
from rollbook.catalog import api
from rollbook.catalog.models import Course, Library, Org
from rollbook.lib.errors import RollbookError


def _actor(request: HttpRequest) -> Actor:
    return Actor(request.user.pk, request.user.get_username(), "admin")


@admin.register(Org)
class OrgAdmin(admin.ModelAdmin):
    list_display = ("short_name", "name", "created", "modified")
    search_fields = ("short_name", "name")
    readonly_fields = ("short_name", "created", "modified")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # orgs come with the first course, library or grant naming them

    def save_model(self, request: HttpRequest, obj: Org, form: Any, change: bool) -> None:
        # Through the API, so that a new name is audited and moves `modified` on.
        try:
            api.rename_org(obj.short_name, name=form.cleaned_data["name"], actor=_actor(request))
        except RollbookError as exc:
            self.message_user(request, f"Not saved: {exc.message}", messages.ERROR)

    def delete_model(self, request: HttpRequest, obj: Org) -> None:
        api.delete_org(obj.short_name, actor=_actor(request))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Org]) -> None:
        for key in queryset.order_by("pk").values_list("short_name", flat=True):
            api.delete_org(key, actor=_actor(request))


@admin.register(Course)
class CourseAdmin(admin.ModelAdmin):
    list_display = ("key", "title", "org", "start", "end", "enrollment_open", "sis_id")
    list_filter = ("org", "enrollment_open")
    search_fields = ("=key", "title", "sis_id")
    readonly_fields = ("key", "org", "created", "modified")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Course, form: Any, change: bool) -> None:
        fields = {name: form.cleaned_data[name] for name in form.changed_data}
        try:
            api.put_course(obj.key, actor=_actor(request), **fields)
        except RollbookError as exc:
            self.message_user(request, f"Not saved: {exc.message}", messages.ERROR)

    # Deletes go through the API too, so they are audited.
    def delete_model(self, request: HttpRequest, obj: Course) -> None:
        api.delete_course(obj.key, actor=_actor(request))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Course]) -> None:
        for key in queryset.order_by("pk").values_list("key", flat=True):
            api.delete_course(key, actor=_actor(request))


@admin.register(Library)
class LibraryAdmin(admin.ModelAdmin):
    list_display = ("key", "title", "org")
    list_filter = ("org",)
    search_fields = ("=key", "title")
    readonly_fields = ("key", "org", "created", "modified")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Library, form: Any, change: bool) -> None:
        try:
            api.put_library(obj.key, actor=_actor(request), title=form.cleaned_data["title"])
        except RollbookError as exc:
            self.message_user(request, f"Not saved: {exc.message}", messages.ERROR)

    def delete_model(self, request: HttpRequest, obj: Library) -> None:
        api.delete_library(obj.key, actor=_actor(request))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Library]) -> None:
        for key in queryset.order_by("pk").values_list("key", flat=True):
            api.delete_library(key, actor=_actor(request))
