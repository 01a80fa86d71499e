"""Staging: the SIS's records by natural key, as last received, and what they became.

A record identical to the staged one (same digest) changes nothing: no write at all. A row is
"dirty" while its `digest` differs from `applied_digest` (or it waits as pending/held); apply
takes dirty rows to the domain.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class RowState(models.TextChoices):
    NEW = "new"  # staged, not applied yet
    APPLIED = "applied"
    PENDING = "pending"  # waits for a record that has not arrived (reason says which)
    HELD = "held"  # a person: identity collision; a membership drop: live drop safety
    FILTERED = "filtered"  # its term is filtered out; `rollbook sis reapply` revisits it
    SKIPPED = "skipped"  # nothing to do (an unmapped roletype); reason says why
    ERROR = "error"


class CollisionKind(models.TextChoices):
    USERNAME = "username", "username taken"
    EMAIL = "email", "email taken"
    SCTID = "sctid", "SCTID on another person"


class Feed(models.Model):
    """One import of a file (or, later, a batch of live messages)."""

    job_uuid = models.UUIDField(unique=True)
    sha256 = models.CharField(max_length=64, db_index=True)
    filename = models.CharField(max_length=255, blank=True)
    size = models.BigIntegerField(default=0)
    stored_path = models.CharField(max_length=1024, blank=True)
    dry_run = models.BooleanField(default=False)
    comprehensive = models.BooleanField(default=False)
    forced = models.BooleanField(default=False)
    completed = models.BooleanField(default=False)
    summary = models.JSONField(default=dict, blank=True)
    created = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.filename or self.sha256[:12]} ({self.job_uuid})"


class _Staged(models.Model):
    recstatus = models.PositiveSmallIntegerField(default=1)
    data = models.JSONField(default=dict)
    digest = models.CharField(max_length=32)
    applied_digest = models.CharField(max_length=32, blank=True)
    state = models.CharField(max_length=16, choices=RowState.choices, default=RowState.NEW)
    reason = models.TextField(blank=True)
    changed_by = models.CharField(max_length=128, help_text="import:<job> or lmb:<message id>")
    changed_at = models.DateTimeField()

    class Meta:
        abstract = True


class StagedPerson(_Staged):
    sourcedid = models.CharField(max_length=255, unique=True)
    source = models.CharField(max_length=255, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The account this SIS person is linked to.",
    )
    # While held by an identity collision: what collided, with which account, and the SIS
    # person that account is already linked to.
    collision_kind = models.CharField(
        max_length=16, choices=CollisionKind.choices, blank=True, default=""
    )
    collision_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The existing account the held person collides with.",
    )
    collision_person = models.CharField(max_length=255, blank=True, default="")

    class Meta:
        constraints = [
            # An account is linked to at most one SIS person: a second is an identity collision.
            models.UniqueConstraint(
                fields=["user"], condition=models.Q(user__isnull=False), name="sis_person_user_uniq"
            )
        ]
        indexes = [models.Index(fields=["state"], name="sis_person_state_idx")]

    def __str__(self) -> str:
        return self.sourcedid


class StagedGroup(_Staged):
    sourcedid = models.CharField(max_length=255, unique=True)
    grouptype = models.CharField(max_length=64)
    term = models.CharField(max_length=255, blank=True, help_text="The term's sourcedid.")
    course_key = models.CharField(max_length=255, blank=True)
    # The title the feed last gave the course: a different title there now means someone
    # edited it by hand, and the feed leaves it alone (unless forced).
    applied_title = models.CharField(max_length=255, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["grouptype", "state"], name="sis_group_type_idx"),
            models.Index(fields=["term"], name="sis_group_term_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.grouptype} {self.sourcedid}"


class StagedMembership(_Staged):
    """A person in a section with a roletype: (section, person, roletype) is the natural key."""

    group_sourcedid = models.CharField(max_length=255)
    person_sourcedid = models.CharField(max_length=255)
    roletype = models.CharField(max_length=32)
    status = models.PositiveSmallIntegerField(default=1)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["group_sourcedid", "person_sourcedid", "roletype"],
                name="sis_membership_uniq",
            )
        ]
        indexes = [
            models.Index(fields=["person_sourcedid"], name="sis_membership_person_idx"),
            models.Index(fields=["state"], name="sis_membership_state_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.person_sourcedid} in {self.group_sourcedid} as {self.roletype}"


class StagedCrossListMember(_Staged):
    """A section (child) in a cross-listed section (parent)."""

    crosslist_sourcedid = models.CharField(max_length=255)
    section_sourcedid = models.CharField(max_length=255)
    status = models.PositiveSmallIntegerField(default=1)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["crosslist_sourcedid", "section_sourcedid"], name="sis_crosslist_uniq"
            )
        ]

    def __str__(self) -> str:
        return f"{self.section_sourcedid} in {self.crosslist_sourcedid}"


class InboxState(models.TextChoices):
    PENDING = "pending"
    APPLIED = "applied"
    FAILED = "failed"
    # Waits behind an earlier failed message about the same entity; goes back in line when
    # that one is retried.
    BLOCKED = "blocked"


class InboxMessage(models.Model):
    """One live LMB message, recorded before it is acknowledged; applied in arrival order."""

    message_id = models.CharField(max_length=255, unique=True)
    received_at = models.DateTimeField()
    body = models.BinaryField(help_text="The message as received, password attributes blanked.")
    state = models.CharField(max_length=16, choices=InboxState.choices, default=InboxState.PENDING)
    error = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    applied_at = models.DateTimeField(null=True, blank=True)
    # The entities the message is about ("person:<id>", "group:<id>", "membership:<g>|<p>"),
    # filled when it is first processed: a failed message holds back later ones on these.
    entities = models.JSONField(default=list, blank=True)

    class Meta:
        indexes = [models.Index(fields=["state", "id"], name="sis_inbox_state_idx")]

    def __str__(self) -> str:
        return f"{self.message_id} ({self.state})"


class InboxTally(models.Model):
    """Running totals that outlive pruned inbox rows (for the Prometheus counters)."""

    name = models.CharField(max_length=32, unique=True)
    value = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.name}={self.value}"


class CrossList(models.Model):
    """A cross-listed section: the parent course its child sections feed."""

    sourcedid = models.CharField(max_length=255, unique=True)
    course_key = models.CharField(max_length=255, blank=True)
    term = models.CharField(max_length=255, blank=True)
    # meta: the parent mirrors its children; merge: the children's people move to the parent.
    # Kept per cross-list, so that a child leaving is undone the way it was done.
    mode = models.CharField(max_length=8, default="meta")
    # The title the feed last gave the parent: a different title there now means someone
    # edited it by hand, and the template leaves it alone from then on.
    applied_title = models.CharField(max_length=255, blank=True)
    created = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.sourcedid} -> {self.course_key}"


class TermDropHold(models.Model):
    """Live-feed drop safety for one term: drops past the threshold within the window are
    held (their membership rows wait as held) until someone approves or discards them."""

    term = models.CharField(max_length=255, unique=True)
    held_at = models.DateTimeField(null=True, blank=True)
    reason = models.TextField(blank=True)
    # Drops counted from this moment on (set when a hold is approved).
    window_start = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.term} ({'held' if self.held_at else 'open'})"


class Collision(StagedPerson):
    """An SIS person held by an identity collision (the admin's view of them)."""

    class Meta:
        proxy = True
        verbose_name = "identity collision"


class WaitingMembership(StagedMembership):
    """A membership waiting for its person or section (the admin's view of them)."""

    class Meta:
        proxy = True
        verbose_name = "pending membership"
