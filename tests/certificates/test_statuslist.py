"""Bitstring Status List v1.0: bit order, encoding, random index assignment, the JSON."""

from __future__ import annotations

import base64
import gzip
import itertools
import random
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rollbook.certificates.statuslist import (
    MAX_ENTRIES,
    MIN_ENTRIES,
    Bitstring,
    StatusListError,
    StatusListErrorCode,
    decode,
    pick_free_index,
    status_entry,
    status_list_credential,
)

# The empty 16 KiB list of the specification's examples (Bitstring Status List v1.0, 2.1).
SPEC_EMPTY_LIST = "uH4sIAAAAAAAAA-3BMQEAAADCoPVPbQwfoAAAAAAAAAAAAAAAAAAAAIC3AYbSVKsAQAAA"
LIST_ID = "https://rollbook.example/credentials/status/3"


def _multibase(raw: bytes) -> str:
    return "u" + base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def test_a_new_list_has_the_minimum_size_and_no_bit_set() -> None:
    bits = Bitstring()
    assert len(bits) == MIN_ENTRIES == 131_072
    assert len(bits.to_bytes()) == 16 * 1024
    assert list(bits.ones()) == []


def test_the_specification_example_decodes_to_an_empty_minimum_list() -> None:
    bits = decode(SPEC_EMPTY_LIST)
    assert len(bits) >= 131_072
    assert list(bits.ones()) == []


def test_index_0_is_the_most_significant_bit_of_byte_0_and_7_the_least() -> None:
    bits = Bitstring()
    bits.set(0, True)
    assert bits.to_bytes()[0] == 0x80
    bits.set(0, False)
    bits.set(7, True)
    assert bits.to_bytes()[0] == 0x01
    bits.set(8, True)
    assert bits.to_bytes()[:2] == b"\x01\x80"
    assert bits.get(7)
    assert bits.get(8)
    assert not bits.get(0)


def test_clearing_a_bit_leaves_its_neighbours() -> None:
    bits = Bitstring()
    for index in range(8):
        bits.set(index)
    bits.set(3, False)
    assert bits.to_bytes()[0] == 0b1110_1111


def test_last_index_is_the_last_bit_and_past_it_is_refused() -> None:
    bits = Bitstring()
    bits.set(MIN_ENTRIES - 1)
    assert bits.to_bytes()[-1] == 0x01
    for index in (MIN_ENTRIES, -1):
        with pytest.raises(StatusListError) as caught:
            bits.set(index)
        assert caught.value.code == StatusListErrorCode.INDEX_OUT_OF_RANGE
        with pytest.raises(StatusListError):
            bits.get(index)


@pytest.mark.parametrize("size", [0, 8, MIN_ENTRIES - 8, MIN_ENTRIES + 1])
def test_sizes_below_the_minimum_or_not_whole_bytes_are_refused(size: int) -> None:
    with pytest.raises(StatusListError) as caught:
        Bitstring(size)
    assert caught.value.code == StatusListErrorCode.INVALID_SIZE


def test_a_larger_list_is_allowed() -> None:
    bits = Bitstring(MIN_ENTRIES * 2)
    bits.set(MIN_ENTRIES * 2 - 1)
    assert decode(bits.encode()) == bits


def test_encode_is_gzip_under_multibase_base64url_without_padding() -> None:
    bits = Bitstring()
    bits.set(5)
    encoded = bits.encode()
    assert encoded.startswith("u")
    assert "=" not in encoded
    assert set(encoded[1:]) <= set(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    )
    body = encoded[1:]
    raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    assert raw[:2] == b"\x1f\x8b"
    assert gzip.decompress(raw) == bits.to_bytes()


def test_encode_decode_round_trip_and_determinism() -> None:
    bits = Bitstring()
    for index in (0, 7, 8, 12_345, MIN_ENTRIES - 1):
        bits.set(index)
    encoded = bits.encode()
    assert encoded == bits.encode()
    decoded = decode(encoded)
    assert decoded == bits
    assert list(decoded.ones()) == [0, 7, 8, 12_345, MIN_ENTRIES - 1]


@settings(max_examples=50, deadline=None)
@given(st.sets(st.integers(min_value=0, max_value=MIN_ENTRIES - 1), max_size=300))
def test_set_encode_decode_gives_exactly_the_bits_set(indexes: set[int]) -> None:
    bits = Bitstring()
    for index in indexes:
        bits.set(index)
    decoded = decode(bits.encode())
    assert len(decoded) >= MIN_ENTRIES
    assert set(decoded.ones()) == indexes
    probes = [*list(indexes)[:20], 0, 1, MIN_ENTRIES - 1]
    for probe in probes:
        assert decoded.get(probe) == (probe in indexes)


@pytest.mark.parametrize(
    "encoded",
    [
        "",
        "z" + SPEC_EMPTY_LIST[1:],  # base58btc prefix
        "m" + SPEC_EMPTY_LIST[1:],  # base64 with padding alphabet
        SPEC_EMPTY_LIST[1:],  # no prefix at all
        "uH4sI+AAA",  # '+' is not base64url
        "uH4sI/AAA",
        "u" + "A" * 5,  # impossible length
    ],
)
def test_decode_refuses_anything_but_multibase_base64url(encoded: str) -> None:
    with pytest.raises(StatusListError) as caught:
        decode(encoded)
    assert caught.value.code == StatusListErrorCode.NOT_BASE64URL


@pytest.mark.parametrize(
    "raw",
    [
        bytes(MIN_ENTRIES // 8),  # the bitstring itself, not compressed
        zlib.compress(bytes(MIN_ENTRIES // 8)),  # zlib, not gzip
        gzip.compress(bytes(MIN_ENTRIES // 8), mtime=0)[:-9],  # truncated
        gzip.compress(bytes(MIN_ENTRIES // 8), mtime=0) + b"junk",  # trailing data
        b"\x1f\x8b" + b"\x00" * 30,  # the magic, then nonsense
    ],
)
def test_decode_refuses_anything_but_one_gzip_stream(raw: bytes) -> None:
    with pytest.raises(StatusListError) as caught:
        decode(_multibase(raw))
    assert caught.value.code == StatusListErrorCode.NOT_GZIP


def test_decode_refuses_a_list_shorter_than_the_minimum() -> None:
    short = gzip.compress(bytes(MIN_ENTRIES // 8 - 1), mtime=0)
    with pytest.raises(StatusListError) as caught:
        decode(_multibase(short))
    assert caught.value.code == StatusListErrorCode.TOO_SHORT
    assert "131072" in caught.value.message


def test_decode_stops_inflating_past_the_maximum() -> None:
    bomb = gzip.compress(bytes(MAX_ENTRIES // 8 + 1), mtime=0)
    assert len(bomb) < 100_000
    with pytest.raises(StatusListError) as caught:
        decode(_multibase(bomb))
    assert caught.value.code == StatusListErrorCode.TOO_LONG


def test_pick_free_index_never_returns_a_used_index() -> None:
    rng = random.Random(8)
    size = 64
    used: set[int] = set()
    for _ in range(size):
        index = pick_free_index(used, size, rng)
        assert 0 <= index < size
        assert index not in used
        used.add(index)
    assert used == set(range(size))
    with pytest.raises(StatusListError) as caught:
        pick_free_index(used, size, rng)
    assert caught.value.code == StatusListErrorCode.FULL


def test_pick_free_index_finds_the_last_free_index_of_a_nearly_full_list() -> None:
    used = [index for index in range(MIN_ENTRIES) if index != 99_999]
    assert pick_free_index(used, MIN_ENTRIES, random.Random(1)) == 99_999


def test_pick_free_index_ignores_used_values_outside_the_list() -> None:
    used = {-1, 4, 5}
    assert pick_free_index(used, 5, random.Random(2)) in {0, 1, 2, 3}


def test_pick_free_index_spreads_over_the_list() -> None:
    rng = random.Random(20_240_801)
    used: set[int] = set()
    picks = []
    for _ in range(1_000):
        index = pick_free_index(used, MIN_ENTRIES, rng)
        picks.append(index)
        used.add(index)
    assert len(set(picks)) == 1_000
    steps = sum(1 for a, b in itertools.pairwise(picks) if b == a + 1)
    assert steps < 10  # not handed out in order
    assert picks != sorted(picks)
    assert min(picks) < MIN_ENTRIES // 10
    assert max(picks) > MIN_ENTRIES * 9 // 10
    quarters = [
        sum(1 for p in picks if q * MIN_ENTRIES // 4 <= p < (q + 1) * MIN_ENTRIES // 4)
        for q in range(4)
    ]
    assert all(180 < count < 320 for count in quarters)


def test_pick_free_index_defaults_to_the_system_generator() -> None:
    picks = {pick_free_index((), MIN_ENTRIES) for _ in range(20)}
    assert len(picks) > 1


def test_pick_free_index_refuses_an_empty_list() -> None:
    with pytest.raises(StatusListError) as caught:
        pick_free_index((), 0)
    assert caught.value.code == StatusListErrorCode.INVALID_SIZE


def test_status_list_credential_shape() -> None:
    encoded = Bitstring().encode()
    credential = status_list_credential(
        list_id=LIST_ID,
        issuer="did:web:rollbook.example",
        encoded_list=encoded,
        valid_from="2025-03-01T00:00:00Z",
    )
    assert credential == {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "id": LIST_ID,
        "type": ["VerifiableCredential", "BitstringStatusListCredential"],
        "issuer": "did:web:rollbook.example",
        "validFrom": "2025-03-01T00:00:00Z",
        "credentialSubject": {
            "id": LIST_ID + "#list",
            "type": "BitstringStatusList",
            "statusPurpose": "revocation",
            "encodedList": encoded,
        },
    }


def test_status_entry_shape() -> None:
    assert status_entry(list_id=LIST_ID, index=94_567, purpose="suspension") == {
        "id": LIST_ID + "#94567",
        "type": "BitstringStatusListEntry",
        "statusPurpose": "suspension",
        "statusListIndex": "94567",
        "statusListCredential": LIST_ID,
    }


def test_unknown_purpose_and_negative_index_are_refused() -> None:
    with pytest.raises(StatusListError) as caught:
        status_entry(list_id=LIST_ID, index=1, purpose="expiry")
    assert caught.value.code == StatusListErrorCode.UNKNOWN_PURPOSE
    with pytest.raises(StatusListError) as caught:
        status_list_credential(
            list_id=LIST_ID, issuer="x", encoded_list="u", valid_from="x", purpose="nope"
        )
    assert caught.value.code == StatusListErrorCode.UNKNOWN_PURPOSE
    with pytest.raises(StatusListError) as caught:
        status_entry(list_id=LIST_ID, index=-1)
    assert caught.value.code == StatusListErrorCode.INDEX_OUT_OF_RANGE
