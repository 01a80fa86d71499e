"""The issuer of rollbook's verifiable credentials: its Ed25519 key and its public profile.

- The key is `ROLLBOOK_ISSUER_KEY` (a Multikey secretKeyMultibase, "z3u2...") when set;
  otherwise the one in `DATA_DIR/certificates/issuer-ed25519.key`, generated on first use.
  The file is written whole into a temporary file (mode 0600) and then hard-linked to its
  name: a link never replaces an existing file, so when two processes generate at once one
  link wins and the other process reads the winner's key. The key is loaded once a process.
- The issuer is `{PUBLIC_URL}/certificates/issuer`; its key is the verification method
  `{issuer}#{publicKeyMultibase}`. GET on the issuer URL answers the issuer's Open Badges
  `Profile` with that key as a `Multikey`, listed under `assertionMethod`, which is what a
  verifier dereferencing a credential's `proof.verificationMethod` looks for.

The packaged contexts (VC 2.0, OB 3.0.3) do not define the Multikey terms and no other
context URL can be loaded (vc.py), so the profile defines them in an inline context, with the
same IRIs as https://w3id.org/security/multikey/v1 and the controller document vocabulary:
its RDF is what those contexts would give.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.cache import patch_cache_control, patch_vary_headers
from django.views.decorators.http import require_safe

from rollbook.certificates.multibase import (
    MultibaseError,
    public_key_to_multibase,
    secret_key_from_multibase,
    secret_key_to_multibase,
)
from rollbook.certificates.vc import (
    OB_V3_CONTEXT_URL,
    VC_V2_CONTEXT_URL,
    UnknownVerificationMethodError,
)
from rollbook.lib import secretfile

__all__ = [
    "ISSUER_PATH",
    "KEY_FILE",
    "PROFILE_CONTEXT",
    "PROFILE_MAX_AGE",
    "clear_key_cache",
    "issuer_id",
    "issuer_key",
    "issuer_profile",
    "issuer_profile_view",
    "key_path",
    "load_or_create_key",
    "public_key_multibase",
    "public_url",
    "resolve_key",
    "verification_method_id",
]

KEY_VARIABLE = "ROLLBOOK_ISSUER_KEY"
PUBLIC_URL_VARIABLE = "ROLLBOOK_PUBLIC_URL"
ISSUER_PATH = "/certificates/issuer"
KEY_FILE = Path("certificates") / "issuer-ed25519.key"
PROFILE_MAX_AGE = 3600  # seconds a client may cache the profile
LD_JSON = "application/ld+json"
JSON = "application/json"

# Never the key's text: it is a secret (a decoding error would quote part of it).
MSG_BAD_KEY_SETTING = (
    KEY_VARIABLE + " is not a Multikey Ed25519 secretKeyMultibase ('z' and base58btc of "
    "0x8026 followed by the 32-byte seed)."
)
MSG_BAD_KEY_FILE = (
    "The issuer key file {path} does not hold a Multikey Ed25519 secretKeyMultibase; "
    "restore it from a backup, or set " + KEY_VARIABLE + "."
)
MSG_BAD_PUBLIC_URL = (
    PUBLIC_URL_VARIABLE + " must be an absolute http(s) URL without a query or fragment, "
    "not {value!r}."
)

# Multikey (https://w3id.org/security/multikey/v1) and the verification relationships of
# controlled identifier documents, inline: no packaged context defines them.
_SEC = "https://w3id.org/security#"
_MULTIKEY_CONTEXT: dict[str, Any] = {
    "Multikey": {
        "@id": _SEC + "Multikey",
        "@context": {
            "@protected": True,
            "id": "@id",
            "type": "@type",
            "controller": {"@id": _SEC + "controller", "@type": "@id"},
            "publicKeyMultibase": {
                "@id": _SEC + "publicKeyMultibase",
                "@type": _SEC + "multibase",
            },
        },
    },
    "verificationMethod": {
        "@id": _SEC + "verificationMethod",
        "@type": "@id",
        "@container": "@set",
    },
    "assertionMethod": {"@id": _SEC + "assertionMethod", "@type": "@id", "@container": "@set"},
}
PROFILE_CONTEXT: list[Any] = [VC_V2_CONTEXT_URL, OB_V3_CONTEXT_URL, _MULTIKEY_CONTEXT]


# --- the key -----------------------------------------------------------------------------------


def key_path() -> Path:
    """Where the generated key lives: DATA_DIR/certificates/issuer-ed25519.key."""
    return Path(settings.DATA_DIR) / KEY_FILE


def issuer_key() -> Ed25519PrivateKey:
    """The issuer's private key: ROLLBOOK_ISSUER_KEY, or the data dir's (made on first use).

    Raises `ImproperlyConfigured` for a setting or a file that is not a secretKeyMultibase.
    Loaded once a process (per setting and path); `clear_key_cache` forgets it.
    """
    return _cached_key(str(settings.ISSUER_KEY or "").strip(), key_path())


def clear_key_cache() -> None:
    """Forget the loaded key (tests; a key changed under a running process)."""
    _cached_key.cache_clear()


@cache
def _cached_key(configured: str, path: Path) -> Ed25519PrivateKey:
    if configured:
        try:
            return secret_key_from_multibase(configured)
        except (MultibaseError, ValueError):
            raise ImproperlyConfigured(MSG_BAD_KEY_SETTING) from None
    return load_or_create_key(path)


def load_or_create_key(path: Path) -> Ed25519PrivateKey:
    """The key stored at `path`, generated and stored first when there is none.

    Safe against concurrent first calls, in threads or processes: every caller ends with the
    one key that was linked into place first. Not cached.
    """
    existing = _read_key(path)
    if existing is not None:
        return existing
    # Every racing caller ends with the one key linked into place first.
    stored = secretfile.create_once(path, secret_key_to_multibase(Ed25519PrivateKey.generate()))
    return _parse_key(stored, path)


def _read_key(path: Path) -> Ed25519PrivateKey | None:
    try:
        text = secretfile.read_secret(path)
    except UnicodeDecodeError:
        raise ImproperlyConfigured(MSG_BAD_KEY_FILE.format(path=path)) from None
    return None if text is None else _parse_key(text, path)


def _parse_key(text: str, path: Path) -> Ed25519PrivateKey:
    try:
        return secret_key_from_multibase(text)
    except (MultibaseError, ValueError):
        raise ImproperlyConfigured(MSG_BAD_KEY_FILE.format(path=path)) from None


# --- identifiers and the profile ---------------------------------------------------------------


def public_url() -> str:
    """ROLLBOOK_PUBLIC_URL without its trailing slash; `ImproperlyConfigured` unless an
    absolute http(s) URL without a query or fragment."""
    value = str(settings.PUBLIC_URL).rstrip("/")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise ImproperlyConfigured(MSG_BAD_PUBLIC_URL.format(value=settings.PUBLIC_URL))
    return value


def issuer_id() -> str:
    """The issuer's URL, which is also its id in credentials: {PUBLIC_URL}/certificates/issuer."""
    return public_url() + ISSUER_PATH


def public_key_multibase() -> str:
    """The issuer's public key as a Multikey publicKeyMultibase ('z6Mk...')."""
    return public_key_to_multibase(issuer_key().public_key())


def verification_method_id() -> str:
    """The id of the issuer's key, for `proof.verificationMethod`: {issuer}#{publicKey}."""
    return f"{issuer_id()}#{public_key_multibase()}"


def issuer_profile() -> dict[str, Any]:
    """The issuer's Open Badges 3.0 `Profile`, with its public key as a `Multikey`."""
    issuer = issuer_id()
    method = verification_method_id()
    return {
        "@context": PROFILE_CONTEXT,
        "id": issuer,
        "type": ["Profile"],
        "name": str(settings.ISSUER_NAME),
        "url": str(settings.ISSUER_URL or public_url()),
        "verificationMethod": [
            {
                "id": method,
                "type": "Multikey",
                "controller": issuer,
                "publicKeyMultibase": public_key_multibase(),
            }
        ],
        "assertionMethod": [method],
    }


def resolve_key(verification_method: str) -> Ed25519PublicKey:
    """Our public key for our own verification method id (`vc.verify_proof`'s resolve_key).

    Raises `UnknownVerificationMethodError` for any other id, including an earlier key's.
    """
    if verification_method != verification_method_id():
        raise UnknownVerificationMethodError(verification_method)
    return issuer_key().public_key()


# --- HTTP --------------------------------------------------------------------------------------


@require_safe
def issuer_profile_view(request: HttpRequest) -> HttpResponse:
    """Public: GET /certificates/issuer, the issuer profile as JSON-LD.

    `application/ld+json` unless the client prefers `application/json`; cacheable for an
    hour, by anyone, from any origin (verifiers may run in a browser).
    """
    preferred = request.get_preferred_type([LD_JSON, JSON])
    content_type = JSON if preferred == JSON else LD_JSON
    response = JsonResponse(issuer_profile(), content_type=content_type)
    patch_cache_control(response, public=True, max_age=PROFILE_MAX_AGE)
    patch_vary_headers(response, ["Accept"])
    response["Access-Control-Allow-Origin"] = "*"
    return response
