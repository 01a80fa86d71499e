"""The public verify page, /certificates/{verify_uuid}: HTML or JSON by Accept, 410 for an
invalidated or deleted certificate, 404 for anything else, the rate limit, and what a person
sees in a real browser (headless Chromium against a live server)."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import uuid
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.serializers.json import DjangoJSONEncoder
from django.test import Client

from rollbook.audit.data import Actor
from rollbook.certificates import api as certs
from rollbook.certificates.models import Certificate
from rollbook.certificates.verify import Rate, parse_rate
from rollbook.lib import clock
from rollbook.people.models import User
from tests.factories import Make

ACTOR = Actor.system("test")
COURSE = "course-v1:UniX+Hist1+2026"
TITLE = "Medieval History & Sources"
JSON = {"Accept": "application/json"}
BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
CHROMIUM_TIMEOUT_S = 90
PUBLIC_URL = "https://verify.example"


@pytest.fixture(autouse=True)
def own_cache(settings: Any) -> None:
    """A cache of this test's own: the rate limit counts from zero (and a shared Redis is
    never flushed). The service at PUBLIC_URL."""
    settings.PUBLIC_URL = PUBLIC_URL
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": f"verify-{uuid.uuid4()}",
        }
    }


def issue(username: str = "ann", name: str = "Ann Lee", *, percent: float = 0.87) -> str:
    """A downloadable certificate in COURSE; its verify id."""
    Make.course(COURSE, title=TITLE, modes=["audit", "verified"], passing_grade=0.6)
    Make.user(username, name=name)
    Make.enrollment(COURSE, username, mode="verified")
    certs.put_grades(COURSE, [certs.GradeRecord(username, percent)], actor=ACTOR)
    assert certs.generate_certificate(COURSE, username, actor=ACTOR) == "generated"
    return Certificate.objects.get(user__username=username).verify_uuid


def page(verify_uuid: str, headers: dict[str, str] | None = None, **extra: Any) -> Any:
    return Client().get(f"/certificates/{verify_uuid}", headers=headers or {}, **extra)


class _VisibleText(HTMLParser):
    """The text of <body>, without what a browser does not show (style, script)."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self.title = ""
        self._stack: list[str] = []

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        self._stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        while self._stack and self._stack.pop() != tag:
            pass

    def handle_data(self, data: str) -> None:
        if "title" in self._stack:
            self.title += data
        elif "body" in self._stack and not {"style", "script"} & set(self._stack):
            self.parts.append(data)


class _Links(HTMLParser):
    """Each <a> of the page: its attributes and its text."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[tuple[dict[str, str | None], str]] = []
        self._open: dict[str, str | None] | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._open, self._text = dict(attrs), []

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._open is not None:
            self.links.append((self._open, " ".join("".join(self._text).split())))
            self._open = None


def links(html: str) -> dict[str, dict[str, str | None]]:
    """The page's links by their text."""
    parser = _Links()
    parser.feed(html)
    return {text: attrs for attrs, text in parser.links}


def visible(html: str) -> tuple[str, str]:
    """(the title, the body's text with whitespace collapsed)."""
    parser = _VisibleText()
    parser.feed(html)
    return parser.title.strip(), " ".join(" ".join(parser.parts).split())


# ---------------------------------------------------------------- a valid certificate


@pytest.mark.django_db
def test_a_valid_certificate_is_an_html_page() -> None:
    verify = issue()
    response = page(verify, BROWSER)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/html; charset=utf-8"
    title, text = visible(response.content.decode())
    assert title == f"Valid certificate: {TITLE} | rollbook"
    issued = Certificate.objects.get().issued_at
    assert issued is not None
    assert text == (
        "Certificate verification This certificate is valid. "
        f"Awarded to Ann Lee Course {TITLE} Organization UniX "
        f"Issued on {issued.day} {issued:%B %Y} "
        "Add to LinkedIn Download PDF Download credential (Open Badges 3.0)"
    )
    assert "0.87" not in response.content.decode()  # no grade
    assert "default-src 'none'" in response["Content-Security-Policy"]
    assert "Accept" in response["Vary"]
    assert "no-cache" in response["Cache-Control"]


@pytest.mark.django_db
def test_a_valid_certificate_as_json() -> None:
    verify = issue()
    response = page(verify, JSON)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    body = response.json()
    issued = Certificate.objects.get().issued_at
    assert issued is not None
    assert body == {
        "valid": True,
        "state": "valid",
        "message": "This certificate is valid.",
        "verify_uuid": verify,
        "name": "Ann Lee",
        "course_title": TITLE,
        "org": "UniX",
        "course_key": COURSE,
        "mode": "verified",
        "issued_at": DjangoJSONEncoder().default(issued),  # as the API writes times
        "credential_url": f"{PUBLIC_URL}/certificates/{verify}/credential.json",
        "pdf_url": f"{PUBLIC_URL}/certificates/{verify}/pdf",
    }
    # Spelled in capitals, it is the same certificate.
    assert page(verify.upper(), JSON).json()["verify_uuid"] == verify


@pytest.mark.django_db
def test_the_page_shows_the_name_at_issue_escaped() -> None:
    verify = issue(name="<script>alert(1)</script> O'Brien")
    Make.user("ann", name="Renamed Later")
    html = page(verify).content.decode()
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; O&#x27;Brien" in html
    assert "Renamed Later" not in html
    assert "Medieval History &amp; Sources" in html


@pytest.mark.django_db
def test_the_page_links_to_linkedin_with_the_certificate() -> None:
    verify = issue(name="Ann Lee")
    issued = Certificate.objects.get().issued_at
    assert issued is not None
    response = page(verify, BROWSER)
    found = links(response.content.decode())
    href = found["Add to LinkedIn"]["href"]
    assert href is not None
    parts = urlsplit(href)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "www.linkedin.com", "/profile/add")
    assert parse_qs(parts.query, strict_parsing=True) == {
        "startTask": ["CERTIFICATION_NAME"],
        "name": [f"{TITLE} certificate"],
        "organizationName": ["UniX"],
        "issueYear": [str(issued.year)],
        "issueMonth": [str(issued.month)],
        "certUrl": [f"{PUBLIC_URL}/certificates/{verify}"],
        "certId": [verify],
    }
    # Properly encoded: the "&" of the title and the URL's ":" and "/" are escaped; spaces
    # are %20 (the page's HTML escapes the separating "&" as "&amp;").
    assert "Medieval%20History%20%26%20Sources%20certificate" in parts.query
    assert "certUrl=https%3A%2F%2Fverify.example%2Fcertificates%2F" in parts.query
    assert "&amp;issueYear=" in response.content.decode()
    assert "default-src 'none'" in response["Content-Security-Policy"]  # still no scripts
    assert "<script" not in response.content.decode()


@pytest.mark.django_db
@pytest.mark.usefixtures("credential_settings")  # a fixed issuer key, no key file
def test_the_page_links_to_the_pdf_and_the_credential() -> None:
    verify = issue()
    found = links(page(verify, BROWSER).content.decode())
    pdf = found["Download PDF"]
    assert pdf["href"] == f"/certificates/{verify}/pdf"
    assert Client().get(pdf["href"]).content.startswith(b"%PDF")
    credential = found["Download credential (Open Badges 3.0)"]
    assert credential["href"] == f"/certificates/{verify}/credential.json?download=1"
    assert credential["download"] == f"certificate-{verify}.credential.json"
    response = Client().get(credential["href"])
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    assert response.json()["type"] == ["VerifiableCredential", "OpenBadgeCredential"]


@pytest.mark.django_db
def test_a_page_no_longer_valid_has_no_links() -> None:
    verify = issue()
    certs.invalidate(COURSE, "ann", notes="", actor=ACTOR)
    assert links(page(verify, BROWSER).content.decode()) == {}


@pytest.mark.django_db
def test_no_login_is_needed_and_a_session_changes_nothing() -> None:
    verify = issue()
    Make.user("root", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(User.objects.get(username="root"))
    signed_in = client.get(f"/certificates/{verify}", headers=JSON)
    assert signed_in.json() == page(verify, JSON).json()
    assert Client().post(f"/certificates/{verify}").status_code == 405


# ---------------------------------------------------------------- no longer valid: 410


@pytest.mark.django_db
@pytest.mark.parametrize("how", ["invalidated", "deleted"])
def test_an_invalidated_or_deleted_certificate_is_410_without_name_or_grade(how: str) -> None:
    verify = issue()
    if how == "invalidated":
        certs.invalidate(COURSE, "ann", notes="plagiarism", actor=ACTOR)
    else:
        certs.delete_certificate(COURSE, "ann", actor=ACTOR)
    response = page(verify, BROWSER)
    assert response.status_code == 410
    assert response["Content-Type"] == "text/html; charset=utf-8"
    title, text = visible(response.content.decode())
    assert title == "Certificate no longer valid | rollbook"
    assert text == (
        f"Certificate no longer valid This certificate has been {how}: it is no longer valid."
    )
    html = response.content.decode()
    for hidden in ("Ann Lee", "0.87", "plagiarism", TITLE.split()[0]):
        assert hidden not in html

    answer = page(verify, JSON)
    assert answer.status_code == 410
    assert answer.json() == {
        "valid": False,
        "state": how,
        "message": f"This certificate has been {how}: it is no longer valid.",
    }


@pytest.mark.django_db
def test_lifting_the_invalidation_and_generating_again_makes_it_valid_again() -> None:
    verify = issue()
    certs.invalidate(COURSE, "ann", notes="", actor=ACTOR)
    assert page(verify).status_code == 410
    certs.lift_invalidation(COURSE, "ann", actor=ACTOR)
    certs.generate_certificate(COURSE, "ann", actor=ACTOR)
    assert page(verify).status_code == 200


# ---------------------------------------------------------------- unknown or malformed: 404

NOT_VERIFY_IDS = [
    "0" * 32,  # well-formed, unknown
    uuid.uuid4().hex,
    str(uuid.uuid4()),  # with hyphens: not the verify form
    "not-a-uuid",
    "../../etc/passwd",
    "%3Cscript%3E",
    "a/b",
    "",
    "f" * 33,
]


@pytest.mark.django_db
@pytest.mark.parametrize("verify_uuid", NOT_VERIFY_IDS)
def test_unknown_and_malformed_ids_are_404_the_same_way(verify_uuid: str) -> None:
    issue()
    reference = page("0" * 32, BROWSER)
    response = page(verify_uuid, BROWSER)
    assert response.status_code == 404
    assert response["Content-Type"] == "text/html; charset=utf-8"
    assert response.content == reference.content
    title, text = visible(response.content.decode())
    assert title == "Certificate not found | rollbook"
    assert text == "Certificate not found No certificate has this verification link."

    answer = page(verify_uuid, JSON)
    assert answer.status_code == 404
    assert answer.json() == {
        "valid": False,
        "state": "unknown",
        "message": "No certificate has this verification link.",
    }  # the page's own shape, not the API's {"code", "message", "fields"}


@pytest.mark.django_db
def test_the_api_404_shape_stays_under_api_only() -> None:
    assert Client().get("/api/v1/nothing-here").json()["code"] == "not_found"
    assert "code" not in page("nothing-here", JSON).json()


# ---------------------------------------------------------------- the rate limit


def _freeze(monkeypatch: pytest.MonkeyPatch, moment: dt.datetime) -> None:
    monkeypatch.setattr(clock, "now", lambda: moment)


@pytest.mark.django_db
def test_past_the_rate_a_client_gets_429_with_retry_after(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    verify = issue()
    settings.CERTIFICATES = {**settings.CERTIFICATES, "VERIFY_RATE": "3/minute"}
    _freeze(monkeypatch, dt.datetime(2026, 5, 1, 12, 0, 20, tzinfo=dt.UTC))
    # Every request counts, found or not.
    assert [page(x).status_code for x in (verify, "0" * 32, verify)] == [200, 404, 200]
    refused = page(verify, BROWSER)
    assert refused.status_code == 429
    assert refused["Retry-After"] == "40"  # the window ends at 12:01:00
    title, text = visible(refused.content.decode())
    assert title == "Too many requests | rollbook"
    assert "Try again in 40 seconds." in text
    assert "Ann Lee" not in refused.content.decode()
    as_json = page(verify, JSON)
    assert as_json.status_code == 429
    assert as_json.json() == {
        "valid": None,
        "state": "rate_limited",
        "message": "Too many requests. Try again in 40 seconds.",
    }
    # Another client is counted apart.
    assert page(verify, REMOTE_ADDR="10.0.0.2").status_code == 200
    # The next window starts afresh.
    _freeze(monkeypatch, dt.datetime(2026, 5, 1, 12, 1, 0, tzinfo=dt.UTC))
    assert page(verify).status_code == 200


@pytest.mark.django_db
def test_a_rate_of_0_is_no_limit(settings: Any) -> None:
    settings.CERTIFICATES = {**settings.CERTIFICATES, "VERIFY_RATE": "0"}
    assert {page("0" * 32).status_code for _ in range(70)} == {404}


@pytest.mark.django_db
def test_the_default_rate_is_60_a_minute(monkeypatch: pytest.MonkeyPatch) -> None:
    _freeze(monkeypatch, dt.datetime(2026, 5, 1, 12, 0, 0, tzinfo=dt.UTC))
    assert {page("0" * 32).status_code for _ in range(60)} == {404}
    assert page("0" * 32).status_code == 429


@pytest.mark.parametrize(
    ("value", "rate"),
    [
        ("60/minute", Rate(60, 60)),
        (" 5/Second ", Rate(5, 1)),
        ("1000/hour", Rate(1000, 3600)),
        ("7", Rate(7, 60)),
        ("0", Rate(0, 60)),
    ],
)
def test_rates_parse(value: str, rate: Rate) -> None:
    assert parse_rate(value) == rate


@pytest.mark.parametrize("value", ["", "fast", "5/day", "-1/minute", "1.5/second"])
def test_a_bad_rate_names_its_variable(value: str) -> None:
    with pytest.raises(ImproperlyConfigured, match="ROLLBOOK_CERT_VERIFY_RATE"):
        parse_rate(value)


# ---------------------------------------------------------------- in a real browser


def chromium_text(url: str, profile: Path) -> tuple[str, str]:
    """(title, visible text) of the page as headless Chromium renders it."""
    binary = shutil.which("chromium")
    if binary is None:
        pytest.fail(
            "Debian's chromium is not installed (apt-get install -y chromium): "
            "the verify page's browser test needs it."
        )
    command = [
        binary,
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        f"--user-data-dir={profile}",
        "--dump-dom",
        url,
    ]
    done = subprocess.run(  # noqa: S603 (a fixed command line: our binary, our URL)
        command, capture_output=True, text=True, timeout=CHROMIUM_TIMEOUT_S, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "<html" in done.stdout, done.stderr[-2000:]
    return visible(done.stdout)


@pytest.mark.django_db(transaction=True)
def test_a_person_sees_a_valid_certificate_in_chromium(live_server: Any, tmp_path: Path) -> None:
    verify = issue(name="María González")
    title, text = chromium_text(f"{live_server.url}/certificates/{verify}", tmp_path)
    assert title == f"Valid certificate: {TITLE} | rollbook"
    assert "María González" in text
    assert TITLE in text
    assert "UniX" in text
    assert "This certificate is valid." in text
    assert "Add to LinkedIn" in text
    assert "Download PDF" in text


@pytest.mark.django_db(transaction=True)
def test_a_person_sees_an_invalidated_certificate_is_no_longer_valid_in_chromium(
    live_server: Any, tmp_path: Path
) -> None:
    verify = issue(name="María González")
    certs.invalidate(COURSE, "ann", notes="plagiarism", actor=ACTOR)
    title, text = chromium_text(f"{live_server.url}/certificates/{verify}", tmp_path)
    assert title == "Certificate no longer valid | rollbook"
    assert "no longer valid" in text
    assert "This certificate is valid." not in text
    assert "María González" not in text
    assert "0.87" not in text  # no grade
