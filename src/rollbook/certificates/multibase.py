"""Multibase values and Multikey encodings of Ed25519 keys.

- base58btc (the Bitcoin alphabet; each leading zero byte is one leading '1'), multibase
  prefix 'z': Data Integrity `proofValue` and Multikey `publicKeyMultibase`.
- base64url without padding, multibase prefix 'u': the Bitstring Status List `encodedList`.
- Multikey (W3C Controlled Identifiers, section 2.2.2): an Ed25519 public key is
  'z' + base58btc(0xed 0x01 + 32 key bytes), a secret key 'z' + base58btc(0x80 0x26 + the
  32-byte seed); the two prefixes are the varint multicodec codes `ed25519-pub` (0xed) and
  `ed25519-priv` (0x1300).

Decoding is strict: a character outside the alphabet, a missing or other multibase prefix,
base64url padding or a non-canonical base64url string raise `MultibaseError`.
"""

from __future__ import annotations

import base64
import re

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

__all__ = [
    "BASE58BTC_ALPHABET",
    "BASE58BTC_PREFIX",
    "BASE64URL_PREFIX",
    "ED25519_PRIV_MULTICODEC",
    "ED25519_PUB_MULTICODEC",
    "MultibaseError",
    "base58btc_decode",
    "base58btc_encode",
    "base64url_decode",
    "base64url_encode",
    "multibase_base58btc_decode",
    "multibase_base58btc_encode",
    "multibase_base64url_decode",
    "multibase_base64url_encode",
    "public_key_from_multibase",
    "public_key_to_multibase",
    "secret_key_from_multibase",
    "secret_key_to_multibase",
]

BASE58BTC_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
BASE58BTC_PREFIX = "z"
BASE64URL_PREFIX = "u"
ED25519_PUB_MULTICODEC = b"\xed\x01"
ED25519_PRIV_MULTICODEC = b"\x80\x26"
ED25519_KEY_LENGTH = 32

_BASE58_INDEX = {char: index for index, char in enumerate(BASE58BTC_ALPHABET)}
_BASE64URL_RE = re.compile(r"[A-Za-z0-9_-]*")

MSG_BAD_BASE58_CHAR = "{char!r} at position {position} is not a base58btc character."
MSG_BAD_BASE64URL = "Not an unpadded base64url string."
MSG_BAD_PREFIX = "A multibase {encoding} value starts with {prefix!r}; got {value!r}."
MSG_BAD_MULTIKEY = (
    "Not a Multikey Ed25519 {kind} key: expected multicodec {codec} and {length} key bytes."
)


class MultibaseError(ValueError):
    """A value that is not a valid multibase / base58btc / base64url / Multikey encoding."""


def base58btc_encode(data: bytes) -> str:
    """Base58btc text of `data`; each leading zero byte becomes a leading '1'."""
    zeros = len(data) - len(data.lstrip(b"\0"))
    number = int.from_bytes(data, "big")
    digits: list[str] = []
    while number:
        number, remainder = divmod(number, 58)
        digits.append(BASE58BTC_ALPHABET[remainder])
    return "1" * zeros + "".join(reversed(digits))


def base58btc_decode(text: str) -> bytes:
    """The bytes of a base58btc string; raises `MultibaseError` on a foreign character."""
    number = 0
    for position, char in enumerate(text):
        digit = _BASE58_INDEX.get(char)
        if digit is None:
            raise MultibaseError(MSG_BAD_BASE58_CHAR.format(char=char, position=position))
        number = number * 58 + digit
    zeros = len(text) - len(text.lstrip("1"))
    body = number.to_bytes((number.bit_length() + 7) // 8, "big")
    return b"\0" * zeros + body


def base64url_encode(data: bytes) -> str:
    """Base64url text of `data` (RFC 4648 section 5) without '=' padding."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def base64url_decode(text: str) -> bytes:
    """The bytes of an unpadded, canonical base64url string."""
    if not _BASE64URL_RE.fullmatch(text) or len(text) % 4 == 1:
        raise MultibaseError(MSG_BAD_BASE64URL)
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if base64url_encode(data) != text:  # non-zero unused bits: not the canonical encoding
        raise MultibaseError(MSG_BAD_BASE64URL)
    return data


def multibase_base58btc_encode(data: bytes) -> str:
    return BASE58BTC_PREFIX + base58btc_encode(data)


def multibase_base58btc_decode(value: str) -> bytes:
    return base58btc_decode(_strip_prefix(value, BASE58BTC_PREFIX, "base58btc"))


def multibase_base64url_encode(data: bytes) -> str:
    return BASE64URL_PREFIX + base64url_encode(data)


def multibase_base64url_decode(value: str) -> bytes:
    return base64url_decode(_strip_prefix(value, BASE64URL_PREFIX, "base64url"))


def public_key_to_multibase(key: Ed25519PublicKey) -> str:
    """The Multikey `publicKeyMultibase` of an Ed25519 public key ('z6Mk...')."""
    raw = key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    return multibase_base58btc_encode(ED25519_PUB_MULTICODEC + raw)


def public_key_from_multibase(value: str) -> Ed25519PublicKey:
    raw = _multikey_bytes(value, ED25519_PUB_MULTICODEC, "public")
    return Ed25519PublicKey.from_public_bytes(raw)


def secret_key_to_multibase(key: Ed25519PrivateKey) -> str:
    """The Multikey `secretKeyMultibase` of an Ed25519 private key (its 32-byte seed)."""
    seed = key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    return multibase_base58btc_encode(ED25519_PRIV_MULTICODEC + seed)


def secret_key_from_multibase(value: str) -> Ed25519PrivateKey:
    seed = _multikey_bytes(value, ED25519_PRIV_MULTICODEC, "secret")
    return Ed25519PrivateKey.from_private_bytes(seed)


def _strip_prefix(value: str, prefix: str, encoding: str) -> str:
    if not value.startswith(prefix):
        raise MultibaseError(MSG_BAD_PREFIX.format(encoding=encoding, prefix=prefix, value=value))
    return value[len(prefix) :]


def _multikey_bytes(value: str, codec: bytes, kind: str) -> bytes:
    data = multibase_base58btc_decode(value)
    if not data.startswith(codec) or len(data) != len(codec) + ED25519_KEY_LENGTH:
        raise MultibaseError(
            MSG_BAD_MULTIKEY.format(kind=kind, codec=codec.hex(), length=ED25519_KEY_LENGTH)
        )
    return data[len(codec) :]
