"""Where an enrollment or a role grant comes from.

An enrollment or a grant remembers every source that asserts it: "manual" (the API, the
admin, the CLI), "sis:<natural key>" (an SIS membership), "program:<uuid>" (a program
enrollment). A source dropping it removes only that source; the enrollment is deactivated
(the grant revoked) only when no source remains. So what a person did by hand is never
taken away by a feed, even when the feed also listed it. A person's explicit unenroll or
revoke ends it whatever its sources.
"""

from __future__ import annotations

MANUAL = "manual"


def sis(key: str) -> str:
    return f"sis:{key}"


def program(key: str) -> str:
    return f"program:{key}"


def kind(source: str) -> str:
    """ "manual", "sis", "program", ...: the part before the first colon."""
    return source.split(":", 1)[0]


def added(sources: list[str], source: str) -> list[str]:
    return sources if source in sources else [*sources, source]


def removed(sources: list[str], source: str) -> list[str]:
    return [item for item in sources if item != source]
