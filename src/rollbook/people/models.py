from __future__ import annotations

from django.contrib.auth.models import AbstractUser, UserManager
from django.core.validators import RegexValidator
from django.db import models
from django.db.models.functions import Lower

from rollbook.lib import clock

# `username__lower=value` compiles to LOWER(username) = value, which the functional unique
# index below serves. Usernames are ASCII, so SQLite's ASCII-only LOWER agrees with Python's.
models.CharField.register_lookup(Lower)

USERNAME_PATTERN = r"\A[A-Za-z0-9_.@+-]{1,150}\Z"
username_validator = RegexValidator(
    USERNAME_PATTERN,
    "A username has 1 to 150 characters: letters, digits and _ . @ + -.",
    code="invalid_username",
)


class CaseInsensitiveUserManager(UserManager["User"]):
    def get_by_natural_key(self, username: str | None) -> User:
        # The admin login and createsuperuser look users up here: Mary and mary are one user.
        return self.get(username__lower=(username or "").lower())


class User(AbstractUser):
    """A person. The username is unique case-insensitively and stored as first given."""

    username = models.CharField(
        max_length=150,
        unique=True,  # implied by the case-insensitive constraint; Django's auth checks want it
        validators=[username_validator],
        help_text="Unique, compared case-insensitively.",
    )
    name = models.CharField("full name", max_length=255, blank=True)
    # The last change to what other systems are shown of the user (its name, email, active
    # flag, SIS ids): OneRoster's dateLastModified. Set by every write in api.py (bulk ones
    # too, which bypass save()); the default covers rows made outside it (createsuperuser).
    modified = models.DateTimeField(default=clock.now, db_index=True)

    objects = CaseInsensitiveUserManager()  # type: ignore[misc]

    class Meta:
        constraints = [
            models.UniqueConstraint(
                Lower("username"),
                name="people_user_username_ci_uniq",
                violation_error_message="A user with that username (in any case) exists.",
            )
        ]

    def __str__(self) -> str:
        return self.username


class Profile(models.Model):
    """SIS identifiers and certificate restriction of a user."""

    user = models.OneToOneField(
        User, on_delete=models.CASCADE, primary_key=True, related_name="profile"
    )
    idnumber = models.CharField(
        "ID number (Banner SCTID)", max_length=255, blank=True, db_index=True
    )
    sis_sourcedid = models.CharField("SIS sourcedid", max_length=255, blank=True, db_index=True)
    allow_certificate = models.BooleanField(
        default=True, help_text="False means restricted: never gets a certificate."
    )

    def __str__(self) -> str:
        return f"profile of {self.user_id}"


class ApiToken(models.Model):
    """A bearer token. Only its SHA-256 digest is stored; the token is shown once."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, blank=True)
    prefix = models.CharField(max_length=12, help_text="First characters, to recognise it.")
    digest = models.CharField(max_length=64, unique=True)
    created = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user_id})"


class ExternalId(models.Model):
    """A user's key in an organization's own systems (a university's student key), by org.

    One key per user and org; a key (compared case-insensitively) names one user per org."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="external_ids")
    org = models.CharField(max_length=255)
    key = models.CharField(max_length=255)
    created = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "org"], name="people_extid_user_org_uniq"),
            models.UniqueConstraint("org", Lower("key"), name="people_extid_org_key_ci_uniq"),
        ]

    def __str__(self) -> str:
        return f"{self.org}:{self.key}"
