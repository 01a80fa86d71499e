"""The credential over HTTP: GET /certificates/{verify_uuid}/credential.json and /pdf (public,
404/410 like the verify page, its rate limit), the revocation list at
/certificates/status/revocation, and POST /api/v1/credentials/verify (authenticated)."""

from __future__ import annotations

import copy
import datetime as dt
import json
from typing import Any

import pytest
from django.test import Client

from rollbook.certificates import api as certs
from rollbook.certificates import issuer, statuslist, vc
from rollbook.certificates.models import Credential
from rollbook.lib import clock
from tests.api.helpers import assert_error
from tests.certificates import pdfread
from tests.certificates.conftest import PUBLIC_URL
from tests.certificates.helpers import (
    ACTOR,
    COURSE,
    TITLE,
    credential,
    fetch_credential,
    issue,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("credential_settings")]

VERIFY_API = "credentials/verify"


# ---------------------------------------------------------------- credential.json


def test_the_credential_is_served_as_json_ld() -> None:
    verify = issue()
    response = fetch_credential(verify)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/ld+json"
    assert "Content-Disposition" not in response
    assert response["Access-Control-Allow-Origin"] == "*"
    assert "no-cache" in response["Cache-Control"]
    document = json.loads(response.content)
    assert document["type"] == ["VerifiableCredential", "OpenBadgeCredential"]
    assert document["name"] == f"{TITLE} certificate"
    assert response.content.startswith(b'{\n  "@context": [')
    assert certs.verify_credential(document).valid


def test_every_request_answers_the_same_bytes() -> None:
    verify = issue()
    first = fetch_credential(verify).content
    second = fetch_credential(verify).content
    as_json = fetch_credential(verify, Accept="application/json")
    assert first == second == as_json.content
    assert as_json["Content-Type"] == "application/json"
    assert Credential.objects.count() == 1


def test_download_1_makes_it_an_attachment() -> None:
    verify = issue()
    response = Client().get(f"/certificates/{verify}/credential.json", {"download": "1"})
    assert response.status_code == 200
    assert response["Content-Disposition"] == (
        f'attachment; filename="certificate-{verify}.credential.json"'
    )
    assert response.content == fetch_credential(verify).content


@pytest.mark.parametrize("verify_uuid", ["0" * 32, "not-a-uuid", "%3Cscript%3E", "f" * 33])
def test_an_unknown_credential_is_404(verify_uuid: str) -> None:
    issue()
    response = fetch_credential(verify_uuid)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {
        "valid": False,
        "state": "unknown",
        "message": "No certificate has this verification link.",
    }
    assert not Credential.objects.exists()


@pytest.mark.parametrize("how", ["invalidated", "deleted"])
def test_a_credential_no_longer_valid_is_410(how: str) -> None:
    verify = issue()
    credential(verify)  # issued while valid
    if how == "invalidated":
        certs.invalidate(COURSE, "ann", notes="", actor=ACTOR)
    else:
        certs.delete_certificate(COURSE, "ann", actor=ACTOR)
    response = fetch_credential(verify)
    assert response.status_code == 410
    assert response.json()["state"] == how
    assert "Ann Lee" not in response.content.decode()


def test_the_credential_shares_the_verify_pages_rate_limit(settings: Any) -> None:
    verify = issue()
    settings.CERTIFICATES = {**settings.CERTIFICATES, "VERIFY_RATE": "2/minute"}
    assert Client().get(f"/certificates/{verify}").status_code == 200
    assert fetch_credential(verify).status_code == 200
    refused = fetch_credential(verify)
    assert refused.status_code == 429
    assert refused["Content-Type"] == "application/json"
    assert int(refused["Retry-After"]) > 0
    assert Client().get(f"/certificates/{verify}/pdf").status_code == 429


def test_only_safe_methods() -> None:
    verify = issue()
    assert Client().post(f"/certificates/{verify}/credential.json").status_code == 405
    assert Client().post(f"/certificates/{verify}/pdf").status_code == 405
    assert Client().post("/certificates/status/revocation").status_code == 405


# ---------------------------------------------------------------- pdf


def test_the_pdf_shows_the_certificate_and_its_verify_url() -> None:
    verify = issue(name="Ann Lee")
    response = Client().get(f"/certificates/{verify}/pdf")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == f'inline; filename="certificate-{verify}.pdf"'
    pdf = response.content
    assert pdf.startswith(b"%PDF")
    verify_url = f"{PUBLIC_URL}/certificates/{verify}"
    texts = pdfread.texts(pdf)
    assert "Ann Lee" in texts
    assert TITLE in texts
    assert verify_url in texts
    assert f"Certificate ID: {verify}" in texts
    assert f"/URI ({verify_url})".encode() in pdf  # the URL and the QR code link there
    # The same certificate, the same bytes.
    assert Client().get(f"/certificates/{verify}/pdf").content == pdf


@pytest.mark.parametrize(
    ("how", "status"), [("unknown", 404), ("invalidated", 410), ("deleted", 410)]
)
def test_no_pdf_for_a_certificate_not_valid(how: str, status: int) -> None:
    verify = issue()
    if how == "unknown":
        verify = "0" * 32
    elif how == "invalidated":
        certs.invalidate(COURSE, "ann", notes="", actor=ACTOR)
    else:
        certs.delete_certificate(COURSE, "ann", actor=ACTOR)
    page = Client().get(f"/certificates/{verify}/pdf")
    assert page.status_code == status
    assert page["Content-Type"] == "text/html; charset=utf-8"
    assert b"%PDF" not in page.content
    as_json = Client().get(f"/certificates/{verify}/pdf", headers={"Accept": "application/json"})
    assert as_json.status_code == status
    assert as_json.json()["state"] == how


# ---------------------------------------------------------------- the revocation list


def test_the_revocation_list_is_public_signed_and_cacheable() -> None:
    revoked = credential(issue("ann"))
    valid = credential(issue("bob", "Bob Roe"))
    certs.invalidate(COURSE, "ann", notes="", actor=ACTOR)
    response = Client().get("/certificates/status/revocation")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/vc+ld+json"
    assert "max-age=60" in response["Cache-Control"]
    assert "public" in response["Cache-Control"]
    assert response["Access-Control-Allow-Origin"] == "*"
    listed = json.loads(response.content)
    assert listed["id"] == f"{PUBLIC_URL}/certificates/status/revocation"
    assert listed["id"] == revoked["credentialStatus"]["statusListCredential"]
    assert vc.verify_proof(listed, resolve_key=issuer.resolve_key).verified
    bits = statuslist.decode(listed["credentialSubject"]["encodedList"])
    assert len(bits) >= 131_072
    revoked_index = int(revoked["credentialStatus"]["statusListIndex"])
    valid_index = int(valid["credentialStatus"]["statusListIndex"])
    assert bits.get(revoked_index)
    assert not bits.get(valid_index)
    raw = bits.to_bytes()
    assert raw[revoked_index // 8] & (0x80 >> (revoked_index % 8))
    as_json = Client().get(
        "/certificates/status/revocation", headers={"Accept": "application/json"}
    )
    assert as_json["Content-Type"] == "application/json"


# ---------------------------------------------------------------- POST /api/v1/credentials/verify


def test_checking_needs_a_token(anon_api: Any) -> None:
    document = credential(issue())
    assert_error(anon_api.post(VERIFY_API, document), 401, "not_authenticated")


def test_any_authenticated_caller_may_check(api_as: Any) -> None:
    document = credential(issue())
    response = api_as("someone").post(VERIFY_API, document)
    assert response.status_code == 200
    assert response.json() == {
        "valid": True,
        "errors": [],
        "checks": {"structure": "ok", "proof": "ok", "status": "active", "dates": "ok"},
    }


def test_round_trip_over_http(api_as: Any) -> None:
    client = api_as("checker")
    verify = issue()
    document = credential(verify)
    assert client.post(VERIFY_API, document).json()["valid"] is True
    certs.invalidate(COURSE, "ann", notes="", actor=ACTOR)
    revoked = client.post(VERIFY_API, document)
    assert revoked.status_code == 200
    body = revoked.json()
    assert body["valid"] is False
    assert [e["code"] for e in body["errors"]] == ["revoked"]
    assert body["checks"]["status"] == "revoked"
    certs.lift_invalidation(COURSE, "ann", actor=ACTOR)
    certs.generate_certificate(COURSE, "ann", actor=ACTOR)
    assert client.post(VERIFY_API, document).json()["valid"] is True


def test_a_tampered_credential_is_200_and_not_valid(api_as: Any) -> None:
    document = credential(issue())
    tampered = copy.deepcopy(document)
    tampered["name"] = tampered["name"].replace("M", "N", 1)
    body = api_as("checker").post(VERIFY_API, tampered).json()
    assert body["valid"] is False
    assert body["errors"][0]["code"] == "invalid_signature"
    assert body["checks"]["proof"] == "failed"


def test_a_credential_not_yet_valid_is_named(api_as: Any) -> None:
    document = credential(issue())
    del document["proof"]
    document["validFrom"] = vc.format_date_time(clock.now() + dt.timedelta(days=1))
    signed = vc.create_proof(
        document,
        private_key=issuer.issuer_key(),
        verification_method=issuer.verification_method_id(),
        created=clock.now(),
    )
    body = api_as("checker").post(VERIFY_API, signed).json()
    assert [e["code"] for e in body["errors"]] == ["not_yet_valid"]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"{not json", "invalid_json"),
        (b"\xff\xfe", "invalid_json"),
        (b"", "invalid_json"),
        (b"[1, 2]", "not_an_object"),
        (b'"a credential"', "not_an_object"),
    ],
)
def test_a_body_that_is_not_a_json_object_is_400(api_as: Any, body: bytes, code: str) -> None:
    client = api_as("checker")
    response = client.client.post(
        "/api/v1/credentials/verify",
        data=body,
        content_type="application/json",
        headers=client._headers(),
    )
    assert_error(response, 400, code)


def test_a_body_past_the_limit_is_413(api_as: Any) -> None:
    client = api_as("checker")
    document = credential(issue())
    document["padding"] = "x" * (256 * 1024)
    response = client.post(VERIFY_API, document)
    body = assert_error(response, 413, "body_too_large")
    assert body["fields"]["limit"] == 256 * 1024


def test_the_limit_holds_without_a_content_length(api_as: Any, settings: Any) -> None:
    """The view checks the body it read too (chunked bodies have no Content-Length)."""
    client = api_as("checker")
    document = credential(issue())
    settings.CERTIFICATES = {**settings.CERTIFICATES, "CREDENTIAL_MAX_BYTES": 1000}
    response = client.post(VERIFY_API, document)
    assert_error(response, 413, "body_too_large")
