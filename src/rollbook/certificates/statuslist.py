"""W3C Bitstring Status List v1.0: the revocation list our credentials point to.

A status list is a bitstring of at least `MIN_ENTRIES` bits (16 KiB), one bit per issued
credential, published GZIP-compressed and base64url-multibase encoded as the `encodedList` of
a `BitstringStatusListCredential`. Bit `i` is bit `i % 8` of byte `i // 8`, counting from the
most significant bit: index 0 is the 0x80 bit of byte 0.

Indexes are handed out at random (`pick_free_index`), as the specification asks, so that a
credential's index says nothing about when it was issued or who was issued before it.

Pure: no Django models, no I/O. Signing the list credential is the caller's business.
"""

from __future__ import annotations

import gzip
import random
import secrets
import zlib
from collections.abc import Collection, Iterator, Set
from enum import StrEnum
from typing import Any

from rollbook.certificates import multibase

MIN_ENTRIES = 131_072  # bits; the specification's minimum, 16 KiB uncompressed
MAX_ENTRIES = 8 * 16 * 1024 * 1024  # bits; what `decode` accepts at most (16 MiB inflated)
VC_CONTEXT_V2 = "https://www.w3.org/ns/credentials/v2"
STATUS_PURPOSES = ("revocation", "suspension", "refresh", "message")
RANDOM_TRIES = 64  # rejection-sampling attempts before counting the free indexes outright
_GZIP_MAGIC = b"\x1f\x8b"
_GZIP_WBITS = 16 + zlib.MAX_WBITS  # zlib's "gzip container" mode


class StatusListErrorCode(StrEnum):
    INVALID_SIZE = "status_list_invalid_size"
    INDEX_OUT_OF_RANGE = "status_list_index_out_of_range"
    NOT_BASE64URL = "status_list_not_base64url"
    NOT_GZIP = "status_list_not_gzip"
    TOO_SHORT = "status_list_too_short"
    TOO_LONG = "status_list_too_long"
    FULL = "status_list_full"
    UNKNOWN_PURPOSE = "status_list_unknown_purpose"


MSG_INVALID_SIZE = "A status list holds at least {minimum} entries, a multiple of 8; got {size}."
MSG_INDEX_OUT_OF_RANGE = "Status list index {index} is outside 0..{last}."
MSG_NOT_BASE64URL = (
    "An encodedList is multibase base64url: a 'u' and unpadded base64url; got {start!r}."
)
MSG_NOT_GZIP = "The encodedList does not hold one complete GZIP stream."
MSG_TOO_SHORT = "The status list has {size} entries; at least {minimum} are required."
MSG_TOO_LONG = "The status list inflates past {maximum} entries; refused."
MSG_FULL = "Every one of the {size} indexes of the status list is in use."
MSG_UNKNOWN_PURPOSE = "Unknown statusPurpose {purpose!r}; known: {known}."


class StatusListError(ValueError):
    """A status list, index or purpose is refused; `code` says which rule."""

    def __init__(self, code: StatusListErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class Bitstring:
    """A fixed-size bitstring, most significant bit first, backed by a bytearray."""

    __slots__ = ("_bytes",)

    def __init__(self, size: int = MIN_ENTRIES) -> None:
        if size < MIN_ENTRIES or size % 8:
            raise StatusListError(
                StatusListErrorCode.INVALID_SIZE,
                MSG_INVALID_SIZE.format(minimum=MIN_ENTRIES, size=size),
            )
        self._bytes = bytearray(size // 8)

    @classmethod
    def from_bytes(cls, data: bytes) -> Bitstring:
        """A bitstring holding `data` (copied); at least `MIN_ENTRIES` bits."""
        bitstring = cls(len(data) * 8)
        bitstring._bytes[:] = data
        return bitstring

    def __len__(self) -> int:
        return len(self._bytes) * 8

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Bitstring):
            return NotImplemented
        return self._bytes == other._bytes

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        return f"Bitstring(size={len(self)}, set={sum(1 for _ in self.ones())})"

    def _locate(self, index: int) -> tuple[int, int]:
        if not 0 <= index < len(self):
            raise StatusListError(
                StatusListErrorCode.INDEX_OUT_OF_RANGE,
                MSG_INDEX_OUT_OF_RANGE.format(index=index, last=len(self) - 1),
            )
        return index >> 3, 0x80 >> (index & 7)

    def set(self, index: int, value: bool = True) -> None:
        byte, mask = self._locate(index)
        if value:
            self._bytes[byte] |= mask
        else:
            self._bytes[byte] &= ~mask & 0xFF

    def get(self, index: int) -> bool:
        byte, mask = self._locate(index)
        return bool(self._bytes[byte] & mask)

    def ones(self) -> Iterator[int]:
        """The indexes whose bit is set, ascending."""
        for byte_index, byte in enumerate(self._bytes):
            if byte:
                base = byte_index << 3
                for bit in range(8):
                    if byte & (0x80 >> bit):
                        yield base + bit

    def to_bytes(self) -> bytes:
        return bytes(self._bytes)

    def encode(self) -> str:
        """The specification's `encodedList`: GZIP, then multibase base64url (no padding).

        The GZIP header's mtime is 0, so the same bits always give the same string.
        """
        compressed = gzip.compress(bytes(self._bytes), mtime=0)
        return multibase.multibase_base64url_encode(compressed)


def decode(encoded: str) -> Bitstring:
    """The bitstring of an `encodedList`; refuses a wrong prefix or alphabet, anything but
    one complete GZIP stream, fewer than `MIN_ENTRIES` bits, and more than `MAX_ENTRIES`
    (inflation stops there, so a small hostile list cannot exhaust memory)."""
    try:
        compressed = multibase.multibase_base64url_decode(encoded)
    except multibase.MultibaseError as error:
        raise StatusListError(
            StatusListErrorCode.NOT_BASE64URL, MSG_NOT_BASE64URL.format(start=encoded[:8])
        ) from error
    if not compressed.startswith(_GZIP_MAGIC):
        raise StatusListError(StatusListErrorCode.NOT_GZIP, MSG_NOT_GZIP)
    limit = MAX_ENTRIES // 8
    inflater = zlib.decompressobj(wbits=_GZIP_WBITS)
    try:
        data = inflater.decompress(compressed, limit + 1)
    except zlib.error as error:
        raise StatusListError(StatusListErrorCode.NOT_GZIP, MSG_NOT_GZIP) from error
    if len(data) > limit:
        raise StatusListError(
            StatusListErrorCode.TOO_LONG, MSG_TOO_LONG.format(maximum=MAX_ENTRIES)
        )
    if not inflater.eof or inflater.unused_data:
        raise StatusListError(StatusListErrorCode.NOT_GZIP, MSG_NOT_GZIP)
    if len(data) * 8 < MIN_ENTRIES:
        raise StatusListError(
            StatusListErrorCode.TOO_SHORT,
            MSG_TOO_SHORT.format(size=len(data) * 8, minimum=MIN_ENTRIES),
        )
    return Bitstring.from_bytes(data)


def pick_free_index(used: Collection[int], size: int, rng: random.Random | None = None) -> int:
    """A uniformly random index in 0..size-1 that is not in `used`.

    `rng` defaults to the operating system's generator (`secrets.SystemRandom`); pass a
    seeded `random.Random` in tests. Random draws are tried first; once they keep hitting
    used indexes the free ones are listed and one of them chosen, so a nearly full list
    costs one pass and a full one raises `StatusListError` (`status_list_full`).
    """
    if size <= 0:
        raise StatusListError(
            StatusListErrorCode.INVALID_SIZE,
            MSG_INVALID_SIZE.format(minimum=MIN_ENTRIES, size=size),
        )
    chooser: random.Random = rng if rng is not None else secrets.SystemRandom()
    taken: Set[int] = used if isinstance(used, Set) else frozenset(used)
    for _ in range(RANDOM_TRIES):
        index = chooser.randrange(size)
        if index not in taken:
            return index
    free = [index for index in range(size) if index not in taken]
    if not free:
        raise StatusListError(StatusListErrorCode.FULL, MSG_FULL.format(size=size))
    return free[chooser.randrange(len(free))]


def _check_purpose(purpose: str) -> None:
    if purpose not in STATUS_PURPOSES:
        raise StatusListError(
            StatusListErrorCode.UNKNOWN_PURPOSE,
            MSG_UNKNOWN_PURPOSE.format(purpose=purpose, known=", ".join(STATUS_PURPOSES)),
        )


def status_list_credential(
    *,
    list_id: str,
    issuer: str,
    encoded_list: str,
    valid_from: str,
    purpose: str = "revocation",
) -> dict[str, Any]:
    """The unsigned `BitstringStatusListCredential` published at `list_id`."""
    _check_purpose(purpose)
    return {
        "@context": [VC_CONTEXT_V2],
        "id": list_id,
        "type": ["VerifiableCredential", "BitstringStatusListCredential"],
        "issuer": issuer,
        "validFrom": valid_from,
        "credentialSubject": {
            "id": f"{list_id}#list",
            "type": "BitstringStatusList",
            "statusPurpose": purpose,
            "encodedList": encoded_list,
        },
    }


def status_entry(*, list_id: str, index: int, purpose: str = "revocation") -> dict[str, Any]:
    """The `credentialStatus` of a credential whose status is bit `index` of `list_id`."""
    _check_purpose(purpose)
    if index < 0:
        raise StatusListError(
            StatusListErrorCode.INDEX_OUT_OF_RANGE,
            MSG_INDEX_OUT_OF_RANGE.format(index=index, last="size-1"),
        )
    return {
        "id": f"{list_id}#{index}",
        "type": "BitstringStatusListEntry",
        "statusPurpose": purpose,
        "statusListIndex": str(index),
        "statusListCredential": list_id,
    }
