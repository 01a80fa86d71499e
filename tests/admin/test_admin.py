"""The admin: every page renders, and changes made there are validated and audited."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from rollbook.audit import api as audit
from rollbook.catalog.models import Course, Library, Org
from rollbook.lib.pagination import PageRequest
from rollbook.people import api as people
from rollbook.people.models import User
from rollbook.roles import api as roles
from rollbook.roles.models import RoleGrant
from tests.factories import Make

COURSE = "course-v1:edX+toy+2012"


@pytest.fixture
def admin_client(db: None) -> Client:
    Make.user("root", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(User.objects.get(username="root"))
    return client


def _events(subject: str) -> list[str]:
    return [e.event for e in audit.list_events(subject=subject, page=PageRequest()).items]


@pytest.mark.parametrize(
    "model",
    [
        "people_user",
        "people_apitoken",
        "catalog_org",
        "catalog_course",
        "catalog_library",
        "roles_rolegrant",
        "enrollments_courseenrollment",
        "jobs_job",
        "audit_auditevent",
        "oneroster_tombstone",
    ],
)
def test_every_changelist_renders(admin_client: Client, model: str) -> None:
    Make.course(COURSE)
    Make.user("mary")
    Make.enrollment(COURSE, "mary")
    Make.grant("mary", "staff", course_key=COURSE)
    response = admin_client.get(reverse(f"admin:{model}_changelist"))
    assert response.status_code == 200


def test_course_change_in_admin_goes_through_the_api(admin_client: Client) -> None:
    course = Make.course(COURSE, title="Toy")
    url = reverse("admin:catalog_course_change", args=[course.id])
    assert admin_client.get(url).status_code == 200
    response = admin_client.post(
        url,
        {
            "title": "Toy, revised",
            "sis_id": "",
            "modes": '["audit", "verified"]',
            "default_mode": "audit",
            "enrollment_open": "on",
            "passing_grade": "0.6",
        },
    )
    assert response.status_code == 302
    assert _events(f"course:{COURSE}")[0] == "course.updated"
    event = audit.list_events(subject=f"course:{COURSE}", page=PageRequest()).items[0]
    assert event.source == "admin"
    assert event.after is not None
    assert event.after["title"] == "Toy, revised"


def test_role_grant_added_in_admin_is_validated_and_audited(admin_client: Client) -> None:
    Make.course(COURSE)
    mary = Make.user("mary")
    url = reverse("admin:roles_rolegrant_add")
    assert admin_client.get(url).status_code == 200
    response = admin_client.post(
        url, {"user": mary.id, "role": "instructor", "course_key": COURSE, "org": ""}
    )
    assert response.status_code == 302
    grant = RoleGrant.objects.get(user_id=mary.id)
    assert (grant.role, grant.org, grant.course_key) == ("instructor", "edX", COURSE)
    assert "role.granted" in _events("user:mary")


def test_role_grant_to_inactive_user_is_refused_in_admin(admin_client: Client) -> None:
    Make.course(COURSE)
    mary = Make.user("mary", is_active=False)
    response = admin_client.post(
        reverse("admin:roles_rolegrant_add"),
        {"user": mary.id, "role": "instructor", "course_key": COURSE, "org": ""},
    )
    assert response.status_code == 200  # the form comes back with the error
    assert b"inactive" in response.content
    assert not RoleGrant.objects.filter(user_id=mary.id).exists()


def test_revoking_in_admin_removes_and_audits(admin_client: Client) -> None:
    Make.course(COURSE)
    Make.user("mary")
    Make.grant("mary", "staff", course_key=COURSE)
    grant = RoleGrant.objects.get()
    response = admin_client.post(
        reverse("admin:roles_rolegrant_changelist"),
        {"action": "revoke_selected", "_selected_action": [grant.id]},
    )
    assert response.status_code == 302
    assert not RoleGrant.objects.exists()
    assert _events("user:mary")[0] == "role.revoked"
    assert not roles.check_role(people.get_user_ref("mary"), "staff", course_key=COURSE)


def test_user_edit_in_admin_is_audited(admin_client: Client) -> None:
    mary = Make.user("mary", name="Mary")
    url = reverse("admin:people_user_change", args=[mary.id])
    page = admin_client.get(url)
    assert page.status_code == 200
    response = admin_client.post(
        url,
        {
            "username": "mary",
            "name": "Mary Major",
            "email": "mary@example.com",
            "is_active": "on",
            "date_joined_0": "2026-01-01",
            "date_joined_1": "00:00:00",
            "profile-TOTAL_FORMS": "1",
            "profile-INITIAL_FORMS": "1",
            "profile-MIN_NUM_FORMS": "0",
            "profile-MAX_NUM_FORMS": "1",
            "profile-0-user": str(mary.id),
            "profile-0-idnumber": "N123",
            "profile-0-sis_sourcedid": "",
            "profile-0-allow_certificate": "on",
        },
    )
    assert response.status_code == 302, response.content[:2000]
    event = audit.list_events(subject="user:mary", page=PageRequest()).items[0]
    assert event.event == "user.updated"
    assert event.source == "admin"
    assert event.after is not None
    assert event.after["name"] == "Mary Major"
    assert event.after["idnumber"] == "N123"


# Deletes and password changes bypass save_model: they are audited too (issue 9's events).


def test_deleting_a_user_in_admin_is_audited(admin_client: Client) -> None:
    mary = Make.user("mary", name="Mary")
    Make.course(COURSE)
    Make.grant("mary", "staff", course_key=COURSE)
    response = admin_client.post(
        reverse("admin:people_user_delete", args=[mary.id]), {"post": "yes"}
    )
    assert response.status_code == 302, response.content[:2000]
    assert not User.objects.filter(username="mary").exists()
    event = audit.list_events(subject="user:mary", page=PageRequest()).items[0]
    assert (event.event, event.source, event.after) == ("user.deleted", "admin", None)
    assert event.before is not None
    assert event.before["name"] == "Mary"


def test_deleting_selected_users_in_admin_is_audited(admin_client: Client) -> None:
    ids = [Make.user(name).id for name in ("ann", "bob")]
    response = admin_client.post(
        reverse("admin:people_user_changelist"),
        {"action": "delete_selected", "_selected_action": ids, "post": "yes"},
    )
    assert response.status_code == 302
    assert not User.objects.filter(id__in=ids).exists()
    assert _events("user:ann")[0] == _events("user:bob")[0] == "user.deleted"


def test_a_password_changed_in_admin_is_audited(admin_client: Client) -> None:
    mary = Make.user("mary")
    response = admin_client.post(
        reverse("admin:auth_user_password_change", args=[mary.id]),
        {"password1": "a-Long-new-passw0rd", "password2": "a-Long-new-passw0rd"},
    )
    assert response.status_code == 302, response.content[:2000]
    assert User.objects.get(id=mary.id).check_password("a-Long-new-passw0rd")
    assert _events("user:mary")[0] == "user.password_set"


@pytest.mark.parametrize("bulk", [False, True])
def test_deleting_courses_libraries_and_orgs_in_admin_is_audited(
    admin_client: Client, bulk: bool
) -> None:
    course = Make.course("course-v1:GoneX+C1+2026")
    library = Make.library("lib:GoneX:lib1")

    def delete(model: str, pk: object) -> None:
        if bulk:
            url = reverse(f"admin:catalog_{model}_changelist")
            body = {"action": "delete_selected", "_selected_action": [pk], "post": "yes"}
        else:
            url, body = reverse(f"admin:catalog_{model}_delete", args=[pk]), {"post": "yes"}
        response = admin_client.post(url, body)
        assert response.status_code == 302, response.content[:2000]

    delete("course", course.id)
    delete("library", library.id)
    delete("org", Org.objects.get(short_name="GoneX").pk)
    assert not Course.objects.filter(id=course.id).exists()
    assert not Library.objects.filter(id=library.id).exists()
    assert not Org.objects.filter(short_name="GoneX").exists()
    assert _events("course:course-v1:GoneX+C1+2026")[0] == "course.deleted"
    assert _events("library:lib:GoneX:lib1")[0] == "library.deleted"
    assert _events("org:GoneX")[0] == "org.deleted"


def test_org_rename_in_admin_goes_through_the_api(admin_client: Client) -> None:
    Make.course(COURSE)
    org = Org.objects.get(short_name="edX")
    url = reverse("admin:catalog_org_change", args=[org.pk])
    assert admin_client.get(url).status_code == 200
    response = admin_client.post(url, {"name": "edX University"})
    assert response.status_code == 302, response.content[:2000]
    renamed = Org.objects.get(pk=org.pk)
    assert renamed.name == "edX University"
    assert renamed.modified > org.modified
    event = audit.list_events(subject="org:edX", page=PageRequest()).items[0]
    assert (event.event, event.source) == ("org.updated", "admin")
    assert event.before == {"org": "edX", "name": ""}
    assert event.after == {"org": "edX", "name": "edX University"}


def test_profile_edit_in_admin_moves_the_users_modified_time(admin_client: Client) -> None:
    mary = Make.user("mary")
    url = reverse("admin:people_user_change", args=[mary.id])
    page = admin_client.get(url)
    assert page.status_code == 200
    response = admin_client.post(
        url,
        {
            "username": "mary",
            "name": mary.name,
            "email": mary.email,
            "is_active": "on",
            "date_joined_0": mary.date_joined.strftime("%Y-%m-%d"),
            "date_joined_1": mary.date_joined.strftime("%H:%M:%S"),
            "profile-TOTAL_FORMS": "1",
            "profile-INITIAL_FORMS": "1",
            "profile-MIN_NUM_FORMS": "0",
            "profile-MAX_NUM_FORMS": "1",
            "profile-0-user": str(mary.id),
            "profile-0-idnumber": "900777",
            "profile-0-sis_sourcedid": "",
            "profile-0-allow_certificate": "on",
        },
    )
    assert response.status_code == 302, response.content[:3000]
    after = people.get_user("mary")
    assert after.idnumber == "900777"
    assert after.modified > mary.modified
    assert _events("user:mary")[0] == "user.updated"
