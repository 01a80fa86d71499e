"""`rollbook programs enroll|link|expire-waiting`: CSV files run as jobs in the foreground;
exit 0 when every row succeeded, 1 when some failed or the file is unusable."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

import pytest

from rollbook import cli
from rollbook.audit.data import Actor
from rollbook.jobs.models import Job
from rollbook.lib import clock
from rollbook.people import api as people
from rollbook.programs import api as programs
from rollbook.programs.models import ProgramEnrollment
from tests.factories import Make

pytestmark = pytest.mark.django_db

ACTOR = Actor.system("test")
C1 = "course-v1:UniX+M101+2026"


@pytest.fixture
def program() -> tuple[uuid.UUID, uuid.UUID]:
    Make.course(C1, modes=["audit", "masters"], default_mode="audit")
    Make.user("ann")
    Make.user("bob")
    program_uuid, curriculum = uuid.uuid4(), uuid.uuid4()
    programs.put_program(
        program_uuid,
        title="MSc Data",
        org="UniX",
        type="Masters",
        curricula=[programs.CurriculumSpec(curriculum, (C1,))],
        actor=ACTOR,
    )
    return program_uuid, curriculum


def csv_file(tmp_path: Path, text: str, name: str = "rows.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def output(capsys: pytest.CaptureFixture[str]) -> str:
    captured = capsys.readouterr()
    return captured.out + captured.err


def test_enroll_exits_0_when_every_row_succeeds(
    tmp_path: Path, program: tuple[uuid.UUID, uuid.UUID], capsys: pytest.CaptureFixture[str]
) -> None:
    program_uuid, curriculum = program
    rows = "".join(f"STU-{n},enrolled,{curriculum}\n" for n in range(3))
    path = csv_file(tmp_path, "\ufeffstudent_key,status,curriculum_uuid\n" + rows)  # with a BOM
    assert cli.main(["programs", "enroll", str(program_uuid), str(path)]) == 0
    out = output(capsys)
    assert "rows.csv: succeeded" in out
    assert "enrolled" in out
    assert ProgramEnrollment.objects.count() == 3
    job = Job.objects.get()
    assert (job.kind, job.state, job.counts, job.source) == (
        "programs.enroll",
        "succeeded",
        {"enrolled": 3},
        "cli",
    )


def test_enroll_exits_1_and_lists_the_rows_that_failed(
    tmp_path: Path, program: tuple[uuid.UUID, uuid.UUID], capsys: pytest.CaptureFixture[str]
) -> None:
    program_uuid, curriculum = program
    path = csv_file(
        tmp_path,
        "student_key,status,curriculum_uuid\n"
        f"STU-1,enrolled,{curriculum}\n"
        f"STU-2,graduated,{curriculum}\n"
        f"STU-3,enrolled,{uuid.uuid4()}\n",
    )
    assert cli.main(["programs", "enroll", str(program_uuid), str(path)]) == 1
    out = output(capsys)
    assert "rows.csv: succeeded, 2 row(s) failed" in out
    assert "STU-2: invalid-status" in out
    assert "STU-3: invalid-curriculum" in out
    assert list(ProgramEnrollment.objects.values_list("external_user_key", flat=True)) == ["STU-1"]


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("student_key,status\nA,enrolled\n", 1),
        ("student_key,status,curriculum_uuid\nA,enrolled,{c}\nB,,{c}\n", 3),
        ("student_key,status,curriculum_uuid\nA,enrolled,{c}\nB,enrolled,not-a-uuid\n", 3),
    ],
)
def test_a_bad_file_exits_1_naming_the_file_and_line_and_applies_nothing(
    tmp_path: Path,
    program: tuple[uuid.UUID, uuid.UUID],
    capsys: pytest.CaptureFixture[str],
    text: str,
    line: int,
) -> None:
    program_uuid, curriculum = program
    path = csv_file(tmp_path, text.format(c=curriculum), "bad.csv")
    assert cli.main(["programs", "enroll", str(program_uuid), str(path)]) == 1
    out = output(capsys)
    assert f"{path}:{line}" in out
    assert "invalid_csv" in out
    assert not ProgramEnrollment.objects.exists()
    assert not Job.objects.exists()


def test_unusable_files_and_programs_exit_1(
    tmp_path: Path, program: tuple[uuid.UUID, uuid.UUID], capsys: pytest.CaptureFixture[str]
) -> None:
    program_uuid, _curriculum = program
    missing = tmp_path / "missing.csv"
    assert cli.main(["programs", "link", str(program_uuid), str(missing)]) == 1
    assert f"{missing}: no such file" in output(capsys)
    binary = tmp_path / "binary.csv"
    binary.write_bytes(b"external_user_key,username\n\xff\xfe,ann\n")
    assert cli.main(["programs", "link", str(program_uuid), str(binary)]) == 1
    assert f"{binary}: not a UTF-8 CSV file" in output(capsys)
    good = csv_file(tmp_path, "external_user_key,username\nA,ann\n")
    assert cli.main(["programs", "link", str(uuid.uuid4()), str(good)]) == 1
    assert "program_does_not_exist" in output(capsys)
    assert not Job.objects.exists()


def test_link_exits_0_then_1_with_the_errors(
    tmp_path: Path, program: tuple[uuid.UUID, uuid.UUID], capsys: pytest.CaptureFixture[str]
) -> None:
    program_uuid, curriculum = program
    programs.write_program_enrollments(
        program_uuid,
        [programs.EnrollmentRequest(key, "enrolled", curriculum) for key in ("K1", "K2")],
        create=True,
        update=False,
        actor=ACTOR,
    )
    good = csv_file(tmp_path, "external_user_key,username\nK1,ann\n", "good.csv")
    assert cli.main(["programs", "link", str(program_uuid), str(good)]) == 0
    assert "linked" in output(capsys)
    assert ProgramEnrollment.objects.get(external_user_key="K1").user_id == (
        people.get_user_ref("ann").id
    )
    mixed = csv_file(tmp_path, "external_user_key,username\nK2,bob\nK3,nobody\n", "mixed.csv")
    assert cli.main(["programs", "link", str(program_uuid), str(mixed)]) == 1
    out = output(capsys)
    assert "K3: No user found with username nobody" in out
    assert ProgramEnrollment.objects.get(external_user_key="K2").user_id is not None


def test_expire_waiting_prints_how_many_were_removed(
    program: tuple[uuid.UUID, uuid.UUID],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    program_uuid, curriculum = program
    programs.write_program_enrollments(
        program_uuid,
        [programs.EnrollmentRequest(key, "enrolled", curriculum) for key in ("OLD", "LINKED")],
        create=True,
        update=False,
        actor=ACTOR,
    )
    programs.link_program_enrollments(program_uuid, {"LINKED": "ann"}, actor=ACTOR)
    assert cli.main(["programs", "expire-waiting", "--days", "30"]) == 0
    captured = capsys.readouterr()
    assert captured.out == "0\n"
    later = clock.now() + dt.timedelta(days=31)
    monkeypatch.setattr(clock, "now", lambda: later)
    assert cli.main(["programs", "expire-waiting", "--days", "30"]) == 0
    captured = capsys.readouterr()
    assert captured.out == "1\n"
    assert "removed 1 waiting program enrollment(s) older than 30 day(s)" in captured.err
    assert list(ProgramEnrollment.objects.values_list("external_user_key", flat=True)) == ["LINKED"]


def test_expire_waiting_needs_a_number_of_days() -> None:
    with pytest.raises(SystemExit):
        cli.main(["programs", "expire-waiting"])
    with pytest.raises(SystemExit):
        cli.main(["programs", "expire-waiting", "--days", "-1"])
