"""Programs, their curricula and courses; program enrollments by the partner's student key.

A program enrollment waits (no user) until its `external_user_key` is linked to an account;
its program course enrollments then become course enrollments in the masters track.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower


class ProgramEnrollmentStatus(models.TextChoices):
    ENROLLED = "enrolled"
    PENDING = "pending"
    SUSPENDED = "suspended"
    CANCELED = "canceled"
    ENDED = "ended"


class ProgramCourseStatus(models.TextChoices):
    ACTIVE = "active"
    INACTIVE = "inactive"


class Program(models.Model):
    uuid = models.UUIDField(unique=True)
    title = models.CharField(max_length=255)
    org = models.CharField(max_length=255, db_index=True)
    type = models.CharField(max_length=64, blank=True)
    created = models.DateTimeField()
    modified = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.title} ({self.uuid})"


class Curriculum(models.Model):
    uuid = models.UUIDField(unique=True)
    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="curricula")
    # The course keys of the curriculum. A key need not be in the catalog (yet): programs live
    # in a catalog of their own, as in Open edX.
    courses = models.JSONField(default=list)

    def __str__(self) -> str:
        return str(self.uuid)


class ProgramCourse(models.Model):
    """A course key of a program (through any of its curricula): the program's course list."""

    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="+")
    course_key = models.CharField(max_length=255)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["program", "course_key"], name="programs_course_uniq")
        ]

    def __str__(self) -> str:
        return self.course_key


class ProgramEnrollment(models.Model):
    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="+")
    curriculum = models.ForeignKey(Curriculum, on_delete=models.PROTECT, related_name="+")
    # As the partner first sent it; compared case-insensitively (the index below).
    external_user_key = models.CharField(max_length=255)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    status = models.CharField(max_length=16, choices=ProgramEnrollmentStatus.choices)
    created = models.DateTimeField()
    modified = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                "program",
                "curriculum",
                Lower("external_user_key"),
                name="programs_enrollment_key_ci_uniq",
            ),
            models.UniqueConstraint(
                fields=["program", "curriculum", "user"],
                condition=models.Q(user__isnull=False),
                name="programs_enrollment_user_uniq",
            ),
        ]
        indexes = [
            # Linking and automatic linking look keys up across a program or an org.
            models.Index(Lower("external_user_key"), name="programs_enrollment_key_idx"),
            models.Index(fields=["user"], name="programs_enrollment_user_idx"),
            models.Index(fields=["user", "created"], name="programs_waiting_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.external_user_key} in {self.program_id} ({self.status})"


class ProgramCourseEnrollment(models.Model):
    program_enrollment = models.ForeignKey(
        ProgramEnrollment, on_delete=models.CASCADE, related_name="course_enrollments"
    )
    course_key = models.CharField(max_length=255)
    status = models.CharField(max_length=16, choices=ProgramCourseStatus.choices)
    course_enrollment = models.ForeignKey(
        "enrollments.CourseEnrollment",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    created = models.DateTimeField()
    modified = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["program_enrollment", "course_key"], name="programs_course_enrollment_uniq"
            )
        ]
        indexes = [
            models.Index(fields=["course_key", "status"], name="programs_pce_course_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.program_enrollment_id} in {self.course_key} ({self.status})"


class PendingCourseRole(models.Model):
    """A course role for a learner not linked yet: granted on linking, then removed."""

    program_course_enrollment = models.ForeignKey(
        ProgramCourseEnrollment, on_delete=models.CASCADE, related_name="pending_roles"
    )
    role = models.CharField(max_length=32, default="staff")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["program_course_enrollment", "role"], name="programs_pending_role_uniq"
            )
        ]

    def __str__(self) -> str:
        return f"{self.role} for {self.program_course_enrollment_id}"
