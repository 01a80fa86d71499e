from __future__ import annotations

from django.db import models

from rollbook.lib import clock


class Org(models.Model):
    """An organization; comes into being with the first course, library or grant naming it."""

    short_name = models.CharField(max_length=255, unique=True)
    name = models.CharField(max_length=255, blank=True)
    created = models.DateTimeField()
    # The last change to its name (OneRoster's dateLastModified); set by api.py.
    modified = models.DateTimeField(default=clock.now)

    def __str__(self) -> str:
        return self.short_name


class Course(models.Model):
    """A course run, keyed `course-v1:ORG+NUMBER+RUN` (case-sensitive)."""

    key = models.CharField(max_length=255, unique=True)
    org = models.ForeignKey(
        Org, to_field="short_name", db_column="org", on_delete=models.PROTECT, related_name="+"
    )
    title = models.CharField(max_length=255)
    start = models.DateTimeField(null=True, blank=True)
    end = models.DateTimeField(null=True, blank=True)
    sis_id = models.CharField("SIS id", max_length=255, blank=True, db_index=True)
    modes = models.JSONField(default=list)
    default_mode = models.CharField(max_length=32)
    enrollment_open = models.BooleanField(default=True)
    days_early_for_beta = models.PositiveIntegerField(null=True, blank=True)
    passing_grade = models.FloatField(default=0.5)
    created = models.DateTimeField()
    modified = models.DateTimeField()

    def __str__(self) -> str:
        return self.key


class Library(models.Model):
    """A content library, keyed `lib:ORG:SLUG`."""

    key = models.CharField(max_length=255, unique=True)
    org = models.ForeignKey(
        Org, to_field="short_name", db_column="org", on_delete=models.PROTECT, related_name="+"
    )
    title = models.CharField(max_length=255)
    created = models.DateTimeField()
    modified = models.DateTimeField()

    class Meta:
        verbose_name_plural = "libraries"
        indexes = [models.Index(fields=["org", "key"], name="catalog_library_org_key")]

    def __str__(self) -> str:
        return self.key
