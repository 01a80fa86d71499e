from __future__ import annotations

from django.conf import settings
from django.db import models


class CourseEnrollment(models.Model):
    """One row per (user, course): the mode (track) and whether it is active."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    course = models.ForeignKey("catalog.Course", on_delete=models.PROTECT, related_name="+")
    mode = models.CharField(max_length=32)
    is_active = models.BooleanField(default=True)
    # What asserts this enrollment ("manual", "sis:<key>", "program:<uuid>"); see lib.sources.
    sources = models.JSONField(default=list, blank=True)
    created = models.DateTimeField()
    modified = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "course"], name="enrollments_user_course_uniq")
        ]
        indexes = [
            models.Index(fields=["course", "is_active", "mode"], name="enrollments_course_idx")
        ]

    def __str__(self) -> str:
        return f"{self.user_id} in {self.course_id} ({self.mode})"
