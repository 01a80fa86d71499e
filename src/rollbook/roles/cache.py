"""The role cache: a user's grants as a set of (role, org, course_key), for O(1) checks.

Org grants have course_key ""; global grants have neither org nor course_key. The strict
table holds what was granted; the expanded table also holds, for every grant, the roles it
satisfies by inheritance, so that a check, strict or not, is one set look-up whatever the
number of grants.

Built with a few passes in C (comprehensions, `set`) over the tuples the database answers,
and without a container per grant: a cache of 10,000 grants is a list and a set sharing
10,000 tuples of strings, which the garbage collector stops tracking at once, instead of
thousands of small sets that every full collection would walk again.
"""

from __future__ import annotations

from collections.abc import Iterable

from rollbook.roles.data import INHERITS, satisfied_by

# Roles whose grant satisfies other roles too, and those roles (transitively). Any other
# role satisfies only itself.
_INHERITED: dict[str, tuple[str, ...]] = {role: satisfied_by(role)[1:] for role in INHERITS}


class RoleCache:
    __slots__ = ("_expanded", "_grants", "_strict")

    def __init__(self, grants: Iterable[tuple[str, str, str]] = ()) -> None:
        """`grants`: (role, org, course_key) tuples, as fetched from the database."""
        self._grants = rows = [(role, org, course_key) for role, org, course_key in grants]
        self._strict = strict = set(rows)
        inherited = [
            (parent, org, course_key)
            for role, org, course_key in rows
            if role in _INHERITED
            for parent in _INHERITED[role]
        ]
        # Neither table changes once built, so without inheritance they can be one set.
        self._expanded = strict.union(inherited) if inherited else strict

    def has_role(
        self, role: str, course_key: str = "", org: str = "", *, strict: bool = False
    ) -> bool:
        """Course role: pass the course (or library) key and its org. Org role: the org alone.
        Global role: neither."""
        return (role, org, course_key) in (self._strict if strict else self._expanded)

    def has_any(self, roles: Iterable[str], course_key: str = "", org: str = "") -> bool:
        expanded = self._expanded
        return any((role, org, course_key) in expanded for role in roles)

    def course_keys(self) -> list[str]:
        """Every course or library key the user holds a grant on (in the grants' order)."""
        return list(dict.fromkeys(key for _role, _org, key in self._grants if key))

    def org_roles(self) -> set[tuple[str, str]]:
        """(role, org) of the org-level and global grants (global ones have org "")."""
        return {(role, org) for role, org, key in self._strict if not key}

    def __len__(self) -> int:
        return len(self._strict)
