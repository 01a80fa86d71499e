"""The credentials' issuer: its key (generated once, or configured), its ids, its public profile
at /certificates/issuer, and the key resolver for `vc.verify_proof`."""

from __future__ import annotations

import datetime as dt
import json
import multiprocessing
import stat
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from django.core.exceptions import ImproperlyConfigured
from django.test import Client

from rollbook.certificates import issuer, vc
from rollbook.certificates import multibase as mb
from rollbook.certificates.vc import CredentialErrorCode as Code

PUBLIC_URL = "https://rollbook.example"
ISSUER_ID = PUBLIC_URL + "/certificates/issuer"
CREATED = dt.datetime(2026, 3, 14, 9, 26, 53, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def issuer_settings(settings: Any, tmp_path: Path) -> Iterator[Any]:
    settings.DATA_DIR = tmp_path
    settings.PUBLIC_URL = PUBLIC_URL
    settings.ISSUER_KEY = ""
    settings.ISSUER_NAME = "Example University"
    settings.ISSUER_URL = "https://university.example"
    issuer.clear_key_cache()
    yield settings
    issuer.clear_key_cache()


def raw_public(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def credential() -> dict[str, Any]:
    return {
        "@context": [vc.VC_V2_CONTEXT_URL, vc.OB_V3_CONTEXT_URL],
        "id": "urn:uuid:91537dba-56cb-11ec-bf63-0242ac130002",
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "issuer": {"id": issuer.issuer_id(), "type": ["Profile"], "name": "Example University"},
        "validFrom": "2026-03-14T00:00:00Z",
        "name": "Course certificate",
        "credentialSubject": {
            "type": ["AchievementSubject"],
            "achievement": {
                "id": "urn:uuid:a1b2c3d4-0000-4000-8000-000000000001",
                "type": ["Achievement"],
                "name": "Course",
                "criteria": {"narrative": "Passed."},
            },
        },
    }


# --- the key -----------------------------------------------------------------------------------


def test_key_is_generated_once_into_the_data_dir_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "certificates" / "issuer-ed25519.key"
    assert not path.exists()
    first = issuer.issuer_key()
    assert issuer.key_path() == path
    assert path.read_text().strip() == mb.secret_key_to_multibase(first)
    assert issuer.issuer_key() is first  # cached in the process

    issuer.clear_key_cache()
    again = issuer.issuer_key()
    assert again is not first
    assert raw_public(again) == raw_public(first)
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left


def test_key_file_is_private(tmp_path: Path) -> None:
    issuer.issuer_key()
    mode = stat.S_IMODE((tmp_path / "certificates" / "issuer-ed25519.key").stat().st_mode)
    assert mode == 0o600


def test_configured_key_wins_over_the_file(issuer_settings: Any, tmp_path: Path) -> None:
    from_file = issuer.issuer_key()
    configured = Ed25519PrivateKey.generate()
    issuer_settings.ISSUER_KEY = mb.secret_key_to_multibase(configured)
    issuer.clear_key_cache()
    assert raw_public(issuer.issuer_key()) == raw_public(configured)
    assert raw_public(issuer.issuer_key()) != raw_public(from_file)


def test_configured_key_makes_no_file(issuer_settings: Any, tmp_path: Path) -> None:
    issuer_settings.ISSUER_KEY = mb.secret_key_to_multibase(Ed25519PrivateKey.generate())
    issuer.issuer_key()
    assert not (tmp_path / "certificates").exists()


@pytest.mark.parametrize(
    "value",
    [
        "not-a-key",
        "zSecretSecretSecret0OIl",  # base58 refuses 0, O, I, l
        # a public key, not a secret one
        mb.public_key_to_multibase(Ed25519PrivateKey.generate().public_key()),
        "u" + mb.base64url_encode(b"\x80\x26" + b"\x01" * 32),  # other multibase
    ],
)
def test_invalid_configured_key_is_refused_without_echoing_it(
    issuer_settings: Any, value: str
) -> None:
    issuer_settings.ISSUER_KEY = value
    with pytest.raises(ImproperlyConfigured, match="ROLLBOOK_ISSUER_KEY") as raised:
        issuer.issuer_key()
    assert value not in str(raised.value)
    assert "Secret" not in str(raised.value)
    assert raised.value.__cause__ is None
    assert raised.value.__suppress_context__


def test_corrupt_key_file_is_refused_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "certificates" / "issuer-ed25519.key"
    path.parent.mkdir()
    path.write_text("zGarbageGarbage\n")
    with pytest.raises(ImproperlyConfigured, match="issuer key file") as raised:
        issuer.issuer_key()
    assert "Garbage" not in str(raised.value).replace(str(path), "")
    assert path.read_text() == "zGarbageGarbage\n"  # never overwritten


def test_racing_first_generations_end_with_one_key(tmp_path: Path) -> None:
    path = tmp_path / "certificates" / "issuer-ed25519.key"
    threads = 8
    barrier = threading.Barrier(threads)
    results: list[bytes] = []
    errors: list[BaseException] = []

    def generate() -> None:
        try:
            barrier.wait()
            results.append(raw_public(issuer.load_or_create_key(path)))
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    workers = [threading.Thread(target=generate) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert errors == []
    assert len(results) == threads
    assert set(results) == {raw_public(mb.secret_key_from_multibase(path.read_text().strip()))}
    assert [p.name for p in path.parent.iterdir()] == [path.name]


def _generate_in_process(path: Path, barrier: Any, results: Any) -> None:
    barrier.wait()
    results.put(raw_public(issuer.load_or_create_key(path)))


def test_racing_first_generations_in_processes_end_with_one_key(tmp_path: Path) -> None:
    path = tmp_path / "certificates" / "issuer-ed25519.key"
    context = multiprocessing.get_context("spawn")
    count = 4
    barrier = context.Barrier(count)
    results = context.Queue()
    processes = [
        context.Process(target=_generate_in_process, args=(path, barrier, results))
        for _ in range(count)
    ]
    for process in processes:
        process.start()
    keys = {results.get(timeout=60) for _ in range(count)}
    for process in processes:
        process.join(timeout=60)
        assert process.exitcode == 0
    assert keys == {raw_public(mb.secret_key_from_multibase(path.read_text().strip()))}
    assert [p.name for p in path.parent.iterdir()] == [path.name]


def test_public_url_must_be_absolute(issuer_settings: Any) -> None:
    issuer_settings.PUBLIC_URL = "rollbook.example"
    with pytest.raises(ImproperlyConfigured, match="ROLLBOOK_PUBLIC_URL"):
        issuer.issuer_id()


# --- ids and the profile -----------------------------------------------------------------------


def test_ids_are_under_the_public_url(issuer_settings: Any) -> None:
    issuer_settings.PUBLIC_URL = PUBLIC_URL + "/"
    key = issuer.issuer_key()
    public = mb.public_key_to_multibase(key.public_key())
    assert public.startswith("z6Mk")
    assert issuer.issuer_id() == ISSUER_ID
    assert issuer.verification_method_id() == f"{ISSUER_ID}#{public}"


def test_profile_publishes_the_public_key_as_multikey() -> None:
    profile = issuer.issuer_profile()
    method_id = issuer.verification_method_id()
    assert profile["@context"][:2] == [vc.VC_V2_CONTEXT_URL, vc.OB_V3_CONTEXT_URL]
    assert all(isinstance(c, dict) for c in profile["@context"][2:])  # no other URL
    assert profile["id"] == ISSUER_ID
    assert profile["type"] == ["Profile"]
    assert profile["name"] == "Example University"
    assert profile["url"] == "https://university.example"
    assert profile["assertionMethod"] == [method_id]
    [method] = profile["verificationMethod"]
    assert method == {
        "id": method_id,
        "type": "Multikey",
        "controller": ISSUER_ID,
        "publicKeyMultibase": method["publicKeyMultibase"],
    }
    public = mb.public_key_from_multibase(method["publicKeyMultibase"])
    assert public.public_bytes(Encoding.Raw, PublicFormat.Raw) == raw_public(issuer.issuer_key())
    assert "secretKeyMultibase" not in json.dumps(profile)


def test_profile_is_strict_json_ld_with_the_multikey_vocabulary() -> None:
    nquads = vc.canonicalize(issuer.issuer_profile())
    method_id = issuer.verification_method_id()
    public = method_id.partition("#")[2]
    sec = "https://w3id.org/security#"
    assert f"<{ISSUER_ID}> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> " in nquads
    assert f"<{ISSUER_ID}> <{sec}assertionMethod> <{method_id}> ." in nquads
    assert f"<{ISSUER_ID}> <{sec}verificationMethod> <{method_id}> ." in nquads
    assert f"<{method_id}> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <{sec}Multikey> ." in (
        nquads
    )
    assert f"<{method_id}> <{sec}controller> <{ISSUER_ID}> ." in nquads
    assert f'<{method_id}> <{sec}publicKeyMultibase> "{public}"^^<{sec}multibase> .' in nquads


def test_profile_url_defaults_to_the_public_url(issuer_settings: Any) -> None:
    issuer_settings.ISSUER_URL = ""
    assert issuer.issuer_profile()["url"] == PUBLIC_URL


# --- signing and verifying with the issuer's key ----------------------------------------------


def test_credential_signed_with_the_issuer_key_verifies_with_resolve_key() -> None:
    signed = vc.create_proof(
        credential(),
        private_key=issuer.issuer_key(),
        verification_method=issuer.verification_method_id(),
        created=CREATED,
    )
    result = vc.verify_proof(signed, resolve_key=issuer.resolve_key)
    assert result.verified, result.failures
    assert result.verification_method == issuer.verification_method_id()


def test_unknown_verification_method_is_refused() -> None:
    other = Ed25519PrivateKey.generate()
    other_method = f"{ISSUER_ID}#{mb.public_key_to_multibase(other.public_key())}"
    with pytest.raises(vc.UnknownVerificationMethodError):
        issuer.resolve_key(other_method)
    signed = vc.create_proof(
        credential(), private_key=other, verification_method=other_method, created=CREATED
    )
    result = vc.verify_proof(signed, resolve_key=issuer.resolve_key)
    assert result.codes == (Code.UNKNOWN_VERIFICATION_METHOD,)


def test_credential_of_an_earlier_key_fails_after_the_key_changes(
    issuer_settings: Any,
) -> None:
    signed = vc.create_proof(
        credential(),
        private_key=issuer.issuer_key(),
        verification_method=issuer.verification_method_id(),
        created=CREATED,
    )
    issuer_settings.ISSUER_KEY = mb.secret_key_to_multibase(Ed25519PrivateKey.generate())
    issuer.clear_key_cache()
    assert vc.verify_proof(signed, resolve_key=issuer.resolve_key).codes == (
        Code.UNKNOWN_VERIFICATION_METHOD,
    )


# --- HTTP --------------------------------------------------------------------------------------


def test_get_issuer_answers_the_profile_as_json_ld() -> None:
    response = Client().get("/certificates/issuer")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/ld+json"
    assert "max-age=3600" in response["Cache-Control"]
    assert "public" in response["Cache-Control"]
    assert "Accept" in response["Vary"]
    assert json.loads(response.content) == issuer.issuer_profile()


def test_get_issuer_as_plain_json_when_asked() -> None:
    response = Client().get("/certificates/issuer", headers={"Accept": "application/json"})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert json.loads(response.content)["id"] == ISSUER_ID


def test_get_issuer_with_a_browser_accept_still_answers_json_ld() -> None:
    accept = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
    response = Client().get("/certificates/issuer", headers={"Accept": accept})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/ld+json"


def test_head_issuer_answers_without_a_body() -> None:
    response = Client().head("/certificates/issuer")
    assert response.status_code == 200
    assert response.content == b""


def test_post_issuer_is_not_allowed() -> None:
    response = Client().post("/certificates/issuer", data={})
    assert response.status_code == 405


@pytest.mark.django_db
def test_other_paths_under_the_issuer_stay_the_verify_pages() -> None:
    assert Client().get("/certificates/issuer/x").status_code == 404


@pytest.mark.django_db
def test_verify_page_still_answers_404_for_an_unknown_id() -> None:
    response = Client().get("/certificates/0000", headers={"Accept": "application/json"})
    assert response.status_code == 404
    assert response.json()["state"] == "unknown"
