"""What certificates give other apps and its HTTP layer: frozen dataclasses, no querysets."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

__all__ = ["CheckFailure", "CheckState", "CredentialCheck", "IssuedCredential"]


@dataclass(frozen=True, slots=True)
class IssuedCredential:
    """A certificate's current credential, as issued and stored (never re-signed)."""

    uuid: uuid.UUID
    verify_uuid: str
    status_index: int
    issued_at: dt.datetime
    document: Mapping[str, Any]

    @property
    def id(self) -> str:
        return f"urn:uuid:{self.uuid}"

    def as_json(self) -> bytes:
        """The document as served: keys sorted (so '@context' comes first), two-space
        indent, UTF-8. The same document always gives the same bytes, on any database."""
        text = json.dumps(self.document, sort_keys=True, indent=2, ensure_ascii=False)
        return (text + "\n").encode()


class CheckState(StrEnum):
    OK = "ok"
    FAILED = "failed"
    SKIPPED = "skipped"  # not checked: the credential is not even a JSON object
    ACTIVE = "active"  # status: our status list has the bit clear
    REVOKED = "revoked"  # status: our status list has the bit set
    UNAVAILABLE = "unavailable"  # status: another issuer's list (never fetched)
    NONE = "none"  # status: the credential has no credentialStatus


@dataclass(frozen=True, slots=True)
class CheckFailure:
    code: str  # a CredentialCheckCode or a vc.CredentialErrorCode
    message: str


@dataclass(frozen=True, slots=True)
class CredentialCheck:
    """What checking a credential found: `valid` only when no check failed.

    `structure`, `proof` and `dates` are ok, failed or skipped; `status` is active, revoked,
    unavailable, none (no credentialStatus), failed (a malformed entry) or skipped.
    """

    errors: tuple[CheckFailure, ...]
    structure: CheckState
    proof: CheckState
    status: CheckState
    dates: CheckState

    @property
    def valid(self) -> bool:
        return not self.errors

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(error.code for error in self.errors)

    def checks(self) -> dict[str, str]:
        return {
            "structure": self.structure.value,
            "proof": self.proof.value,
            "status": self.status.value,
            "dates": self.dates.value,
        }

    def as_dict(self) -> dict[str, Any]:
        return {
            "valid": self.valid,
            "errors": [{"code": e.code, "message": e.message} for e in self.errors],
            "checks": self.checks(),
        }
