"""People: users, their profiles (SIS ids, certificate restriction) and API tokens."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import F, Q, QuerySet
from django.db.models.functions import Lower

from rollbook.audit import api as audit
from rollbook.audit.data import Actor
from rollbook.lib import clock
from rollbook.lib.errors import Conflict, Invalid, NotFound
from rollbook.lib.pagination import Page, PageRequest, paginate
from rollbook.people.data import TokenData, UserData, UserRef
from rollbook.people.errors import (
    MSG_DUPLICATE_IN_BATCH,
    MSG_EXTERNAL_ID_TAKEN,
    MSG_INVALID_EMAIL,
    MSG_INVALID_EXTERNAL_ID,
    MSG_INVALID_USERNAME,
    MSG_TOKEN_NOT_FOUND,
    MSG_USER_NOT_FOUND,
    PeopleErrorCode,
)
from rollbook.people.models import USERNAME_PATTERN, ApiToken, ExternalId, Profile, User

__all__ = [
    "NewUser",
    "TokenData",
    "UserData",
    "UserRef",
    "audit_snapshot",
    "authenticate_token",
    "certificate_profiles",
    "create_token",
    "create_users",
    "delete_user",
    "ensure_user",
    "external_ids",
    "get_user",
    "get_user_ref",
    "get_user_ref_by_id",
    "list_tokens",
    "person_rows",
    "put_user",
    "record_admin_change",
    "record_password_change",
    "revoke_token",
    "search_users",
    "set_external_ids",
    "set_password",
    "user_refs",
    "user_refs_by_email",
    "user_refs_by_id",
    "user_refs_by_idnumber",
    "user_refs_matching",
    "validate_username",
]

TOKEN_PREFIX = "rb_"  # noqa: S105 (a prefix, not a secret)
# A token's last use is written at most this often, so that reads do not become writes.
LAST_USED_RESOLUTION = dt.timedelta(minutes=1)

_REF_FIELDS = ("id", "username", "is_active", "is_staff", "is_superuser")
_USER_FIELDS = ("email", "name", "is_active", "is_staff", "is_superuser")
_PROFILE_FIELDS = ("idnumber", "sis_sourcedid", "allow_certificate")


def validate_username(username: str) -> str:
    # fullmatch: with re.match, "$" would let a trailing newline through ("mary\n").
    if not re.fullmatch(USERNAME_PATTERN, username or ""):
        raise Invalid(
            PeopleErrorCode.INVALID_USERNAME,
            MSG_INVALID_USERNAME.format(username=username),
            fields={"username": username},
        )
    return username


def _not_found(username: str) -> NotFound:
    return NotFound(
        PeopleErrorCode.USER_NOT_FOUND,
        MSG_USER_NOT_FOUND.format(username=username),
        fields={"username": username},
    )


def _data(user: User, profile: Profile | None) -> UserData:
    return UserData(
        id=user.id,
        username=user.username,
        email=user.email,
        name=user.name,
        is_active=user.is_active,
        is_staff=user.is_staff,
        is_superuser=user.is_superuser,
        idnumber=profile.idnumber if profile else "",
        sis_sourcedid=profile.sis_sourcedid if profile else "",
        allow_certificate=profile.allow_certificate if profile else True,
        date_joined=user.date_joined,
        modified=user.modified,
    )


def _user_data(user: User) -> UserData:
    return _data(user, _profile_of(user))


def _snapshot(user: User, profile: Profile) -> dict[str, Any]:
    snap: dict[str, Any] = {"username": user.username}
    snap.update({field: getattr(user, field) for field in _USER_FIELDS})
    snap.update({field: getattr(profile, field) for field in _PROFILE_FIELDS})
    return snap


def _user_rows() -> Any:
    return User.objects.select_related("profile")


def _profile_of(user: User) -> Profile | None:
    try:
        return user.profile
    except Profile.DoesNotExist:
        return None


def get_user(username: str) -> UserData:
    user = _user_rows().filter(username__lower=username.lower()).first()
    if user is None:
        raise _not_found(username)
    return _data(user, _profile_of(user))


def get_user_ref(username: str, *, lock: bool = False) -> UserRef:
    """The user by username (any case). `lock=True` locks the row until the transaction ends,
    so that a change made on the strength of it (a grant to an active user) stays true."""
    rows = User.objects.select_for_update() if lock else User.objects.all()
    row = (
        rows.filter(username__lower=username.lower())
        .values_list("id", "username", "is_active", "is_staff", "is_superuser")
        .first()
    )
    if row is None:
        raise _not_found(username)
    return UserRef(*row)


def user_refs_by_id(ids: Iterable[int]) -> dict[int, UserRef]:
    """Users by id, in one query per 900 ids; missing ids are absent."""
    wanted = sorted(set(ids))
    found: dict[int, UserRef] = {}
    for start in range(0, len(wanted), 900):
        rows = User.objects.filter(id__in=wanted[start : start + 900]).values_list(
            "id", "username", "is_active", "is_staff", "is_superuser"
        )
        found.update((row[0], UserRef(*row)) for row in rows)
    return found


def get_user_ref_by_id(user_id: int) -> UserRef:
    row = (
        User.objects.filter(id=user_id)
        .values_list("id", "username", "is_active", "is_staff", "is_superuser")
        .first()
    )
    if row is None:
        raise _not_found(f"#{user_id}")
    return UserRef(*row)


def set_password(username: str, password: str, *, actor: Actor) -> None:
    """Set a local password (stored hashed by Django's password hasher, never logged)."""
    with transaction.atomic():
        user = User.objects.select_for_update().get(username__lower=username.lower())
        if user.check_password(password):
            return
        user.set_password(password)
        user.save(update_fields=["password"])
        audit.record("user.password_set", f"user:{user.username}", actor=actor)


def user_refs(usernames: Iterable[str]) -> dict[str, UserRef]:
    """Users by lower-cased username, in one query per 500 names; missing names are absent."""
    wanted = sorted({name.lower() for name in usernames})
    found: dict[str, UserRef] = {}
    for start in range(0, len(wanted), 500):
        rows = User.objects.filter(username__lower__in=wanted[start : start + 500]).values_list(
            "id", "username", "is_active", "is_staff", "is_superuser"
        )
        for row in rows:
            ref = UserRef(*row)
            found[ref.username.lower()] = ref
    return found


def user_refs_matching(*, idnumber: str = "", email: str = "") -> list[UserRef]:
    """Users whose ID number (SCTID) equals `idnumber`, or whose email equals `email`
    (compared case-insensitively), in id order. Empty criteria match nobody."""
    condition = Q(pk__in=[])
    if idnumber:
        condition |= Q(profile__idnumber=idnumber)
    if email:
        condition |= Q(email__iexact=email)
    rows = (
        User.objects.filter(condition)
        .order_by("id")
        .values_list("id", "username", "is_active", "is_staff", "is_superuser")
    )
    return [UserRef(*row) for row in rows]


def search_users(search: str | None, *, page: PageRequest) -> Page[UserData]:
    rows = _user_rows().order_by("username", "id")
    if search:
        rows = rows.filter(
            Q(username__icontains=search) | Q(email__icontains=search) | Q(name__icontains=search)
        )
    return paginate(rows, page, _user_data)


def put_user(
    username: str,
    *,
    actor: Actor,
    email: str | None = None,
    name: str | None = None,
    is_active: bool | None = None,
    is_staff: bool | None = None,
    is_superuser: bool | None = None,
    idnumber: str | None = None,
    sis_sourcedid: str | None = None,
    allow_certificate: bool | None = None,
) -> tuple[UserData, bool]:
    """Create the user, or update the fields given; fields left as None keep their value.

    Returns the user and whether it was created. The username keeps the case it was first
    given; a later call in another case updates the same user.
    """
    validate_username(username)
    if email:
        try:
            validate_email(email)
        except ValidationError as exc:
            raise Invalid(
                PeopleErrorCode.INVALID_EMAIL,
                MSG_INVALID_EMAIL.format(email=email),
                fields={"email": email},
            ) from exc
    changes: dict[str, Any] = {
        "email": email,
        "name": name,
        "is_active": is_active,
        "is_staff": is_staff,
        "is_superuser": is_superuser,
        "idnumber": idnumber,
        "sis_sourcedid": sis_sourcedid,
        "allow_certificate": allow_certificate,
    }
    given = {field: value for field, value in changes.items() if value is not None}
    for _attempt in range(2):
        try:
            with transaction.atomic():
                return _put_user_locked(username, given, actor)
        except IntegrityError:
            # Another request created the same username (in some case) first: update it.
            continue
    return _put_user_locked(username, given, actor)


def _put_user_locked(username: str, given: dict[str, Any], actor: Actor) -> tuple[UserData, bool]:
    user = User.objects.select_for_update().filter(username__lower=username.lower()).first()
    created = user is None
    if user is None:
        user = User(username=username, date_joined=clock.now())
        user.set_unusable_password()
    profile = (None if created else _profile_of(user)) or Profile(user=user)
    before = None if created else _snapshot(user, profile)
    for field, value in given.items():
        setattr(user if field in _USER_FIELDS else profile, field, value)
    after = _snapshot(user, profile)
    if created or after != before:
        user.modified = clock.now()
    if created:
        user.save(force_insert=True)
        profile.user = user
        profile.save(force_insert=True)
        audit.record("user.created", f"user:{user.username}", actor=actor, after=after)
    elif after != before:
        user.save(update_fields=[*(f for f in _USER_FIELDS if f in given), "modified"])
        profile.save()
        audit.record(
            "user.updated", f"user:{user.username}", actor=actor, before=before, after=after
        )
    return _data(user, profile), created


@dataclass(frozen=True, slots=True)
class NewUser:
    username: str
    email: str = ""
    name: str = ""
    idnumber: str = ""
    sis_sourcedid: str = ""


def create_users(specs: list[NewUser], *, actor: Actor) -> dict[str, UserRef]:
    """Create many users at once: three INSERTs (users, profiles, audit rows) for the batch.

    Every username and email is validated first; an invalid one, or a username taken (in any
    case) already or twice in the batch, refuses the whole batch (nothing is written), so that
    the caller can fall back to `put_user` one at a time. Returns refs by lower-cased username.
    """
    seen: set[str] = set()
    for spec in specs:
        validate_username(spec.username)
        if spec.email:
            try:
                validate_email(spec.email)
            except ValidationError as exc:
                raise Invalid(
                    PeopleErrorCode.INVALID_EMAIL,
                    MSG_INVALID_EMAIL.format(email=spec.email),
                    fields={"email": spec.email},
                ) from exc
        if spec.username.lower() in seen:
            raise Invalid(
                PeopleErrorCode.INVALID_USERNAME,
                MSG_DUPLICATE_IN_BATCH.format(username=spec.username),
                fields={"username": spec.username},
            )
        seen.add(spec.username.lower())
    now = clock.now()
    with transaction.atomic():
        users = []
        for spec in specs:
            user = User(
                username=spec.username,
                email=spec.email,
                name=spec.name,
                date_joined=now,
                modified=now,
            )
            user.set_unusable_password()
            users.append(user)
        User.objects.bulk_create(users, batch_size=500)
        if any(user.pk is None for user in users):  # a backend that returns no ids
            ids = dict(
                User.objects.filter(username__in=[u.username for u in users]).values_list(
                    "username", "id"
                )
            )
            for user in users:
                user.pk = ids[user.username]
        profiles = [
            Profile(user=user, idnumber=spec.idnumber, sis_sourcedid=spec.sis_sourcedid)
            for user, spec in zip(users, specs, strict=True)
        ]
        Profile.objects.bulk_create(profiles, batch_size=500)
        audit.record_many(
            [
                ("user.created", f"user:{user.username}", None, _snapshot(user, profile))
                for user, profile in zip(users, profiles, strict=True)
            ],
            actor=actor,
        )
    return {
        user.username.lower(): UserRef(user.pk, user.username, True, False, False) for user in users
    }


def user_refs_by_email(emails: Iterable[str]) -> dict[str, list[UserRef]]:
    """Users by lower-cased email (several may share one), one query per 500 emails."""
    wanted = sorted({email.lower() for email in emails if email})
    found: dict[str, list[UserRef]] = {}
    for start in range(0, len(wanted), 500):
        rows = (
            User.objects.annotate(email_lower=Lower("email"))
            .filter(email_lower__in=wanted[start : start + 500])
            .order_by("id")
            .values_list("email_lower", *_REF_FIELDS)
        )
        for email, user_id, username, is_active, is_staff, is_superuser in rows:
            ref = UserRef(user_id, username, is_active, is_staff, is_superuser)
            found.setdefault(email, []).append(ref)
    return found


def user_refs_by_idnumber(idnumbers: Iterable[str]) -> dict[str, list[UserRef]]:
    """Users by ID number (Banner SCTID), one query per 500 numbers."""
    wanted = sorted({number for number in idnumbers if number})
    found: dict[str, list[UserRef]] = {}
    for start in range(0, len(wanted), 500):
        rows = (
            User.objects.filter(profile__idnumber__in=wanted[start : start + 500])
            .order_by("id")
            .values_list("profile__idnumber", *_REF_FIELDS)
        )
        for number, user_id, username, is_active, is_staff, is_superuser in rows:
            ref = UserRef(user_id, username, is_active, is_staff, is_superuser)
            found.setdefault(number, []).append(ref)
    return found


def ensure_user(
    username: str, *, actor: Actor, is_staff: bool = False, is_superuser: bool = False
) -> UserData:
    """The user, created when missing; `is_staff`/`is_superuser` True are granted, never taken."""
    return put_user(
        username,
        actor=actor,
        is_staff=True if is_staff or is_superuser else None,
        is_superuser=True if is_superuser else None,
    )[0]


def _digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def create_token(username: str, *, actor: Actor, name: str = "") -> str:
    """A new bearer token for the user. The token itself is returned once and never stored."""
    ref = get_user_ref(username)
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic():
        token = ApiToken.objects.create(
            user_id=ref.id,
            name=name,
            prefix=raw[:10],
            digest=_digest(raw),
            created=clock.now(),
        )
        audit.record(
            "token.created",
            f"user:{ref.username}",
            actor=actor,
            after={"token_id": token.id, "prefix": token.prefix, "name": name},
        )
    return raw


def _token_data(token: ApiToken) -> TokenData:
    return TokenData(
        id=token.id,
        username=token.user.username,
        name=token.name,
        prefix=token.prefix,
        created=token.created,
        last_used_at=token.last_used_at,
        revoked_at=token.revoked_at,
    )


def list_tokens(username: str) -> list[TokenData]:
    ref = get_user_ref(username)
    rows = ApiToken.objects.filter(user_id=ref.id).select_related("user").order_by("id")
    return [_token_data(token) for token in rows]


def revoke_token(token_id: int, *, actor: Actor) -> TokenData:
    with transaction.atomic():
        token = (
            ApiToken.objects.select_for_update().select_related("user").filter(id=token_id).first()
        )
        if token is None:
            raise NotFound(
                PeopleErrorCode.TOKEN_NOT_FOUND, MSG_TOKEN_NOT_FOUND.format(token_id=token_id)
            )
        if token.revoked_at is None:
            token.revoked_at = clock.now()
            token.save(update_fields=["revoked_at"])
            audit.record(
                "token.revoked",
                f"user:{token.user.username}",
                actor=actor,
                before={"token_id": token.id, "revoked": False},
                after={"token_id": token.id, "revoked": True},
            )
    return _token_data(token)


def authenticate_token(raw: str) -> UserRef | None:
    """The active user a live token belongs to, or None. One query; a write at most a minute."""
    if not raw.startswith(TOKEN_PREFIX) or len(raw) > 200:
        return None
    row = (
        ApiToken.objects.filter(digest=_digest(raw), revoked_at__isnull=True)
        .values_list(
            "id",
            "last_used_at",
            "user_id",
            "user__username",
            "user__is_active",
            "user__is_staff",
            "user__is_superuser",
        )
        .first()
    )
    if row is None:
        return None
    token_id, last_used_at, user_id, username, is_active, is_staff, is_superuser = row
    ref = UserRef(user_id, username, is_active, is_staff, is_superuser)
    if not ref.is_active:
        return None
    now = clock.now()
    if last_used_at is None or now - last_used_at > LAST_USED_RESOLUTION:
        ApiToken.objects.filter(id=token_id).update(last_used_at=now)
    return ref


def audit_snapshot(user_id: int | None) -> dict[str, Any] | None:
    """The audited fields of a user as they are now (None when there is no such user)."""
    user = _user_rows().filter(id=user_id).first() if user_id else None
    if user is None:
        return None
    return _snapshot(user, _profile_of(user) or Profile(user=user))


def record_admin_change(user_id: int, *, before: dict[str, Any] | None, actor: Actor) -> None:
    """After the admin saved a user: make sure it has a profile, and audit what changed."""
    with transaction.atomic():
        user = User.objects.get(id=user_id)
        profile, _ = Profile.objects.get_or_create(user=user)
        after = _snapshot(user, profile)
        if before is None or after != before:
            # The admin's form saved the user and its profile inline: its own save() knows
            # nothing of `modified` (a profile-only change never touches the user row).
            user.modified = clock.now()
            User.objects.filter(id=user.id).update(modified=user.modified)
        if before is None:
            audit.record("user.created", f"user:{user.username}", actor=actor, after=after)
        elif after != before:
            audit.record(
                "user.updated", f"user:{user.username}", actor=actor, before=before, after=after
            )


def record_password_change(user_id: int, *, actor: Actor) -> None:
    """After the admin changed a user's password (its own form saves the user)."""
    username = User.objects.filter(id=user_id).values_list("username", flat=True).get()
    audit.record("user.password_set", f"user:{username}", actor=actor)


def delete_user(user_id: int, *, actor: Actor) -> None:
    """Delete a user (the admin's delete), with its profile, tokens, external ids and whatever
    else goes with it; rows that protect the user (enrollments, certificates) refuse it."""
    with transaction.atomic():
        user = User.objects.select_for_update().filter(id=user_id).first()
        if user is None:
            return
        before = _snapshot(user, _profile_of(user) or Profile(user=user))
        audit.record("user.deleted", f"user:{user.username}", actor=actor, before=before)
        user.delete()


def external_ids(username: str) -> dict[str, str]:
    """The user's keys in other organizations' systems, by org."""
    user = get_user_ref(username)
    return dict(ExternalId.objects.filter(user_id=user.id).values_list("org", "key"))


def set_external_ids(username: str, ids: dict[str, str], *, actor: Actor) -> dict[str, str]:
    """Set the user's key for each org given (an empty key removes it). Returns the keys that
    are new or changed, by org. A key another user holds in that org (in any case): 409."""
    user = get_user_ref(username)
    changed: dict[str, str] = {}
    with transaction.atomic():
        current = {
            row.org: row for row in ExternalId.objects.select_for_update().filter(user_id=user.id)
        }
        for org, key in sorted(ids.items()):
            key = key.strip()
            if not org or len(org) > 255 or len(key) > 255:
                raise Invalid(
                    PeopleErrorCode.INVALID_EXTERNAL_ID, MSG_INVALID_EXTERNAL_ID, fields={org: key}
                )
            row = current.get(org)
            if not key:
                if row is not None:
                    row.delete()
                    audit.record(
                        "user.external_id_removed",
                        f"user:{user.username}",
                        actor=actor,
                        before={"org": org, "key": row.key},
                    )
                continue
            if row is not None and row.key == key:
                continue
            taken = (
                ExternalId.objects.filter(org=org, key__lower=key.lower())
                .exclude(user_id=user.id)
                .exists()
            )
            if taken:
                raise Conflict(
                    PeopleErrorCode.EXTERNAL_ID_TAKEN,
                    MSG_EXTERNAL_ID_TAKEN.format(key=key, org=org),
                    fields={"org": org, "key": key},
                )
            before = {"org": org, "key": row.key} if row else None
            if row is None:
                row = ExternalId(user_id=user.id, org=org, key=key, created=clock.now())
            row.key = key
            row.save()
            audit.record(
                "user.external_id_set",
                f"user:{user.username}",
                actor=actor,
                before=before,
                after={"org": org, "key": key},
            )
            changed[org] = key
    return changed


@dataclass(frozen=True, slots=True)
class CertificateProfile:
    username: str
    name: str
    allow_certificate: bool


def certificate_profiles(user_ids: Iterable[int]) -> dict[int, CertificateProfile]:
    """Username, full name and certificate restriction of many users, one query per 500."""
    ids = sorted(set(user_ids))
    found: dict[int, CertificateProfile] = {}
    for start in range(0, len(ids), 500):
        rows = User.objects.filter(id__in=ids[start : start + 500]).values_list(
            "id", "username", "name", "profile__allow_certificate"
        )
        for user_id, username, name, allowed in rows:
            found[user_id] = CertificateProfile(username, name, allowed is not False)
    return found


def person_rows() -> QuerySet[Any]:
    """Read contract for projections (ADR 0015): every user, with the columns `id`,
    `username`, `name`, `email`, `is_active`, `date_joined`, `modified` (the last change to
    any of those or the SIS ids), `profile_idnumber` and `profile_sis_sourcedid` (empty or
    NULL without a profile)."""
    return User.objects.annotate(
        profile_idnumber=F("profile__idnumber"),
        profile_sis_sourcedid=F("profile__sis_sourcedid"),
    )
