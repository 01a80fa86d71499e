"""Certificates in the admin, to look things up: certificates, grades, allowlist entries,
invalidations, generation runs and the signed credentials issued.

Nothing is edited here: grades, the allowlist, invalidations and generation go through the
REST API or `rollbook certificates generate`, so that every change follows the status
machine and leaves an audit row.
"""

from __future__ import annotations

import json

from django.contrib import admin
from django.utils.html import format_html

from rollbook.certificates.models import (
    AllowlistEntry,
    Certificate,
    CourseGrade,
    Credential,
    GenerationRun,
    Invalidation,
)
from rollbook.lib.admin import ReadOnlyAdmin


def _link(url: str) -> str:
    return format_html('<a href="{}">{}</a>', url, url)


@admin.register(Certificate)
class CertificateAdmin(ReadOnlyAdmin):
    list_display = ("user", "course_key", "status", "mode", "grade", "issued_at", "modified")
    list_filter = ("status", "course_key", "mode")
    # "=": exact (username case-insensitively), as keys are compared everywhere.
    search_fields = ("=user__username", "=course_key", "=verify_uuid")
    list_select_related = ("user",)
    fields = (
        "user",
        "course_key",
        "status",
        "mode",
        "grade",
        "name",
        "distinction",
        "error_reason",
        "verify_link",
        "download_uuid",
        "created",
        "modified",
        "issued_at",
        "issued_at_reason",
    )
    readonly_fields = fields
    ordering = ("-id",)

    @admin.display(description="verify page")
    def verify_link(self, obj: Certificate) -> str:
        url = f"/certificates/{obj.verify_uuid}"
        return _link(url)


@admin.register(CourseGrade)
class CourseGradeAdmin(ReadOnlyAdmin):
    list_display = ("user", "course_key", "percent", "letter_grade", "passed", "modified")
    list_filter = ("passed", "course_key")
    search_fields = ("=user__username", "=course_key")
    list_select_related = ("user",)
    fields = ("user", "course_key", "percent", "letter_grade", "passed", "modified")
    readonly_fields = fields
    ordering = ("-id",)


@admin.register(AllowlistEntry)
class AllowlistEntryAdmin(ReadOnlyAdmin):
    list_display = ("user", "course_key", "notes", "created", "created_by")
    list_filter = ("course_key",)
    search_fields = ("=user__username", "=course_key")
    list_select_related = ("user",)
    fields = ("user", "course_key", "notes", "created", "created_by")
    readonly_fields = fields
    ordering = ("-id",)


@admin.register(Invalidation)
class InvalidationAdmin(ReadOnlyAdmin):
    list_display = ("user", "course_key", "active", "notes", "created", "created_by", "lifted_at")
    list_filter = ("active", "course_key")
    search_fields = ("=user__username", "=course_key")
    list_select_related = ("user",)
    fields = (
        "user",
        "course_key",
        "active",
        "notes",
        "created",
        "created_by",
        "lifted_at",
        "lifted_by",
    )
    readonly_fields = fields
    ordering = ("-id",)


@admin.register(GenerationRun)
class GenerationRunAdmin(ReadOnlyAdmin):
    list_display = ("job_uuid", "course_key", "requested_by", "created", "finished", "counts")
    list_filter = ("course_key",)
    search_fields = ("=job_uuid", "=course_key", "=requested_by")
    fields = (
        "job_uuid",
        "course_key",
        "requested_by",
        "usernames",
        "statuses_to_regenerate",
        "counts",
        "created",
        "finished",
    )
    readonly_fields = fields
    ordering = ("-id",)


@admin.register(Credential)
class CredentialAdmin(ReadOnlyAdmin):
    """Issued credentials as signed; whether one's status bit is set follows its certificate
    (the revocation list is built from the certificates' status)."""

    list_display = ("uuid", "certificate", "status_index", "issued_at", "superseded")
    list_filter = ("superseded",)
    search_fields = ("=uuid", "=certificate__verify_uuid", "=certificate__user__username")
    list_select_related = ("certificate",)
    fields = (
        "uuid",
        "certificate",
        "status_index",
        "issued_at",
        "superseded",
        "name",
        "mode",
        "certificate_issued_at",
        "identity_salt",
        "credential_link",
        "signed_document",
    )
    readonly_fields = fields
    ordering = ("-id",)

    @admin.display(description="current credential")
    def credential_link(self, obj: Credential) -> str:
        url = f"/certificates/{obj.certificate.verify_uuid}/credential.json"
        return _link(url)

    @admin.display(description="document")
    def signed_document(self, obj: Credential) -> str:
        text = json.dumps(obj.document, sort_keys=True, indent=2, ensure_ascii=False)
        return format_html("<pre>{}</pre>", text)
