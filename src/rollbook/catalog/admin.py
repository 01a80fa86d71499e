from __future__ import annotations

from django.contrib import admin

from rollbook.catalog.models import Course, Library, Org


@admin.register(Org)
class OrgAdmin(admin.ModelAdmin):
    list_display = ("short_name", "name", "created")
    search_fields = ("short_name", "name")
    readonly_fields = ("created",)


@admin.register(Course)
class CourseAdmin(admin.ModelAdmin):
    list_display = ("key", "title", "org", "start", "end", "enrollment_open", "sis_id")
    list_filter = ("org", "enrollment_open")
    search_fields = ("key", "title", "sis_id")
    readonly_fields = ("key", "org", "created", "modified")


@admin.register(Library)
class LibraryAdmin(admin.ModelAdmin):
    list_display = ("key", "title", "org")
    list_filter = ("org",)
    search_fields = ("key", "title")
    readonly_fields = ("key", "org", "created", "modified")
