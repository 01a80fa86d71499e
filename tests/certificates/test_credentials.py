"""A certificate's Open Badges 3.0 credential: what it says, issued once and kept, superseded
when the certificate changes, its bit in the revocation list, and checking a credential
(structure, proof, status, dates), all offline."""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import random
import threading
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.db import connection

from rollbook.audit.models import AuditEvent
from rollbook.certificates import api as certs
from rollbook.certificates import credentials, issuer, statuslist, vc
from rollbook.certificates import multibase as mb
from rollbook.certificates.models import Certificate, Credential
from rollbook.lib import clock
from tests.certificates.conftest import PUBLIC_URL
from tests.certificates.helpers import ACTOR, COURSE, TITLE, issue, regenerate
from tests.factories import Make

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("credential_settings", "no_network")]

STATUS_LIST = f"{PUBLIC_URL}/certificates/status/revocation"
ISSUER_ID = f"{PUBLIC_URL}/certificates/issuer"


def issue_credential(verify_uuid: str) -> dict[str, Any]:
    issued = certs.issue_credential(verify_uuid, actor=ACTOR)
    assert issued is not None
    return dict(issued.document)


def index_of(document: dict[str, Any]) -> int:
    return int(document["credentialStatus"]["statusListIndex"])


def status_bits() -> statuslist.Bitstring:
    listed = certs.status_list_credential()
    return statuslist.decode(listed["credentialSubject"]["encodedList"])


def sign(unsigned: dict[str, Any]) -> dict[str, Any]:
    """Signed with the issuer's own key, as an issued credential is."""
    return vc.create_proof(
        unsigned,
        private_key=issuer.issuer_key(),
        verification_method=issuer.verification_method_id(),
        created=clock.now(),
    )


def unsigned_copy(document: dict[str, Any]) -> dict[str, Any]:
    unsigned = copy.deepcopy(document)
    del unsigned["proof"]
    return unsigned


# ---------------------------------------------------------------- what the credential says


def test_the_credential_is_an_open_badge_with_a_data_integrity_proof() -> None:
    verify = issue(email="Ann.Lee@Example.org")
    document = issue_credential(verify)
    cert = Certificate.objects.get()
    stored = Credential.objects.get()
    assert document["@context"] == [
        "https://www.w3.org/ns/credentials/v2",
        "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json",
    ]
    assert document["id"] == f"urn:uuid:{stored.uuid}"
    assert document["type"] == ["VerifiableCredential", "OpenBadgeCredential"]
    profile = {
        "id": ISSUER_ID,
        "type": ["Profile"],
        "name": "University of Examples",
        "url": "https://university.example",
    }
    assert document["issuer"] == profile
    assert cert.issued_at is not None
    assert document["validFrom"] == cert.issued_at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert document["name"] == f"{TITLE} certificate"

    subject = document["credentialSubject"]
    assert subject["type"] == ["AchievementSubject"]
    [identity] = subject["identifier"]
    salt = stored.identity_salt
    assert len(salt) == 32
    digest = hashlib.sha256(("ann.lee@example.org" + salt).encode()).hexdigest()
    assert identity == {
        "type": "IdentityObject",
        "identityHash": f"sha256${digest}",
        "identityType": "emailAddress",
        "hashed": True,
        "salt": salt,
    }
    assert "Ann.Lee" not in str(document)  # the email itself is nowhere
    achievement = subject["achievement"]
    assert achievement["id"] == credentials.achievement_id(COURSE)
    assert achievement["id"].startswith("urn:uuid:")
    assert achievement["type"] == ["Achievement"]
    assert achievement["name"] == TITLE
    assert achievement["description"] == f"A certificate of completion of {TITLE}, offered by UniX."
    assert COURSE in achievement["criteria"]["narrative"]
    assert achievement["creator"] == profile

    assert document["credentialStatus"] == {
        "id": f"{STATUS_LIST}#{stored.status_index}",
        "type": "BitstringStatusListEntry",
        "statusPurpose": "revocation",
        "statusListIndex": str(stored.status_index),
        "statusListCredential": STATUS_LIST,
    }
    proof = document["proof"]
    assert proof["type"] == "DataIntegrityProof"
    assert proof["cryptosuite"] == "eddsa-rdfc-2022"
    assert proof["proofPurpose"] == "assertionMethod"
    assert proof["verificationMethod"] == issuer.verification_method_id()
    assert vc.verify_proof(document, resolve_key=issuer.resolve_key).verified
    # Every term is defined by the packaged contexts: nothing would be dropped unsigned.
    vc.canonicalize(unsigned_copy(document))


def test_the_achievement_is_the_same_for_every_learner_of_the_course() -> None:
    first = issue_credential(issue("ann"))
    second = issue_credential(issue("bob", "Bob Roe"))
    assert (
        first["credentialSubject"]["achievement"]["id"]
        == second["credentialSubject"]["achievement"]["id"]
    )
    assert first["id"] != second["id"]
    assert first["credentialSubject"]["identifier"] != second["credentialSubject"]["identifier"]


def test_a_learner_without_an_email_has_no_identifier() -> None:
    document = issue_credential(issue(email=""))
    assert "identifier" not in document["credentialSubject"]
    assert certs.verify_credential(document).valid


def test_issued_once_with_one_audit_row() -> None:
    verify = issue()
    first = certs.issue_credential(verify, actor=ACTOR)
    second = certs.issue_credential(verify.upper(), actor=ACTOR)
    assert first is not None
    assert second is not None
    assert first == second
    assert first.as_json() == second.as_json()
    assert Credential.objects.count() == 1
    [event] = AuditEvent.objects.filter(event="certificate.credential_issued")
    assert event.subject == f"certificate:{COURSE}:ann"
    assert event.after is not None
    assert event.after["credential"] == first.id
    assert event.after["status_index"] == first.status_index
    assert event.after["supersedes"] is None
    assert (event.source, event.actor_username) == ("test", "")


def test_a_stored_credential_costs_one_query(django_assert_num_queries: Any) -> None:
    verify = issue()
    certs.issue_credential(verify, actor=ACTOR)
    with django_assert_num_queries(1):
        assert certs.issue_credential(verify, actor=ACTOR) is not None


@pytest.mark.parametrize("verify_uuid", ["0" * 32, "not-a-uuid", "", "f" * 33])
def test_no_credential_without_a_certificate(verify_uuid: str) -> None:
    issue()
    assert certs.issue_credential(verify_uuid, actor=ACTOR) is None
    assert not Credential.objects.exists()


@pytest.mark.parametrize("how", ["invalidated", "deleted"])
def test_no_credential_for_a_certificate_no_longer_valid(how: str) -> None:
    verify = issue()
    if how == "invalidated":
        certs.invalidate(COURSE, "ann", notes="", actor=ACTOR)
    else:
        certs.delete_certificate(COURSE, "ann", actor=ACTOR)
    assert certs.issue_credential(verify, actor=ACTOR) is None
    assert not Credential.objects.exists()


# ---------------------------------------------------------------- the round trip, offline


def test_issue_verify_invalidate_lift_regenerate() -> None:
    verify = issue()
    document = issue_credential(verify)
    checked = certs.verify_credential(document)
    assert checked.valid
    assert checked.as_dict() == {
        "valid": True,
        "errors": [],
        "checks": {"structure": "ok", "proof": "ok", "status": "active", "dates": "ok"},
    }

    certs.invalidate(COURSE, "ann", notes="plagiarism", actor=ACTOR)
    revoked = certs.verify_credential(document)
    assert not revoked.valid
    assert revoked.codes == ("revoked",)
    assert revoked.checks() == {
        "structure": "ok",
        "proof": "ok",
        "status": "revoked",
        "dates": "ok",
    }
    assert status_bits().get(index_of(document))

    certs.lift_invalidation(COURSE, "ann", actor=ACTOR)
    assert certs.verify_credential(document).codes == ("revoked",)  # still unavailable
    assert certs.generate_certificate(COURSE, "ann", actor=ACTOR) == "generated"
    assert certs.verify_credential(document).valid
    assert not status_bits().get(index_of(document))
    # The same credential: nothing about the certificate changed.
    assert issue_credential(verify) == document
    assert Credential.objects.count() == 1


def test_deleting_the_certificate_revokes_its_credential() -> None:
    verify = issue()
    document = issue_credential(verify)
    certs.delete_certificate(COURSE, "ann", actor=ACTOR)
    assert certs.verify_credential(document).codes == ("revoked",)
    assert status_bits().get(index_of(document))


def test_one_changed_character_of_the_name_breaks_the_proof() -> None:
    document = issue_credential(issue())
    tampered = copy.deepcopy(document)
    tampered["name"] = "M" + tampered["name"][1:].replace("e", "a", 1)
    assert tampered["name"] != document["name"]
    assert len(tampered["name"]) == len(document["name"])
    checked = certs.verify_credential(tampered)
    assert not checked.valid
    assert checked.codes == ("invalid_signature",)
    assert checked.checks()["proof"] == "failed"
    assert checked.checks()["status"] == "active"  # each check answers for itself


# ---------------------------------------------------------------- superseding


def test_a_name_correction_supersedes_the_credential() -> None:
    verify = issue(name="Ann Le")
    old = issue_credential(verify)
    Make.user("ann", name="Ann Lee")
    regenerate()
    assert Certificate.objects.get().name == "Ann Lee"
    # At once, before anyone asks for the new one: the old one says the wrong name.
    assert certs.verify_credential(old).codes == ("revoked",)
    assert status_bits().get(index_of(old))

    new = issue_credential(verify)
    assert new["credentialSubject"]["achievement"] == old["credentialSubject"]["achievement"]
    assert new["id"] != old["id"]
    assert index_of(new) != index_of(old)
    assert certs.verify_credential(new).valid
    checked = certs.verify_credential(old)
    assert checked.codes == ("revoked",)
    assert "newer credential" in checked.errors[0].message
    bits = status_bits()
    assert bits.get(index_of(old))
    assert not bits.get(index_of(new))
    rows = list(Credential.objects.order_by("id").values_list("superseded", "name"))
    assert rows == [(True, "Ann Le"), (False, "Ann Lee")]
    events = list(
        AuditEvent.objects.filter(event__startswith="certificate.credential_")
        .order_by("id")
        .values_list("event", flat=True)
    )
    assert events == [
        "certificate.credential_issued",
        "certificate.credential_superseded",
        "certificate.credential_issued",
    ]
    latest = AuditEvent.objects.filter(event="certificate.credential_issued").order_by("id").last()
    assert latest is not None
    assert latest.after is not None
    assert latest.after["supersedes"] == old["id"]


def test_an_issue_date_override_supersedes_the_credential() -> None:
    verify = issue()
    old = issue_credential(verify)
    moved = dt.datetime(2026, 1, 15, 12, 0, tzinfo=dt.UTC)
    certs.override_issue_date(COURSE, "ann", moved, reason="exam board", actor=ACTOR)
    assert certs.verify_credential(old).codes == ("revoked",)
    new = issue_credential(verify)
    assert new["validFrom"] == "2026-01-15T12:00:00Z"
    assert certs.verify_credential(new).valid


def test_a_regeneration_that_changes_nothing_keeps_the_credential() -> None:
    verify = issue()
    document = issue_credential(verify)
    regenerate()
    assert issue_credential(verify) == document
    assert certs.verify_credential(document).valid


# ---------------------------------------------------------------- status indexes


def test_list_size_grows_past_half_by_powers_of_two() -> None:
    minimum = statuslist.MIN_ENTRIES
    assert credentials.list_size(0) == minimum
    assert credentials.list_size(minimum // 2) == minimum
    assert credentials.list_size(minimum // 2 + 1) == 2 * minimum
    assert credentials.list_size(minimum + 1) == 4 * minimum
    assert credentials.list_size(3, highest=minimum) == 2 * minimum  # every index stays
    assert credentials.list_size(3, highest=minimum - 1) == minimum


def test_indexes_are_drawn_at_random(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(credentials, "INDEX_RNG", random.Random(8))
    first = index_of(issue_credential(issue("ann")))
    second = index_of(issue_credential(issue("bob", "Bob Roe")))
    expected = random.Random(8)
    assert first == expected.randrange(statuslist.MIN_ENTRIES)
    assert second == expected.randrange(statuslist.MIN_ENTRIES)
    assert abs(first - second) > 1
    assert {first, second} != {0, 1}


def test_a_race_for_an_index_is_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    taken = index_of(issue_credential(issue("ann")))
    verify = issue("bob", "Bob Roe")
    draws = iter([taken, 77])  # as if another process took `taken` after we read the list

    def pick(used: Any, size: int, rng: Any = None) -> int:
        return next(draws)

    monkeypatch.setattr(credentials.statuslist, "pick_free_index", pick)
    document = issue_credential(verify)
    assert index_of(document) == 77
    assert certs.verify_credential(document).valid
    assert sorted(Credential.objects.values_list("status_index", flat=True)) == sorted([taken, 77])


@pytest.mark.django_db(transaction=True)
def test_concurrent_first_requests_issue_one_credential() -> None:
    verify = issue()
    barrier = threading.Barrier(4)
    found: list[str] = []
    errors: list[BaseException] = []

    def request() -> None:
        try:
            barrier.wait()
            issued = certs.issue_credential(verify, actor=ACTOR)
            assert issued is not None
            found.append(issued.id)
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=request) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(found) == 4
    assert len(set(found)) == 1
    assert Credential.objects.count() == 1
    assert AuditEvent.objects.filter(event="certificate.credential_issued").count() == 1


# ---------------------------------------------------------------- the revocation list


def test_the_status_list_has_the_revoked_bits_msb_first() -> None:
    revoked_doc = issue_credential(issue("ann"))
    valid_doc = issue_credential(issue("bob", "Bob Roe"))
    certs.invalidate(COURSE, "ann", notes="", actor=ACTOR)
    listed = certs.status_list_credential()
    assert listed["id"] == STATUS_LIST
    assert listed["type"] == ["VerifiableCredential", "BitstringStatusListCredential"]
    assert listed["issuer"] == ISSUER_ID
    subject = listed["credentialSubject"]
    assert subject["type"] == "BitstringStatusList"
    assert subject["statusPurpose"] == "revocation"
    assert subject["encodedList"].startswith("u")
    bits = statuslist.decode(subject["encodedList"])
    assert len(bits) >= 131_072
    assert list(bits.ones()) == [index_of(revoked_doc)]
    assert not bits.get(index_of(valid_doc))
    # Index 0 is the most significant bit of byte 0, on the raw bytes.
    raw = bits.to_bytes()
    index = index_of(revoked_doc)
    assert raw[index // 8] == 0x80 >> (index % 8)
    assert raw.count(0) == len(raw) - 1


def test_index_0_is_the_most_significant_bit_of_byte_0(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(credentials.statuslist, "pick_free_index", lambda used, size, rng=None: 0)
    issue_credential(issue())
    certs.delete_certificate(COURSE, "ann", actor=ACTOR)
    listed = certs.status_list_credential()
    raw = statuslist.decode(listed["credentialSubject"]["encodedList"]).to_bytes()
    assert raw[0] == 0b1000_0000
    assert not any(raw[1:])


def test_the_status_list_is_signed_by_the_issuer() -> None:
    issue_credential(issue())
    before = clock.now().replace(microsecond=0)
    listed = certs.status_list_credential()
    assert vc.verify_proof(listed, resolve_key=issuer.resolve_key).verified
    assert listed["proof"]["verificationMethod"] == issuer.verification_method_id()
    valid_from = dt.datetime.fromisoformat(listed["validFrom"])
    assert before <= valid_from <= clock.now()
    tampered = copy.deepcopy(listed)
    forged = statuslist.Bitstring()
    forged.set(5)
    tampered["credentialSubject"]["encodedList"] = forged.encode()
    result = vc.verify_proof(tampered, resolve_key=issuer.resolve_key)
    assert result.codes == (vc.CredentialErrorCode.INVALID_SIGNATURE,)


def test_an_empty_status_list_is_all_clear() -> None:
    bits = status_bits()
    assert len(bits) == statuslist.MIN_ENTRIES
    assert list(bits.ones()) == []


def test_the_status_list_costs_the_same_queries_for_1_or_20_credentials(
    django_assert_num_queries: Any,
) -> None:
    issue_credential(issue("learner0"))
    with django_assert_num_queries(2):
        certs.status_list_credential()
    for number in range(1, 20):
        issue_credential(issue(f"learner{number}", f"Learner {number}"))
    for number in range(0, 20, 3):
        certs.invalidate(COURSE, f"learner{number}", notes="", actor=ACTOR)
    with django_assert_num_queries(2):
        listed = certs.status_list_credential()
    revoked = set(
        Credential.objects.filter(
            certificate__user__username__in=[f"learner{n}" for n in range(0, 20, 3)]
        ).values_list("status_index", flat=True)
    )
    bits = statuslist.decode(listed["credentialSubject"]["encodedList"])
    assert set(bits.ones()) == revoked
    assert len(revoked) == 7


# ---------------------------------------------------------------- checking: each failure named


@pytest.mark.parametrize("value", [None, [], "credential", 42])
def test_what_is_not_an_object_fails_structure_and_skips_the_rest(value: object) -> None:
    checked = certs.verify_credential(value)
    assert not checked.valid
    assert checked.codes == ("malformed_credential",)
    assert checked.checks() == {
        "structure": "failed",
        "proof": "skipped",
        "status": "skipped",
        "dates": "skipped",
    }


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda d: d.pop("issuer"), "has no issuer"),
        (lambda d: d.update(issuer={"name": "x"}), "issuer must be"),
        (lambda d: d.pop("validFrom"), "has no validFrom"),
        (lambda d: d.update(validFrom="yesterday"), "validFrom 'yesterday'"),
        (lambda d: d.update(validUntil="2026-13-45"), "validUntil"),
        (lambda d: d.update(type=["VerifiableCredential"]), "type must list"),
        (lambda d: d.update(name=7), "name must be a string"),
        (lambda d: d.pop("credentialSubject"), "has no credentialSubject"),
        (lambda d: d["credentialSubject"].pop("achievement"), "achievement object"),
        (lambda d: d.update({"@context": [vc.VC_V2_CONTEXT_URL]}), "@context must"),
    ],
)
def test_structure_failures_are_named(change: Any, words: str) -> None:
    document = issue_credential(issue())
    change(document)
    checked = certs.verify_credential(document)
    assert not checked.valid
    assert checked.checks()["structure"] == "failed"
    messages = [e.message for e in checked.errors if e.code == "malformed_credential"]
    assert any(words in message for message in messages), checked.errors
    assert checked.checks()["proof"] == "failed"  # the signature covered what changed


def test_a_missing_proof_is_named() -> None:
    document = unsigned_copy(issue_credential(issue()))
    checked = certs.verify_credential(document)
    assert checked.codes == ("missing_proof",)
    assert checked.checks()["proof"] == "failed"


def test_another_key_is_an_unknown_verification_method() -> None:
    document = unsigned_copy(issue_credential(issue()))
    other = Ed25519PrivateKey.generate()
    method = f"{ISSUER_ID}#{mb.public_key_to_multibase(other.public_key())}"
    signed = vc.create_proof(
        document, private_key=other, verification_method=method, created=clock.now()
    )
    checked = certs.verify_credential(signed)
    assert checked.codes == ("unknown_verification_method",)


def test_our_key_on_another_issuer_is_named() -> None:
    document = unsigned_copy(issue_credential(issue()))
    document["issuer"] = {**document["issuer"], "id": "https://elsewhere.example/issuer"}
    checked = certs.verify_credential(sign(document))
    assert checked.codes == ("issuer_mismatch",)


def test_another_status_list_is_unavailable_and_never_fetched() -> None:
    document = unsigned_copy(issue_credential(issue()))
    elsewhere = "https://status.elsewhere.example/list/3"
    document["credentialStatus"] = statuslist.status_entry(list_id=elsewhere, index=5)
    checked = certs.verify_credential(sign(document))
    assert checked.codes == ("status_unavailable",)
    assert checked.checks()["status"] == "unavailable"
    assert elsewhere in checked.errors[0].message


def test_an_index_never_issued_is_named() -> None:
    document = unsigned_copy(issue_credential(issue()))
    index = index_of(document)
    document["credentialStatus"] = statuslist.status_entry(
        list_id=STATUS_LIST, index=(index + 1) % statuslist.MIN_ENTRIES
    )
    checked = certs.verify_credential(sign(document))
    assert checked.codes == ("unknown_status_index",)
    assert checked.checks()["status"] == "failed"


@pytest.mark.parametrize(
    "entry",
    [
        "revoked?",
        {"type": "StatusList2021Entry"},
        {
            "type": "BitstringStatusListEntry",
            "statusPurpose": "revocation",
            "statusListIndex": 12,  # a number, not a string of digits
            "statusListCredential": STATUS_LIST,
        },
    ],
)
def test_a_malformed_status_entry_is_named(entry: Any) -> None:
    document = issue_credential(issue())
    document["credentialStatus"] = entry
    checked = certs.verify_credential(document)
    assert "malformed_status" in checked.codes
    assert checked.checks()["status"] == "failed"


def test_a_suspension_entry_on_the_revocation_list_is_malformed() -> None:
    document = unsigned_copy(issue_credential(issue()))
    document["credentialStatus"] = statuslist.status_entry(
        list_id=STATUS_LIST, index=index_of(document), purpose="suspension"
    )
    checked = certs.verify_credential(sign(document))
    assert checked.codes == ("malformed_status",)
    assert "'suspension'" in checked.errors[0].message


def test_a_message_entry_is_not_a_validity_check() -> None:
    document = unsigned_copy(issue_credential(issue()))
    document["credentialStatus"] = [
        document["credentialStatus"],
        statuslist.status_entry(
            list_id="https://elsewhere.example/messages", index=3, purpose="message"
        ),
    ]
    checked = certs.verify_credential(sign(document))
    assert checked.valid
    assert checked.checks()["status"] == "active"


def test_no_credential_status_is_none_and_not_a_failure() -> None:
    document = unsigned_copy(issue_credential(issue()))
    del document["credentialStatus"]
    checked = certs.verify_credential(sign(document))
    assert checked.valid
    assert checked.checks()["status"] == "none"


def test_validity_dates_are_checked() -> None:
    document = unsigned_copy(issue_credential(issue()))
    now = clock.now()
    future = vc.format_date_time(now + dt.timedelta(days=2))
    past = vc.format_date_time(now - dt.timedelta(days=2))
    not_yet = certs.verify_credential(sign({**document, "validFrom": future}))
    assert not_yet.codes == ("not_yet_valid",)
    assert not_yet.checks()["dates"] == "failed"
    expired = certs.verify_credential(sign({**document, "validUntil": past}))
    assert expired.codes == ("expired",)
    later = certs.verify_credential(sign({**document, "validUntil": future}))
    assert later.valid
    # As seen from a later moment, the same credential has expired.
    assert certs.verify_credential(
        sign({**document, "validUntil": future}), now=now + dt.timedelta(days=3)
    ).codes == ("expired",)
