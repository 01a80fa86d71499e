"""Certificates over HTTP: grades in, the allowlist, invalidations, status, the course's
list, and batch generation (202, the job, the history); who may call each."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from rollbook.audit import api as audit
from rollbook.audit.data import Actor
from rollbook.certificates import api as certs
from rollbook.certificates.models import (
    AllowlistEntry,
    Certificate,
    CourseGrade,
    GenerationRun,
    Invalidation,
)
from rollbook.jobs import api as jobs
from rollbook.lib.pagination import PageRequest
from tests.api.helpers import assert_error, assert_page
from tests.factories import Make

pytestmark = pytest.mark.django_db

ACTOR = Actor.system("test")
COURSE = "course-v1:UniX+Hist1+2026"
OTHER = "course-v1:UniX+Other+2026"
UNKNOWN = "course-v1:UniX+Nope+2026"
BASE = f"courses/{COURSE}"
CERTS = f"{BASE}/certificates"


@pytest.fixture(autouse=True)
def course() -> None:
    """COURSE (cutoff 0.6) with ann and bob (verified) and cy (audit); OTHER, empty."""
    Make.course(
        COURSE, modes=["audit", "verified", "honor"], default_mode="audit", passing_grade=0.6
    )
    Make.course(OTHER, modes=["audit", "verified"])
    for name, mode in (("ann", "verified"), ("bob", "verified"), ("cy", "audit")):
        Make.user(name, name=f"{name.title()} Lee")
        Make.enrollment(COURSE, name, mode=mode)


@pytest.fixture
def tess(api_as: Callable[..., Any]) -> Any:
    """Course staff on COURSE (not global staff)."""
    client = api_as("tess")
    Make.grant("tess", "staff", course_key=COURSE)
    return client


@pytest.fixture
def ann(api_as: Callable[..., Any]) -> Any:
    return api_as("ann")


@pytest.fixture
def outsider(api_as: Callable[..., Any]) -> Any:
    """Course staff of OTHER only."""
    client = api_as("olga")
    Make.grant("olga", "staff", course_key=OTHER)
    return client


def grade(name: str, percent: float) -> None:
    certs.put_grades(COURSE, [certs.GradeRecord(name, percent)], actor=ACTOR)


def generate(name: str) -> str:
    return certs.generate_certificate(COURSE, name, actor=ACTOR)


def verify_uuid(name: str) -> str:
    return Certificate.objects.get(user__username=name, course_key=COURSE).verify_uuid


def stored_grades() -> dict[str, tuple[float, str, bool]]:
    return {
        row.user.username: (row.percent, row.letter_grade, row.passed)
        for row in CourseGrade.objects.select_related("user")
    }


# ---------------------------------------------------------------- grades


def test_course_staff_put_grades_with_a_result_per_username(tess: Any) -> None:
    response = tess.put(
        f"{BASE}/grades",
        [
            {"username": "ann", "percent": 0.61, "letter_grade": "C"},
            {"username": "bob", "percent": 0.59},
            {"username": "cy", "percent": 0.2, "passed": True},  # an explicit flag wins
            {"username": "ghost", "percent": 0.9},
        ],
    )
    assert response.status_code == 200, response.content
    assert response.json() == {"ann": "ok", "bob": "ok", "cy": "ok", "ghost": "user_not_found"}
    assert stored_grades() == {
        "ann": (0.61, "C", True),
        "bob": (0.59, "", False),
        "cy": (0.2, "", True),
    }
    event = audit.list_events(subject=f"grade:{COURSE}:ann", page=PageRequest()).items[0]
    assert (event.event, event.actor_username, event.source) == ("grade.recorded", "tess", "api")


def test_grades_are_replaced_and_an_empty_list_changes_nothing(staff_api: Any) -> None:
    assert staff_api.put(f"{BASE}/grades", [{"username": "ann", "percent": 0.3}]).json() == {
        "ann": "ok"
    }
    assert staff_api.put(f"{BASE}/grades", [{"username": "ANN", "percent": 0.7}]).json() == {
        "ANN": "ok"
    }
    assert stored_grades() == {"ann": (0.7, "", True)}
    response = staff_api.put(f"{BASE}/grades", [])
    assert response.status_code == 200
    assert response.json() == {}
    assert stored_grades() == {"ann": (0.7, "", True)}


@pytest.mark.parametrize("percent", [-0.01, 1.01, 42])
def test_a_percent_outside_0_1_refuses_the_whole_request(tess: Any, percent: float) -> None:
    body = [{"username": "ann", "percent": 0.8}, {"username": "bob", "percent": percent}]
    answer = assert_error(tess.put(f"{BASE}/grades", body), 422, "invalid_grade")
    assert answer["fields"] == {"username": "bob"}
    assert not CourseGrade.objects.exists()


@pytest.mark.parametrize(
    ("raw", "code", "fields"),
    [
        ("not json", "invalid_json", set()),
        ('{"username": "ann", "percent": 0.5}', "invalid", {"body"}),
        ('[{"username": "ann"}]', "invalid", {"0.percent"}),
        ('[{"username": "ann", "percent": "0.5"}]', "invalid", {"0.percent"}),
        ('[{"username": "ann", "percent": true}]', "invalid", {"0.percent"}),
        ('[{"username": "", "percent": 0.5}]', "invalid", {"0.username"}),
        ('[{"username": "ann", "percent": 0.5, "passed": "yes"}]', "invalid", {"0.passed"}),
        ('["ann"]', "invalid", {"0"}),
        (
            '[{"username": "ann", "percent": 0.5}, {"username": "Ann", "percent": 0.6}]',
            "invalid",
            {"Ann"},
        ),
    ],
)
def test_a_malformed_grades_body_is_422_naming_the_field(
    tess: Any, raw: str, code: str, fields: set[str]
) -> None:
    response = tess.client.put(
        f"/api/v1/{BASE}/grades",
        data=raw,
        content_type="application/json",
        headers={"Authorization": f"Bearer {tess.token}"},
    )
    body = assert_error(response, 422, code)
    assert set(body["fields"]) == fields
    assert not CourseGrade.objects.exists()


def test_put_one_grade_answers_it(tess: Any) -> None:
    response = tess.put(f"{BASE}/grades/ANN", {"percent": 0.6, "letter_grade": "C-"})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body.pop("modified")
    assert body == {
        "username": "ann",
        "course_key": COURSE,
        "percent": 0.6,
        "letter_grade": "C-",
        "passed": True,  # the course's cutoff, 0.6
    }
    again = tess.put(f"{BASE}/grades/ann", {"percent": 0.95, "passed": False}).json()
    assert (again["percent"], again["letter_grade"], again["passed"]) == (0.95, "", False)
    assert stored_grades() == {"ann": (0.95, "", False)}


def test_put_one_grade_refuses_what_the_list_refuses(tess: Any, staff_api: Any) -> None:
    assert_error(tess.put(f"{BASE}/grades/ann", {"percent": 1.5}), 422, "invalid_grade")
    body = assert_error(tess.put(f"{BASE}/grades/ann", {"percent": "high"}), 422, "invalid")
    assert list(body["fields"]) == ["percent"]
    assert_error(tess.put(f"{BASE}/grades/ann", {}), 422, "invalid")
    assert_error(tess.put(f"{BASE}/grades/ghost", {"percent": 0.5}), 404, "user_not_found")
    unknown = staff_api.put(f"courses/{UNKNOWN}/grades/ann", {"percent": 0.5})
    assert_error(unknown, 404, "course_not_found")
    assert_error(
        staff_api.put("courses/nope/grades/ann", {"percent": 0.5}), 422, "invalid_course_key"
    )
    assert not CourseGrade.objects.exists()


def test_grades_need_course_staff_access(
    ann: Any, outsider: Any, anon_api: Any, staff_api: Any
) -> None:
    bulk = [{"username": "ann", "percent": 1.0}]
    for client in (ann, outsider):
        assert_error(client.put(f"{BASE}/grades", bulk), 403, "forbidden")
        assert_error(client.put(f"{BASE}/grades/ann", {"percent": 1.0}), 403, "forbidden")
    assert_error(anon_api.put(f"{BASE}/grades", bulk), 401, "not_authenticated")
    assert_error(anon_api.put(f"{BASE}/grades/ann", {"percent": 1.0}), 401, "not_authenticated")
    assert not CourseGrade.objects.exists()
    assert staff_api.put(f"{BASE}/grades", bulk).status_code == 200  # global staff may


@pytest.mark.parametrize(
    ("role", "scope"),
    [
        ("instructor", {"course_key": COURSE}),
        ("limited_staff", {"course_key": COURSE}),
        ("staff", {"org": "UniX"}),
        ("instructor", {"org": "UniX"}),
    ],
)
def test_every_kind_of_course_staff_may_manage_certificates(
    api_as: Callable[..., Any], role: str, scope: dict[str, str]
) -> None:
    client = api_as("helper")
    Make.grant("helper", role, **scope)
    assert client.put(f"{BASE}/grades/ann", {"percent": 0.9}).status_code == 200
    assert client.put(f"{CERTS}/allowlist/bob", {"notes": ""}).status_code == 201
    assert client.post(f"{CERTS}/generate", {}).status_code == 202
    assert client.get(CERTS).status_code == 200
    assert client.get(f"{CERTS}/ann").status_code == 200


# ---------------------------------------------------------------- allowlist


def test_allowlist_put_201_then_200_and_delete(tess: Any) -> None:
    response = tess.put(f"{CERTS}/allowlist/bob", {"notes": "medical leave"})
    assert response.status_code == 201, response.content
    assert response.json() == {
        "course_key": COURSE,
        "username": "bob",
        "allowlisted": True,
        "notes": "medical leave",
    }
    again = tess.put(f"{CERTS}/allowlist/BOB", {"notes": "medical leave, confirmed"})
    assert again.status_code == 200
    assert list(AllowlistEntry.objects.values_list("user__username", "notes", "created_by")) == [
        ("bob", "medical leave, confirmed", "tess")
    ]
    removed = tess.delete(f"{CERTS}/allowlist/bob")
    assert removed.status_code == 200
    assert removed.json() == {
        "course_key": COURSE,
        "username": "bob",
        "allowlisted": False,
        "notes": "",
    }
    assert not AllowlistEntry.objects.exists()
    assert_error(tess.delete(f"{CERTS}/allowlist/bob"), 404, "not_allowlisted")


def test_allowlist_errors_and_permissions(
    tess: Any, ann: Any, outsider: Any, anon_api: Any, staff_api: Any
) -> None:
    assert_error(tess.put(f"{CERTS}/allowlist/ghost", {"notes": ""}), 404, "user_not_found")
    assert_error(tess.put(f"{CERTS}/allowlist/bob", {}), 422, "invalid")
    unknown = staff_api.put(f"courses/{UNKNOWN}/certificates/allowlist/bob", {"notes": ""})
    assert_error(unknown, 404, "course_not_found")
    for client in (ann, outsider):
        assert_error(client.put(f"{CERTS}/allowlist/ann", {"notes": ""}), 403, "forbidden")
    assert_error(anon_api.put(f"{CERTS}/allowlist/ann", {"notes": ""}), 401, "not_authenticated")
    certs.add_to_allowlist(COURSE, "ann", notes="", actor=ACTOR)
    for client in (ann, outsider):
        assert_error(client.delete(f"{CERTS}/allowlist/ann"), 403, "forbidden")
    assert_error(anon_api.delete(f"{CERTS}/allowlist/ann"), 401, "not_authenticated")
    assert list(AllowlistEntry.objects.values_list("user__username", flat=True)) == ["ann"]


def test_an_allowlisted_failing_learner_gets_a_certificate(tess: Any) -> None:
    grade("bob", 0.1)
    tess.put(f"{CERTS}/allowlist/bob", {"notes": "exam excused"})
    job_id = tess.post(f"{CERTS}/generate", {"usernames": ["bob"]}).json()["job_id"]
    assert jobs.run_job(job_id).counts["generated"] == 1
    assert tess.get(f"{CERTS}/bob").json()["status"] == "downloadable"


# ---------------------------------------------------------------- invalidation


def test_invalidate_then_lift(tess: Any) -> None:
    grade("ann", 0.9)
    generate("ann")
    response = tess.post(f"{CERTS}/ann/invalidate", {"notes": "plagiarism"})
    assert response.status_code == 200, response.content
    assert response.json() == {
        "course_key": COURSE,
        "username": "ann",
        "invalidated": True,
        "notes": "plagiarism",
    }
    assert tess.get(f"{CERTS}/ann").json() == {
        "status": "unavailable",
        "mode": "verified",
        "grade": "0.9",
    }
    # Refused while invalidated, allowlist or not.
    tess.put(f"{CERTS}/allowlist/ann", {"notes": ""})
    job_id = tess.post(f"{CERTS}/generate", {"usernames": ["ann"]}).json()["job_id"]
    assert jobs.run_job(job_id).counts["invalidated"] == 1
    assert tess.get(f"{CERTS}/ann").json()["status"] == "unavailable"

    lifted = tess.delete(f"{CERTS}/ann/invalidate")
    assert lifted.status_code == 200
    assert lifted.json()["invalidated"] is False
    assert list(Invalidation.objects.values_list("active", "lifted_by")) == [(False, "tess")]
    assert_error(tess.delete(f"{CERTS}/ann/invalidate"), 404, "not_invalidated")
    generate("ann")
    assert tess.get(f"{CERTS}/ann").json()["status"] == "downloadable"


def test_invalidating_twice_keeps_one_active_invalidation(tess: Any) -> None:
    for _ in range(2):
        assert tess.post(f"{CERTS}/bob/invalidate", {"notes": "n"}).status_code == 200
    assert Invalidation.objects.filter(active=True).count() == 1
    assert not Certificate.objects.exists()  # no certificate to change


def test_invalidating_a_certificate_in_progress_is_409(tess: Any) -> None:
    grade("ann", 0.1)
    generate("ann")  # notpassing
    certs.set_status(COURSE, "ann", "generating", actor=ACTOR)
    body = assert_error(
        tess.post(f"{CERTS}/ann/invalidate", {"notes": "n"}), 409, "illegal_transition"
    )
    assert body["fields"] == {"from": "generating", "to": "unavailable"}
    assert not Invalidation.objects.exists()
    assert Certificate.objects.get().status == "generating"


def test_invalidation_errors_and_permissions(
    tess: Any, ann: Any, outsider: Any, anon_api: Any
) -> None:
    assert_error(tess.post(f"{CERTS}/ghost/invalidate", {"notes": ""}), 404, "user_not_found")
    assert_error(tess.post(f"{CERTS}/ann/invalidate", {}), 422, "invalid")
    for client in (ann, outsider):
        assert_error(client.post(f"{CERTS}/ann/invalidate", {"notes": ""}), 403, "forbidden")
        assert_error(client.delete(f"{CERTS}/ann/invalidate"), 403, "forbidden")
    assert_error(anon_api.post(f"{CERTS}/ann/invalidate", {"notes": ""}), 401, "not_authenticated")
    assert not Invalidation.objects.exists()


# ---------------------------------------------------------------- one learner's status


def test_status_shapes(ann: Any) -> None:
    # No record: unavailable, honor, and nothing else.
    assert ann.get(f"{CERTS}/ann").json() == {"status": "unavailable", "mode": "honor"}
    grade("ann", 0.9)
    generate("ann")
    assert ann.get(f"{CERTS}/ann").json() == {
        "status": "downloadable",
        "mode": "verified",
        "grade": "0.9",
        "download_url": f"/certificates/{verify_uuid('ann')}",
    }
    grade("ann", 0.2)  # and regenerated: notpassing, still graded, no download link
    job = certs.start_generation(
        COURSE,
        usernames=["ann"],
        statuses_to_regenerate=["downloadable"],
        actor=ACTOR,
        dispatch=False,
    )
    jobs.run_job(job.uuid)
    body = ann.get(f"{CERTS}/ann").json()
    assert body == {"status": "notpassing", "mode": "verified", "grade": "0.2"}


def test_a_learner_reads_only_their_own_status(ann: Any, api_as: Callable[..., Any]) -> None:
    assert ann.get(f"{CERTS}/ANN").status_code == 200
    assert_error(ann.get(f"{CERTS}/bob"), 403, "forbidden")
    assert_error(ann.get(f"{CERTS}/ghost"), 403, "forbidden")  # not told who exists
    assert_error(api_as("cy").get(f"{CERTS}/ann"), 403, "forbidden")


def test_course_staff_read_any_learners_status(
    tess: Any, outsider: Any, anon_api: Any, staff_api: Any
) -> None:
    assert tess.get(f"{CERTS}/bob").json() == {"status": "unavailable", "mode": "honor"}
    assert_error(tess.get(f"{CERTS}/ghost"), 404, "user_not_found")
    assert_error(outsider.get(f"{CERTS}/bob"), 403, "forbidden")
    assert_error(anon_api.get(f"{CERTS}/bob"), 401, "not_authenticated")
    unknown = staff_api.get(f"courses/{UNKNOWN}/certificates/bob")
    assert_error(unknown, 404, "course_not_found")


# ---------------------------------------------------------------- the course's certificates


def test_the_list_shows_verify_uuid_only_while_downloadable_and_filters(tess: Any) -> None:
    grade("ann", 0.9)
    grade("bob", 0.1)
    generate("ann")
    generate("bob")
    body = tess.get(CERTS).json()
    items = assert_page(body, count=2)
    ann_row, bob_row = items
    assert set(ann_row) == {"username", "status", "mode", "grade", "verify_uuid", "issued_at"}
    assert (ann_row["username"], ann_row["status"], ann_row["grade"]) == (
        "ann",
        "downloadable",
        "0.9",
    )
    assert ann_row["verify_uuid"] == verify_uuid("ann")
    assert ann_row["issued_at"]
    assert (bob_row["username"], bob_row["status"], bob_row["verify_uuid"]) == (
        "bob",
        "notpassing",
        None,
    )
    assert bob_row["issued_at"] is None

    only = tess.get(f"{CERTS}?status=notpassing").json()
    assert [row["username"] for row in assert_page(only, count=1)] == ["bob"]
    certs.invalidate(COURSE, "ann", notes="", actor=ACTOR)
    unavailable = tess.get(f"{CERTS}?status=unavailable").json()
    (row,) = assert_page(unavailable, count=1)
    assert (row["username"], row["verify_uuid"]) == ("ann", None)
    paged = tess.get(f"{CERTS}?page=2&page_size=1").json()
    assert [r["username"] for r in assert_page(paged, count=2, page=2, page_size=1)] == ["bob"]


def test_the_list_refuses_an_unknown_status_and_non_staff(
    tess: Any, ann: Any, outsider: Any, anon_api: Any, staff_api: Any
) -> None:
    body = assert_error(tess.get(f"{CERTS}?status=valid"), 422, "invalid")
    assert list(body["fields"]) == ["status"]
    for client in (ann, outsider):
        assert_error(client.get(CERTS), 403, "forbidden")
    assert_error(anon_api.get(CERTS), 401, "not_authenticated")
    assert_error(staff_api.get(f"courses/{UNKNOWN}/certificates"), 404, "course_not_found")


# ---------------------------------------------------------------- generation


def test_generate_is_202_a_job_and_a_history_row(tess: Any) -> None:
    grade("ann", 0.9)
    grade("bob", 0.1)
    response = tess.post(f"{CERTS}/generate", {})
    assert response.status_code == 202, response.content
    job_id = response.json()["job_id"]
    assert set(response.json()) == {"job_id"}

    runs = tess.get(f"{CERTS}/generation-runs").json()
    (run,) = assert_page(runs, count=1)
    assert (run["job_id"], run["requested_by"], run["finished"], run["counts"]) == (
        job_id,
        "tess",
        None,
        {},
    )

    jobs.run_job(job_id)  # on_commit never fires inside a test's transaction: run it here
    job = tess.get(f"jobs/{job_id}").json()  # who started it may read it
    assert (job["kind"], job["state"], job["actor"]) == (
        "certificates.generate",
        "succeeded",
        "tess",
    )
    assert job["counts"]["generated"] == 1
    assert job["counts"]["audit"] == 1
    assert job["result"]["counts"] == {"generated": 1, "audit": 1, "notpassing": 1}

    (run,) = tess.get(f"{CERTS}/generation-runs").json()["items"]
    assert run["counts"] == {"generated": 1, "audit": 1, "notpassing": 1}
    assert run["finished"] is not None
    assert (run["usernames"], run["statuses_to_regenerate"]) == ([], [])
    # bob fails and nobody asked for him by name: no row; cy audits: no row.
    assert dict(Certificate.objects.values_list("user__username", "status")) == {
        "ann": "downloadable"
    }


def test_generate_for_named_learners_with_regeneration(tess: Any) -> None:
    grade("ann", 0.9)
    grade("bob", 0.1)
    generate("ann")
    body = {"usernames": ["ann", "bob", "ghost"], "statuses_to_regenerate": ["downloadable"]}
    job_id = tess.post(f"{CERTS}/generate", body).json()["job_id"]
    done = jobs.run_job(job_id)
    assert done.counts["regenerated"] == 1
    assert done.counts["notpassing"] == 1
    assert done.counts["unknown_user"] == 1
    assert [error["record"] for error in done.errors] == ["ghost"]
    (run,) = tess.get(f"{CERTS}/generation-runs").json()["items"]
    assert run["usernames"] == ["ann", "bob", "ghost"]
    assert run["statuses_to_regenerate"] == ["downloadable"]
    assert tess.get(f"{CERTS}/bob").json()["status"] == "notpassing"


def test_the_history_is_newest_first(tess: Any) -> None:
    first = tess.post(f"{CERTS}/generate", {}).json()["job_id"]
    second = tess.post(f"{CERTS}/generate", {"usernames": ["ann"]}).json()["job_id"]
    items = assert_page(tess.get(f"{CERTS}/generation-runs").json(), count=2)
    assert [item["job_id"] for item in items] == [second, first]
    other = tess.get(f"courses/{OTHER}/certificates/generation-runs")
    assert_error(other, 403, "forbidden")


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        (
            {"statuses_to_regenerate": ["notpassing"]},
            "illegal_transition",
            "statuses_to_regenerate",
        ),
        ({"usernames": []}, "invalid", "usernames"),
        ({"usernames": "ann"}, "invalid", "usernames"),
    ],
)
def test_generate_refuses_a_bad_body(
    tess: Any, body: dict[str, Any], code: str, field: str
) -> None:
    answer = assert_error(tess.post(f"{CERTS}/generate", body), 422, code)
    assert field in answer["fields"]
    assert not GenerationRun.objects.exists()


def test_generate_and_its_history_need_course_staff_access(
    ann: Any, outsider: Any, anon_api: Any, staff_api: Any
) -> None:
    for client in (ann, outsider):
        assert_error(client.post(f"{CERTS}/generate", {}), 403, "forbidden")
        assert_error(client.get(f"{CERTS}/generation-runs"), 403, "forbidden")
    assert_error(anon_api.post(f"{CERTS}/generate", {}), 401, "not_authenticated")
    assert_error(anon_api.get(f"{CERTS}/generation-runs"), 401, "not_authenticated")
    assert not GenerationRun.objects.exists()
    assert_error(
        staff_api.post(f"courses/{UNKNOWN}/certificates/generate", {}), 404, "course_not_found"
    )
    assert_error(
        staff_api.get(f"courses/{UNKNOWN}/certificates/generation-runs"), 404, "course_not_found"
    )
    assert staff_api.post(f"{CERTS}/generate", {}).status_code == 202  # global staff may


def test_named_routes_are_not_taken_for_a_username(tess: Any) -> None:
    # /certificates/{username} is registered last: these paths keep their own routes.
    assert_page(tess.get(f"{CERTS}/generation-runs").json(), count=0)
    assert_error(tess.get(f"{CERTS}/generate"), 405, "method_not_allowed")
    assert tess.put(f"{CERTS}/allowlist/ann", {"notes": ""}).status_code == 201
    assert tess.get(f"{CERTS}/ann").json()["status"] == "unavailable"


@pytest.mark.django_db(transaction=True)
def test_generation_runs_on_the_embedded_runner_and_finishes_its_history_row(
    api_as: Callable[..., Any],
) -> None:
    # Committed for real: the job is dispatched to the background thread once the request's
    # transaction commits, and must find its history row there.
    grade("ann", 0.9)
    client = api_as("root", staff=True)
    response = client.post(f"{CERTS}/generate", {})
    assert response.status_code == 202, response.content
    assert jobs.wait_for_embedded_jobs(timeout=30)
    job = client.get(f"jobs/{response.json()['job_id']}").json()
    assert job["state"] == "succeeded", job
    (run,) = client.get(f"{CERTS}/generation-runs").json()["items"]
    assert run["finished"] is not None
    assert run["counts"] == {"generated": 1, "notpassing": 1, "audit": 1}


@pytest.mark.django_db(transaction=True)
def test_the_job_is_dispatched_only_once_its_history_row_is_committed(
    staff_api: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    found: list[bool] = []

    def dispatch(job_uuid: Any) -> None:  # instead of the runner: what would it find?
        found.append(GenerationRun.objects.filter(job_uuid=job_uuid).exists())

    monkeypatch.setattr("rollbook.jobs.api._dispatch", dispatch)
    assert staff_api.post(f"{CERTS}/generate", {}).status_code == 202
    assert found == [True]
