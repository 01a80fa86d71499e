"""Open Badges 3.0 credentials of certificates: issuing them, the revocation list, checking one.

- A downloadable certificate's credential is issued on first request, signed with the
  issuer's key (`vc.create_proof`, `eddsa-rdfc-2022`) and stored (`Credential`): every later
  request answers the same document. The certificate row is locked while issuing, and one
  current credential per certificate is a database constraint, so racing requests make one.
- Each credential owns a bit of the issuer's one `BitstringStatusListCredential`, at an index
  drawn at random among the free ones (`statuslist.pick_free_index`); a race for an index is
  retried. The list holds `statuslist.MIN_ENTRIES` (131,072) bits, doubled while more than
  half would be in use; an index keeps its meaning for good (credentials are never deleted).
- A credential's bit is set when its certificate is not downloadable (invalidated, deleted,
  anything else), when it was superseded, or when the certificate's name, mode or issue date
  no longer match the credential's (a regeneration after a name correction). It is computed
  when the list is built, from the certificates' status: invalidating, deleting, lifting
  and regenerating write nothing here. The next request after such a change supersedes the
  out-of-date credential and issues a new one.
- `verify_credential` checks a credential (a parsed JSON object): its structure, its proof
  (only this issuer's keys are known; nothing is fetched), its status (from the database
  for this service's list; any other list is `status_unavailable`, never fetched) and its
  validity dates. Every failure is named.

The credential's id is `urn:uuid:<Credential.uuid>`: a new credential (superseding) is a new
id, while `/certificates/{verify_uuid}/credential.json` always answers the current one.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
import re
import secrets
import uuid as uuid_module
from collections.abc import Mapping
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import BooleanField, Case, Count, F, Max, Q, Value, When

from rollbook.audit import api as audit
from rollbook.audit.data import Actor
from rollbook.catalog import api as catalog
from rollbook.certificates import issuer, statuslist, vc
from rollbook.certificates.data import CheckFailure, CheckState, CredentialCheck, IssuedCredential
from rollbook.certificates.errors import (
    MSG_CONTEXT,
    MSG_DATE,
    MSG_EXPIRED,
    MSG_FIELD_MISSING,
    MSG_FIELD_TYPE,
    MSG_ISSUER_MISMATCH,
    MSG_NOT_AN_OBJECT,
    MSG_NOT_YET_VALID,
    MSG_REVOKED,
    MSG_STATUS_ENTRY,
    MSG_STATUS_PURPOSE,
    MSG_STATUS_UNAVAILABLE,
    MSG_SUPERSEDED,
    MSG_TYPE,
    MSG_UNKNOWN_STATUS_INDEX,
    CredentialCheckCode,
)
from rollbook.certificates.models import Certificate, CertificateStatus, Credential
from rollbook.lib import clock
from rollbook.people import api as people

__all__ = [
    "INDEX_RNG",
    "STATUS_LIST_PATH",
    "STATUS_PURPOSE",
    "achievement_id",
    "certificate_title",
    "identity_hash",
    "issue_credential",
    "list_size",
    "status_list_credential",
    "status_list_id",
    "verify_credential",
    "verify_url",
]

STATUS_LIST_PATH = "/certificates/status/revocation"
STATUS_PURPOSE = "revocation"
CHECKED_PURPOSES = frozenset({"revocation", "suspension"})
CREDENTIAL_TYPES = ("VerifiableCredential", "OpenBadgeCredential")
# OB 3.0 allows either name for the credential type.
CREDENTIAL_KINDS = ("OpenBadgeCredential", "AchievementCredential")
STATUS_ENTRY_TYPE = "BitstringStatusListEntry"
ACHIEVEMENT_TYPE = "CertificateOfCompletion"  # OB 3.0's AchievementType enumeration
IDENTITY_TYPE = "emailAddress"
SALT_BYTES = 16
INDEX_ATTEMPTS = 8  # draws of a status index before a lost race is an error
# The random source of status indexes; None is the operating system's (tests seed their own).
INDEX_RNG: random.Random | None = None

TEXT_NAME = "{title} certificate"
TEXT_DESCRIPTION = "A certificate of completion of {title}, offered by {org}."
TEXT_DESCRIPTION_NO_ORG = "A certificate of completion of {title}."
TEXT_CRITERIA = (
    "Complete the course {title} ({course_key}) to the standard its course team sets for a "
    "certificate."
)

S = CertificateStatus
_DIGITS = re.compile(r"\d{1,10}", re.ASCII)


# ---------------------------------------------------------------- URLs and names


def status_list_id() -> str:
    """The revocation list's URL, which is also its id: {PUBLIC_URL}/certificates/status/..."""
    return issuer.public_url() + STATUS_LIST_PATH


def verify_url(verify_uuid: str) -> str:
    """The certificate's public verify page: {PUBLIC_URL}/certificates/{verify_uuid}."""
    return f"{issuer.public_url()}/certificates/{verify_uuid}"


def certificate_title(course_title: str) -> str:
    """The certificate's name, in its credential and on LinkedIn."""
    return TEXT_NAME.format(title=course_title)


def achievement_id(course_key: str) -> str:
    """The course's achievement, the same for every learner: a name-based UUID (v5) of the
    issuer and the course key, so that it stays put while nothing is served at it."""
    name = f"{issuer.issuer_id()}/achievements/{course_key}"
    return f"urn:uuid:{uuid_module.uuid5(uuid_module.NAMESPACE_URL, name)}"


def identity_hash(email: str, salt: str) -> str:
    """OB 3.0's `identityHash`: "sha256$" and the hex SHA-256 of the email and the salt.

    The email is trimmed and lowercased first (addresses are matched case-insensitively),
    so a verifier hashes `email.strip().lower() + salt`.
    """
    plain = email.strip().lower() + salt
    return "sha256$" + hashlib.sha256(plain.encode("utf-8")).hexdigest()


def list_size(count: int, highest: int = -1) -> int:
    """The status list's length in bits for `count` credentials whose highest index is
    `highest`: `MIN_ENTRIES`, doubled while more than half would be in use or the highest
    index would not fit. A power of two; it only grows, so an index keeps its meaning."""
    size = statuslist.MIN_ENTRIES
    while count > size // 2 or highest >= size:
        size *= 2
    return size


# ---------------------------------------------------------------- what makes a bit set


def _revoked() -> Q:
    """The credentials whose status bit is set (one rule, for the list and for checks)."""
    return (
        Q(superseded=True)
        | ~Q(certificate__status=S.DOWNLOADABLE)
        | ~Q(name=F("certificate__name"))
        | ~Q(mode=F("certificate__mode"))
        | ~Q(certificate_issued_at=F("certificate__issued_at"))
    )


def _matches(credential: Credential, cert: Certificate) -> bool:
    """Whether the credential still says what the certificate says (see `_revoked`)."""
    return (credential.name, credential.mode, credential.certificate_issued_at) == (
        cert.name,
        cert.mode,
        cert.issued_at,
    )


# ---------------------------------------------------------------- issuing


def _data(credential: Credential, verify_uuid: str) -> IssuedCredential:
    return IssuedCredential(
        credential.uuid,
        verify_uuid,
        credential.status_index,
        credential.issued_at,
        credential.document,
    )


def _verify_key(verify_uuid: str) -> str | None:
    """The stored form of a verify id (32 lowercase hex digits), or None for anything else."""
    if len(verify_uuid) != 32:
        return None
    try:
        key = uuid_module.UUID(hex=verify_uuid).hex
    except ValueError:
        return None
    return key if key == verify_uuid.lower() else None


def issue_credential(verify_uuid: str, *, actor: Actor) -> IssuedCredential | None:
    """The certificate's current credential; issued, signed and stored on the first call.

    None when no downloadable certificate has this verify id. A credential that no longer
    matches its certificate (name, mode or issue date changed) is superseded (its bit stays
    set) and a new one issued, with an audit row each.
    """
    key = _verify_key(verify_uuid)
    if key is None:
        return None
    # The usual case, without a write transaction: one query.
    current = (
        Credential.objects.select_related("certificate")
        .filter(certificate__verify_uuid=key, superseded=False)
        .first()
    )
    if (
        current is not None
        and current.certificate.status == S.DOWNLOADABLE
        and _matches(current, current.certificate)
    ):
        return _data(current, key)
    with transaction.atomic():
        cert = Certificate.objects.select_for_update().filter(verify_uuid=key).first()
        if cert is None or cert.status != S.DOWNLOADABLE or cert.issued_at is None:
            return None
        current = Credential.objects.filter(certificate=cert, superseded=False).first()
        if current is not None and _matches(current, cert):
            return _data(current, key)  # issued by the request we waited for
        user = people.get_user(people.get_user_ref_by_id(cert.user_id).username)
        subject = f"certificate:{cert.course_key}:{user.username}"
        events: list[tuple[str, str, dict[str, Any] | None, dict[str, Any] | None]] = []
        if current is not None:
            current.superseded = True
            current.save(update_fields=["superseded"])
            events.append(
                (
                    "certificate.credential_superseded",
                    subject,
                    {"credential": str(current), "superseded": False},
                    {"credential": str(current), "superseded": True},
                )
            )
        credential = _create(cert, issued_at=cert.issued_at, email=user.email)
        events.append(
            (
                "certificate.credential_issued",
                subject,
                None,
                {
                    "credential": str(credential),
                    "status_index": credential.status_index,
                    "name": credential.name,
                    "mode": credential.mode,
                    "valid_from": credential.document["validFrom"],
                    "supersedes": str(current) if current is not None else None,
                },
            )
        )
        audit.record_many(events, actor=actor)
    return _data(credential, key)


def _create(cert: Certificate, *, issued_at: dt.datetime, email: str) -> Credential:
    """A new signed credential for the (locked, downloadable) certificate at a free index;
    a race for the index with another issue is retried with a new draw."""
    course = catalog.courses_by_key([cert.course_key]).get(cert.course_key)
    title = course.title if course else cert.course_key
    org = course.org if course else ""
    salt = secrets.token_hex(SALT_BYTES)
    attempt = 0
    while True:
        attempt += 1
        used = set(Credential.objects.values_list("status_index", flat=True))
        size = list_size(len(used) + 1, max(used, default=-1))
        index = statuslist.pick_free_index(used, size, rng=INDEX_RNG)
        credential_uuid = uuid_module.uuid4()
        now = clock.now()
        unsigned = _unsigned(
            credential_uuid,
            cert,
            issued_at=issued_at,
            title=title,
            org=org,
            email=email,
            salt=salt,
            index=index,
        )
        document = vc.create_proof(
            unsigned,
            private_key=issuer.issuer_key(),
            verification_method=issuer.verification_method_id(),
            created=now,
        )
        try:
            with transaction.atomic():  # a savepoint: a lost race leaves the transaction usable
                return Credential.objects.create(
                    uuid=credential_uuid,
                    certificate=cert,
                    status_index=index,
                    identity_salt=salt,
                    document=document,
                    issued_at=now,
                    name=cert.name,
                    mode=cert.mode,
                    certificate_issued_at=issued_at,
                )
        except IntegrityError:
            taken = Credential.objects.filter(status_index=index).exists()
            if not taken or attempt >= INDEX_ATTEMPTS:
                raise


def _unsigned(
    credential_uuid: uuid_module.UUID,
    cert: Certificate,
    *,
    issued_at: dt.datetime,
    title: str,
    org: str,
    email: str,
    salt: str,
    index: int,
) -> dict[str, Any]:
    profile = issuer.issuer_profile()
    issuer_object = {key: profile[key] for key in ("id", "type", "name", "url")}
    description = (TEXT_DESCRIPTION if org else TEXT_DESCRIPTION_NO_ORG).format(
        title=title, org=org
    )
    subject: dict[str, Any] = {"type": ["AchievementSubject"]}
    if email.strip():
        subject["identifier"] = [
            {
                "type": "IdentityObject",
                "identityHash": identity_hash(email, salt),
                "identityType": IDENTITY_TYPE,
                "hashed": True,
                "salt": salt,
            }
        ]
    subject["achievement"] = {
        "id": achievement_id(cert.course_key),
        "type": ["Achievement"],
        "achievementType": ACHIEVEMENT_TYPE,
        "name": title,
        "description": description,
        "criteria": {"narrative": TEXT_CRITERIA.format(title=title, course_key=cert.course_key)},
        "creator": dict(issuer_object),
    }
    return {
        "@context": [vc.VC_V2_CONTEXT_URL, vc.OB_V3_CONTEXT_URL],
        "id": f"urn:uuid:{credential_uuid}",
        "type": list(CREDENTIAL_TYPES),
        "issuer": issuer_object,
        "validFrom": vc.format_date_time(issued_at),
        "name": certificate_title(title),
        "credentialSubject": subject,
        "credentialStatus": statuslist.status_entry(
            list_id=status_list_id(), index=index, purpose=STATUS_PURPOSE
        ),
    }


# ---------------------------------------------------------------- the status list


def status_list_credential() -> dict[str, Any]:
    """The issuer's revocation list as a signed `BitstringStatusListCredential`, built now.

    Two queries whatever the number of credentials: the count and highest index, then the
    indexes whose bit is set. Its id is its URL; `validFrom` is the build time.
    """
    totals = Credential.objects.aggregate(count=Count("id"), highest=Max("status_index"))
    highest = totals["highest"] if totals["highest"] is not None else -1
    bits = statuslist.Bitstring(list_size(totals["count"], highest))
    for index in Credential.objects.filter(_revoked()).values_list("status_index", flat=True):
        bits.set(index)
    now = clock.now()
    unsigned = statuslist.status_list_credential(
        list_id=status_list_id(),
        issuer=issuer.issuer_id(),
        encoded_list=bits.encode(),
        valid_from=vc.format_date_time(now),
        purpose=STATUS_PURPOSE,
    )
    return vc.create_proof(
        unsigned,
        private_key=issuer.issuer_key(),
        verification_method=issuer.verification_method_id(),
        created=now,
    )


# ---------------------------------------------------------------- checking a credential


def verify_credential(document: object, *, now: dt.datetime | None = None) -> CredentialCheck:
    """Check a credential (parsed JSON): structure, proof, status and validity dates.

    Never raises for a bad credential and never fetches anything: only this issuer's keys
    and status list are known. `now` defaults to the current time.
    """
    moment = now if now is not None else clock.now()
    if not isinstance(document, Mapping):
        failure = CheckFailure(CredentialCheckCode.MALFORMED_CREDENTIAL, MSG_NOT_AN_OBJECT)
        skipped = CheckState.SKIPPED
        return CredentialCheck((failure,), CheckState.FAILED, skipped, skipped, skipped)
    structure = _check_structure(document)
    proof = _check_proof(document, moment)
    status_state, status = _check_status(document.get("credentialStatus"))
    dates = _check_dates(document, moment)
    return CredentialCheck(
        (*structure, *proof, *status, *dates),
        CheckState.FAILED if structure else CheckState.OK,
        CheckState.FAILED if proof else CheckState.OK,
        status_state,
        CheckState.FAILED if dates else CheckState.OK,
    )


def _malformed(message: str) -> CheckFailure:
    return CheckFailure(CredentialCheckCode.MALFORMED_CREDENTIAL, message)


def _check_structure(document: Mapping[str, Any]) -> list[CheckFailure]:
    failures: list[CheckFailure] = []
    context = document.get("@context")
    if not (
        isinstance(context, list)
        and context[:1] == [vc.VC_V2_CONTEXT_URL]
        and vc.OB_V3_CONTEXT_URL in context
    ):
        failures.append(
            _malformed(
                MSG_CONTEXT.format(vc_context=vc.VC_V2_CONTEXT_URL, ob_context=vc.OB_V3_CONTEXT_URL)
            )
        )
    types = document.get("type")
    if not (
        isinstance(types, list)
        and CREDENTIAL_TYPES[0] in types
        and any(kind in types for kind in CREDENTIAL_KINDS)
    ):
        failures.append(
            _malformed(
                MSG_TYPE.format(required=CREDENTIAL_TYPES[0], kinds=", ".join(CREDENTIAL_KINDS))
            )
        )
    if "id" in document and not isinstance(document["id"], str):
        failures.append(_malformed(MSG_FIELD_TYPE.format(field="id", expected="a string")))
    if _issuer_id(document) is None:
        expected = "a URL, or an object with an id"
        failures.append(_field_failure(document, "issuer", expected))
    if not isinstance(document.get("name"), str):
        failures.append(_field_failure(document, "name", "a string"))
    subject = document.get("credentialSubject")
    if not isinstance(subject, Mapping):
        failures.append(_field_failure(document, "credentialSubject", "an object"))
    elif not isinstance(subject.get("achievement"), Mapping):
        expected = "an object with an achievement object"
        message = MSG_FIELD_TYPE.format(field="credentialSubject", expected=expected)
        failures.append(_malformed(message))
    for field in ("validFrom", "validUntil"):
        if field not in document:
            if field == "validFrom":
                failures.append(_malformed(MSG_FIELD_MISSING.format(field=field)))
        elif vc.parse_date_time(document[field]) is None:
            failures.append(_malformed(MSG_DATE.format(field=field, value=document[field])))
    return failures


def _field_failure(document: Mapping[str, Any], field: str, expected: str) -> CheckFailure:
    if field not in document:
        return _malformed(MSG_FIELD_MISSING.format(field=field))
    return _malformed(MSG_FIELD_TYPE.format(field=field, expected=expected))


def _issuer_id(document: Mapping[str, Any]) -> str | None:
    value = document.get("issuer")
    if isinstance(value, Mapping):
        value = value.get("id")
    return value if isinstance(value, str) and value else None


def _check_proof(document: Mapping[str, Any], now: dt.datetime) -> list[CheckFailure]:
    result = vc.verify_proof(document, resolve_key=issuer.resolve_key, now=now)
    failures = [CheckFailure(failure.code, failure.message) for failure in result.failures]
    method = result.verification_method
    issuer_id = _issuer_id(document)
    if result.verified and method is not None and method.partition("#")[0] != issuer_id:
        message = MSG_ISSUER_MISMATCH.format(method=method, issuer=issuer_id)
        failures.append(CheckFailure(CredentialCheckCode.ISSUER_MISMATCH, message))
    return failures


def _check_status(value: Any) -> tuple[CheckState, list[CheckFailure]]:
    """The state of the credential's revocation (and suspension) entries, worst first."""
    if value is None:
        return CheckState.NONE, []
    entries = value if isinstance(value, list) else [value]
    failures: list[CheckFailure] = []
    states: set[CheckState] = set()
    own_list = status_list_id()
    for entry in entries:
        if not isinstance(entry, Mapping):
            failures.append(CheckFailure(CredentialCheckCode.MALFORMED_STATUS, MSG_STATUS_ENTRY))
            states.add(CheckState.FAILED)
            continue
        purpose = entry.get("statusPurpose")
        index = entry.get("statusListIndex")
        url = entry.get("statusListCredential")
        if (
            entry.get("type") != STATUS_ENTRY_TYPE
            or not isinstance(purpose, str)
            or not (isinstance(index, str) and _DIGITS.fullmatch(index))
            or not isinstance(url, str)
        ):
            failures.append(CheckFailure(CredentialCheckCode.MALFORMED_STATUS, MSG_STATUS_ENTRY))
            states.add(CheckState.FAILED)
            continue
        if purpose not in CHECKED_PURPOSES:
            continue  # refresh, message: nothing to do with validity
        if url != own_list:
            message = MSG_STATUS_UNAVAILABLE.format(url=url)
            failures.append(CheckFailure(CredentialCheckCode.STATUS_UNAVAILABLE, message))
            states.add(CheckState.UNAVAILABLE)
            continue
        if purpose != STATUS_PURPOSE:  # our one list is a revocation list
            message = MSG_STATUS_PURPOSE.format(purpose=purpose, expected=STATUS_PURPOSE)
            failures.append(CheckFailure(CredentialCheckCode.MALFORMED_STATUS, message))
            states.add(CheckState.FAILED)
            continue
        state, failure = _own_status(int(index))
        states.add(state)
        if failure is not None:
            failures.append(failure)
    for state in (CheckState.REVOKED, CheckState.UNAVAILABLE, CheckState.FAILED):
        if state in states:
            return state, failures
    return (CheckState.ACTIVE if states else CheckState.NONE), failures


def _own_status(index: int) -> tuple[CheckState, CheckFailure | None]:
    """The bit `index` of our list, from the database (one query), as the list has it."""
    revoked = Case(When(_revoked(), then=Value(True)), default=False, output_field=BooleanField())
    found = (
        Credential.objects.filter(status_index=index)
        .annotate(revoked=revoked)
        .values_list("revoked", "superseded")
        .first()
    )
    if found is None:
        message = MSG_UNKNOWN_STATUS_INDEX.format(index=index)
        return CheckState.FAILED, CheckFailure(CredentialCheckCode.UNKNOWN_STATUS_INDEX, message)
    revoked, superseded = found
    if not revoked:
        return CheckState.ACTIVE, None
    message = MSG_SUPERSEDED if superseded else MSG_REVOKED
    return CheckState.REVOKED, CheckFailure(CredentialCheckCode.REVOKED, message)


def _check_dates(document: Mapping[str, Any], now: dt.datetime) -> list[CheckFailure]:
    """validFrom in the future, validUntil in the past (malformed dates are structure's)."""
    failures: list[CheckFailure] = []
    valid_from = vc.parse_date_time(document.get("validFrom"))
    if valid_from is not None and valid_from > now:
        message = MSG_NOT_YET_VALID.format(value=document["validFrom"])
        failures.append(CheckFailure(CredentialCheckCode.NOT_YET_VALID, message))
    valid_until = vc.parse_date_time(document.get("validUntil"))
    if valid_until is not None and valid_until <= now:
        message = MSG_EXPIRED.format(value=document["validUntil"])
        failures.append(CheckFailure(CredentialCheckCode.EXPIRED, message))
    return failures
