"""Grades, the allowlist, invalidations, certificates and generation runs."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class CertificateStatus(models.TextChoices):
    UNAVAILABLE = "unavailable"
    GENERATING = "generating"
    REGENERATING = "regenerating"
    DELETING = "deleting"
    DELETED = "deleted"
    DOWNLOADABLE = "downloadable"
    ERROR = "error"
    NOTPASSING = "notpassing"
    RESTRICTED = "restricted"


class CourseGrade(models.Model):
    course_key = models.CharField(max_length=255)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    percent = models.FloatField()
    letter_grade = models.CharField(max_length=32, blank=True)
    passed = models.BooleanField()
    modified = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["course_key", "user"], name="cert_grade_uniq")
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.percent} in {self.course_key}"


class AllowlistEntry(models.Model):
    course_key = models.CharField(max_length=255)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    notes = models.TextField(blank=True)
    created = models.DateTimeField()
    created_by = models.CharField(max_length=150, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["course_key", "user"], name="cert_allowlist_uniq")
        ]

    def __str__(self) -> str:
        return f"{self.user_id} allowlisted in {self.course_key}"


class Invalidation(models.Model):
    """While active, the certificate is unavailable and generation is refused."""

    course_key = models.CharField(max_length=255)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    notes = models.TextField(blank=True)
    active = models.BooleanField(default=True)
    created = models.DateTimeField()
    created_by = models.CharField(max_length=150, blank=True)
    lifted_at = models.DateTimeField(null=True, blank=True)
    lifted_by = models.CharField(max_length=150, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["course_key", "user"],
                condition=models.Q(active=True),
                name="cert_one_active_invalidation",
            )
        ]

    def __str__(self) -> str:
        state = "active" if self.active else "lifted"
        return f"{self.user_id} invalidated in {self.course_key} ({state})"


class Certificate(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    course_key = models.CharField(max_length=255)
    mode = models.CharField(max_length=32)
    grade = models.CharField(max_length=16, blank=True)
    name = models.CharField(max_length=255, blank=True, help_text="The learner's name at issue.")
    verify_uuid = models.CharField(max_length=32, unique=True)
    download_uuid = models.CharField(max_length=32, unique=True)
    distinction = models.BooleanField(default=False)
    status = models.CharField(max_length=16, choices=CertificateStatus.choices)
    error_reason = models.CharField(max_length=512, blank=True)
    created = models.DateTimeField()
    modified = models.DateTimeField()
    issued_at = models.DateTimeField(null=True, blank=True)
    issued_at_reason = models.TextField(blank=True, help_text="Why the issue date was overridden.")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "course_key"], name="cert_user_course_uniq")
        ]
        indexes = [models.Index(fields=["course_key", "status"], name="cert_course_status_idx")]

    def __str__(self) -> str:
        return f"{self.user_id} {self.course_key} ({self.status})"


class GenerationRun(models.Model):
    """A batch generation: who asked, when, for whom, and what came of it."""

    job_uuid = models.UUIDField(unique=True)
    course_key = models.CharField(max_length=255)
    requested_by = models.CharField(max_length=150, blank=True)
    usernames = models.JSONField(default=list, blank=True)
    statuses_to_regenerate = models.JSONField(default=list, blank=True)
    counts = models.JSONField(default=dict, blank=True)
    created = models.DateTimeField()
    finished = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.course_key} {self.job_uuid}"


class Credential(models.Model):
    """A certificate's signed Open Badges 3.0 credential, issued once and kept as signed.

    `name`, `mode` and `certificate_issued_at` are the certificate's at issue: when they no
    longer match the certificate, this credential is out of date (its status bit is set) and
    the next request issues a new one, superseding this. Never deleted: `status_index` is its
    bit in the status list for good.
    """

    uuid = models.UUIDField(unique=True, help_text="The credential's id is urn:uuid:<uuid>.")
    certificate = models.ForeignKey(Certificate, on_delete=models.PROTECT, related_name="+")
    status_index = models.PositiveIntegerField(unique=True)
    identity_salt = models.CharField(max_length=64)
    document = models.JSONField(help_text="The signed credential.")
    issued_at = models.DateTimeField()
    name = models.CharField(max_length=255, blank=True, help_text="The certificate's name.")
    mode = models.CharField(max_length=32)
    certificate_issued_at = models.DateTimeField(help_text="The certificate's issue date.")
    superseded = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["certificate"],
                condition=models.Q(superseded=False),
                name="cert_one_current_credential",
            )
        ]

    def __str__(self) -> str:
        return f"urn:uuid:{self.uuid}"
