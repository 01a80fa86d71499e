"""`rollbook certificates generate`: the batch generation job run in the foreground, its
counts per outcome printed; exit 0 when it ran, 1 when it could not start."""

from __future__ import annotations

import pytest

from rollbook import cli
from rollbook.audit.data import Actor
from rollbook.certificates import api as certs
from rollbook.certificates.models import Certificate, GenerationRun
from rollbook.jobs.models import Job
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
