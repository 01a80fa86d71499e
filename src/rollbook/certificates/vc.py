"""Open Badges 3.0 credentials signed with the W3C Data Integrity `eddsa-rdfc-2022` cryptosuite.

Pure functions, no models (docs/decisions/0011-verifiable-credentials.md):

- `load_document` is the only JSON-LD document loader used here: it serves the two contexts
  packaged in `certificates/contexts/` (VC 2.0 and OB 3.0.3) and refuses every other URL with
  `UnknownContextError`. Nothing is ever fetched from the network.
- `canonicalize` turns a JSON-LD document into RDFC-1.0 (URDNA2015) canonical N-Quads. It is
  strict: a property the contexts do not define (which JSON-LD would drop silently, leaving it
  unsigned), a relative `@id` or `@type` (dropped when converting to RDF) or any JSON-LD error
  raises `InvalidJsonLdError`.
- `create_proof` adds a `DataIntegrityProof` (Data Integrity EdDSA Cryptosuites v1.0, section
  3.3.1): the proof options, with the credential's `@context` copied in, and the credential
  are canonicalized; SHA-256 of the canonical proof options followed by SHA-256 of the
  canonical credential is signed with Ed25519; `proofValue` is the signature in base58btc
  with the multibase prefix 'z'.
- `verify_proof` checks such a proof (section 3.3.2) and answers a `VerificationResult` that
  names every failure with a `CredentialErrorCode`; it never raises for a bad credential.

The test vector of the Open Badges 3.0 implementation guide is reproduced byte for byte in
tests/certificates/test_vc.py.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from importlib import resources
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pyld import jsonld
from pyld.context_resolver import ContextResolver

from rollbook.certificates.multibase import (
    BASE58BTC_PREFIX,
    MultibaseError,
    multibase_base58btc_decode,
    multibase_base58btc_encode,
)
from rollbook.lib.errors import Invalid

__all__ = [
    "CONTEXT_FILES",
    "CRYPTOSUITE",
    "OB_V3_CONTEXT_URL",
    "PROOF_TYPE",
    "VC_V2_CONTEXT_URL",
    "CredentialError",
    "CredentialErrorCode",
    "InvalidJsonLdError",
    "UnknownContextError",
    "UnknownVerificationMethodError",
    "VerificationFailure",
    "VerificationResult",
    "canonicalize",
    "create_proof",
    "format_date_time",
    "load_document",
    "parse_date_time",
    "proof_hash_data",
    "verify_proof",
]

VC_V2_CONTEXT_URL = "https://www.w3.org/ns/credentials/v2"
OB_V3_CONTEXT_URL = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"
CONTEXT_FILES: Mapping[str, str] = {
    VC_V2_CONTEXT_URL: "vc-v2.jsonld",
    OB_V3_CONTEXT_URL: "ob-3.0.3.jsonld",
}
PROOF_TYPE = "DataIntegrityProof"
CRYPTOSUITE = "eddsa-rdfc-2022"
ASSERTION_METHOD = "assertionMethod"
SIGNATURE_LENGTH = 64
# A 64-byte signature is at most 88 base58btc characters; refuse to decode anything much
# longer (base58 decoding is quadratic in the length).
MAX_PROOF_VALUE_LENGTH = 100

_ABSOLUTE_IRI = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:\S*", re.ASCII)
_BLANK_NODE_PREFIX = "_:"
# XML Schema dateTimeStamp: a date and time with a time zone, as Data Integrity requires.
_DATE_TIME_STAMP = re.compile(
    r"-?\d{4,}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})", re.ASCII
)


class CredentialErrorCode(StrEnum):
    UNKNOWN_CONTEXT = "unknown_context"
    INVALID_JSONLD = "invalid_jsonld"
    MALFORMED_CREDENTIAL = "malformed_credential"
    ALREADY_SIGNED = "already_signed"
    MISSING_PROOF = "missing_proof"
    MALFORMED_PROOF = "malformed_proof"
    UNSUPPORTED_PROOF_TYPE = "unsupported_proof_type"
    UNSUPPORTED_CRYPTOSUITE = "unsupported_cryptosuite"
    MISMATCHED_PROOF_PURPOSE = "mismatched_proof_purpose"
    PROOF_EXPIRED = "proof_expired"
    CONTEXT_MISMATCH = "context_mismatch"
    UNKNOWN_VERIFICATION_METHOD = "unknown_verification_method"
    UNSUPPORTED_KEY_TYPE = "unsupported_key_type"
    INVALID_SIGNATURE = "invalid_signature"


MSG_UNKNOWN_CONTEXT = (
    "The JSON-LD context {url!r} is not one of the packaged contexts ({known}); "
    "contexts are never fetched from the network."
)
MSG_INVALID_JSONLD = "The document is not valid JSON-LD: {reason}"
MSG_DROPPED_PROPERTY = "the property {prop!r} is not defined by the document's @context"
MSG_DROPPED_NULL_PROPERTY = (
    "a property that the document's @context maps to null, or an unknown keyword, would be dropped"
)
MSG_TOO_DEEP = "the document is nested too deeply"
MSG_RELATIVE_ID = "the @id {value!r} is not an absolute IRI or a blank node"
MSG_RELATIVE_TYPE = "the @type {value!r} is not an absolute IRI"
MSG_NOT_A_DOCUMENT = "A credential is a JSON object with an @context."
MSG_ALREADY_SIGNED = "The credential already has a proof; sign the unsigned credential."
MSG_NAIVE_CREATED = "The proof's creation time must be timezone-aware."
MSG_MISSING_PROOF = "The credential has no proof."
MSG_PROOF_NOT_OBJECT = "The proof must be one JSON object (proof sets are not supported)."
MSG_PROOF_FIELD = "The proof's {field} must be a string."
MSG_PROOF_DATE = "The proof's {field} {value!r} is not an XML Schema dateTimeStamp."
MSG_PROOF_VALUE = "The proofValue is not a base58btc multibase ('z') Ed25519 signature: {reason}"
MSG_PROOF_TYPE = "The proof type {value!r} is not supported; expected {expected!r}."
MSG_CRYPTOSUITE = "The cryptosuite {value!r} is not supported; expected {expected!r}."
MSG_PROOF_PURPOSE = "The proof purpose is {value!r}; expected {expected!r}."
MSG_PROOF_EXPIRED = "The proof expired at {value}."
MSG_CONTEXT_MISMATCH = "The proof's @context is not the beginning of the credential's @context."
MSG_UNKNOWN_VERIFICATION_METHOD = "The verification method {value!r} is not known."
MSG_UNSUPPORTED_KEY_TYPE = "The verification method {value!r} is not an Ed25519 key."
MSG_INVALID_SIGNATURE = (
    "The signature does not match the credential and proof options: "
    "they were changed after signing, or signed with another key."
)


class CredentialError(Invalid):
    """A credential that cannot be canonicalized, signed or verified; `code` says why."""

    def __init__(
        self, code: CredentialErrorCode, message: str, *, fields: dict[str, Any] | None = None
    ) -> None:
        super().__init__(code, message, fields=fields)
        self.error_code = code


class UnknownContextError(CredentialError):
    """A JSON-LD context URL that is not packaged with rollbook."""

    def __init__(self, url: str) -> None:
        known = ", ".join(sorted(CONTEXT_FILES))
        super().__init__(
            CredentialErrorCode.UNKNOWN_CONTEXT,
            MSG_UNKNOWN_CONTEXT.format(url=url, known=known),
            fields={"url": url},
        )
        self.url = url


class InvalidJsonLdError(CredentialError):
    """JSON-LD that is invalid, or that would lose data when converted to RDF."""

    def __init__(self, reason: str) -> None:
        super().__init__(
            CredentialErrorCode.INVALID_JSONLD, MSG_INVALID_JSONLD.format(reason=reason)
        )
        self.reason = reason


class UnknownVerificationMethodError(LookupError):
    """Raised by a `resolve_key` callable for a verification method it does not know.

    `verify_proof` treats every `LookupError` (so also `KeyError`) from `resolve_key` alike.
    """


@dataclass(frozen=True)
class VerificationFailure:
    code: CredentialErrorCode
    message: str


@dataclass(frozen=True)
class VerificationResult:
    """What `verify_proof` found: `verified` only when there is no failure at all."""

    failures: tuple[VerificationFailure, ...]
    verification_method: str | None = None

    @property
    def verified(self) -> bool:
        return not self.failures

    @property
    def codes(self) -> tuple[CredentialErrorCode, ...]:
        return tuple(failure.code for failure in self.failures)

    def __bool__(self) -> bool:
        return self.verified


# --- JSON-LD ---------------------------------------------------------------------------------


@cache
def _context_text(url: str) -> str:
    package = resources.files("rollbook.certificates") / "contexts" / CONTEXT_FILES[url]
    return package.read_text(encoding="utf-8")


def load_document(url: str, options: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A pyld document loader serving only the packaged contexts (a fresh copy each call).

    Any other URL raises `UnknownContextError`; nothing is fetched.
    """
    if url not in CONTEXT_FILES:
        raise UnknownContextError(url)
    return {
        "contextUrl": None,
        "documentUrl": url,
        "document": json.loads(_context_text(url)),
        "contentType": "application/ld+json",
        # pyld keeps a resolved remote context in its cache only when it carries a tag.
        "tag": "static",
    }


class _PackagedContextCache(dict[str, Any]):
    """The resolved-context cache of our loader: it keeps only the packaged context URLs.

    pyld's default cache is shared by every caller in the process (a context another loader
    fetched must not be served to us), and the inline contexts of documents being verified
    must not grow a cache without bound; so this one holds at most the two packaged URLs.
    """

    def __setitem__(self, key: str, value: Any) -> None:
        if key in CONTEXT_FILES:
            super().__setitem__(key, value)


_resolved_contexts = _PackagedContextCache()


def _jsonld_options() -> dict[str, Any]:
    return {
        "documentLoader": load_document,
        "contextResolver": ContextResolver(_resolved_contexts, load_document),
        "base": None,  # relative IRIs stay relative (then refused), never resolved
        "processingMode": "json-ld-1.1",
    }


def _drop_handler(prop: str | None) -> None:
    """pyld calls this for each property expansion drops (it passes the expanded name)."""
    if prop is None:
        raise InvalidJsonLdError(MSG_DROPPED_NULL_PROPERTY)
    raise InvalidJsonLdError(MSG_DROPPED_PROPERTY.format(prop=prop))


def _our_error(error: BaseException) -> CredentialError | None:
    """The `CredentialError` that pyld wrapped (it re-raises loader errors as its own)."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, CredentialError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def _iter_nodes(value: Any) -> Iterator[dict[str, Any]]:
    if isinstance(value, list):
        for item in value:
            yield from _iter_nodes(item)
    elif isinstance(value, dict):
        yield value
        for key, item in value.items():
            if key != "@value":  # a @json literal may hold anything
                yield from _iter_nodes(item)


def _check_expanded(expanded: Any) -> None:
    """Refuse what converting expanded JSON-LD to RDF would drop without a word."""
    for node in _iter_nodes(expanded):
        node_id = node.get("@id")
        if node_id is not None and not (
            isinstance(node_id, str) and _ABSOLUTE_IRI.fullmatch(node_id)
        ):
            raise InvalidJsonLdError(MSG_RELATIVE_ID.format(value=node_id))
        types = node.get("@type", [])
        for type_ in types if isinstance(types, list) else [types]:
            if type_ != "@json" and not (
                isinstance(type_, str)
                and _ABSOLUTE_IRI.fullmatch(type_)
                and not type_.startswith(_BLANK_NODE_PREFIX)
            ):
                raise InvalidJsonLdError(MSG_RELATIVE_TYPE.format(value=type_))


def canonicalize(document: Mapping[str, Any]) -> str:
    """The RDFC-1.0 (URDNA2015) canonical N-Quads of a JSON-LD document.

    Raises `UnknownContextError` for a context URL that is not packaged and
    `InvalidJsonLdError` for invalid JSON-LD, an undefined property, a relative `@id` or
    `@type`: each would otherwise vanish from the signed data.
    """
    processor = jsonld.JsonLdProcessor(on_property_dropped=_drop_handler)
    try:
        expanded = processor.expand(copy.deepcopy(dict(document)), _jsonld_options())
        _check_expanded(expanded)
        options = _jsonld_options()
        options.update(algorithm="URDNA2015", format="application/n-quads")
        canonical = processor.normalize(expanded, options)
    except CredentialError:
        raise
    except RecursionError as error:
        raise InvalidJsonLdError(MSG_TOO_DEEP) from error
    except jsonld.JsonLdError as error:
        ours = _our_error(error)
        if ours is not None:
            raise ours from error
        raise InvalidJsonLdError(_describe(error)) from error
    if not isinstance(canonical, str):  # pragma: no cover - pyld answers a str for n-quads
        raise InvalidJsonLdError(type(canonical).__name__)
    return canonical


def _describe(error: BaseException) -> str:
    """The innermost pyld message (the outer ones are 'Could not expand input...')."""
    messages: list[str] = []
    current: BaseException | None = error
    while current is not None and len(messages) < 10:
        if current.args:
            messages.append(str(current.args[0]))
        current = current.__cause__
    return messages[-1] if messages else type(error).__name__


# --- Data Integrity eddsa-rdfc-2022 ----------------------------------------------------------


def proof_hash_data(document: Mapping[str, Any], proof_options: Mapping[str, Any]) -> bytes:
    """SHA-256 of the canonical proof options, then SHA-256 of the canonical document.

    The proof options get the document's `@context` (sections 3.3.4-3.3.5 of the cryptosuite);
    `proofValue` must not be among them.
    """
    proof_config = {**proof_options, "@context": document["@context"]}
    proof_hash = hashlib.sha256(canonicalize(proof_config).encode("utf-8")).digest()
    document_hash = hashlib.sha256(canonicalize(document).encode("utf-8")).digest()
    return proof_hash + document_hash


def format_date_time(moment: dt.datetime) -> str:
    """An aware datetime as an XML Schema dateTimeStamp in UTC, to the second."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(MSG_NAIVE_CREATED)
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def create_proof(
    unsigned_credential: Mapping[str, Any],
    *,
    private_key: Ed25519PrivateKey,
    verification_method: str,
    created: dt.datetime,
    proof_purpose: str = ASSERTION_METHOD,
) -> dict[str, Any]:
    """A copy of the credential with an embedded `eddsa-rdfc-2022` DataIntegrityProof.

    `created` must be timezone-aware; it is written in UTC, to the second. Raises
    `CredentialError` (`malformed_credential`, `already_signed`), `UnknownContextError` or
    `InvalidJsonLdError`; the input is not changed.
    """
    if not isinstance(unsigned_credential, Mapping) or "@context" not in unsigned_credential:
        raise CredentialError(CredentialErrorCode.MALFORMED_CREDENTIAL, MSG_NOT_A_DOCUMENT)
    if "proof" in unsigned_credential:
        raise CredentialError(CredentialErrorCode.ALREADY_SIGNED, MSG_ALREADY_SIGNED)
    document = copy.deepcopy(dict(unsigned_credential))
    proof: dict[str, Any] = {
        "type": PROOF_TYPE,
        "cryptosuite": CRYPTOSUITE,
        "created": format_date_time(created),
        "verificationMethod": verification_method,
        "proofPurpose": proof_purpose,
    }
    signature = private_key.sign(proof_hash_data(document, proof))
    proof["proofValue"] = multibase_base58btc_encode(signature)
    return {**document, "proof": proof}


def verify_proof(
    credential: Mapping[str, Any],
    *,
    resolve_key: Callable[[str], Ed25519PublicKey],
    expected_proof_purpose: str = ASSERTION_METHOD,
    now: dt.datetime | None = None,
) -> VerificationResult:
    """Check the credential's embedded `eddsa-rdfc-2022` proof.

    `resolve_key` maps the proof's `verificationMethod` to the Ed25519 public key the issuer
    controls for that purpose, and raises `LookupError` (e.g.
    `UnknownVerificationMethodError`) for one it does not know. `now` (default: the current
    time) is compared with the proof's `expires`, when there is one. Every failure found is
    named in the result; the signature is checked only when the proof is well formed.
    """
    if not isinstance(credential, Mapping) or "@context" not in credential:
        return _failed(CredentialErrorCode.MALFORMED_CREDENTIAL, MSG_NOT_A_DOCUMENT)
    proof = credential.get("proof")
    if proof is None:
        return _failed(CredentialErrorCode.MISSING_PROOF, MSG_MISSING_PROOF)
    if isinstance(proof, list) and len(proof) == 1:
        proof = proof[0]
    if not isinstance(proof, Mapping):
        return _failed(CredentialErrorCode.MALFORMED_PROOF, MSG_PROOF_NOT_OBJECT)

    failures: list[VerificationFailure] = []
    failures += _check_proof_options(proof, expected_proof_purpose, now)
    signature, signature_failures = _decode_proof_value(proof.get("proofValue"))
    failures += signature_failures
    method = proof.get("verificationMethod")
    public_key: Ed25519PublicKey | None = None
    if not isinstance(method, str):
        failures.append(
            _failure(CredentialErrorCode.MALFORMED_PROOF, MSG_PROOF_FIELD, "verificationMethod")
        )
        method = None
    else:
        public_key, key_failures = _resolve(method, resolve_key)
        failures += key_failures

    unsecured = {key: value for key, value in credential.items() if key != "proof"}
    if "@context" in proof:
        if not _is_context_prefix(proof["@context"], credential["@context"]):
            failures.append(
                VerificationFailure(CredentialErrorCode.CONTEXT_MISMATCH, MSG_CONTEXT_MISMATCH)
            )
        unsecured["@context"] = proof["@context"]
    if failures or signature is None or public_key is None:
        return VerificationResult(tuple(failures), method)

    proof_options = {key: value for key, value in proof.items() if key != "proofValue"}
    try:
        hash_data = proof_hash_data(unsecured, proof_options)
    except CredentialError as error:
        return VerificationResult((VerificationFailure(error.error_code, error.message),), method)
    try:
        public_key.verify(signature, hash_data)
    except InvalidSignature:
        return VerificationResult(
            (VerificationFailure(CredentialErrorCode.INVALID_SIGNATURE, MSG_INVALID_SIGNATURE),),
            method,
        )
    return VerificationResult((), method)


def _failure(code: CredentialErrorCode, template: str, field: str) -> VerificationFailure:
    return VerificationFailure(code, template.format(field=field))


def _failed(code: CredentialErrorCode, message: str) -> VerificationResult:
    return VerificationResult((VerificationFailure(code, message),))


def _check_proof_options(
    proof: Mapping[str, Any], expected_purpose: str, now: dt.datetime | None
) -> list[VerificationFailure]:
    failures: list[VerificationFailure] = []
    proof_type = proof.get("type")
    if proof_type != PROOF_TYPE:
        message = MSG_PROOF_TYPE.format(value=proof_type, expected=PROOF_TYPE)
        failures.append(VerificationFailure(CredentialErrorCode.UNSUPPORTED_PROOF_TYPE, message))
    cryptosuite = proof.get("cryptosuite")
    if cryptosuite != CRYPTOSUITE:
        message = MSG_CRYPTOSUITE.format(value=cryptosuite, expected=CRYPTOSUITE)
        failures.append(VerificationFailure(CredentialErrorCode.UNSUPPORTED_CRYPTOSUITE, message))
    purpose = proof.get("proofPurpose")
    if not isinstance(purpose, str):
        failures.append(
            _failure(CredentialErrorCode.MALFORMED_PROOF, MSG_PROOF_FIELD, "proofPurpose")
        )
    elif purpose != expected_purpose:
        message = MSG_PROOF_PURPOSE.format(value=purpose, expected=expected_purpose)
        failures.append(VerificationFailure(CredentialErrorCode.MISMATCHED_PROOF_PURPOSE, message))
    for field in ("created", "expires"):
        if field not in proof:
            continue
        moment = parse_date_time(proof[field])
        if moment is None:
            message = MSG_PROOF_DATE.format(field=field, value=proof[field])
            failures.append(VerificationFailure(CredentialErrorCode.MALFORMED_PROOF, message))
        elif field == "expires" and moment <= (now if now is not None else _now()):
            message = MSG_PROOF_EXPIRED.format(value=proof[field])
            failures.append(VerificationFailure(CredentialErrorCode.PROOF_EXPIRED, message))
    return failures


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def parse_date_time(value: Any) -> dt.datetime | None:
    """An XML Schema dateTimeStamp (a date and time with a time zone), or None."""
    if not isinstance(value, str) or not _DATE_TIME_STAMP.fullmatch(value):
        return None
    try:
        return dt.datetime.fromisoformat(value)
    except ValueError:
        return None


def _decode_proof_value(value: Any) -> tuple[bytes | None, list[VerificationFailure]]:
    reason: str
    if not isinstance(value, str):
        reason = "missing or not a string"
    elif not value.startswith(BASE58BTC_PREFIX):
        reason = f"the multibase prefix is not {BASE58BTC_PREFIX!r}"
    elif len(value) > MAX_PROOF_VALUE_LENGTH:
        reason = "too long"
    else:
        try:
            signature = multibase_base58btc_decode(value)
        except MultibaseError as error:
            reason = str(error)
        else:
            if len(signature) == SIGNATURE_LENGTH:
                return signature, []
            reason = f"{len(signature)} bytes, not {SIGNATURE_LENGTH}"
    message = MSG_PROOF_VALUE.format(reason=reason)
    return None, [VerificationFailure(CredentialErrorCode.MALFORMED_PROOF, message)]


def _resolve(
    method: str, resolve_key: Callable[[str], Ed25519PublicKey]
) -> tuple[Ed25519PublicKey | None, list[VerificationFailure]]:
    try:
        key = resolve_key(method)
    except LookupError:
        message = MSG_UNKNOWN_VERIFICATION_METHOD.format(value=method)
        return None, [VerificationFailure(CredentialErrorCode.UNKNOWN_VERIFICATION_METHOD, message)]
    if not isinstance(key, Ed25519PublicKey):
        message = MSG_UNSUPPORTED_KEY_TYPE.format(value=method)
        return None, [VerificationFailure(CredentialErrorCode.UNSUPPORTED_KEY_TYPE, message)]
    return key, []


def _is_context_prefix(proof_context: Any, document_context: Any) -> bool:
    """Whether the proof's @context values begin the document's, in the same order."""
    proof_list = proof_context if isinstance(proof_context, list) else [proof_context]
    document_list = document_context if isinstance(document_context, list) else [document_context]
    return document_list[: len(proof_list)] == proof_list
