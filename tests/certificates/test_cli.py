"""`rollbook certificates generate`: the batch generation job run in the foreground, its
counts per outcome printed; exit 0 when it ran, 1 when it could not start.

`rollbook certificates verify FILE_OR_URL`: each check printed; exit 0 valid, 1 not valid
(each failure named), 2 when the input cannot be read (the file or URL named)."""

from __future__ import annotations

import contextlib
import io
import json
import sys
import urllib.error
import urllib.request
from email.message import Message
from pathlib import Path
from typing import Any

import pytest

from rollbook import cli
from rollbook.audit.data import Actor
from rollbook.certificates import api as certs
from rollbook.certificates.models import Certificate, GenerationRun
from rollbook.jobs.models import Job
from tests.certificates.conftest import PUBLIC_URL
from tests.certificates.helpers import credential, fetch_credential, issue
from tests.factories import Make

pytestmark = pytest.mark.django_db

ACTOR = Actor.system("test")
COURSE = "course-v1:UniX+Hist1+2026"


@pytest.fixture(autouse=True)
def course() -> None:
    """ann passes, bob fails (both verified), cy audits."""
    Make.course(COURSE, modes=["audit", "verified"], default_mode="audit", passing_grade=0.6)
    for name, mode, percent in (
        ("ann", "verified", 0.9),
        ("bob", "verified", 0.1),
        ("cy", "audit", 0.9),
    ):
        Make.user(name)
        Make.enrollment(COURSE, name, mode=mode)
        certs.put_grades(COURSE, [certs.GradeRecord(name, percent)], actor=ACTOR)


def output(capsys: pytest.CaptureFixture[str]) -> tuple[str, str]:
    captured = capsys.readouterr()
    return captured.out, captured.err


def rows(out: str) -> dict[str, str]:
    """The printed table's rows, outcome to count."""
    found = {}
    for line in out.splitlines():
        cells = [cell.strip() for cell in line.strip("│┃ ").split("│")]
        if len(cells) == 2 and cells[1].replace(",", "").isdigit():
            found[cells[0]] = cells[1]
    return found


def statuses() -> dict[str, str]:
    return dict(Certificate.objects.values_list("user__username", "status"))


def test_generate_every_enrolled_learner_prints_the_outcomes(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert cli.main(["certificates", "generate", COURSE]) == 0
    out, err = output(capsys)
    assert rows(out) == {"audit": "1", "generated": "1", "learners": "3", "notpassing": "1"}
    assert f"{COURSE}: succeeded" in out
    job = Job.objects.get()
    assert (job.kind, job.state, job.source) == ("certificates.generate", "succeeded", "cli")
    assert f"job {job.uuid}" in err
    assert "generate" in err  # the progress bar
    run = GenerationRun.objects.get()
    assert (run.requested_by, run.finished is not None) == ("cli", True)
    assert run.counts == {"generated": 1, "audit": 1, "notpassing": 1}
    assert statuses() == {"ann": "downloadable"}


def test_generate_named_learners_lists_the_unknown_ones(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert cli.main(["certificates", "generate", COURSE, "--usernames", "bob, ghost,bob"]) == 0
    out, err = output(capsys)
    assert rows(out) == {"errors": "1", "notpassing": "1", "unknown_user": "1"}
    assert "ghost: No user 'ghost'." in err
    assert GenerationRun.objects.get().usernames == ["bob", "ghost"]
    assert statuses() == {"bob": "notpassing"}  # asked for by name: a row


def test_regenerate_downloadable_certificates(capsys: pytest.CaptureFixture[str]) -> None:
    certs.generate_certificate(COURSE, "ann", actor=ACTOR)
    issued = Certificate.objects.get().issued_at
    assert cli.main(["certificates", "generate", COURSE, "--regenerate", "downloadable"]) == 0
    out, _err = output(capsys)
    assert rows(out)["regenerated"] == "1"
    assert GenerationRun.objects.get().statuses_to_regenerate == ["downloadable"]
    assert Certificate.objects.get(user__username="ann").issued_at == issued


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["course-v1:UniX+Nope+2026"], "course_not_found"),
        (["not-a-course-key"], "invalid_course_key"),
        ([COURSE, "--regenerate", "notpassing"], "illegal_transition"),
    ],
)
def test_what_cannot_start_exits_1_and_runs_nothing(
    capsys: pytest.CaptureFixture[str], args: list[str], code: str
) -> None:
    assert cli.main(["certificates", "generate", *args]) == 1
    _out, err = output(capsys)
    assert f"error ({code})" in err
    assert not Job.objects.exists()
    assert not GenerationRun.objects.exists()


def test_an_empty_username_list_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["certificates", "generate", COURSE, "--usernames", " , "])
    assert exited.value.code == 2
    assert "give at least one name" in capsys.readouterr().err
    assert not Job.objects.exists()


# ---------------------------------------------------------------- rollbook certificates verify


def credential_file(tmp_path: Path, document: dict[str, Any], name: str = "cred.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def verify(source: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = cli.main(["certificates", "verify", source])
    out, err = output(capsys)
    return code, out, err


@pytest.mark.usefixtures("credential_settings", "no_network")
def test_verify_a_credential_file_round_trip(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = credential_file(tmp_path, credential(issue()))
    code, out, _err = verify(str(path), capsys)
    assert code == 0
    assert f"{path}: valid" in out
    assert rows_of(out) == {"structure": "ok", "proof": "ok", "status": "active", "dates": "ok"}

    certs.invalidate(COURSE, "ann", notes="", actor=ACTOR)
    code, out, _err = verify(str(path), capsys)
    assert code == 1
    assert f"{path}: NOT VALID" in out
    assert rows_of(out)["status"] == "revoked"
    assert "revoked: The credential has been revoked" in out

    certs.lift_invalidation(COURSE, "ann", actor=ACTOR)
    certs.generate_certificate(COURSE, "ann", actor=ACTOR)
    assert verify(str(path), capsys)[0] == 0


@pytest.mark.usefixtures("credential_settings", "no_network")
def test_verify_names_each_failure(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    document = credential(issue())
    document["name"] = document["name"].replace("M", "N", 1)
    del document["validFrom"]
    code, out, _err = verify(str(credential_file(tmp_path, document)), capsys)
    assert code == 1
    assert "malformed_credential: The credential has no validFrom." in out
    assert "invalid_signature: The signature does not match" in out
    assert rows_of(out)["structure"] == "failed"
    assert rows_of(out)["proof"] == "failed"


@pytest.mark.usefixtures("credential_settings")
def test_verify_reads_stdin(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    raw = json.dumps(credential(issue())).encode()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(raw)))
    code, out, _err = verify("-", capsys)
    assert code == 0
    assert "<stdin>: valid" in out


@pytest.mark.usefixtures("credential_settings")
def test_verify_fetches_a_url(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    verify_uuid = issue()
    raw = fetch_credential(verify_uuid).content
    url = f"{PUBLIC_URL}/certificates/{verify_uuid}/credential.json"
    asked: list[tuple[str, str | None, float]] = []

    def fake_urlopen(request: urllib.request.Request, timeout: float) -> Any:
        asked.append((request.full_url, request.get_header("Accept"), timeout))
        return contextlib.nullcontext(io.BytesIO(raw))

    monkeypatch.setattr(urllib.request, "urlopen", fake_urlopen)
    code, out, _err = verify(url, capsys)
    assert code == 0
    assert f"{url}: valid" in out
    [(full_url, accept, timeout)] = asked
    assert full_url == url
    assert accept is not None
    assert "application/ld+json" in accept
    assert timeout == 10


@pytest.mark.usefixtures("credential_settings")
def test_a_url_that_fails_exits_2_naming_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"{PUBLIC_URL}/certificates/{'0' * 32}/credential.json"

    def gone(request: urllib.request.Request, timeout: float) -> Any:
        raise urllib.error.HTTPError(url, 404, "Not Found", Message(), None)

    monkeypatch.setattr(urllib.request, "urlopen", gone)
    code, _out, err = verify(url, capsys)
    assert code == 2
    assert url in err.replace("\n", "")
    assert "HTTP 404 Not Found" in err


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (None, "cannot read: No such file or directory"),
        (b"{not json", "not JSON"),
        (b"\xff\xfe\x00", "not JSON"),
        (b"{" + b" " * (256 * 1024) + b"}", "larger than 262,144 bytes"),
    ],
)
def test_unreadable_input_exits_2_naming_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes | None, words: str
) -> None:
    path = tmp_path / "in put.json"
    if content is not None:
        path.write_bytes(content)
    code, out, err = verify(str(path), capsys)
    assert code == 2
    flat = " ".join(err.split())
    assert f"error: {path}: {words}" in flat
    assert out == ""


def test_a_directory_is_unreadable(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _out, err = verify(str(tmp_path), capsys)
    assert code == 2
    assert str(tmp_path) in err


def test_a_json_array_is_read_but_not_a_credential(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "list.json"
    path.write_text("[]")
    code, out, _err = verify(str(path), capsys)
    assert code == 1
    assert "malformed_credential: A credential is a JSON object." in out
    assert rows_of(out) == {
        "structure": "failed",
        "proof": "skipped",
        "status": "skipped",
        "dates": "skipped",
    }


def rows_of(out: str) -> dict[str, str]:
    """The printed table of checks, check to result."""
    found = {}
    for line in out.splitlines():
        cells = [cell.strip() for cell in line.strip("│┃ ").split("│")]
        if len(cells) == 2 and cells[0] in {"structure", "proof", "status", "dates"}:
            found[cells[0]] = cells[1]
    return found
