"""Open Badges 3.0 credentials with `eddsa-rdfc-2022` proofs: the implementation guide's test
vector byte for byte, sign/verify round trips, tampering, strict JSON-LD, the offline document
loader, and the multibase encodings."""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import json
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from hypothesis import given
from hypothesis import strategies as st
from pyld import jsonld

from rollbook.certificates import multibase as mb
from rollbook.certificates import vc
from rollbook.certificates.vc import CredentialErrorCode as Code

DATA = Path(__file__).parent / "data" / "ob3"
CONTEXTS = Path(vc.__file__).parent / "contexts"
VECTOR: dict[str, Any] = json.loads((DATA / "vector.json").read_text(encoding="utf-8"))
CREATED = dt.datetime(2026, 3, 14, 9, 26, 53, tzinfo=dt.UTC)
ISSUER = "https://rollbook.example/issuers/unix"


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any socket connection fails the test: contexts come from the package only."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def vector_key() -> Ed25519PrivateKey:
    private = bytes.fromhex(VECTOR["privateKeyHex"])
    assert len(private) == 64  # seed + public key
    return Ed25519PrivateKey.from_private_bytes(private[:32])


def vector_created() -> dt.datetime:
    return dt.datetime.fromisoformat(VECTOR["proofOptions"]["created"])


def sign_vector() -> dict[str, Any]:
    return vc.create_proof(
        VECTOR["unsignedCredential"],
        private_key=vector_key(),
        verification_method=VECTOR["proofOptions"]["verificationMethod"],
        created=vector_created(),
    )


def resolver(keys: dict[str, Ed25519PublicKey]) -> Callable[[str], Ed25519PublicKey]:
    def resolve(method: str) -> Ed25519PublicKey:
        try:
            return keys[method]
        except KeyError:
            raise vc.UnknownVerificationMethodError(method) from None

    return resolve


def credential(name: str = "Medieval History & Sources") -> dict[str, Any]:
    return {
        "@context": [vc.VC_V2_CONTEXT_URL, vc.OB_V3_CONTEXT_URL],
        "id": "urn:uuid:5b1f3c1e-0c4e-4f51-9a43-7f0f1bd9a2c4",
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "issuer": {"id": ISSUER, "type": ["Profile"], "name": "UniX"},
        "validFrom": "2026-03-14T09:26:53Z",
        "name": name,
        "credentialSubject": {
            "id": "did:example:learner-42",
            "type": ["AchievementSubject"],
            "achievement": {
                "id": "https://rollbook.example/courses/course-v1:UniX+Hist1+2026",
                "type": ["Achievement"],
                "criteria": {"narrative": "Passed the course with a grade of at least 70%."},
                "name": name,
                "description": "Certificate of achievement.",
            },
        },
    }


class Issuer:
    def __init__(self) -> None:
        self.key = Ed25519PrivateKey.generate()
        self.method = f"{ISSUER}#{mb.public_key_to_multibase(self.key.public_key())}"
        self.resolve = resolver({self.method: self.key.public_key()})

    def sign(self, unsigned: dict[str, Any], **options: Any) -> dict[str, Any]:
        return vc.create_proof(
            unsigned,
            private_key=self.key,
            verification_method=self.method,
            created=CREATED,
            **options,
        )

    def verify(self, signed: dict[str, Any], **options: Any) -> vc.VerificationResult:
        return vc.verify_proof(signed, resolve_key=self.resolve, **options)


@pytest.fixture
def issuer() -> Issuer:
    return Issuer()


@pytest.fixture
def signed(issuer: Issuer) -> dict[str, Any]:
    return issuer.sign(credential())


# --- the test vector -------------------------------------------------------------------------


def test_packaged_contexts_are_the_pinned_files() -> None:
    digests = {
        "vc-v2.jsonld": "59955ced6697d61e03f2b2556febe5308ab16842846f5b586d7f1f7adec92734",
        "ob-3.0.3.jsonld": "ef2fa9c7846dce233cc166b43639027278be4ee44f00bb1d45c75de2dd0cd761",
    }
    assert sorted(vc.CONTEXT_FILES.values()) == sorted(digests)
    for name, digest in digests.items():
        assert hashlib.sha256((CONTEXTS / name).read_bytes()).hexdigest() == digest


def test_vector_canonical_document() -> None:
    expected = (DATA / "document-canon.txt").read_text(encoding="utf-8")
    canonical = vc.canonicalize(VECTOR["unsignedCredential"])
    assert canonical == expected
    digest = hashlib.sha256(canonical.encode()).hexdigest()
    assert digest == VECTOR["documentHashHex"]


def test_vector_canonical_proof_options() -> None:
    expected = (DATA / "proof-canon.txt").read_text(encoding="utf-8")
    proof_config = {
        **VECTOR["proofOptions"],
        "@context": VECTOR["unsignedCredential"]["@context"],
    }
    canonical = vc.canonicalize(proof_config)
    assert canonical == expected
    assert hashlib.sha256(canonical.encode()).hexdigest() == VECTOR["proofHashHex"]


def test_vector_hash_data_is_proof_hash_then_document_hash() -> None:
    hash_data = vc.proof_hash_data(VECTOR["unsignedCredential"], VECTOR["proofOptions"])
    assert hash_data.hex() == VECTOR["proofHashHex"] + VECTOR["documentHashHex"]
    assert vector_key().sign(hash_data).hex() == VECTOR["signatureHex"]


def test_vector_proof() -> None:
    signed = sign_vector()
    assert signed["proof"] == {**VECTOR["proofOptions"], "proofValue": VECTOR["proofValue"]}
    assert (
        mb.multibase_base58btc_decode(signed["proof"]["proofValue"]).hex()
        == (VECTOR["signatureHex"])
    )
    assert {k: v for k, v in signed.items() if k != "proof"} == VECTOR["unsignedCredential"]


def test_vector_key_pair() -> None:
    public = vector_key().public_key()
    assert mb.public_key_to_multibase(public) == VECTOR["publicKeyMultibase"]
    decoded = mb.public_key_from_multibase(VECTOR["publicKeyMultibase"])
    assert decoded.public_bytes_raw().hex() == VECTOR["publicKeyHex"]
    secret = mb.secret_key_to_multibase(vector_key())
    assert secret.startswith("z3u2")  # the ed25519-priv multicodec in base58btc
    restored = mb.secret_key_from_multibase(secret)
    assert restored.private_bytes_raw() == bytes.fromhex(VECTOR["privateKeyHex"])[:32]


def test_vector_verifies_with_its_public_key() -> None:
    signed = {**VECTOR["unsignedCredential"], "proof": {**VECTOR["proofOptions"]}}
    signed["proof"]["proofValue"] = VECTOR["proofValue"]
    method = VECTOR["proofOptions"]["verificationMethod"]
    resolve = resolver({method: mb.public_key_from_multibase(VECTOR["publicKeyMultibase"])})
    result = vc.verify_proof(signed, resolve_key=resolve)
    assert result.verified
    assert result.failures == ()
    assert result.verification_method == method


# --- round trip and tampering ----------------------------------------------------------------


def test_round_trip(issuer: Issuer, signed: dict[str, Any]) -> None:
    assert signed["proof"] == {
        "type": "DataIntegrityProof",
        "cryptosuite": "eddsa-rdfc-2022",
        "created": "2026-03-14T09:26:53Z",
        "verificationMethod": issuer.method,
        "proofPurpose": "assertionMethod",
        "proofValue": signed["proof"]["proofValue"],
    }
    assert signed["proof"]["proofValue"].startswith("z")
    result = issuer.verify(signed)
    assert result.verified
    assert bool(result)


def test_round_trip_survives_json(issuer: Issuer, signed: dict[str, Any]) -> None:
    assert issuer.verify(json.loads(json.dumps(signed, indent=2))).verified


def test_create_proof_leaves_its_input_alone(issuer: Issuer) -> None:
    unsigned = credential()
    before = copy.deepcopy(unsigned)
    issuer.sign(unsigned)
    assert unsigned == before


def test_created_is_written_in_utc_to_the_second(issuer: Issuer) -> None:
    paris = dt.timezone(dt.timedelta(hours=1))
    created = dt.datetime(2026, 3, 14, 10, 26, 53, 999_999, tzinfo=paris)
    signed = vc.create_proof(
        credential(), private_key=issuer.key, verification_method=issuer.method, created=created
    )
    assert signed["proof"]["created"] == "2026-03-14T09:26:53Z"
    assert issuer.verify(signed).verified


def test_created_must_be_aware(issuer: Issuer) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        vc.create_proof(
            credential(),
            private_key=issuer.key,
            verification_method=issuer.method,
            created=dt.datetime(2026, 3, 14, 9, 26, 53),  # noqa: DTZ001 - the point of the test
        )


def test_signing_twice_is_refused(issuer: Issuer, signed: dict[str, Any]) -> None:
    with pytest.raises(vc.CredentialError) as caught:
        issuer.sign(signed)
    assert caught.value.error_code == Code.ALREADY_SIGNED


def test_signing_needs_a_context(issuer: Issuer) -> None:
    unsigned = credential()
    del unsigned["@context"]
    with pytest.raises(vc.CredentialError) as caught:
        issuer.sign(unsigned)
    assert caught.value.error_code == Code.MALFORMED_CREDENTIAL


def test_one_character_of_the_name_changed(issuer: Issuer, signed: dict[str, Any]) -> None:
    signed["name"] = "Medieval History & Sourced"
    result = issuer.verify(signed)
    assert not result.verified
    assert result.codes == (Code.INVALID_SIGNATURE,)


def test_a_nested_value_changed(issuer: Issuer, signed: dict[str, Any]) -> None:
    signed["credentialSubject"]["id"] = "did:example:learner-43"
    assert issuer.verify(signed).codes == (Code.INVALID_SIGNATURE,)


def test_a_proof_option_changed(issuer: Issuer, signed: dict[str, Any]) -> None:
    signed["proof"]["created"] = "2026-03-14T09:26:54Z"
    assert issuer.verify(signed).codes == (Code.INVALID_SIGNATURE,)


def test_a_changed_proof_value(issuer: Issuer, signed: dict[str, Any]) -> None:
    value = signed["proof"]["proofValue"]
    middle = len(value) // 2
    replacement = "2" if value[middle] != "2" else "3"
    signed["proof"]["proofValue"] = value[:middle] + replacement + value[middle + 1 :]
    assert issuer.verify(signed).codes == (Code.INVALID_SIGNATURE,)


def test_another_issuers_signature(issuer: Issuer, signed: dict[str, Any]) -> None:
    other = Issuer()
    resolve = resolver({issuer.method: other.key.public_key()})
    assert vc.verify_proof(signed, resolve_key=resolve).codes == (Code.INVALID_SIGNATURE,)


@pytest.mark.parametrize(
    ("proof_value", "reason"),
    [
        (None, "missing"),
        (12, "not a string"),
        ("u" + mb.base64url_encode(bytes(64)), "prefix"),
        ("z0OIl", "not a base58btc character"),
        (mb.multibase_base58btc_encode(bytes(63)), "63 bytes"),
        ("z" + "2" * 200, "too long"),
    ],
)
def test_a_malformed_proof_value(
    issuer: Issuer, signed: dict[str, Any], proof_value: object, reason: str
) -> None:
    signed["proof"]["proofValue"] = proof_value
    result = issuer.verify(signed)
    assert result.codes == (Code.MALFORMED_PROOF,)
    assert reason in result.failures[0].message


def test_a_wrong_cryptosuite(issuer: Issuer, signed: dict[str, Any]) -> None:
    signed["proof"]["cryptosuite"] = "ecdsa-rdfc-2019"
    result = issuer.verify(signed)
    assert result.codes == (Code.UNSUPPORTED_CRYPTOSUITE,)
    assert "ecdsa-rdfc-2019" in result.failures[0].message


def test_a_wrong_proof_type(issuer: Issuer, signed: dict[str, Any]) -> None:
    signed["proof"]["type"] = "Ed25519Signature2020"
    assert issuer.verify(signed).codes == (Code.UNSUPPORTED_PROOF_TYPE,)


def test_an_unknown_verification_method(issuer: Issuer, signed: dict[str, Any]) -> None:
    signed["proof"]["verificationMethod"] = f"{ISSUER}#another-key"
    result = issuer.verify(signed)
    assert result.codes == (Code.UNKNOWN_VERIFICATION_METHOD,)
    assert result.verification_method == f"{ISSUER}#another-key"


def test_a_resolver_raising_key_error_is_an_unknown_method(signed: dict[str, Any]) -> None:
    keys: dict[str, Ed25519PublicKey] = {}
    result = vc.verify_proof(signed, resolve_key=keys.__getitem__)
    assert result.codes == (Code.UNKNOWN_VERIFICATION_METHOD,)


def test_a_key_that_is_not_ed25519(signed: dict[str, Any]) -> None:
    def resolve(method: str) -> Ed25519PublicKey:
        return "not a key"  # type: ignore[return-value]

    assert vc.verify_proof(signed, resolve_key=resolve).codes == (Code.UNSUPPORTED_KEY_TYPE,)


def test_every_failure_is_named(issuer: Issuer, signed: dict[str, Any]) -> None:
    signed["proof"].update(
        cryptosuite="eddsa-2022",
        proofPurpose="authentication",
        verificationMethod="https://elsewhere.example/key",
        created="yesterday",
    )
    assert set(issuer.verify(signed).codes) == {
        Code.UNSUPPORTED_CRYPTOSUITE,
        Code.MISMATCHED_PROOF_PURPOSE,
        Code.UNKNOWN_VERIFICATION_METHOD,
        Code.MALFORMED_PROOF,
    }


def test_proof_purpose_must_be_the_expected_one(issuer: Issuer) -> None:
    signed = issuer.sign(credential(), proof_purpose="authentication")
    assert issuer.verify(signed).codes == (Code.MISMATCHED_PROOF_PURPOSE,)
    assert issuer.verify(signed, expected_proof_purpose="authentication").verified


def test_a_missing_proof(issuer: Issuer) -> None:
    assert issuer.verify(credential()).codes == (Code.MISSING_PROOF,)


@pytest.mark.parametrize("proof", ["zSomething", [], [{}, {}]])
def test_a_proof_that_is_not_one_object(issuer: Issuer, proof: object) -> None:
    assert issuer.verify({**credential(), "proof": proof}).codes == (Code.MALFORMED_PROOF,)


def test_a_proof_in_a_list_of_one(issuer: Issuer, signed: dict[str, Any]) -> None:
    signed["proof"] = [signed["proof"]]
    assert issuer.verify(signed).verified


def test_not_a_credential(issuer: Issuer) -> None:
    assert issuer.verify({"proof": {}}).codes == (Code.MALFORMED_CREDENTIAL,)


def test_an_expired_proof(issuer: Issuer, signed: dict[str, Any]) -> None:
    # `expires` is signed like every other proof option: sign it in, then check the clock.
    signed["proof"]["expires"] = "2026-06-01T00:00:00Z"
    proof_options = {k: v for k, v in signed["proof"].items() if k != "proofValue"}
    unsigned = {k: v for k, v in signed.items() if k != "proof"}
    signature = issuer.key.sign(vc.proof_hash_data(unsigned, proof_options))
    signed["proof"]["proofValue"] = mb.multibase_base58btc_encode(signature)
    before = dt.datetime(2026, 5, 31, tzinfo=dt.UTC)
    after = dt.datetime(2026, 6, 2, tzinfo=dt.UTC)
    assert issuer.verify(signed, now=before).verified
    assert issuer.verify(signed, now=after).codes == (Code.PROOF_EXPIRED,)


def test_a_proof_context_must_begin_the_credentials(issuer: Issuer, signed: dict[str, Any]) -> None:
    signed["proof"]["@context"] = [vc.OB_V3_CONTEXT_URL]
    assert Code.CONTEXT_MISMATCH in issuer.verify(signed).codes


def test_a_property_added_that_no_context_defines(issuer: Issuer, signed: dict[str, Any]) -> None:
    # Without the strict check JSON-LD would drop it and the signature would still verify.
    signed["credentialSubject"]["grade"] = "A+"
    assert issuer.verify(signed).codes == (Code.INVALID_JSONLD,)


def test_an_unknown_context_added(issuer: Issuer, signed: dict[str, Any]) -> None:
    signed["@context"] = [*signed["@context"], "https://evil.example/context.jsonld"]
    assert issuer.verify(signed).codes == (Code.UNKNOWN_CONTEXT,)


# --- strict JSON-LD and the loader -----------------------------------------------------------


def test_loader_serves_the_packaged_contexts() -> None:
    for url, filename in vc.CONTEXT_FILES.items():
        remote = vc.load_document(url)
        assert remote["documentUrl"] == url
        assert remote["document"] == json.loads((CONTEXTS / filename).read_text("utf-8"))


def test_loader_returns_a_fresh_copy_each_time() -> None:
    first = vc.load_document(vc.VC_V2_CONTEXT_URL)
    first["document"]["@context"].clear()
    assert vc.load_document(vc.VC_V2_CONTEXT_URL)["document"]["@context"]


@pytest.mark.parametrize(
    "url",
    [
        "https://www.w3.org/2018/credentials/v1",
        "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.2.json",
        "http://www.w3.org/ns/credentials/v2",
        "file:///etc/passwd",
    ],
)
def test_loader_refuses_any_other_url(url: str) -> None:
    with pytest.raises(vc.UnknownContextError) as caught:
        vc.load_document(url)
    assert caught.value.error_code == Code.UNKNOWN_CONTEXT
    assert url in caught.value.message


def test_canonicalize_refuses_an_unknown_context() -> None:
    document = {**credential(), "@context": [vc.VC_V2_CONTEXT_URL, "https://example.com/c"]}
    with pytest.raises(vc.UnknownContextError) as caught:
        vc.canonicalize(document)
    assert caught.value.url == "https://example.com/c"


def test_pyld_default_loader_is_never_used(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(url: str, options: dict[str, Any]) -> None:
        raise AssertionError(f"pyld's default loader asked for {url}")

    monkeypatch.setattr(jsonld, "_default_document_loader", boom)
    assert vc.canonicalize(VECTOR["unsignedCredential"]) == (
        (DATA / "document-canon.txt").read_text("utf-8")
    )


@pytest.fixture
def unsigned() -> dict[str, Any]:
    return credential()


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda d: d.update(grade="A"), "'grade' is not defined"),
        (lambda d: d["credentialSubject"]["achievement"].update(level=3), "'level'"),
        (
            lambda d: d.update({"@context": [*d["@context"], {"score": None}], "score": 1}),
            "maps to null",
        ),
        (lambda d: d.update({"@unknown": 1}), "unknown keyword"),
        (lambda d: d.update(id="certificates/42"), "'certificates/42' is not an absolute IRI"),
        (lambda d: d["issuer"].update(type=["Profile", "Campus"]), "@type 'Campus'"),
        (
            lambda d: d.update({"@context": [*d["@context"], {"name": "https://evil.example/n"}]}),
            "protected term",
        ),
        (lambda d: d.update({"@context": [*d["@context"], 5]}), "@context must be an object"),
    ],
)
def test_json_ld_that_would_lose_data_is_refused(
    unsigned: dict[str, Any], change: Callable[[dict[str, Any]], None], reason: str
) -> None:
    change(unsigned)
    with pytest.raises(vc.InvalidJsonLdError) as caught:
        vc.canonicalize(unsigned)
    assert caught.value.error_code == Code.INVALID_JSONLD
    assert reason in caught.value.message


def test_a_document_nested_too_deeply_is_refused(unsigned: dict[str, Any]) -> None:
    criteria: dict[str, Any] = unsigned["credentialSubject"]["achievement"]["criteria"]
    deep: dict[str, Any] = {}
    criteria["narrative"] = deep
    for _ in range(5000):
        deep["narrative"] = deep = {}
    with pytest.raises(vc.InvalidJsonLdError, match="nested too deeply"):
        vc.canonicalize(unsigned)


def test_signing_refuses_invalid_json_ld(issuer: Issuer, unsigned: dict[str, Any]) -> None:
    unsigned["credentialSubject"]["grade"] = "A+"
    with pytest.raises(vc.InvalidJsonLdError):
        issuer.sign(unsigned)


def test_credential_errors_carry_their_code() -> None:
    error = vc.UnknownContextError("https://example.com/c")
    assert error.as_dict()["code"] == "unknown_context"
    assert error.status == 422


# --- multibase -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "text"),
    [
        (b"", ""),
        (b"\0", "1"),
        (b"\0\0\0", "111"),
        (b"Hello World!", "2NEpo7TZRRrLZSi2U"),
        (
            b"The quick brown fox jumps over the lazy dog.",
            "USm3fpXnKG5EUBx2ndxBDMPVciP5hGey2Jh4NDv6gmeo1LkMeiKrLJUUBk6Z",
        ),
        (bytes.fromhex("0000287fb4cd"), "11233QC4"),
    ],
)
def test_base58btc_known_values(data: bytes, text: str) -> None:
    assert mb.base58btc_encode(data) == text
    assert mb.base58btc_decode(text) == data


@given(st.binary(max_size=128), st.integers(min_value=0, max_value=8))
def test_base58btc_round_trip(data: bytes, zeros: int) -> None:
    data = b"\0" * zeros + data
    text = mb.base58btc_encode(data)
    assert set(text) <= set(mb.BASE58BTC_ALPHABET)
    assert len(text) - len(text.lstrip("1")) == len(data) - len(data.lstrip(b"\0"))
    assert mb.base58btc_decode(text) == data
    assert mb.multibase_base58btc_decode(mb.multibase_base58btc_encode(data)) == data


@given(st.binary(max_size=128), st.integers(min_value=0, max_value=8))
def test_base64url_round_trip(data: bytes, zeros: int) -> None:
    data = b"\0" * zeros + data
    text = mb.base64url_encode(data)
    assert "=" not in text
    assert mb.base64url_decode(text) == data
    assert mb.multibase_base64url_encode(data) == "u" + text
    assert mb.multibase_base64url_decode("u" + text) == data


def test_base64url_is_the_url_alphabet() -> None:
    assert mb.base64url_encode(b"\xfb\xff") == "-_8"


@pytest.mark.parametrize("char", ["0", "O", "I", "l", "+", " ", "é"])
def test_base58btc_refuses_foreign_characters(char: str) -> None:
    with pytest.raises(mb.MultibaseError, match="not a base58btc character"):
        mb.base58btc_decode("2NEp" + char)


@pytest.mark.parametrize("text", ["AQ==", "A+8", "A/8", "A", "AQ=", "AR", "A B", "é"])
def test_base64url_refuses_padding_other_alphabets_and_non_canonical(text: str) -> None:
    with pytest.raises(mb.MultibaseError):
        mb.base64url_decode(text)


@pytest.mark.parametrize(
    ("decode", "value"),
    [
        (mb.multibase_base58btc_decode, "u2NEpo7TZRRrLZSi2U"),
        (mb.multibase_base58btc_decode, ""),
        (mb.multibase_base64url_decode, "zAQ"),
    ],
)
def test_multibase_prefix_is_required(decode: Callable[[str], bytes], value: str) -> None:
    with pytest.raises(mb.MultibaseError, match="starts with"):
        decode(value)


def test_multikey_round_trip() -> None:
    key = Ed25519PrivateKey.generate()
    public = mb.public_key_to_multibase(key.public_key())
    assert public.startswith("z6Mk")
    assert mb.public_key_from_multibase(public) == key.public_key()
    secret = mb.secret_key_to_multibase(key)
    assert mb.secret_key_from_multibase(secret).public_key() == key.public_key()


def test_multikey_refuses_the_other_codec_and_wrong_lengths() -> None:
    key = Ed25519PrivateKey.generate()
    public = mb.public_key_to_multibase(key.public_key())
    secret = mb.secret_key_to_multibase(key)
    with pytest.raises(mb.MultibaseError, match="public"):
        mb.public_key_from_multibase(secret)
    with pytest.raises(mb.MultibaseError, match="secret"):
        mb.secret_key_from_multibase(public)
    short = mb.multibase_base58btc_encode(mb.ED25519_PUB_MULTICODEC + bytes(31))
    with pytest.raises(mb.MultibaseError):
        mb.public_key_from_multibase(short)
