"""What the REST layer knows about the caller, without importing the apps that answer it.

`rollbook.auth` builds the concrete principal (people + roles); views in any app ask it
questions through this protocol, so an app never imports a sibling app to authorize.
"""

from __future__ import annotations

from typing import Protocol


class Principal(Protocol):
    user_id: int
    username: str
    is_staff: bool
    is_superuser: bool
    is_active: bool

    def has_course_staff_access(self, course_key: str) -> bool:
        """Global staff; staff/instructor on the course (inheritance on); org staff/instructor."""
        ...

    def is_self(self, username: str) -> bool:
        """Whether `username` (compared case-insensitively) is the caller."""
        ...
