"""Who acts, from where: passed to every write as `actor=`."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rollbook.lib.principal import Principal


@dataclass(frozen=True, slots=True)
class Actor:
    """The user (or the system) behind a change and the source it came through.

    `source` names the channel: "api", "cli", "admin", "demo", "job:<uuid>", "sis:<message id>".
    """

    user_id: int | None
    username: str
    source: str

    @classmethod
    def of(cls, principal: Principal, source: str = "api") -> Actor:
        """The caller of an API request."""
        return cls(principal.user_id, principal.username, source)

    @classmethod
    def system(cls, source: str) -> Actor:
        return cls(None, "", source)

    def via(self, source: str) -> Actor:
        return Actor(self.user_id, self.username, source)


@dataclass(frozen=True, slots=True)
class AuditEventData:
    id: int
    time: dt.datetime
    event: str
    subject: str
    actor_username: str
    source: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class EventData:
    """One outbound event: a numbered audit row (ADR 0013). `seq` is gapless and increasing."""

    seq: int
    event: str
    subject: str
    time: dt.datetime
    actor_username: str
    source: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
