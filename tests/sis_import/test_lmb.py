"""The live LMB endpoint: authentication, answers, the durable inbox and its processing."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client, override_settings

from rollbook.enrollments import api as enrollments
from rollbook.jobs import api as jobs
from rollbook.sis_import import inbox, lmb_auth
from rollbook.sis_import.models import InboxMessage
from tests.sis_import.test_pipeline import COURSE, SECTION, member, membership, person, section

URL = "/api/v1/sis/lmb"
CREDENTIALS = "Basic " + base64.b64encode(b"lmb:s3cret").decode()


@pytest.fixture(autouse=True)
def lmb(tmp_path: Path) -> Iterator[None]:
    conf = {**settings.LMB, "USERNAME": "lmb", "PASSWORD": "s3cret"}
    with override_settings(LMB=conf, DATA_DIR=tmp_path):
        yield


def post(
    body: bytes | str, *, message_id: str | None = "m1", auth: str | None = CREDENTIALS
) -> Any:
    headers = {}
    if auth:
        headers["Authorization"] = auth
    if message_id:
        headers["RDI-Message-Id"] = message_id
    data = body.encode() if isinstance(body, str) else body
    return Client().post(URL, data=data, content_type="application/xml", headers=headers)


def enterprise(*parts: str) -> str:
    return "<enterprise>" + "".join(parts) + "</enterprise>"


PERSON = enterprise(person("P1", email="ann@example.edu", logon="ann"))


@pytest.mark.django_db
@pytest.mark.parametrize(
    "auth", [None, "Basic " + base64.b64encode(b"lmb:wrong").decode(), "Bearer x"]
)
def test_missing_or_bad_credentials_are_401_with_a_challenge(auth: str | None) -> None:
    response = post(PERSON, auth=auth)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Basic")
    assert response.json()["code"] == "not_authenticated"
    assert not InboxMessage.objects.exists()


@pytest.mark.django_db
def test_a_message_without_an_id_is_400() -> None:
    response = post(PERSON, message_id=None)
    assert response.status_code == 400
    assert response.json()["code"] == "no_message_id"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "code"),
    [
        ("<enterprise><person>", "malformed_xml"),
        ('<!DOCTYPE x [<!ENTITY e "boom">]><enterprise>&e;</enterprise>', "hostile_xml"),
        ('<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>', "hostile_xml"),
    ],
)
def test_malformed_or_hostile_xml_is_400_and_records_nothing(body: str, code: str) -> None:
    response = post(body)
    assert response.status_code == 400
    assert response.json()["code"] == code
    assert not InboxMessage.objects.exists()


@pytest.mark.django_db
def test_a_body_over_the_limit_is_413() -> None:
    response = post(b"<enterprise>" + b" " * (1024 * 1024) + b"</enterprise>")
    assert response.status_code == 413
    assert response.json()["code"] == "body_too_large"


@pytest.mark.django_db
def test_other_methods_are_405_with_allow_post() -> None:
    response = Client().get(URL, headers={"Authorization": CREDENTIALS})
    assert response.status_code == 405
    assert response["Allow"] == "POST"


@pytest.mark.django_db
def test_a_disabled_endpoint_is_503() -> None:
    with override_settings(LMB={**settings.LMB, "ENABLED": False}):
        response = post(PERSON)
    assert response.status_code == 503
    assert response.json()["code"] == "lmb_disabled"


@pytest.mark.django_db
def test_an_address_outside_the_allow_list_is_403() -> None:
    with override_settings(LMB={**settings.LMB, "ALLOWED_IPS": ["10.9.9.9"]}):
        response = post(PERSON)
    assert response.status_code == 403


@pytest.mark.django_db
def test_accepted_then_applied_in_order_and_a_duplicate_id_is_not_applied_again() -> None:
    first = post(enterprise(section(), membership(member("P1"))), message_id="m1")
    assert first.status_code == 200
    assert first.json()["status"] == "accepted"
    assert post(PERSON, message_id="m2").json()["status"] == "accepted"
    again = post(PERSON, message_id="m2")
    assert again.status_code == 200
    assert again.json()["status"] == "duplicate"
    assert InboxMessage.objects.count() == 2
    assert inbox.process_inbox() == 2
    assert inbox.process_inbox() == 0  # nothing left: applied once
    enrollment = enrollments.get_enrollment(COURSE, "ann")  # the membership waited for P1
    assert enrollment.is_active
    assert enrollment.sources == (f"sis:{SECTION}/01",)
    assert set(InboxMessage.objects.values_list("state", flat=True)) == {"applied"}


@pytest.mark.django_db
def test_passwords_are_blanked_in_the_inbox_and_the_log(tmp_path: Path) -> None:
    post(PERSON)
    stored = bytes(InboxMessage.objects.get().body)
    assert b"s3cret!" not in stored
    assert b'password=""' in stored
    logs = list((tmp_path / "sis" / "lmb-log").glob("lmb-*.log"))
    assert len(logs) == 1
    entry = json.loads(logs[0].read_text().splitlines()[0])
    assert entry["message_id"] == "m1"
    assert entry["outcome"] == "accepted"
    assert "s3cret!" not in entry["xml"]


@pytest.mark.django_db
def test_a_failed_message_does_not_block_the_others_and_can_be_retried() -> None:
    bad = enterprise("<person><name><fn>No id</fn></name></person>")
    post(bad, message_id="bad")
    post(PERSON, message_id="good")
    assert inbox.process_inbox() == 2
    states = dict(InboxMessage.objects.values_list("message_id", "state"))
    assert states == {"bad": "failed", "good": "applied"}
    assert "missing_field" in InboxMessage.objects.get(message_id="bad").error
    assert inbox.retry_failed(["bad"]) == 1
    assert InboxMessage.objects.get(message_id="bad").state == "pending"


@pytest.mark.django_db(transaction=True)
def test_accepted_messages_are_applied_in_the_background() -> None:
    assert post(enterprise(section(), membership(member("P1"))), message_id="a").status_code == 200
    assert post(PERSON, message_id="b").status_code == 200
    assert jobs.wait_for_embedded_jobs(timeout=60)
    assert enrollments.get_enrollment(COURSE, "ann").is_active


@pytest.mark.django_db
def test_retry_through_the_api_applies_once_the_cause_is_fixed() -> None:
    from rollbook.sis_import import api as sis

    post(enterprise(membership(member("P1"))), message_id="early")  # no section yet: waits
    post(enterprise("<person><name><fn>No id</fn></name></person>"), message_id="bad")
    assert sis.process_messages() == 2
    assert sis.inbox_counts() == {"pending": 0, "applied": 1, "failed": 1, "blocked": 0}
    assert sis.retry_failed_messages() == 1
    assert sis.process_messages() == 1
    assert sis.inbox_counts()["failed"] == 1  # the cause is not fixed: it fails again
    assert InboxMessage.objects.get(message_id="bad").attempts == 2


def _digest_header(
    *,
    password: str = "s3cret",
    uri: str = URL,
    algorithm: str = "MD5",
    nonce: str | None = None,
    nc: str = "00000001",
    qop: str = "auth",
) -> str:
    def h(text: str) -> str:
        name = "md5" if algorithm == "MD5" else "sha256"
        return hashlib.new(name, text.encode()).hexdigest()

    nonce = nonce or lmb_auth.make_nonce()
    ha1 = h(f"lmb:{lmb_auth.REALM}:{password}")
    ha2 = h(f"POST:{uri}")
    response = h(f"{ha1}:{nonce}:{nc}:abc123:auth:{ha2}" if qop else f"{ha1}:{nonce}:{ha2}")
    return (
        f'Digest username="lmb", realm="{lmb_auth.REALM}", nonce="{nonce}", uri="{uri}", '
        f'algorithm={algorithm}, qop={qop}, nc={nc}, cnonce="abc123", response="{response}"'
    )


@pytest.mark.django_db
@pytest.mark.parametrize("algorithm", ["MD5", "SHA-256"])
def test_digest_authentication_is_accepted(algorithm: str) -> None:
    response = post(PERSON, auth=_digest_header(algorithm=algorithm))
    assert response.status_code == 200, response.content


@pytest.mark.django_db
@pytest.mark.parametrize(
    "header",
    [
        lambda: _digest_header(password="wrong"),
        lambda: _digest_header(uri="/api/v1/other"),
        lambda: _digest_header(nonce="bm90LWEtbm9uY2U="),
        lambda: _digest_header(nonce=lmb_auth.make_nonce(now=1.0)),
        lambda: _digest_header(qop=""),
    ],
    ids=["wrong password", "other uri", "forged nonce", "stale nonce", "no qop (RFC 2069)"],
)
def test_bad_digest_credentials_are_401_with_both_challenges(header: Any) -> None:
    response = post(PERSON, auth=header())
    assert response.status_code == 401
    challenge = response["WWW-Authenticate"]
    assert challenge.startswith("Basic")
    assert 'Digest realm="rollbook LMB", qop="auth"' in challenge


@pytest.mark.django_db
def test_a_replayed_digest_nonce_count_is_refused() -> None:
    nonce = lmb_auth.make_nonce()
    first = _digest_header(nonce=nonce)
    assert post(PERSON, auth=first, message_id="m-1").status_code == 200
    replay = post(PERSON, auth=first, message_id="m-2")
    assert replay.status_code == 401
    # The client's next request on the same nonce counts up, and is accepted.
    assert (
        post(PERSON, auth=_digest_header(nonce=nonce, nc="00000002"), message_id="m-3").status_code
        == 200
    )
    assert lmb_auth.make_nonce() != lmb_auth.make_nonce()  # two nonces in one second differ


@pytest.mark.django_db
def test_prune_drops_applied_rows_and_log_files_past_the_retention(tmp_path: Path) -> None:
    import datetime as dt

    post(PERSON, message_id="old")
    post(PERSON, message_id="failed-old")
    inbox.process_inbox()
    InboxMessage.objects.filter(message_id="failed-old").update(state="failed")
    long_ago = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    InboxMessage.objects.update(received_at=long_ago)
    old_log = tmp_path / "sis" / "lmb-log" / "lmb-2020-01-01.log"
    old_log.write_text("{}\n")
    assert inbox.prune() == 1
    assert list(InboxMessage.objects.values_list("message_id", flat=True)) == ["failed-old"]
    assert not old_log.exists()
    assert list((tmp_path / "sis" / "lmb-log").glob("lmb-*.log"))  # today's stays
