from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class UserRef:
    """Enough of a user to authorize and to check roles."""

    id: int
    username: str
    is_active: bool
    is_staff: bool
    is_superuser: bool


@dataclass(frozen=True, slots=True)
class UserData:
    id: int
    username: str
    email: str
    name: str
    is_active: bool
    is_staff: bool
    is_superuser: bool
    idnumber: str
    sis_sourcedid: str
    allow_certificate: bool
    date_joined: dt.datetime
    modified: dt.datetime  # the last change to what other systems are shown of the user

    @property
    def ref(self) -> UserRef:
        return UserRef(self.id, self.username, self.is_active, self.is_staff, self.is_superuser)


@dataclass(frozen=True, slots=True)
class TokenData:
    id: int
    username: str
    name: str
    prefix: str
    created: dt.datetime
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None
