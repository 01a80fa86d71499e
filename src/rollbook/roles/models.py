from __future__ import annotations

from django.conf import settings
from django.db import models


class RoleGrant(models.Model):
    """(user, role, org, course_key). Course grants carry the key and its org; org grants an org
    and course_key ""; global grants neither. Empty strings, not NULLs, so that the unique
    constraint holds for org and global grants too."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    role = models.CharField(max_length=64)
    org = models.CharField(max_length=255, blank=True, default="")
    course_key = models.CharField(
        max_length=255, blank=True, default="", help_text="A course or library key; case-sensitive."
    )
    created = models.DateTimeField()
    # What asserts this grant ("manual", "sis:<key>", "program:<uuid>"); see lib.sources.
    sources = models.JSONField(default=list, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "role", "org", "course_key"], name="roles_grant_uniq"
            )
        ]
        indexes = [
            models.Index(fields=["course_key", "role"], name="roles_grant_course_idx"),
            models.Index(fields=["org", "role"], name="roles_grant_org_idx"),
        ]

    def __str__(self) -> str:
        scope = self.course_key or self.org or "global"
        return f"{self.role} on {scope} for user {self.user_id}"
