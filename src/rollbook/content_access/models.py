"""Course structures (a version per PUT), cohorts, and stored random group assignments."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class CourseStructure(models.Model):
    """One published version of a course's block DAG, as sent (zlib-compressed JSON)."""

    course_key = models.CharField(max_length=255)
    version = models.PositiveIntegerField()
    body = models.BinaryField()
    blocks = models.PositiveIntegerField(default=0)
    created = models.DateTimeField()
    created_by = models.CharField(max_length=150, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["course_key", "version"], name="content_version_uniq")
        ]

    def __str__(self) -> str:
        return f"{self.course_key} v{self.version}"


class Cohort(models.Model):
    """A named group of a course's learners, linked to one group of a cohort partition."""

    course_key = models.CharField(max_length=255)
    name = models.CharField(max_length=255)
    partition_id = models.IntegerField()
    group_id = models.IntegerField()
    is_default = models.BooleanField(
        default=False, help_text="Learners without a cohort are placed here on first access."
    )
    created = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["course_key", "name"], name="content_cohort_uniq"),
            models.UniqueConstraint(
                fields=["course_key"],
                condition=models.Q(is_default=True),
                name="content_one_default_cohort",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.course_key})"


class CohortMembership(models.Model):
    """A user is in at most one cohort per course."""

    cohort = models.ForeignKey(Cohort, on_delete=models.CASCADE, related_name="memberships")
    course_key = models.CharField(max_length=255)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["course_key", "user"], name="content_one_cohort")
        ]

    def __str__(self) -> str:
        return f"{self.user_id} in {self.cohort_id}"


class RandomAssignment(models.Model):
    """A user's group in a random (A/B) partition: chosen once, stable afterwards."""

    course_key = models.CharField(max_length=255)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    partition_id = models.IntegerField()
    group_id = models.IntegerField()
    created = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["course_key", "user", "partition_id"], name="content_random_uniq"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user_id}: {self.partition_id}={self.group_id}"
